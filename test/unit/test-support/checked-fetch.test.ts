/**
 * checkTamsAnswer, the check behind checkedFetch and the gateway harness client: which answers
 * it passes, which it refuses, which it leaves alone. No server: the answers are made up here.
 */
import { checkTamsAnswer, operationOf, TamsConformanceError, type Answer } from '../../support/checked-fetch';
import { PARITY_DIR_ENV } from '../../support/parity-recorder';
import { describeWithSpec, readSpecJson } from '../../support/tams-spec';

const JSON_TYPE = 'application/json; charset=utf-8';
const ERROR = { type: 'NotFound', summary: 'no such flow', time: '2024-01-01T00:00:00Z' };

function answer(method: string, url: string, status: number, body?: unknown, contentType: string | null = JSON_TYPE): Answer {
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  return { method, url: new URL(url, 'http://127.0.0.1:1'), status, contentType, text };
}

describeWithSpec('checkTamsAnswer', () => {
  // These answers are made up: none may reach the spec-parity record of the run.
  const parityDir = process.env[PARITY_DIR_ENV];
  beforeAll(() => delete process.env[PARITY_DIR_ENV]);
  afterAll(() => {
    if (parityDir !== undefined) process.env[PARITY_DIR_ENV] = parityDir;
  });

  it('maps method and path below the base path to an operation', () => {
    expect(operationOf('get', '/flows', '')).toBe('GET_flows');
    expect(operationOf('GET', '/tams/v8.2/flows/abc/segments', '/tams/v8.2')).toBe('GET_flows-flowId-segments');
    expect(operationOf('GET', '/tams/v8.2x/flows', '/tams/v8.2')).toBeUndefined();
    expect(operationOf('GET', '/flows', '/tams/v8.2')).toBeUndefined();
    expect(operationOf('GET', '/graphql', '')).toBeUndefined();
  });

  it('passes a conforming 2xx and refuses one missing a required field', () => {
    const service = readSpecJson('examples/service-get-200.json') as Record<string, unknown>;
    expect(checkTamsAnswer(answer('GET', '/service', 200, service))).toBe('GET_service');
    const { api_version: _dropped, ...broken } = service;
    expect(() => checkTamsAnswer(answer('GET', '/service', 200, broken))).toThrow(TamsConformanceError);
    expect(() => checkTamsAnswer(answer('GET', '/service', 200, broken))).toThrow(
      /GET \/service -> 200 does not conform to GET_service: data must have required property 'api_version'/,
    );
    expect(() => checkTamsAnswer(answer('GET', '/service', 200, JSON.stringify(service), 'text/plain'))).toThrow(/data must be object/);
  });

  it('refuses an undeclared 2xx and a body on a HEAD', () => {
    expect(() => checkTamsAnswer(answer('PUT', '/flows/0b2c', 200, {}))).toThrow(/declares no 200 response/);
    expect(() => checkTamsAnswer(answer('HEAD', '/flows', 200, []))).toThrow(/HEAD response must have no body/);
    expect(checkTamsAnswer(answer('HEAD', '/flows', 200))).toBe('HEAD_flows');
  });

  it('checks a 2xx even of a request marked malformed', () => {
    expect(() => checkTamsAnswer(answer('GET', '/service', 200, {}), { malformed: 'bad cursor' })).toThrow(TamsConformanceError);
  });

  it('wants a TAMS error for a declared error status or one allowed anywhere (401, 403, 413, 415, 429, 503)', () => {
    expect(checkTamsAnswer(answer('GET', '/flows/0b2c', 404, ERROR))).toBe('GET_flows-flowId');
    expect(checkTamsAnswer(answer('GET', '/flows', 401, { ...ERROR, type: 'Unauthorized' }))).toBe('GET_flows');
    expect(checkTamsAnswer(answer('HEAD', '/flows', 401))).toBe('HEAD_flows');
    expect(() => checkTamsAnswer(answer('GET', '/flows', 401, 'Unauthorized', 'text/plain'))).toThrow(/a 401 must carry a TAMS error body/);
    expect(() => checkTamsAnswer(answer('GET', '/flows/0b2c', 404, { message: 'gone' }))).toThrow(TamsConformanceError);
  });

  it('refuses an undeclared error status unless the request is marked malformed (or fuzz)', () => {
    expect(() => checkTamsAnswer(answer('GET', '/service/webhooks?page=x', 400, ERROR))).toThrow(/GET_webhooks declares no 400 response/);
    expect(checkTamsAnswer(answer('GET', '/service/webhooks?page=x', 400, ERROR), { malformed: 'a tampered cursor' })).toBe('GET_webhooks');
    expect(checkTamsAnswer(answer('GET', '/service/webhooks?page=x', 414, 'URI Too Long', 'text/plain'), { source: 'fuzz' })).toBe('GET_webhooks');
  });

  it('leaves non-TAMS paths alone: GraphQL, metrics, probes, media', () => {
    for (const url of ['/graphql', '/metrics', '/livez', '/readyz', '/media/ab/cd/0b2c?sig=x', '/no/such/path']) {
      expect(checkTamsAnswer(answer('GET', url, 200, 'anything', 'text/plain'))).toBeUndefined();
    }
    expect(checkTamsAnswer(answer('GET', '/tams/v8.2/graphql', 200, '{}'), { basePath: '/tams/v8.2' })).toBeUndefined();
    expect(checkTamsAnswer(answer('GET', '/flows', 200, 'not for the REST API'), { basePath: null })).toBeUndefined();
  });
});
