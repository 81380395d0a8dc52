import os from 'node:os';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions, onSendHookHandler } from 'fastify';
import pino, { type Logger } from 'pino';
import { TamsError } from '../domain/errors';
import type { Principal } from '../domain/principal';
import { requiredScopes } from '../services/access-policy';
import { ROUTE_ACCESS, actionOf } from '../rest/route-access';
import { appendRouteHook } from './route-hooks';

/**
 * The audit trail: one JSON line per security-relevant event, apart from the operational
 * log. Lines carry ids, names and outcomes, never values a caller sent: no token, password,
 * `api_key_value` or query string can reach them.
 */
export type AuditEvent = 'write' | 'denied' | 'rate_limited' | 'admin';

export interface AuditEntry {
  /** `write`: a change attempted; `denied`: 401, 403 or a 404 hiding a resource; `rate_limited`: 429; `admin`: a read that needs the admin scope. */
  event: AuditEvent;
  outcome: 'success' | 'failure' | 'denied';
  /** HTTP status of the answer. */
  status: number;
  requestId: string;
  principal: { subject: string; method: Principal['method']; authenticated: boolean } | null;
  /** The client's address (`request.ip`: the proxy's view of it only with TRUST_PROXY). */
  client: string;
  method: string;
  /** The matched route template (`/flows/:flowId/label`), or null when none matched. */
  route: string | null;
  /** The request path, without its query string. */
  path: string;
  /** The access-policy action (`flow.put`) or GraphQL field (`graphql.putFlow`). */
  action?: string;
  /** Ids from the route parameters or GraphQL arguments. */
  resource?: Record<string, string>;
  /** Id of what a POST created, when the answer names it. */
  created?: string;
  /** The names of the fields a write sent (or how many items), never their values. */
  changed?: { fields: string[] } | { items: number };
  /** The error type (registry type or GraphQL code) of a failed request. */
  error?: string;
  /** Why authentication failed (for 401s), from the authentication hook. */
  reason?: string;
  /** A 404 the authorization layer answered to hide a resource the caller may not see. */
  permissionDenial?: true;
  /** Resources the request named but may not see, answered as if they did not exist (`flow:<id>`...). */
  concealed?: string[];
}

export interface AuditLog {
  write(entry: AuditEntry): void;
  close(): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The audit trail, for edges that audit on their own (GraphQL mutations). */
    audit: AuditLog;
  }
  interface FastifyRequest {
    /** Set by markPermissionDenial: this request's 404 hides a resource from its caller. */
    permissionDenial: boolean;
    /** The error type the request failed with, for its audit line. */
    auditError: string | null;
    /** What a POST created (the `id` its answer starts with). */
    auditCreated: string | null;
    /** Resources the request named but may not see (markConcealed). */
    auditConcealed: string[] | null;
  }
}

/** Records that `request` named `reference`, a resource it may not see, answered as if it did not exist. */
export function markConcealed(request: FastifyRequest, reference: string): void {
  (request.auditConcealed ??= []).push(reference);
}

/**
 * Marks the request as refused for lack of permission although it answers 404 (the resource
 * is hidden, not missing), so that its audit line counts it as a denial. Code that has no
 * request at hand (services) may instead throw an error carrying `permissionDenial: true`.
 */
export function markPermissionDenial(request: FastifyRequest): void {
  request.permissionDenial = true;
}

/** Does this error (or the error it wraps) say it hides a resource for lack of permission? */
export function isPermissionDenialError(error: unknown): boolean {
  for (let current = error, depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    if ((current as { permissionDenial?: unknown }).permissionDenial === true) return true;
    current = (current as { originalError?: unknown }).originalError;
  }
  return false;
}

