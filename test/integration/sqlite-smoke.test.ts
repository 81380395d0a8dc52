import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import { parseTimeRange } from '../../src/domain/timerange';
it('smoke', async () => {
  const s = new SqliteMetadataStore({ filename: '/tmp/sq/smoke.db' });
  await s.init();
  const q = { timerange: parseTimeRange('[999970:0_1000000:0)') };
  const db = s.database;
  const stmt = (s as any).s.windowForward;
  const params = (s as any).windowParams('f1', q, undefined, 31);
  for (const [name, fn] of [
    ['raw', () => stmt.all(params)],
    ['raw no safe', () => stmt.safeIntegers(false).all(params)],
    ['list', () => s.listSegments('f1', q, { limit: 30 })],
    ['noobj', () => db.prepare('SELECT * FROM segments WHERE flow_id=? AND end_ns > ? AND end_ns <= ? ORDER BY end_ns LIMIT 31').all('f1', 999970000000000n, 1000000000000000n)],
  ] as const) {
    stmt.safeIntegers(true);
    for (let i = 0; i < 200; i++) await (fn as any)();
    const t = performance.now();
    for (let i = 0; i < 2000; i++) await (fn as any)();
    console.log(name, ((performance.now() - t) / 2000 * 1000).toFixed(1), 'us');
  }
  await s.close();
});
