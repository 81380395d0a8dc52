/**
 * The spec-parity verdict (test/support/parity-report.ts) from recorded lines: an operation
 * counts as exercised only when it answered one of its declared 2xx statuses, and the ones
 * seen only with failure statuses are listed apart (a vanished route answering 404, or
 * every test reaching it without credentials).
 */
import { computeParity, formatParityReport, parityFailed, successStatuses } from '../../support/parity-report';
import type { ParityLine, ParitySource } from '../../support/parity-recorder';
import type { OperationSummary } from '../../support/tams-spec';
import { describeWithSpec, listOperations } from '../../support/tams-spec';

const OPERATIONS: OperationSummary[] = [
  { operationId: 'GET_flows', method: 'GET', path: '/flows', statuses: [200, 400] },
  { operationId: 'PUT_flows-flowId', method: 'PUT', path: '/flows/{flowId}', statuses: [201, 204, 400, 403, 404] },
  { operationId: 'DELETE_flows-flowId', method: 'DELETE', path: '/flows/{flowId}', statuses: [202, 204, 403, 404] },
  { operationId: 'GET_objects', method: 'GET', path: '/objects/{objectId}', statuses: [200, 400, 404] },
];

function line(operationId: string, status: number, source: ParitySource = 'harness', url = `/${operationId}`): ParityLine {
  const method = OPERATIONS.find((o) => o.operationId === operationId)?.method ?? 'GET';
  return { kind: 'response', operationId, method, status, url, source };
}

describe('spec parity report', () => {
  it('takes the declared 2xx statuses as the success statuses', () => {
    expect(OPERATIONS.map(successStatuses)).toEqual([[200], [201, 204], [202, 204], [200]]);
  });

  it('counts an operation only once it answered one of its declared 2xx statuses', () => {
    const result = computeParity(
      [
        line('GET_flows', 200),
        line('PUT_flows-flowId', 204, 'fetch'),
        line('DELETE_flows-flowId', 202),
        line('GET_objects', 200),
      ],
      OPERATIONS,
    );
    expect(result).toMatchObject({ exercised: 4, missing: [], failuresOnly: [], undeclared: [] });
    expect(parityFailed(result)).toBe(false);
  });

  it('rejects a route that only ever answered 404 or 401 (it disappeared, or nobody could reach it)', () => {
    const lines = [
      line('GET_flows', 200),
      line('PUT_flows-flowId', 201),
      line('DELETE_flows-flowId', 404, 'harness', '/flows/0b2c'),
      line('DELETE_flows-flowId', 404),
      line('DELETE_flows-flowId', 401, 'fetch'),
      line('GET_objects', 200),
    ];
    const result = computeParity(lines, OPERATIONS);
    expect(result.exercised).toBe(3);
    expect(result.missing.map((o) => o.operationId)).toEqual(['DELETE_flows-flowId']);
    expect(result.failuresOnly).toEqual([
      {
        operationId: 'DELETE_flows-flowId',
        method: 'DELETE',
        path: '/flows/{flowId}',
        success: [202, 204],
        seen: [
          { status: 401, count: 1 },
          { status: 404, count: 2 },
        ],
        example: '/flows/0b2c',
      },
    ]);
    expect(result.undeclared).toEqual([]); // 404 is declared and 401 allowed anywhere: only the 2xx is missing
    expect(parityFailed(result)).toBe(true);
    const report = formatParityReport(result);
    expect(report).toContain('3/4 operations exercised');
    expect(report).toContain('0 never answered, 1 answered only with failure statuses');
    expect(report).toContain('answered only with failure statuses, never a declared 2xx');
    expect(report).toContain('    DELETE_flows-flowId: 401 x1, 404 x2 [202,204] e.g. DELETE /flows/0b2c');
  });

  it('does not count an undeclared 2xx, nor fuzz or malformed requests, as exercising', () => {
    const lines = [
      line('GET_flows', 200, 'fuzz'),
      line('GET_objects', 200, 'malformed'),
      line('PUT_flows-flowId', 200), // PUT declares 201 and 204, not 200
      line('DELETE_flows-flowId', 204),
    ];
    const result = computeParity(lines, OPERATIONS);
    expect(result.exercised).toBe(1);
    // Answers only from fuzz or malformed requests: never answered, as far as parity goes.
    expect(result.failuresOnly.map((f) => f.operationId)).toEqual(['PUT_flows-flowId']);
    expect(result.missing.map((o) => o.operationId)).toEqual(['GET_flows', 'PUT_flows-flowId', 'GET_objects']);
    expect(result.undeclared.map((u) => `${u.operationId} ${u.status}`)).toEqual(['PUT_flows-flowId 200']);
    expect(formatParityReport(result)).toContain('2 never answered, 1 answered only with failure statuses');
  });

  it('reports undeclared statuses of fuzz and malformed requests without enforcing them', () => {
    const lines = [...OPERATIONS.map((o) => line(o.operationId, successStatuses(o)[0]!)), line('GET_flows', 414, 'fuzz'), line('GET_flows', 422, 'malformed')];
    const result = computeParity(lines, OPERATIONS);
    expect(result.undeclared).toEqual([]);
    expect(result.fuzzUndeclared.map((u) => `${u.operationId} ${u.status} ${u.sources.join('+')}`)).toEqual(['GET_flows 414 fuzz', 'GET_flows 422 malformed']);
    expect(parityFailed(result)).toBe(false);
  });
});

describeWithSpec('spec parity report against TimeAddressableMediaStore.yaml', () => {
  it('fails a run in which one operation answered only 404 while every other answered a 2xx', () => {
    const operations = listOperations();
    expect(operations.every((o) => successStatuses(o).length > 0)).toBe(true);
    const gone = 'GET_flows-flowId-segments';
    const lines = operations.flatMap((o) =>
      o.operationId === gone ? [line(gone, 404, 'harness', '/flows/x/segments')] : [line(o.operationId, successStatuses(o)[0]!)],
    );
    const result = computeParity(lines, operations);
    expect(result.exercised).toBe(operations.length - 1);
    expect(result.failuresOnly.map((f) => `${f.operationId} ${f.seen.map((s) => s.status).join(',')}`)).toEqual([`${gone} 404`]);
    expect(parityFailed(result)).toBe(true);
    expect(parityFailed(computeParity([...lines, line(gone, 200)], operations))).toBe(false);
  });
});
