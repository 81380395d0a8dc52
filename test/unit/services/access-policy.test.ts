/**
 * The access policy against TAMS application note 0016, written out here by hand from the
 * note (docs/appnotes/0016-authorisation-in-tams-workflows.md) and not generated from the
 * code it checks.
 */
import Fastify from 'fastify';
import type { Principal, Scope } from '../../../src/domain/principal';
import { TamsError } from '../../../src/domain/errors';
import {
  ACTIONS,
  AccessPolicy,
  authClassesOf,
  can,
  canChangeAuthClasses,
  canSeeEvent,
  canSeeStorageBackend,
  canUseStorageBackend,
  decide,
  decideOnObject,
  flowClasses,
  hasRequiredScopes,
  parseAuthClassGrant,
  parseDefaultClasses,
  permissionsOn,
  requireScopes,
} from '../../../src/services/access-policy';
import { ROUTE_ACCESS, actionOf } from '../../../src/rest/route-access';
import { registerRestRoutes } from '../../../src/rest/register-rest-routes';
import type { RestServices } from '../../../src/rest/rest-context';
import { describeWithSpec, listOperations } from '../../support/tams-spec';

type Row = [method: string, path: string, scopes: readonly Scope[]];

const ANY: readonly Scope[] = ['admin', 'read', 'write', 'delete'];
const ADMIN: readonly Scope[] = ['admin'];
const R: readonly Scope[] = ['admin', 'read'];
const W: readonly Scope[] = ['admin', 'write'];
const D: readonly Scope[] = ['admin', 'delete'];

/**
 * The note's "Coarse Grained Authorisation" table, one row per operation of the 8.2 API,
 * HEAD rows as their GET rows. The ⚠️ exceptions: `/`, `/service` GET and
 * `/service/storage-backends` take any scope, `POST /service` admin, webhook PUT and DELETE
 * read, DELETE of tags/label/description/flow_collection/bit rates write, object instances
 * write, `GET /flow-delete-requests` admin, `GET /flow-delete-requests/{id}` admin or
 * delete. `/service/profiles` is not in the note: the basic mapping (GET read, POST write).
 */
