import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import { EventDispatcher } from '../../src/services/event-dispatcher';
import type { OutboxEvent } from '../../src/domain/events';
import type { Flow } from '../../src/domain/entities';
import { parseTimeRange } from '../../src/domain/timerange';
import { addSegments } from '../contract/contract-fixtures';

function flow(id: string, sourceId: string, format: Flow['format'] = 'urn:x-nmos:format:data'): Flow {
  return { id, source_id: sourceId, format, codec: 'text/plain', container: 'text/plain' };
}

describe('EventDispatcher over a real SQLite outbox', () => {
  let dir: string;
  let store: SqliteMetadataStore;
  let dispatcher: EventDispatcher;
  const seen: OutboxEvent[] = [];

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-dispatch-'));
    store = new SqliteMetadataStore({ filename: path.join(dir, 'tams.db') });
    await store.init();
    seen.length = 0;
  });
  afterEach(async () => {
    await dispatcher.stop();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('publishes only events committed after start, in order, and nothing for a rolled-back change', async () => {
    await store.putFlow(flow('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-0000000000a1'), new Date().toISOString());
    dispatcher = new EventDispatcher(store, { pollMs: 0 });
    await dispatcher.start();
    dispatcher.subscribe((e) => seen.push(e));

    const f2 = flow('00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-0000000000a2');
    await store.putFlow(f2, new Date().toISOString());
    await addSegments(store, f2.id, [{ object_id: 'o1', timerange: parseTimeRange('[0:0_1:0)'), timerange_text: '[0:0_1:0)' }], new Date().toISOString());
    // A video flow on a data source is a conflict: the change rolls back and emits nothing.
    await expect(
      store.putFlow({ ...flow('00000000-0000-4000-8000-000000000003', f2.source_id), format: 'urn:x-nmos:format:video' }, new Date().toISOString()),
    ).rejects.toMatchObject({ code: 'source_conflict' });
    await store.deleteFlow(f2.id, new Date().toISOString());
    await dispatcher.flush();

    expect(seen.map((e) => e.event_type)).toEqual([
      'sources/created',
      'flows/created',
      'flows/segments_added',
      'flows/segments_deleted',
      'flows/deleted',
      'sources/deleted',
    ]);
    const seqs = seen.map((e) => e.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it('sees events committed by another connection to the same file by polling', async () => {
    dispatcher = new EventDispatcher(store, { pollMs: 20 });
    await dispatcher.start();
    dispatcher.subscribe((e) => seen.push(e));
    const other = new SqliteMetadataStore({ filename: path.join(dir, 'tams.db') });
    await other.init();
    await other.putFlow(flow('00000000-0000-4000-8000-000000000004', '00000000-0000-4000-8000-0000000000a4'), new Date().toISOString());
    await other.close();
    const deadline = Date.now() + 5000;
    while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(seen.map((e) => e.event_type)).toEqual(['sources/created', 'flows/created']);
  });

  it('keeps publishing to other subscribers when one throws', async () => {
    const errors: unknown[] = [];
    dispatcher = new EventDispatcher(store, { pollMs: 0, onError: (err) => errors.push(err) });
    await dispatcher.start();
    dispatcher.subscribe(() => {
      throw new Error('subscriber failure');
    });
    dispatcher.subscribe((e) => seen.push(e));
    await store.putFlow(flow('00000000-0000-4000-8000-000000000005', '00000000-0000-4000-8000-0000000000a5'), new Date().toISOString());
    await dispatcher.flush();
    expect(seen).toHaveLength(2);
    expect(errors).toHaveLength(2);
  });
});
