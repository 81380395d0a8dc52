/**
 * The one authorization policy (TAMS application note 0016, ADR 0035). Pure: no I/O, no
 * HTTP, no GraphQL. The REST scope table (src/rest/route-access.ts), graphql-shield rules
 * and the services all ask this module.
 *
 * Two layers, as the note describes them:
 *
 * 1. Scopes (coarse, per operation): `ACTIONS` names every operation of the API once, with
 *    the scopes that may call it, copied from the note's RBAC table including its ⚠️
 *    exceptions. `admin` may call everything. The edges check these before running anything.
 *
 * 2. Auth classes (fine-grained, per resource): a source, flow, webhook or storage backend
 *    carries an `auth_classes` tag (AppNote 0003: a comma-separated list, or a tag list); a
 *    request holds grants on classes. Its permissions on a resource are the union of what its
 *    grants on the resource's classes give. Reading of the note and ADR 0035 applied here:
 *
 *    - Grants. The note's example tags News X with `news, sport_ro` so that "News have full
 *      access. Sport have read access only": what a class gives is decided per class by the
 *      permissions system, so a grant names a class and the permissions it carries:
 *      `news` (read, write and delete) or `sport_ro:read`, `news:read+write`
 *      (`<class>[:<permission>[+<permission>...]]`, permissions read, write, delete). The
 *      Principal's `authClasses` holds these grant strings.
 *    - `admin` "can execute all methods on all endpoints": it bypasses every class check.
 *    - A resource without `auth_classes` is open to every authenticated request, unless
 *      AUTH_DEFAULT_CLASSES names classes, which such resources are then treated as carrying
 *      (the note's "default auth classes"). A tag that is present but lists no class is
 *      closed to everyone but admin.
 *    - Flows (ADR 0035 option 1b): permissions are defined on sources and, where a rendition
 *      must differ, on flows. A flow's own `auth_classes` decide when it has the tag;
 *      otherwise it inherits its source's (the note's propagation from source to flows,
 *      applied when read instead of copied on write). Segments and objects inherit from
 *      flows: an object is readable through any flow that references it, and is written
 *      (instances) only with write permission on every flow that references it, so one
 *      tenant cannot change what another tenant's flows serve.
 *    - Rejections: no permission at all on the resource answers 404 (`not_found`, its
 *      existence is not revealed), some permission but not the one needed answers 403.
 *    - Escalation guards: changing a resource's `auth_classes` needs, besides write on the
 *      resource, a grant on every class added or removed ("requests must claim both write
 *      permissions and the permission they are changing"); see `canChangeAuthClasses`.
 */
import type { Tags } from '../domain/entities';
import { TamsError } from '../domain/errors';
import { TAMS_EVENT_TYPES, type TamsEventType } from '../domain/events';
import type { Principal, Scope } from '../domain/principal';

