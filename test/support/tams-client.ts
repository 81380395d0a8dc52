/**
 * A small REST + GraphQL client over a harness for tests that act as several callers (each with
 * its own `authorization`), and the flow helpers such tests share. REST answers are checked by
 * h.request (test/support/checked-fetch.ts); GraphQL goes through checkedFetch too.
 */
import { randomUUID } from 'node:crypto';
import { startHarness, type Harness, type TamsResponse } from './gateway-harness';
import { embeddedTokens } from './auth-tokens';
import { checkedFetch } from './checked-fetch';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
export type Json = any;

export interface Client {
  req: (method: string, path: string, body?: unknown) => Promise<TamsResponse>;
  /** A GraphQL operation's whole answer (data and errors). */
  gqlRaw: (query: string, variables?: Record<string, unknown>) => Promise<Json>;
  /** The data of a GraphQL operation that must not fail. */
  gql: (query: string, variables?: Record<string, unknown>) => Promise<Json>;
}

/** REST and GraphQL on `h`, with `authorization` on every request when given. */
export function client(h: Harness, authorization?: string): Client {
  const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
  const gqlRaw = async (query: string, variables: Record<string, unknown> = {}): Promise<Json> => {
    const res = await checkedFetch(`${h.base}/graphql`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as Json;
  };
  return {
    req: (method, path, body) => h.request(method, path, body, headers),
    gqlRaw,
    gql: async (query, variables = {}) => {
      const result = await gqlRaw(query, variables);
      if (result.errors !== undefined) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
      return result.data;
    },
  };
}

export const idOf = (flow: Record<string, unknown>): string => flow.id as string;
export const sourceOf = (flow: Record<string, unknown>): string => flow.source_id as string;
/** A JSON string body (property endpoints take JSON values). */
export const json = (value: string): string => JSON.stringify(value);
/** The one-second timerange starting at second `i`. */
export const tr = (i: number): string => `[${i}:0_${i + 1}:0)`;

export function multiFlow(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: randomUUID(), source_id: randomUUID(), format: 'urn:x-nmos:format:multi', container: 'video/mp2t', label: 'multi', ...overrides };
}

/** PUT /flows/{id}, expecting `status` (the body is shown when it differs). */
export async function put(c: Client, flow: Record<string, unknown>, status = 201): Promise<TamsResponse> {
  const res = await c.req('PUT', `/flows/${idOf(flow)}`, flow);
  expect({ put: idOf(flow), status: res.status, body: res.status === status ? undefined : res.body }).toEqual({ put: idOf(flow), status, body: undefined });
  return res;
}

export async function getFlow(c: Client, id: string): Promise<Json> {
  const res = await c.req('GET', `/flows/${id}`);
  expect(res.status).toBe(200);
  return res.body;
}

export async function getSource(c: Client, id: string): Promise<Json> {
  const res = await c.req('GET', `/sources/${id}`);
  expect(res.status).toBe(200);
  return res.body;
}

/** A token caller: subject `sub`, TAMS `scopes`, and any extra claims (auth_classes, preferred_username, roles...). */
export type BearerCaller = (sub: string, scopes?: string[], extra?: Record<string, unknown>) => Promise<Client>;

export interface BearerGateway {
  /** The gateway (once beforeAll has run). */
  readonly h: Harness;
  /** A token signed with the gateway's embedded key, for the suite's issuer and audience. */
  sign(claims: Record<string, unknown>): Promise<string>;
  /** One client per distinct caller (see BearerCaller). */
  as: BearerCaller;
}

/**
 * A gateway with authentication on (embedded key, `issuer` and `audience`, plus `env`) for the
 * enclosing describe: started in its beforeAll, closed in its afterAll.
 */
export function bearerGateway(env: Record<string, string> = {}, issuer = 'https://tams.test', audience = 'tams-gateway'): BearerGateway {
  let harness: Harness | undefined;
  let signer: ((claims: Record<string, unknown>) => Promise<string>) | undefined;
  const cache = new Map<string, Client>();
  beforeAll(async () => {
    harness = await startHarness({ TAMS_AUTH: 'on', AUTH_ISSUER: issuer, AUTH_AUDIENCE: audience, ...env });
    const issued = await embeddedTokens(harness.dataDir, issuer, audience);
    signer = async (claims) => issued.sign(claims);
  });
  afterAll(async () => {
    await harness?.close();
  });
  const gateway: BearerGateway = {
    get h(): Harness {
      if (harness === undefined) throw new Error('bearerGateway: used before beforeAll');
      return harness;
    },
    sign: async (claims) => {
      if (signer === undefined) throw new Error('bearerGateway: used before beforeAll');
      return signer(claims);
    },
    as: async (sub, scopes = ['read', 'write'], extra = {}) => {
      const key = JSON.stringify([sub, scopes, extra]);
      let c = cache.get(key);
      if (c === undefined) {
        c = client(gateway.h, `Bearer ${await gateway.sign({ sub, scope: scopes.map((s) => `tams-api/${s}`).join(' '), ...extra })}`);
        cache.set(key, c);
      }
      return c;
    },
  };
  return gateway;
}
