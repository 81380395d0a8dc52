/**
 * Hostile review of the VAST client's select loop and the transport's XML error reader, without
 * sockets: a scripted requester answers with frames written by the fake server's apache-arrow
 * writer (never the client's codec).
 */
import { VastClient } from '../../src/adapters/vast/client/vast-client';
import { VastProtocolError } from '../../src/adapters/vast/protocol/vast-protocol-error';
import { parseS3ErrorBody } from '../../src/adapters/vast/transport/s3-error-body';
import { VastRequestError } from '../../src/adapters/vast/transport/vast-request-error';
import type { VastRequest, VastResponse } from '../../src/adapters/vast/transport/vast-transport';
import { frameAnswer, NO_MORE_ROWS, type AnswerPage } from '../support/vast-fake-select';

const N = [{ name: 'n', type: 'int64' as const, nullable: false }];
const TABLE = { schema: 'gateway', name: 't', columns: N };
const rowsOf = (...values: number[]) => values.map((value) => ({ n: BigInt(value) }));

/** Answers selects from `answerFor(selectNumber, request)`; stops the test after `cap` selects. */
class Selecting {
  readonly selects: VastRequest[] = [];
  constructor(
    private readonly answerFor: (index: number, request: VastRequest) => Buffer,
    private readonly cap = 25,
  ) {}

  async request(request: VastRequest): Promise<VastResponse> {
    const base = { status: 200, headers: {}, body: Buffer.alloc(0), attempts: 1, reusedConnection: false };
    if (request.verb === 'transaction' && request.method === 'POST') return { ...base, headers: { 'tabular-txid': '7' } };
    if (request.verb !== 'data') return base;
    this.selects.push(request);
    if (this.selects.length > this.cap) throw new Error(`LOOPING: ${this.selects.length} select requests for one select`);
    return { ...base, body: this.answerFor(this.selects.length - 1, request) };
  }
}

async function selectAll(requester: Selecting, numSubSplits: number): Promise<unknown> {
  const tx = await new VastClient({ transport: requester, bucket: 'tams', select: { numSubSplits } }).begin();
  return tx.table(TABLE).select().then(
    (rows) => rows.map((row) => row.n),
    (error: unknown) => error,
  );
}

describe('select paging against a server that misbehaves', () => {
  it('a server that keeps re-sending a finished sub-split (next row id = no more rows) and never answers another sub-split fails the select (was a DEFECT: the same select sent forever)', async () => {
    // Sub-split 0 finishes with rows 1, 2 and is then sent again (empty, still finished) on every
    // request; sub-split 1 is never answered. Every answer has a page, and no page goes backwards,
    // so neither of the client's two guards fires.
    const requester = new Selecting((index) =>
      frameAnswer([{ subSplit: 0, nextRowId: NO_MORE_ROWS, rows: index === 0 ? rowsOf(1, 2) : [] }], N, 0),
    );
    const outcome = await selectAll(requester, 2);
    expect(String(outcome)).not.toMatch(/LOOPING/);
    expect(outcome).toBeInstanceOf(VastProtocolError);
  });

  it('rows sent again for a sub-split the client already saw finish are dropped (was a DEFECT: returned twice)', async () => {
    // Sub-split 0 finishes in the first answer; the second answer finishes sub-split 1 and also
    // repeats sub-split 0's rows (a finished sub-split asked again with the no-more-rows marker:
    // docs/vast.md says the Python SDK sends it so; what a cluster answers is unknown).
    const answers = [
      frameAnswer([{ subSplit: 0, nextRowId: NO_MORE_ROWS, rows: rowsOf(1, 2) }, { subSplit: 1, nextRowId: 10n, rows: rowsOf(3) }], N, 0),
      frameAnswer([{ subSplit: 0, nextRowId: NO_MORE_ROWS, rows: rowsOf(1, 2) }, { subSplit: 1, nextRowId: NO_MORE_ROWS, rows: rowsOf(4) }], N, 0),
    ];
    const requester = new Selecting((index) => answers[index]!);
    const outcome = await selectAll(requester, 2);
    // Either refused (a protocol error) or each row once; never a duplicate row.
    if (Array.isArray(outcome)) expect(outcome).toEqual([1n, 2n, 3n, 4n]);
    else expect(outcome).toBeInstanceOf(VastProtocolError);
  });

  it('a page from a sub-split that was not asked for fails the select (not silently ignored)', async () => {
    const requester = new Selecting(() => frameAnswer([{ subSplit: 5, nextRowId: NO_MORE_ROWS, rows: rowsOf(1) }], N, 0));
    const outcome = await selectAll(requester, 2);
    expect(outcome).toBeInstanceOf(Error);
    expect(requester.selects).toHaveLength(1);
  });

  it('an answer with no page while sub-splits are left fails after one request', async () => {
    const requester = new Selecting(() => frameAnswer([], N, 0));
    expect(await selectAll(requester, 2)).toBeInstanceOf(VastProtocolError);
    expect(requester.selects).toHaveLength(1);
  });

  it('a sub-split moving backwards inside one answer (two pages, the second resuming before the first) is refused (was a DEFECT: accepted, its rows re-read)', async () => {
    // Within one answer the guard compares each page with where the sub-split was asked to start,
    // not with the previous page of the same answer: 0 -> 10 then 10 -> 5 passes, and the next
    // request starts sub-split 0 at 5, re-reading rows 5..9.
    let asked: string | undefined;
    const pages: AnswerPage[][] = [
      [
        { subSplit: 0, nextRowId: 10n, rows: rowsOf(0, 1, 2, 3, 4, 5, 6, 7, 8, 9) },
        { subSplit: 0, nextRowId: 5n, rows: [] },
      ],
      [{ subSplit: 0, nextRowId: NO_MORE_ROWS, rows: rowsOf(5, 6, 7, 8, 9) }],
    ];
    const requester = new Selecting((index, request) => {
      if (index === 1) asked = request.headers?.['tabular-start-row-id-0'];
      return frameAnswer(pages[index]!, N, 0);
    });
    const outcome = await selectAll(requester, 1);
    // Refused at the backwards page: no second request re-reading rows 5..9.
    expect(outcome).toBeInstanceOf(VastProtocolError);
    expect(asked).toBeUndefined();
  });
});