const SCOPE_TABLE: readonly Row[] = [
  ['GET', '/', ANY],
  ['HEAD', '/', ANY],
  ['GET', '/service', ANY],
  ['HEAD', '/service', ANY],
  ['POST', '/service', ADMIN],
  ['GET', '/service/storage-backends', ANY],
  ['HEAD', '/service/storage-backends', ANY],
  ['GET', '/service/profiles', R],
  ['HEAD', '/service/profiles', R],
  ['GET', '/service/profiles/{profileId}', R],
  ['HEAD', '/service/profiles/{profileId}', R],
  ['POST', '/service/profiles/{profileId}', W],
  ['GET', '/service/webhooks', R],
  ['HEAD', '/service/webhooks', R],
  ['POST', '/service/webhooks', W],
  ['GET', '/service/webhooks/{webhookId}', R],
  ['HEAD', '/service/webhooks/{webhookId}', R],
  ['PUT', '/service/webhooks/{webhookId}', R],
  ['DELETE', '/service/webhooks/{webhookId}', R],
  ['GET', '/sources', R],
  ['HEAD', '/sources', R],
  ['GET', '/sources/{sourceId}', R],
  ['HEAD', '/sources/{sourceId}', R],
  ['GET', '/sources/{sourceId}/tags', R],
  ['HEAD', '/sources/{sourceId}/tags', R],
  ['GET', '/sources/{sourceId}/tags/{name}', R],
  ['HEAD', '/sources/{sourceId}/tags/{name}', R],
  ['PUT', '/sources/{sourceId}/tags/{name}', W],
  ['DELETE', '/sources/{sourceId}/tags/{name}', W],
  ['GET', '/sources/{sourceId}/description', R],
  ['HEAD', '/sources/{sourceId}/description', R],
  ['PUT', '/sources/{sourceId}/description', W],
  ['DELETE', '/sources/{sourceId}/description', W],
  ['GET', '/sources/{sourceId}/label', R],
  ['HEAD', '/sources/{sourceId}/label', R],
  ['PUT', '/sources/{sourceId}/label', W],
  ['DELETE', '/sources/{sourceId}/label', W],
  ['GET', '/flows', R],
  ['HEAD', '/flows', R],
  ['GET', '/flows/{flowId}', R],
  ['HEAD', '/flows/{flowId}', R],
  ['PUT', '/flows/{flowId}', W],
  ['DELETE', '/flows/{flowId}', D],
  ['GET', '/flows/{flowId}/tags', R],
  ['HEAD', '/flows/{flowId}/tags', R],
  ['GET', '/flows/{flowId}/tags/{name}', R],
  ['HEAD', '/flows/{flowId}/tags/{name}', R],
  ['PUT', '/flows/{flowId}/tags/{name}', W],
  ['DELETE', '/flows/{flowId}/tags/{name}', W],
  ['GET', '/flows/{flowId}/description', R],
  ['HEAD', '/flows/{flowId}/description', R],
  ['PUT', '/flows/{flowId}/description', W],
  ['DELETE', '/flows/{flowId}/description', W],
  ['GET', '/flows/{flowId}/label', R],
  ['HEAD', '/flows/{flowId}/label', R],
  ['PUT', '/flows/{flowId}/label', W],
  ['DELETE', '/flows/{flowId}/label', W],
  ['GET', '/flows/{flowId}/read_only', R],
  ['HEAD', '/flows/{flowId}/read_only', R],
  ['PUT', '/flows/{flowId}/read_only', W],
  ['GET', '/flows/{flowId}/flow_collection', R],
  ['HEAD', '/flows/{flowId}/flow_collection', R],
  ['PUT', '/flows/{flowId}/flow_collection', W],
  ['DELETE', '/flows/{flowId}/flow_collection', W],
  ['GET', '/flows/{flowId}/max_bit_rate', R],
  ['HEAD', '/flows/{flowId}/max_bit_rate', R],
  ['PUT', '/flows/{flowId}/max_bit_rate', W],
  ['DELETE', '/flows/{flowId}/max_bit_rate', W],
  ['GET', '/flows/{flowId}/avg_bit_rate', R],
  ['HEAD', '/flows/{flowId}/avg_bit_rate', R],
  ['PUT', '/flows/{flowId}/avg_bit_rate', W],
  ['DELETE', '/flows/{flowId}/avg_bit_rate', W],
  ['GET', '/flows/{flowId}/segments', R],
  ['HEAD', '/flows/{flowId}/segments', R],
  ['POST', '/flows/{flowId}/segments', W],
  ['DELETE', '/flows/{flowId}/segments', D],
  ['POST', '/flows/{flowId}/storage', W],
  ['GET', '/objects/{objectId}', R],
  ['HEAD', '/objects/{objectId}', R],
  ['POST', '/objects/{objectId}/instances', W],
  ['DELETE', '/objects/{objectId}/instances', W],
  ['GET', '/flow-delete-requests', ADMIN],
  ['HEAD', '/flow-delete-requests', ADMIN],
  ['GET', '/flow-delete-requests/{request-id}', D],
  ['HEAD', '/flow-delete-requests/{request-id}', D],
];

/**
 * The per-resource permission of the note's "Auth logic" table for the operations that
 * check one (the others: `/`, `/service` available to all; `POST /service` and the delete
 * request listing admin; storage backends and listings filtered).
 */
const AUTH_LOGIC: readonly [method: string, path: string, resource: string, permission: 'read' | 'write' | 'delete'][] = [
  ['GET', '/service/webhooks/{webhookId}', 'webhook', 'read'],
  ['PUT', '/service/webhooks/{webhookId}', 'webhook', 'write'],
  ['DELETE', '/service/webhooks/{webhookId}', 'webhook', 'delete'],
  ['GET', '/sources/{sourceId}', 'source', 'read'],
  ['GET', '/sources/{sourceId}/tags/{name}', 'source', 'read'],
  ['PUT', '/sources/{sourceId}/tags/{name}', 'source', 'write'],
  ['DELETE', '/sources/{sourceId}/tags/{name}', 'source', 'write'],
  ['DELETE', '/sources/{sourceId}/label', 'source', 'write'],
  ['DELETE', '/sources/{sourceId}/description', 'source', 'write'],
  ['GET', '/flows/{flowId}', 'flow', 'read'],
  ['PUT', '/flows/{flowId}', 'flow', 'write'],
  ['DELETE', '/flows/{flowId}', 'flow', 'delete'],
  ['PUT', '/flows/{flowId}/tags/{name}', 'flow', 'write'],
  ['DELETE', '/flows/{flowId}/tags/{name}', 'flow', 'write'],
  ['DELETE', '/flows/{flowId}/label', 'flow', 'write'],
  ['DELETE', '/flows/{flowId}/description', 'flow', 'write'],
  ['PUT', '/flows/{flowId}/read_only', 'flow', 'write'],
  ['DELETE', '/flows/{flowId}/flow_collection', 'flow', 'write'],
  ['DELETE', '/flows/{flowId}/max_bit_rate', 'flow', 'write'],
  ['DELETE', '/flows/{flowId}/avg_bit_rate', 'flow', 'write'],
  ['GET', '/flows/{flowId}/segments', 'flow', 'read'],
  ['POST', '/flows/{flowId}/segments', 'flow', 'write'],
  ['DELETE', '/flows/{flowId}/segments', 'flow', 'delete'],
  ['POST', '/flows/{flowId}/storage', 'flow', 'write'],
  ['GET', '/objects/{objectId}', 'object', 'read'],
  ['POST', '/objects/{objectId}/instances', 'object', 'write'],
  ['DELETE', '/objects/{objectId}/instances', 'object', 'write'],
  ['GET', '/flow-delete-requests/{request-id}', 'delete_request_flow', 'delete'],
];

