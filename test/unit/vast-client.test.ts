/**
 * The VAST client without I/O: filter builders, slicing under the request budget, the
 * transaction lifecycle (`withTransaction`) and select paging against a scripted requester that
 * records what the client asks (select answers framed by the fake server's apache-arrow writer). The client against the fake VAST server over sockets is in
 * test/integration/vast-client.test.ts.
 */
import { tableFromIPC } from 'apache-arrow';
import { allOf, anyOf, column } from '../../src/adapters/vast/client/filter';
import { encodedSlices } from '../../src/adapters/vast/client/request-slicing';
import { VastClient } from '../../src/adapters/vast/client/vast-client';
import { encodeRowBatch } from '../../src/adapters/vast/protocol/row-batches';
import type { VastColumn } from '../../src/adapters/vast/protocol/vast-columns';
import { VastProtocolError } from '../../src/adapters/vast/protocol/vast-protocol-error';
import { VastRequestError } from '../../src/adapters/vast/transport/vast-request-error';
import type { VastRequest, VastResponse } from '../../src/adapters/vast/transport/vast-transport';
import { frameAnswer, NO_MORE_ROWS } from '../support/vast-fake-select';

describe('filter builders', () => {
  it('make an AND of single-column OR-groups', () => {
    expect(allOf(column('flow').equal('f1'), [column('start').less(5n), anyOf(column('label').isNull(), column('label').equal('x'))], column('end').isValid())).toEqual([
      { column: 'flow', anyOf: [{ op: 'equal', value: 'f1' }] },
      { column: 'start', anyOf: [{ op: 'less', value: 5n }] },
      { column: 'label', anyOf: [{ op: 'is_null' }, { op: 'equal', value: 'x' }] },
      { column: 'end', anyOf: [{ op: 'is_valid' }] },
    ]);
    expect(allOf()).toEqual([]);
  });

  it('refuse an OR across two columns and an empty OR', () => {
    expect(() => anyOf(column('a').equal(1n), column('b').equal(1n))).toThrow(/cannot OR conditions on two columns \(a, b\)/);
    expect(() => anyOf()).toThrow(/empty OR/);
  });
});

