import { type GraphQLSchema, execute, parse } from 'graphql';
import { TamsError } from '../../../src/domain/errors';
import type { Principal } from '../../../src/domain/principal';
import { ANONYMOUS_PRINCIPAL } from '../../../src/auth/authenticator';
import type { GraphqlContext } from '../../../src/graphql/context';
import { buildTamsSchema } from '../../../src/graphql/schema';
import { ROOT_FIELD_ACTIONS, actionOfRootField, applyShield } from '../../../src/graphql/access/shield';
import { ACTIONS } from '../../../src/services/access-policy';
import { MemoryRateLimitCounters } from '../../../src/adapters/memory/memory-rate-limit-counters';
import { RateLimitedError, RateLimiter } from '../../../src/services/rate-limiter';

const reader: Principal = { subject: 'r', scopes: ['read'], authClasses: [], method: 'bearer', authenticated: true };
const writer: Principal = { ...reader, subject: 'w', scopes: ['write'] };

/** A context whose services answer `service` with `describe` and nothing else. */
function contextFor(principal: Principal, describe: () => Promise<unknown>): GraphqlContext {
  return { request: { baseUrl: 'http://test', principal }, services: { serviceInfo: { describe } } } as unknown as GraphqlContext;
}

const described = async (): Promise<unknown> => ({ type: 'urn:x-tams:service.example', api_version: '8.2', name: 'test', event_stream_mechanisms: [] });

async function run(schema: GraphQLSchema, query: string, context: GraphqlContext) {
  return execute({ schema, document: parse(query), contextValue: context });
}

describe('graphql-shield over the access policy', () => {
  let base: GraphQLSchema;
  let shielded: GraphQLSchema;

  beforeAll(async () => {
    base = await buildTamsSchema();
    shielded = applyShield(base);
  });

  it('maps every Query, Mutation and Subscription field of the schema to an action, and nothing else', () => {
    for (const type of [base.getQueryType(), base.getMutationType(), base.getSubscriptionType()]) {
      expect(type).toBeDefined();
      const fields = Object.keys(type!.getFields()).sort();
      const mapped = Object.keys(ROOT_FIELD_ACTIONS[type!.name as keyof typeof ROOT_FIELD_ACTIONS]).sort();
      expect([type!.name, fields]).toEqual([type!.name, mapped]);
      for (const field of fields) expect(Object.keys(ACTIONS)).toContain(actionOfRootField(type!.name, field));
    }
    expect(actionOfRootField('Query', 'constructor')).toBeUndefined();
    expect(actionOfRootField('Flow', 'id')).toBeUndefined();
  });

  it('runs a field for a caller holding one of its scopes', async () => {
    const result = await run(shielded, '{ service { name } }', contextFor(reader, described));
    expect(result).toEqual({ data: { service: { name: 'test' } } });
  });

  it('refuses a caller without the scope with FORBIDDEN, and an unauthenticated one with UNAUTHENTICATED, before the resolver runs', async () => {
    const describe = jest.fn(described);
    const forbidden = await run(shielded, '{ profiles { nodes { id } } }', contextFor(writer, describe));
    expect(forbidden.errors?.map((e) => [e.originalError instanceof TamsError ? e.originalError.graphqlCode : e.message, e.path])).toEqual([['FORBIDDEN', ['profiles']]]);
    const anonymous = await run(shielded, '{ service { name } }', contextFor(ANONYMOUS_PRINCIPAL, describe));
    expect((anonymous.errors?.[0]?.originalError as TamsError).graphqlCode).toBe('UNAUTHENTICATED');
    expect(describe).not.toHaveBeenCalled();
  });

  it('lets the errors resolvers throw through untouched: registry codes stay, unknown errors reach the formatter to be masked', async () => {
    const notFound = new TamsError('not_found', 'gone');
    const thrownNotFound = await run(shielded, '{ service { name } }', contextFor(reader, () => Promise.reject(notFound)));
    expect(thrownNotFound.errors?.[0]?.originalError).toBe(notFound);
    const bug = new Error('secret internals');
    const thrownBug = await run(shielded, '{ service { name } }', contextFor(reader, () => Promise.reject(bug)));
    // The same object, not graphql-shield's "Not Authorised!": register-graphql's formatter masks it.
    expect(thrownBug.errors?.[0]?.originalError).toBe(bug);
  });

  it('wraps root fields only: nested resolvers are the schema’s own', () => {
    const shieldedFlow = shielded.getType('VideoFlow') as unknown as { getFields(): Record<string, { resolve?: unknown }> };
    const original = base.getType('VideoFlow') as unknown as { getFields(): Record<string, { resolve?: unknown }> };
    for (const [name, field] of Object.entries(original.getFields())) expect([name, shieldedFlow.getFields()[name]?.resolve]).toEqual([name, field.resolve]);
    expect(shielded.getQueryType()!.getFields().service!.resolve).not.toBe(base.getQueryType()!.getFields().service!.resolve);
  });

  it('spends the list budget on listings only, after the scope check', async () => {
    const counters = new MemoryRateLimitCounters();
    const limiter = new RateLimiter(counters, {
      windowMs: 60_000,
      perWindow: { read: 100, write: 100, graphql_list: 1, graphql_mutation: 100, graphql_cost: 1000, auth_failure: 100 },
    });
    const limited = applyShield(base, { rateLimiter: limiter });
    const listing = '{ storageBackends { id } }';
    const context = (): GraphqlContext =>
      ({
        request: { baseUrl: 'http://test', principal: reader },
        services: { serviceInfo: { describe: described, storageBackends: () => [] } },
      }) as unknown as GraphqlContext;
    expect(await run(limited, listing, context())).toEqual({ data: { storageBackends: [] } });
    const second = await run(limited, listing, context());
    expect(second.errors?.[0]?.originalError).toBeInstanceOf(RateLimitedError);
    expect((second.errors?.[0]?.originalError as RateLimitedError).retryAfterSec).toBeGreaterThan(0);
    // `service` is no listing: unlimited.
    for (let i = 0; i < 3; i++) expect((await run(limited, '{ service { name } }', context())).errors).toBeUndefined();
    await counters.close();
  });
});