/** `{flowId}` -> `:flowId` as the router registers it (`{request-id}` is `:requestId`). */
function fastifyPath(openApiPath: string): string {
  return openApiPath.replace('{request-id}', ':requestId').replace(/\{([^}]+)\}/g, ':$1');
}

function principal(scopes: readonly Scope[], authClasses: readonly string[] = [], authenticated = true): Principal {
  return { subject: 'tester', scopes, authClasses, method: 'bearer', authenticated };
}

const SCOPES: readonly Scope[] = ['read', 'write', 'delete', 'admin'];

/** Registering routes calls no service: a stub is enough to enumerate them. */
const STUB_SERVICES = { flows: { properties: {} } } as unknown as RestServices;

describe('scope table (application note 0016, coarse grained)', () => {
  it('has one hand-written row per operation, 85 in all', () => {
    expect(SCOPE_TABLE).toHaveLength(85);
    expect(new Set(SCOPE_TABLE.map(([m, p]) => `${m} ${p}`)).size).toBe(85);
  });

  it.each(SCOPE_TABLE)('%s %s needs %j', (method, path, scopes) => {
    const action = actionOf(method, fastifyPath(path), '');
    expect(action).toBeDefined();
    for (const scope of SCOPES) {
      expect([scope, hasRequiredScopes(principal([scope]), action!)]).toEqual([scope, scopes.includes(scope)]);
    }
    expect(hasRequiredScopes(principal([]), action!)).toBe(false);
  });

  it('the REST table has exactly the rows of the note, HEAD as GET', () => {
    expect(new Set(ROUTE_ACCESS.keys())).toEqual(new Set(SCOPE_TABLE.map(([m, p]) => `${m} ${fastifyPath(p)}`)));
    for (const [key, action] of ROUTE_ACCESS) {
      if (key.startsWith('HEAD ')) expect(action).toBe(ROUTE_ACCESS.get(`GET ${key.slice(5)}`));
    }
  });

  it('finds routes under a prefix and with a trailing slash', () => {
    expect(actionOf('GET', '/tams/v8.2', '/tams/v8.2')).toBe('root.read');
    expect(actionOf('GET', '/tams/v8.2/', '/tams/v8.2')).toBe('root.read');
    expect(actionOf('DELETE', '/tams/v8.2/flows/:flowId', '/tams/v8.2')).toBe('flow.delete');
    expect(actionOf('PATCH', '/flows/:flowId', '')).toBeUndefined();
  });

  it('requireScopes answers 403 forbidden, or 401 to a request that proved no identity', () => {
    expect(() => requireScopes(principal(['read']), 'flow.delete')).toThrow(expect.objectContaining({ code: 'forbidden', status: 403 }) as TamsError);
    expect(() => requireScopes(principal([], [], false), 'flow.read')).toThrow(expect.objectContaining({ code: 'unauthorized' }) as TamsError);
    expect(() => requireScopes(principal(['admin']), 'delete_requests.list')).not.toThrow();
  });

  it.each(AUTH_LOGIC)('auth logic: %s %s needs %s permission %s', (method, path, resource, permission) => {
    const action = actionOf(method, fastifyPath(path), '');
    expect(action).toBeDefined();
    const rule = ACTIONS[action!] as { resource?: { kind: string; permission: string } };
    expect(rule.resource).toEqual({ kind: resource, permission });
  });
});