describe('S3 XML error bodies a hostile server could send', () => {
  function timed(body: Buffer): { ms: number; parsed: ReturnType<typeof parseS3ErrorBody> } {
    const started = process.hrtime.bigint();
    const parsed = parseS3ErrorBody(body);
    return { ms: Number(process.hrtime.bigint() - started) / 1e6, parsed };
  }

  it('a 64 KiB error body of unclosed "<Code " tags is read in milliseconds (was a DEFECT: ~0.7 s per answer, a quadratic element regex)', () => {
    const body = Buffer.from(`<Error>${'<Code '.repeat(10_900)}</Error>`);
    expect(body.length).toBeLessThan(64 * 1024 + 1);
    const { ms } = timed(body);
    // A few hundred bytes of document are read in microseconds; 64 KiB should take milliseconds.
    expect(ms).toBeLessThan(250);
  });

  it('a multi-megabyte body is read only up to its first 64 KiB, and a plain document still parses', () => {
    const huge = Buffer.concat([Buffer.from('<Error><Code>SlowDown</Code><Message>'), Buffer.alloc(8 * 1024 * 1024, 'a'), Buffer.from('</Message></Error>')]);
    const { ms, parsed } = timed(huge);
    expect(ms).toBeLessThan(1000);
    expect(parsed).toBeUndefined();
    expect(parseS3ErrorBody(Buffer.from('<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Slow &amp; Down &#x1F600;</Message><RequestId>r1</RequestId></Error>'))).toEqual({
      code: 'SlowDown',
      message: 'Slow & Down \u{1F600}',
      requestId: 'r1',
    });
  });

  it('a hostile code or message never reaches the client-visible message, only the log detail (bounded)', () => {
    const error = new VastRequestError({
      kind: 'unavailable',
      operation: 'select',
      attempts: 1,
      status: 503,
      vastCode: '<script>alert(1)</script>',
      detail: `select: ${'x'.repeat(10_000)}`,
    });
    expect(error.message).not.toContain('<script>');
    expect(error.message).toBe('The VAST metadata store is unavailable (503)');
    expect(error.detail!.length).toBeLessThanOrEqual(500);
  });
});

describe('VAST error fields from a hostile server', () => {
  it('caps the code and request id a server sends (they go to logs), as the detail is capped', () => {
    const error = new VastRequestError({ kind: 'unavailable', operation: 'select', attempts: 1, status: 503, vastCode: 'C'.repeat(70_000), requestId: 'r'.repeat(70_000), detail: 'd'.repeat(70_000) });
    expect(error.vastCode?.length).toBe(128);
    expect(error.requestId?.length).toBe(128);
    expect((error.detail ?? '').length).toBeLessThanOrEqual(500);
  });
});