describe('encodedSlices', () => {
  const columns: VastColumn[] = [{ name: 'text', type: 'utf8', nullable: false }];
  const rows = Array.from({ length: 1000 }, (_, i) => ({ text: `${i}`.padEnd(100 + (i % 7) * 50, 'x') }));
  const encode = (part: readonly { text: string }[]) => encodeRowBatch(columns, part);

  it('cuts rows into slices that each fit the budget and together hold every row once, in order', () => {
    const slices = [...encodedSlices(rows, encode, 'insert', 20_000)];
    expect(slices.length).toBeGreaterThan(5);
    expect(slices.every((slice) => slice.body.byteLength <= 20_000)).toBe(true);
    const back = slices.flatMap((slice) => tableFromIPC(slice.body).toArray().map((row: { text: string }) => row.text));
    expect(back).toEqual(rows.map((row) => row.text));
    expect(slices.map((slice) => slice.start)).toEqual(slices.map((_, i) => slices.slice(0, i).reduce((sum, s) => sum + s.count, 0)));
  });

  it('sends everything at once when it fits, and caps the rows of a slice', () => {
    expect([...encodedSlices(rows, encode, 'insert')].map((slice) => slice.count)).toEqual([1000]);
    expect([...encodedSlices(rows, encode, 'insert', 10_000_000, 300)].map((slice) => slice.count)).toEqual([300, 300, 300, 100]);
    expect([...encodedSlices([], encode, 'insert')]).toEqual([]);
  });

  it('refuses a row that alone is over the budget: payload_too_large', () => {
    const wide = [{ text: 'a' }, { text: 'b'.repeat(30_000) }];
    let thrown: unknown;
    try {
      Array.from(encodedSlices(wide, encode, 'insert rows into s/t', 20_000));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(VastRequestError);
    expect(thrown).toMatchObject({ kind: 'request_too_large', code: 'payload_too_large', status: 413, attempts: 0, operation: 'insert rows into s/t' });
  });
});

// ---------------------------------------------------------------------------------------------

type Script = (request: VastRequest) => Partial<VastResponse> | VastRequestError;

class ScriptedRequester {
  readonly seen: VastRequest[] = [];
  private nextTxid = 100n;
  constructor(private readonly script: Script = () => ({})) {}

  async request(request: VastRequest): Promise<VastResponse> {
    this.seen.push(request);
    const isBegin = request.verb === 'transaction' && request.method === 'POST';
    const answer = this.script(request);
    if (answer instanceof VastRequestError) throw answer;
    const headers = isBegin ? { 'tabular-txid': String((this.nextTxid += 1n)) } : {};
    return { status: 200, headers, body: Buffer.alloc(0), attempts: 1, reusedConnection: false, ...answer };
  }

  get calls(): string[] {
    return this.seen.map((request) => `${request.method} ${request.verb ?? ''} ${request.headers?.['tabular-txid'] ?? '-'}`);
  }
}

const conflict = (operation: string) => new VastRequestError({ kind: 'conflict', operation, attempts: 1, status: 409, vastCode: 'Conflict' });

function clientOver(requester: ScriptedRequester, onConflict: (run: number, delayMs: number) => void = () => {}) {
  return new VastClient({
    transport: requester,
    bucket: 'tams',
    conflictRetry: { maxRuns: 3, baseDelayMs: 1, maxDelayMs: 4 },
    onConflict: ({ run, delayMs }) => onConflict(run, delayMs),
  });
}

describe('VastClient transactions (scripted requester)', () => {
  it('begins with txid 0, sends the common headers, commits with the id VAST gave', async () => {
    const requester = new ScriptedRequester();
    const result = await clientOver(requester).withTransaction(async (tx) => {
      expect(tx.id).toBe(101n);
      await tx.createSchema('gateway');
      return 'done';
    });
    expect(result).toBe('done');
    expect(requester.calls).toEqual(['POST transaction 0', 'POST schema 101', 'PUT transaction 101']);
    expect(requester.seen[1]!.headers).toEqual({ 'tabular-txid': '101', 'tabular-api-version-id': '1', 'tabular-client-name': 'tams-gateway' });
    expect(requester.seen[1]!.path).toEqual(['tams', 'gateway']);
  });

  it('reruns the whole work after a conflict at commit, rolling the loser back', async () => {
    let commits = 0;
    const requester = new ScriptedRequester((request) => (request.method === 'PUT' && request.verb === 'transaction' && ++commits === 1 ? conflict('commit transaction') : {}));
    const runs: number[] = [];
    const reports: [number, number][] = [];
    await clientOver(requester, (run, delayMs) => reports.push([run, delayMs])).withTransaction(async (tx) => {
      runs.push(Number(tx.id));
    });
    expect(runs).toEqual([101, 102]);
    expect(requester.calls).toEqual(['POST transaction 0', 'PUT transaction 101', 'DELETE transaction 101', 'POST transaction 0', 'PUT transaction 102']);
    expect(reports).toHaveLength(1);
    expect(reports[0]![1]).toBeGreaterThanOrEqual(0.5);
  });

  it('reruns after a conflict at a write, and gives up after maxRuns with the conflict', async () => {
    const requester = new ScriptedRequester((request) => (request.verb === 'schema' ? conflict('create schema gateway') : {}));
    let runs = 0;
    const error = await clientOver(requester)
      .withTransaction(async (tx) => {
        runs += 1;
        await tx.createSchema('gateway');
      })
      .then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
    expect(runs).toBe(3);
    expect(error).toMatchObject({ kind: 'conflict', operation: 'create schema gateway' });
    expect(requester.calls.filter((call) => call.startsWith('DELETE transaction'))).toHaveLength(3);
    expect(requester.calls.filter((call) => call.startsWith('PUT transaction'))).toHaveLength(0);
  });

  it('rolls back and throws, without a rerun, when the work fails otherwise', async () => {
    const requester = new ScriptedRequester();
    const failure = new Error('work failed');
    await expect(
      clientOver(requester).withTransaction(async () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(requester.calls).toEqual(['POST transaction 0', 'DELETE transaction 101']);
  });

  it('throws the work error even when the rollback fails too', async () => {
    const requester = new ScriptedRequester((request) => (request.method === 'DELETE' ? new VastRequestError({ kind: 'connection', operation: 'rollback transaction', attempts: 1 }) : {}));
    await expect(clientOver(requester).withTransaction(async () => Promise.reject(new TypeError('bad row')))).rejects.toThrow('bad row');
  });

  it('refuses to use a transaction once it has ended', async () => {
    const requester = new ScriptedRequester();
    const tx = await clientOver(requester).begin();
    await tx.commit();
    expect(tx.state).toBe('committed');
    await expect(tx.createSchema('late')).rejects.toThrow(/transaction 101 is committed/);
    await expect(tx.commit()).rejects.toThrow(/is committed/);
    expect(requester.calls).toEqual(['POST transaction 0', 'PUT transaction 101']);
  });

  it.each([[undefined], ['abc'], ['18446744073709551616'], ['-1']])('refuses a begin answer with tabular-txid %p', async (txid) => {
    const requester = new ScriptedRequester(() => ({ headers: txid === undefined ? {} : { 'tabular-txid': txid } }));
    await expect(clientOver(requester).begin()).rejects.toBeInstanceOf(VastProtocolError);
  });

  it('reads the largest transaction id exactly', async () => {
    const requester = new ScriptedRequester(() => ({ headers: { 'tabular-txid': '18446744073709551615' } }));
    const tx = await clientOver(requester).begin();
    expect(tx.id).toBe(2n ** 64n - 1n);
    await tx.rollback();
    expect(requester.seen[1]!.headers!['tabular-txid']).toBe('18446744073709551615');
  });
});

describe('VastTable select paging (scripted answers framed by the fake server writer)', () => {
  const TABLE = { schema: 'gateway', name: 'flows', columns: [{ name: 'n', type: 'int64' as const, nullable: false }] };
  const N = [{ name: 'n', type: 'int64' as const, nullable: false }];
  const rowsOf = (...values: number[]) => values.map((value) => ({ n: BigInt(value) }));

  function selecting(answers: Buffer[]): ScriptedRequester {
    let next = 0;
    return new ScriptedRequester((request) => (request.verb === 'data' ? { body: answers[next++] ?? Buffer.alloc(0) } : {}));
  }

  it('sends the paging headers, resumes each sub-split where it stopped, and stops when all are done', async () => {
    const requester = selecting([
      frameAnswer([{ subSplit: 0, nextRowId: 10n, rows: rowsOf(1, 2) }, { subSplit: 1, nextRowId: NO_MORE_ROWS, rows: rowsOf(3) }], N, 2),
      frameAnswer([{ subSplit: 0, nextRowId: NO_MORE_ROWS, rows: rowsOf(4) }], N, 0),
    ]);
    const client = new VastClient({ transport: requester, bucket: 'tams', select: { numSubSplits: 2, limitRowsPerSubSplit: 100 } });
    const tx = await client.begin();
    const rows = await tx.table(TABLE).select();
    expect(rows.map((row) => row.n)).toEqual([1n, 2n, 3n, 4n]);
    const selects = requester.seen.filter((request) => request.verb === 'data');
    expect(selects.map((request) => request.headers)).toEqual([
      expect.objectContaining({ 'tabular-txid': '101', 'tabular-split': '0,1,8', 'tabular-num-of-subsplits': '2', 'tabular-limit-rows': '100', 'tabular-start-row-id-0': '0,0', 'tabular-start-row-id-1': '1,0' }),
      expect.objectContaining({ 'tabular-start-row-id-0': '0,10', 'tabular-start-row-id-1': `1,${NO_MORE_ROWS}` }),
    ]);
    expect(selects[0]!.path).toEqual(['tams', 'gateway', 'flows']);
  });

  it('asks each sub-split for no more than the rows still wanted, and cuts at the limit', async () => {
    const requester = selecting([frameAnswer([{ subSplit: 0, nextRowId: 3n, rows: rowsOf(0, 1, 2) }], N, 0)]);
    const tx = await new VastClient({ transport: requester, bucket: 'tams', select: { numSubSplits: 1 } }).begin();
    expect((await tx.table(TABLE).select({ limit: 2 })).map((row) => row.n)).toEqual([0n, 1n]);
    expect(requester.seen.filter((request) => request.verb === 'data').map((request) => request.headers?.['tabular-limit-rows'])).toEqual(['2']);
  });

  it('fails, rather than asking forever, when a sub-split does not move past where it was asked to start', async () => {
    const stuck = frameAnswer([{ subSplit: 0, nextRowId: 5n, rows: rowsOf(7) }], N, 0);
    const requester = selecting([stuck, frameAnswer([{ subSplit: 0, nextRowId: 5n, rows: [] }], N, 0)]);
    const tx = await new VastClient({ transport: requester, bucket: 'tams', select: { numSubSplits: 1 } }).begin();
    await expect(tx.table(TABLE).select()).rejects.toThrow(/sub-split 0 asked to start at row 5 answered next row 5/);
  });
});