describeWithSpec('scope table against the OpenAPI document and the router', () => {
  it('covers every operation of the TAMS 8.2 OpenAPI document', () => {
    const operations = listOperations().map((o) => `${o.method} ${o.path}`);
    expect(operations).toHaveLength(85);
    expect(new Set(SCOPE_TABLE.map(([m, p]) => `${m} ${p}`))).toEqual(new Set(operations));
  });

  it('has an entry for every route the router registers, and no other', async () => {
    const app = Fastify({ exposeHeadRoutes: true });
    const registered: string[] = [];
    app.addHook('onRoute', (route) => {
      for (const m of Array.isArray(route.method) ? route.method : [route.method]) registered.push(`${m} ${route.url}`);
    });
    await app.register(async (rest) => registerRestRoutes(rest, STUB_SERVICES, { publicUrl: undefined, pageLimitDefault: 10, pageLimitMax: 10 }));
    await app.ready();
    expect(new Set(registered)).toEqual(new Set(ROUTE_ACCESS.keys()));
    await app.close();
  });

  it('refuses to start with a route that has no entry', async () => {
    const app = Fastify({ exposeHeadRoutes: true });
    const starting = (async () => {
      await app.register(async (rest) => {
        registerRestRoutes(rest, STUB_SERVICES, { publicUrl: undefined, pageLimitDefault: 10, pageLimitMax: 10 });
        rest.get('/flows/:flowId/secret', async () => 'nothing');
      });
      await app.ready();
    })();
    await expect(starting).rejects.toThrow(/GET \/flows\/:flowId\/secret has no entry in the access table/);
    await app.close();
  });
});