/** A pino instance writing audit lines, appended to `file`, or to stdout. Writes are synchronous: a line is on disk when the answer leaves. */
export function createAuditLog(file: string | undefined): AuditLog {
  const destination = pino.destination({ dest: file ?? 1, sync: true, append: true, mkdir: true });
  const logger: Logger = pino(
    {
      name: 'audit',
      base: { hostname: os.hostname() },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  return {
    write: (entry) => logger.info(entry),
    close: () => {
      if (file !== undefined) destination.end();
    },
  };
}

/** The part of an audit line that describes the request and its caller. */
export function auditRequestFields(request: FastifyRequest): Pick<AuditEntry, 'requestId' | 'principal' | 'client' | 'method' | 'path'> {
  const principal = request.principal as Principal | null;
  const query = request.url.indexOf('?');
  return {
    requestId: request.id,
    principal: principal === null ? null : { subject: principal.subject, method: principal.method, authenticated: principal.authenticated },
    client: request.ip,
    method: request.method,
    path: query < 0 ? request.url : request.url.slice(0, query),
  };
}

export interface AuditOptions {
  /** AUDIT_LOG_FILE, or undefined for stdout. */
  file: string | undefined;
  /** TAMS_BASE_PATH (the REST prefix). */
  basePath: string;
  /** Where GraphQL is served: its mutations are audited per field by the GraphQL plugin. */
  graphqlPath: string;
  /** The route of the media URLs (`/media/*`). */
  mediaRoute: string;
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
const MAX_FIELDS = 64;
/** The id a creating POST's answer starts with (`{"id":"...`), read without parsing the body. */
const CREATED_ID = /^\{"id":"([^"\\]{1,256})"/;

function changedOf(body: unknown): AuditEntry['changed'] {
  if (Array.isArray(body)) return { items: body.length };
  if (typeof body === 'object' && body !== null) return { fields: Object.keys(body).sort().slice(0, MAX_FIELDS) };
  return undefined;
}

function resourceOf(params: unknown): Record<string, string> | undefined {
  if (typeof params !== 'object' || params === null) return undefined;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) {
    if (typeof value === 'string') out[name === '*' ? 'key' : name] = value;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

function errorTypeOf(error: Error): string {
  if (error instanceof TamsError) return error.type;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'Error';
}

/**
 * The REST side of the audit trail: after each answer, one line when it is a write (any
 * method but GET, HEAD and OPTIONS on a matched route; GraphQL mutations are audited per field
 * by src/graphql/execution/audit-plugin.ts), a denial (401, 403, or a 404 marked with
 * markPermissionDenial), a rate-limit hit (429), or a read that needs the admin scope.
 */
export function useAuditLog(app: FastifyInstance, options: AuditOptions): void {
  const audit = createAuditLog(options.file);
  app.decorate('audit', audit);
  app.decorateRequest('permissionDenial', false);
  app.decorateRequest('auditError', null);
  app.decorateRequest('auditCreated', null);
  app.decorateRequest('auditConcealed', null);
  app.addHook('onClose', (_instance, done) => {
    audit.close();
    done();
  });

  const prefix = options.basePath;
  const adminReads = new Set<string>();
  for (const [key, action] of ROUTE_ACCESS) {
    const [method, path] = key.split(' ') as [string, string];
    const scopes = requiredScopes(action);
    if (method === 'GET' && scopes.length === 1 && scopes[0] === 'admin') adminReads.add(`${prefix}${path === '/' ? '' : path}`);
  }

  app.addHook('onError', (request, _reply, error, done) => {
    request.auditError = errorTypeOf(error);
    if (isPermissionDenialError(error)) request.permissionDenial = true;
    done();
  });

  const noteCreated: onSendHookHandler = (request, reply, payload, done) => {
    if (reply.statusCode === 201 && typeof payload === 'string') request.auditCreated = CREATED_ID.exec(payload)?.[1] ?? null;
    done(null, payload);
  };
  // Only POST routes create under a new id; the other routes do not pay for the hook.
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (methods.includes('POST') && route.url !== options.graphqlPath) route.onSend = appendRouteHook(route.onSend, noteCreated);
  });

  const actionFor = (request: FastifyRequest, route: string): string | undefined => {
    if (route === options.mediaRoute) return `media.${request.method === 'PUT' ? 'put' : 'read'}`;
    return route === options.graphqlPath ? undefined : actionOf(request.method, route, prefix);
  };

  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
    const status = reply.statusCode;
    const route = request.routeOptions.url ?? null;
    const denial = status === 401 || status === 403 || (status === 404 && request.permissionDenial) || (request.auditConcealed !== null && READS.has(request.method));
    let event: AuditEvent;
    if (denial) event = 'denied';
    else if (status === 429) event = 'rate_limited';
    else if (route !== null && route !== options.graphqlPath && !READS.has(request.method)) event = 'write';
    else if (route !== null && adminReads.has(route)) event = 'admin';
    else return done();

    const entry: AuditEntry = {
      event,
      outcome: denial ? 'denied' : status < 400 ? 'success' : 'failure',
      status,
      ...auditRequestFields(request),
      route,
    };
    const action = route === null ? undefined : actionFor(request, route);
    if (action !== undefined) entry.action = action;
    const resource = resourceOf(request.params);
    if (resource !== undefined) entry.resource = resource;
    if (request.auditCreated !== null) entry.created = request.auditCreated;
    const changed = READS.has(request.method) ? undefined : changedOf(request.body);
    if (changed !== undefined) entry.changed = changed;
    if (request.auditError !== null) entry.error = request.auditError;
    if (status === 401 && request.authFailure) entry.reason = request.authFailure.reason;
    if (status === 404 && request.permissionDenial) entry.permissionDenial = true;
    if (request.auditConcealed !== null) entry.concealed = request.auditConcealed;
    audit.write(entry);
    done();
  });
}