/** Per-resource permissions (the note's read / write / delete; admin is a scope). */
export const PERMISSIONS = ['read', 'write', 'delete'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** The tag that carries a resource's classes (AppNote 0003 `auth_classes`). */
export const AUTH_CLASSES_TAG = 'auth_classes';

/** One grant of a principal: a class and what it gives on resources carrying that class. */
export interface AuthClassGrant {
  authClass: string;
  permissions: readonly Permission[];
}

/**
 * What a resource carries: its classes, or `undefined` when it has no `auth_classes` tag
 * (then AUTH_DEFAULT_CLASSES, or open to every authenticated request).
 */
export type ResourceClasses = readonly string[] | undefined;

export interface AccessPolicyOptions {
  /** AUTH_DEFAULT_CLASSES: the classes of resources without `auth_classes`; empty = open. */
  defaultClasses?: readonly string[];
}

/** How a request stands towards a resource for one permission. */
export type Decision = 'allow' | 'not_found' | 'forbidden';

// ---- scopes -----------------------------------------------------------------------------

const ANY_SCOPE: readonly Scope[] = ['read', 'write', 'delete', 'admin'];

/** A resource kind whose permission an action needs (documentation for edges and tests). */
export type ResourceKind = 'flow' | 'source' | 'webhook' | 'object' | 'storage_backend' | 'delete_request_flow';

export interface ActionRule {
  /** The request needs one of these scopes (admin is always among them). */
  scopes: readonly Scope[];
  /** The per-resource permission the services check on top (auth classes), if any. */
  resource?: { kind: ResourceKind; permission: Permission };
  /** What the services do instead of a plain permission check, when that says too little. */
  note?: string;
}

function rule(scopes: readonly Scope[], resource?: ActionRule['resource'], note?: string): ActionRule {
  const withAdmin = scopes.includes('admin') ? scopes : [...scopes, 'admin' as const];
  return { scopes: withAdmin, ...(resource === undefined ? {} : { resource }), ...(note === undefined ? {} : { note }) };
}

/**
 * Every operation of the API, named once for REST (route-access.ts maps each route to one)
 * and GraphQL (each query, mutation and subscription field maps to one). HEAD is GET.
 */
export const ACTIONS = {
  /** GET / (⚠️ any scope). */
  'root.read': rule(ANY_SCOPE),
  /** GET /service; GraphQL `service` (⚠️ any scope). */
  'service.read': rule(ANY_SCOPE),
  /** POST /service; GraphQL `updateService` (⚠️ admin only). */
  'service.update': rule(['admin']),
  /** GET /service/storage-backends; GraphQL `storageBackends` (⚠️ any scope; backends filtered). */
  'storage_backends.list': rule(ANY_SCOPE, { kind: 'storage_backend', permission: 'read' }, 'lists only backends with any permission'),
  /** GET /service/profiles; GraphQL `profiles`. Not in the note: the basic mapping (GET = read). */
  'profiles.list': rule(['read']),
  /** GET /service/profiles/{id}; GraphQL `profile`. Basic mapping. */
  'profile.read': rule(['read']),
  /** POST /service/profiles/{id}; GraphQL `createProfile`. Basic mapping (POST = write). */
  'profile.create': rule(['write']),
  /** GET /service/webhooks; GraphQL `webhooks` (filtered by read permission). */
  'webhooks.list': rule(['read'], { kind: 'webhook', permission: 'read' }, 'lists only readable webhooks'),
  /** POST /service/webhooks; GraphQL `createWebhook` (read on every flow/source filtered on). */
  'webhook.create': rule(['write'], { kind: 'flow', permission: 'read' }, 'read on every flow and source id in its filters'),
  /** GET /service/webhooks/{id}; GraphQL `webhook`. */
  'webhook.read': rule(['read'], { kind: 'webhook', permission: 'read' }),
  /** PUT /service/webhooks/{id}; GraphQL `updateWebhook` (⚠️ read scope; write on the webhook). */
  'webhook.update': rule(['read'], { kind: 'webhook', permission: 'write' }),
  /** DELETE /service/webhooks/{id}; GraphQL `deleteWebhook` (⚠️ read scope; delete on the webhook). */
  'webhook.delete': rule(['read'], { kind: 'webhook', permission: 'delete' }),
  /** GET /sources; GraphQL `sources` (filtered). */
  'sources.list': rule(['read'], { kind: 'source', permission: 'read' }, 'lists only readable sources'),
  /** GET /sources/{id} and its tags, label, description; GraphQL `source`. */
  'source.read': rule(['read'], { kind: 'source', permission: 'read' }),
  /** PUT /sources/{id}/tags/{name}, label, description; GraphQL `setSource*`. */
  'source.property.write': rule(['write'], { kind: 'source', permission: 'write' }),
  /** DELETE /sources/{id}/tags/{name}, label, description; GraphQL `deleteSource*` (⚠️ write). */
  'source.property.delete': rule(['write'], { kind: 'source', permission: 'write' }),
  /** GET /flows; GraphQL `flows` (filtered). */
  'flows.list': rule(['read'], { kind: 'flow', permission: 'read' }, 'lists only readable flows'),
  /** GET /flows/{id} and its property endpoints; GraphQL `flow`. */
  'flow.read': rule(['read'], { kind: 'flow', permission: 'read' }),
  /** PUT /flows/{id}; GraphQL `putFlow`. */
  'flow.put': rule(['write'], { kind: 'flow', permission: 'write' }, 'a new flow on an existing source needs write on the source'),
  /** DELETE /flows/{id}; GraphQL `deleteFlow`. */
  'flow.delete': rule(['delete'], { kind: 'flow', permission: 'delete' }),
  /** PUT /flows/{id}/tags/{name}, label, description, read_only, flow_collection, bit rates; GraphQL `setFlow*`. */
  'flow.property.write': rule(['write'], { kind: 'flow', permission: 'write' }),
  /** DELETE of the same (⚠️ write, not delete); GraphQL `deleteFlow*` property mutations. */
  'flow.property.delete': rule(['write'], { kind: 'flow', permission: 'write' }),
  /** GET /flows/{id}/segments; GraphQL `segments` (get_urls limited to readable backends). */
  'segments.list': rule(['read'], { kind: 'flow', permission: 'read' }),
  /** POST /flows/{id}/segments; GraphQL `registerSegments` (re-used objects must be readable). */
  'segments.register': rule(['write'], { kind: 'flow', permission: 'write' }, 'an object already registered must be readable'),
  /** DELETE /flows/{id}/segments; GraphQL `deleteSegments`. */
  'segments.delete': rule(['delete'], { kind: 'flow', permission: 'delete' }),
  /** POST /flows/{id}/storage; GraphQL `allocateStorage` (and write on the backend). */
  'storage.allocate': rule(['write'], { kind: 'flow', permission: 'write' }, 'write on the storage backend too'),
  /** GET /objects/{id}; GraphQL `object` (404 unless a referencing flow is readable). */
  'object.read': rule(['read'], { kind: 'object', permission: 'read' }),
  /** POST /objects/{id}/instances; GraphQL `addObjectInstance`. */
  'object.instance.add': rule(['write'], { kind: 'object', permission: 'write' }, 'write on the storage backend too'),
  /** DELETE /objects/{id}/instances; GraphQL `removeObjectInstance` (⚠️ write). */
  'object.instance.remove': rule(['write'], { kind: 'object', permission: 'write' }, 'write on the storage backend too'),
  /** GET /flow-delete-requests; GraphQL `deletionRequests` (⚠️ admin only). */
  'delete_requests.list': rule(['admin']),
  /** GET /flow-delete-requests/{id}; GraphQL `deletionRequest` (⚠️ admin or delete; delete on its flow). */
  'delete_request.read': rule(['delete'], { kind: 'delete_request_flow', permission: 'delete' }),
  /** GraphQL `me`: who the caller is; any request may ask. */
  'principal.read': rule(ANY_SCOPE),
  /** GraphQL subscriptions (`tamsEvents`...): each event checked with `canSeeEvent`. */
  'events.subscribe': rule(['read'], { kind: 'flow', permission: 'read' }, 'per event, see canSeeEvent'),
} as const satisfies Record<string, ActionRule>;

export type AccessAction = keyof typeof ACTIONS;

/** The scopes that may perform `action` (any one of them suffices; admin always does). */
export function requiredScopes(action: AccessAction): readonly Scope[] {
  return ACTIONS[action].scopes;
}

export function isAdmin(principal: Principal): boolean {
  return principal.scopes.includes('admin');
}

/** Does the request hold one of the scopes `action` needs? */
export function hasRequiredScopes(principal: Principal, action: AccessAction): boolean {
  return requiredScopes(action).some((scope) => principal.scopes.includes(scope));
}

/**
 * Throws unless the request holds a scope `action` needs: `unauthorized` (401) for a request
 * that proved no identity, `forbidden` (403) otherwise.
 */
export function requireScopes(principal: Principal, action: AccessAction): void {
  if (hasRequiredScopes(principal, action)) return;
  const needed = requiredScopes(action).join(' or ');
  if (!principal.authenticated) throw new TamsError('unauthorized', `Authentication required (${action} needs scope ${needed})`);
  throw new TamsError('forbidden', `This request needs scope ${needed}`);
}

/** The note's admin-only rules (POST /service, GET /flow-delete-requests), which the services apply whatever the edge. */
export function requireAdmin(principal: Principal, what: string): void {
  if (!isAdmin(principal)) throw new TamsError('forbidden', `${what} needs admin permissions`);
}

// ---- auth classes -----------------------------------------------------------------------

const ALL_PERMISSIONS: readonly Permission[] = PERMISSIONS;

function splitClasses(value: string): string[] {
  return value.split(',').map((c) => c.trim()).filter((c) => c !== '');
}

/** Parses one grant, `<class>` or `<class>:<permission>[+<permission>...]`. Unknown permissions give nothing. */
export function parseAuthClassGrant(text: string): AuthClassGrant {
  const at = text.indexOf(':');
  if (at < 0) return { authClass: text.trim(), permissions: ALL_PERMISSIONS };
  const permissions = text
    .slice(at + 1)
    .split('+')
    .map((p) => p.trim())
    .filter((p): p is Permission => (PERMISSIONS as readonly string[]).includes(p));
  return { authClass: text.slice(0, at).trim(), permissions: [...new Set(permissions)] };
}

const grantCache = new WeakMap<readonly string[], ReadonlyMap<string, ReadonlySet<Permission>>>();

/** The principal's grants, class -> permissions (grants on one class add up). */
export function grantsOf(principal: Principal): ReadonlyMap<string, ReadonlySet<Permission>> {
  const cached = grantCache.get(principal.authClasses);
  if (cached !== undefined) return cached;
  const grants = new Map<string, Set<Permission>>();
  for (const text of principal.authClasses) {
    const grant = parseAuthClassGrant(text);
    if (grant.authClass === '') continue;
    let set = grants.get(grant.authClass);
    if (set === undefined) {
      set = new Set();
      grants.set(grant.authClass, set);
    }
    for (const p of grant.permissions) set.add(p);
  }
  grantCache.set(principal.authClasses, grants);
  return grants;
}

/** The classes a resource's tags give it: `undefined` when it has no `auth_classes` tag. */
export function authClassesOf(tags: Tags | undefined): ResourceClasses {
  const value = tags?.[AUTH_CLASSES_TAG];
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? value : [value];
  return [...new Set(list.flatMap(splitClasses))];
}

/** A flow's classes: its own `auth_classes`, else its source's (ADR 0035: sources by default, flows to differ). */
export function flowClasses(flow: { tags?: Tags }, source: { tags?: Tags } | undefined): ResourceClasses {
  return authClassesOf(flow.tags) ?? authClassesOf(source?.tags);
}

/** The classes the decision uses: the resource's own, else AUTH_DEFAULT_CLASSES (`undefined` = open). */
function effectiveClasses(classes: ResourceClasses, options: AccessPolicyOptions): ResourceClasses {
  if (classes !== undefined) return classes;
  const defaults = options.defaultClasses ?? [];
  return defaults.length > 0 ? defaults : undefined;
}

/**
 * The request's permissions on a resource with these classes. Admin has all. An open
 * resource gives all to authenticated requests (the scope layer still applies).
 */
export function permissionsOn(principal: Principal, classes: ResourceClasses, options: AccessPolicyOptions = {}): ReadonlySet<Permission> {
  if (isAdmin(principal)) return new Set(ALL_PERMISSIONS);
  const effective = effectiveClasses(classes, options);
  if (effective === undefined) return new Set(principal.authenticated ? ALL_PERMISSIONS : []);
  const grants = grantsOf(principal);
  const out = new Set<Permission>();
  for (const c of effective) for (const p of grants.get(c) ?? []) out.add(p);
  return out;
}

/** May the request do `permission` on a resource with these classes? */
export function can(principal: Principal, permission: Permission, classes: ResourceClasses, options: AccessPolicyOptions = {}): boolean {
  return permissionsOn(principal, classes, options).has(permission);
}

/** allow; `not_found` when the request has no permission at all; `forbidden` when some, not this one. */
export function decide(principal: Principal, permission: Permission, classes: ResourceClasses, options: AccessPolicyOptions = {}): Decision {
  return decision(permissionsOn(principal, classes, options), permission);
}

function decision(held: ReadonlySet<Permission>, permission: Permission): Decision {
  if (held.has(permission)) return 'allow';
  return held.size === 0 ? 'not_found' : 'forbidden';
}

/**
 * An object's standing (permissions propagate from flows to objects): no permission on any
 * referencing flow is `not_found`; read needs read on one of them; write and delete need it
 * on every one of them.
 */
export function decideOnObject(
  principal: Principal,
  permission: Permission,
  referencingFlows: readonly ResourceClasses[],
  options: AccessPolicyOptions = {},
): Decision {
  if (isAdmin(principal)) return 'allow';
  const each = referencingFlows.map((classes) => permissionsOn(principal, classes, options));
  if (each.every((held) => held.size === 0)) return 'not_found';
  const allowed = permission === 'read' ? each.some((held) => held.has('read')) : each.every((held) => held.has(permission));
  return allowed ? 'allow' : 'forbidden';
}

/** Throws the TamsError for a refusal (404 hides the resource, 403 says what is missing). */
export function enforce(result: Decision, what: string, permission: Permission): void {
  if (result === 'allow') return;
  // A 404 that hides a resource is still a denial: the audit log records it as one.
  if (result === 'not_found') throw Object.assign(new TamsError('not_found', `${what} does not exist`), { permissionDenial: true });
  throw new TamsError('forbidden', `This request has no ${permission} permission on ${what}`);
}

/**
 * May the request change a resource's `auth_classes` from `before` to `after` (each the tag's
 * classes, `undefined` when absent)? Admin may. Otherwise it needs a grant on every class
 * added or removed: a request can share a resource only with classes it holds itself, and
 * cannot take away a class it does not hold. Write permission on the resource is checked
 * separately (the change is a write).
 */
export function canChangeAuthClasses(principal: Principal, before: ResourceClasses, after: ResourceClasses): boolean {
  if (isAdmin(principal)) return true;
  const was = new Set(before ?? []);
  const now = new Set(after ?? []);
  const changed = [...[...now].filter((c) => !was.has(c)), ...[...was].filter((c) => !now.has(c))];
  const grants = grantsOf(principal);
  return changed.every((c) => (grants.get(c)?.size ?? 0) > 0);
}

/** Throws `forbidden` unless `canChangeAuthClasses`. */
export function requireAuthClassChange(principal: Principal, before: ResourceClasses, after: ResourceClasses, what: string): void {
  if (canChangeAuthClasses(principal, before, after)) return;
  throw new TamsError('forbidden', `Changing the auth_classes of ${what} needs a grant on every class added or removed`);
}

// ---- events -----------------------------------------------------------------------------

/**
 * May `principal` (a webhook's owner, a subscriber) see this event? Checked per event, as
 * the note recommends, with the classes the event's resource has when it is delivered:
 * `resourceClasses` are those of the flow for `flows/*` events (`flowClasses`), of the source
 * for `sources/*` events. The request needs the read scope (admin sees everything) and read
 * permission on the resource.
 */
export function canSeeEvent(
  principal: Principal,
  event: { event_type: TamsEventType },
  resourceClasses: ResourceClasses,
  options: AccessPolicyOptions = {},
): boolean {
  if (isAdmin(principal)) return true;
  if (!principal.scopes.includes('read')) return false;
  // An event kind this policy does not know about has no rule yet: only admin sees it.
  if (!(TAMS_EVENT_TYPES as readonly string[]).includes(event.event_type)) return false;
  return can(principal, 'read', resourceClasses, options);
}

// ---- storage backends -------------------------------------------------------------------

/**
 * May the request use a storage backend? Backends carry `auth_classes` in their (deployment
 * set) tags (ADR 0055). `read` limits get_urls; `write` allows allocating or copying to it.
 */
export function canUseStorageBackend(
  principal: Principal,
  permission: Permission,
  backend: { tags?: Tags },
  options: AccessPolicyOptions = {},
): boolean {
  return can(principal, permission, authClassesOf(backend.tags), options);
}

/** `/service/storage-backends` lists backends the request has any permission on. */
export function canSeeStorageBackend(principal: Principal, backend: { tags?: Tags }, options: AccessPolicyOptions = {}): boolean {
  return permissionsOn(principal, authClassesOf(backend.tags), options).size > 0;
}

// ---- bound to the configuration ----------------------------------------------------------

/**
 * The policy with AUTH_DEFAULT_CLASSES applied: what services hold (one instance per gateway)
 * and what the GraphQL edge can reach through the services.
 */
export class AccessPolicy {
  readonly options: AccessPolicyOptions;

  constructor(options: AccessPolicyOptions = {}) {
    this.options = { defaultClasses: [...(options.defaultClasses ?? [])] };
  }

  permissionsOn(principal: Principal, classes: ResourceClasses): ReadonlySet<Permission> {
    return permissionsOn(principal, classes, this.options);
  }

  can(principal: Principal, permission: Permission, classes: ResourceClasses): boolean {
    return can(principal, permission, classes, this.options);
  }

  decide(principal: Principal, permission: Permission, classes: ResourceClasses): Decision {
    return decide(principal, permission, classes, this.options);
  }

  decideOnObject(principal: Principal, permission: Permission, referencingFlows: readonly ResourceClasses[]): Decision {
    return decideOnObject(principal, permission, referencingFlows, this.options);
  }

  canSeeEvent(principal: Principal, event: { event_type: TamsEventType }, resourceClasses: ResourceClasses): boolean {
    return canSeeEvent(principal, event, resourceClasses, this.options);
  }

  canUseStorageBackend(principal: Principal, permission: Permission, backend: { tags?: Tags }): boolean {
    return canUseStorageBackend(principal, permission, backend, this.options);
  }

  canSeeStorageBackend(principal: Principal, backend: { tags?: Tags }): boolean {
    return canSeeStorageBackend(principal, backend, this.options);
  }
}

/** Parses AUTH_DEFAULT_CLASSES (comma-separated class names). */
export function parseDefaultClasses(text: string | undefined): string[] {
  return text === undefined ? [] : [...new Set(splitClasses(text))];
}