describe('auth classes (the note\'s "Implementation using Tags" example)', () => {
  // Sport have full access to their own content and read access to News X; News have full access to News content.
  const sportA = ['sport'];
  const newsX = ['news', 'sport_ro'];
  const newsY = ['news'];
  const news = principal(['read', 'write', 'delete'], ['news']);
  const sport = principal(['read', 'write', 'delete'], ['sport', 'sport_ro:read']);
  const admin = principal(['admin']);

  it('parses grants: a bare class gives everything, `:` names permissions', () => {
    expect(parseAuthClassGrant('news')).toEqual({ authClass: 'news', permissions: ['read', 'write', 'delete'] });
    expect(parseAuthClassGrant('sport_ro:read')).toEqual({ authClass: 'sport_ro', permissions: ['read'] });
    expect(parseAuthClassGrant('x:read+write+bogus')).toEqual({ authClass: 'x', permissions: ['read', 'write'] });
  });

  it('reads auth_classes from a comma-separated tag or a tag list', () => {
    expect(authClassesOf({ auth_classes: 'news, sport_ro' })).toEqual(['news', 'sport_ro']);
    expect(authClassesOf({ auth_classes: ['news', 'sport_ro'] })).toEqual(['news', 'sport_ro']);
    expect(authClassesOf({ other: 'x' })).toBeUndefined();
    expect(authClassesOf(undefined)).toBeUndefined();
    expect(authClassesOf({ auth_classes: '' })).toEqual([]);
  });

  it('Sport have full access to Sport A, News have none (404)', () => {
    expect(permissionsOn(sport, sportA)).toEqual(new Set(['read', 'write', 'delete']));
    expect(decide(news, 'read', sportA)).toBe('not_found');
    expect(decide(news, 'delete', sportA)).toBe('not_found');
  });

  it('News have full access to News X, Sport read only (403 for more)', () => {
    for (const p of ['read', 'write', 'delete'] as const) expect(decide(news, p, newsX)).toBe('allow');
    expect(decide(sport, 'read', newsX)).toBe('allow');
    expect(decide(sport, 'write', newsX)).toBe('forbidden');
    expect(decide(sport, 'delete', newsX)).toBe('forbidden');
  });

  it('News Y is hidden from Sport', () => {
    expect(decide(sport, 'read', newsY)).toBe('not_found');
    expect(can(news, 'write', newsY)).toBe(true);
  });

  it('admin may do everything on every resource', () => {
    for (const classes of [sportA, newsX, newsY, [], undefined]) expect(permissionsOn(admin, classes)).toEqual(new Set(['read', 'write', 'delete']));
  });

  it('untagged resources are open to every authenticated request, unless AUTH_DEFAULT_CLASSES', () => {
    expect(decide(news, 'delete', undefined)).toBe('allow');
    expect(decide(principal(['read'], [], false), 'read', undefined)).toBe('not_found');
    const policy = new AccessPolicy({ defaultClasses: parseDefaultClasses(' staff, ,staff') });
    expect(policy.options.defaultClasses).toEqual(['staff']);
    expect(policy.decide(news, 'read', undefined)).toBe('not_found');
    expect(policy.decide(principal(['read'], ['staff:read']), 'read', undefined)).toBe('allow');
    expect(policy.decide(principal(['read'], ['staff:read']), 'write', undefined)).toBe('forbidden');
    // The default applies only where there is no tag: a tagged resource keeps its own.
    expect(policy.decide(news, 'read', newsY)).toBe('allow');
  });

  it('a tag that lists no class is closed to all but admin', () => {
    expect(decide(news, 'read', [])).toBe('not_found');
    expect(decide(admin, 'read', [])).toBe('allow');
  });

  it('a flow takes its own auth_classes, else its source\'s (ADR 0035: sources by default, flows to differ)', () => {
    const source = { tags: { auth_classes: 'news,sport_ro' } };
    expect(flowClasses({}, source)).toEqual(['news', 'sport_ro']);
    expect(flowClasses({ tags: { auth_classes: 'news' } }, source)).toEqual(['news']);
    expect(flowClasses({}, undefined)).toBeUndefined();
    // A hi-res rendition restricted to News: Sport see the source but not that flow.
    expect(decide(sport, 'read', flowClasses({ tags: { auth_classes: 'news' } }, source))).toBe('not_found');
    expect(decide(sport, 'read', flowClasses({}, source))).toBe('allow');
  });

  it('objects: readable through any referencing flow, written only with write on all of them, 404 when none', () => {
    expect(decideOnObject(sport, 'read', [newsX, newsY])).toBe('allow');
    expect(decideOnObject(sport, 'write', [newsX, newsY])).toBe('forbidden');
    expect(decideOnObject(news, 'write', [newsX, newsY])).toBe('allow');
    expect(decideOnObject(news, 'write', [newsX, sportA])).toBe('forbidden');
    expect(decideOnObject(news, 'read', [sportA])).toBe('not_found');
    expect(decideOnObject(news, 'read', [])).toBe('not_found');
    expect(decideOnObject(admin, 'write', [])).toBe('allow');
  });

  it('changing auth_classes needs a grant on every class added or removed', () => {
    expect(canChangeAuthClasses(news, undefined, ['news'])).toBe(true);
    expect(canChangeAuthClasses(news, ['news'], ['news', 'sport'])).toBe(false);
    expect(canChangeAuthClasses(news, ['news', 'sport_ro'], ['news'])).toBe(false);
    expect(canChangeAuthClasses(sport, ['sport'], ['sport', 'sport_ro'])).toBe(true);
    expect(canChangeAuthClasses(sport, ['sport'], undefined)).toBe(true);
    expect(canChangeAuthClasses(news, ['news'], ['news'])).toBe(true);
    expect(canChangeAuthClasses(admin, ['x'], ['y'])).toBe(true);
  });

  it('events are checked one by one against the classes of their resource', () => {
    const created = { event_type: 'flows/created' as const };
    expect(canSeeEvent(sport, created, newsX)).toBe(true);
    expect(canSeeEvent(sport, created, newsY)).toBe(false);
    expect(canSeeEvent(sport, { event_type: 'sources/deleted' }, sportA)).toBe(true);
    expect(canSeeEvent(news, { event_type: 'flows/segments_added' }, undefined)).toBe(true);
    // Events are reads: an owner without the read scope sees none, whatever its classes.
    expect(canSeeEvent(principal(['write'], ['news']), created, newsY)).toBe(false);
    expect(canSeeEvent(admin, created, [])).toBe(true);
    expect(canSeeEvent(news, { event_type: 'flows/unknown' } as never, newsY)).toBe(false);
    expect(new AccessPolicy({ defaultClasses: ['staff'] }).canSeeEvent(news, created, undefined)).toBe(false);
  });

  it('storage backends: listed with any permission, get_urls need read, allocation write', () => {
    const archive = { tags: { auth_classes: 'archive_ro' } };
    const reader = principal(['read', 'write'], ['archive_ro:read']);
    expect(canSeeStorageBackend(reader, archive)).toBe(true);
    expect(canUseStorageBackend(reader, 'read', archive)).toBe(true);
    expect(canUseStorageBackend(reader, 'write', archive)).toBe(false);
    expect(canSeeStorageBackend(news, archive)).toBe(false);
    expect(canUseStorageBackend(news, 'write', {})).toBe(true);
  });
});
