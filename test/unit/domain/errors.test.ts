import { ERROR_REGISTRY, ErrorCode, TamsError, errorBody, toTamsError } from '../../../src/domain/errors';

const codes = Object.keys(ERROR_REGISTRY) as ErrorCode[];

describe('ERROR_REGISTRY', () => {
  it.each(codes)('%s has a 4xx/5xx status, a GraphQL code and a TAMS type', (code) => {
    const entry = ERROR_REGISTRY[code];
    expect(Number.isInteger(entry.status)).toBe(true);
    expect(entry.status).toBeGreaterThanOrEqual(400);
    expect(entry.status).toBeLessThan(600);
    expect(entry.graphql).toMatch(/^[A-Z][A-Z_]*$/);
    expect(entry.type).toMatch(/^[A-Z][A-Za-z]*$/);
  });

  it('codes are snake_case and types are unique', () => {
    for (const code of codes) expect(code).toMatch(/^[a-z][a-z_]*$/);
    const types = codes.map((c) => ERROR_REGISTRY[c].type);
    expect(new Set(types).size).toBe(types.length);
  });

  it('only internal and unavailable are server errors', () => {
    const serverErrors = codes.filter((c) => ERROR_REGISTRY[c].status >= 500).sort();
    expect(serverErrors).toEqual(['internal', 'unavailable']);
  });
});

describe('TamsError', () => {
  it.each(codes)('%s carries its registry status, type and GraphQL code', (code) => {
    const err = new TamsError(code, 'something happened');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('TamsError');
    expect(err.code).toBe(code);
    expect(err.message).toBe('something happened');
    expect(err.status).toBe(ERROR_REGISTRY[code].status);
    expect(err.type).toBe(ERROR_REGISTRY[code].type);
    expect(err.graphqlCode).toBe(ERROR_REGISTRY[code].graphql);
  });
});

describe('errorBody', () => {
  it('has exactly the TAMS error shape plus message', () => {
    const now = new Date('2024-05-06T07:08:09.010Z');
    const body = errorBody(new TamsError('not_found', 'The flow does not exist.'), now);
    expect(body).toStrictEqual({
      type: 'NotFound',
      summary: 'The flow does not exist.',
      time: '2024-05-06T07:08:09.010Z',
      message: 'The flow does not exist.',
    });
  });

  it('defaults time to now, as ISO 8601', () => {
    const before = Date.now();
    const body = errorBody(new TamsError('bad_request', 'x'));
    const t = Date.parse(body.time);
    expect(body.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(Date.now());
  });

  it('serialises to JSON without a stack', () => {
    const json = JSON.stringify(errorBody(new TamsError('internal', 'Internal server error')));
    expect(json).not.toContain('stack');
    expect(json).not.toContain('at ');
  });
});

describe('toTamsError', () => {
  it('passes a TamsError through unchanged', () => {
    const err = new TamsError('segment_overlap', 'overlaps [0:0_1:0)');
    expect(toTamsError(err)).toBe(err);
  });

  it.each<[string, unknown]>([
    ['an Error', new Error('ECONNREFUSED 10.0.0.5:5432 password=hunter2')],
    ['a TypeError', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['a string', 'SELECT * FROM secrets'],
    ['undefined', undefined],
    ['null', null],
    ['a plain object pretending', { code: 'not_found', status: 404, message: 'fake' }],
  ])('masks %s as a 500 internal error without its text', (_label, thrown) => {
    const err = toTamsError(thrown);
    expect(err).toBeInstanceOf(TamsError);
    expect(err.code).toBe('internal');
    expect(err.status).toBe(500);
    expect(err.graphqlCode).toBe('INTERNAL_SERVER_ERROR');
    const body = JSON.stringify(errorBody(err));
    for (const secret of ['hunter2', '10.0.0.5', 'SELECT', 'undefined', 'fake']) expect(body).not.toContain(secret);
  });
});
