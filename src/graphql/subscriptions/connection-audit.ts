import type { IncomingMessage } from 'node:http';
import type { Principal } from '../../domain/principal';
import type { AuditEntry, AuditLog } from '../../http/audit-log';
import { requestIdOf } from '../../http/request-id';

/** Why a GraphQL WebSocket connection or subscription was refused, as its HTTP twin would be answered. */
export type ConnectionRefusal =
  | { status: 401; reason: string }
  | { status: 403; principal: Principal; field: string }
  | { status: 429 };

/**
 * The audit line of a refused GraphQL WebSocket connection (closed with 4401 or 4429) or
 * subscription (4403): the same fields as REST's 401, 403 and 429 lines, the upgrade request
 * standing for the HTTP request (its `X-Request-Id` when sane, else a fresh id).
 */
export function auditRefusedConnection(audit: AuditLog, route: string, request: IncomingMessage, client: string, refusal: ConnectionRefusal): void {
  const url = request.url ?? route;
  const query = url.indexOf('?');
  const principal = refusal.status === 403 ? refusal.principal : null;
  const base: Omit<AuditEntry, 'event' | 'outcome'> = {
    status: refusal.status,
    requestId: requestIdOf(request),
    principal: principal === null ? null : { subject: principal.subject, method: principal.method, authenticated: principal.authenticated },
    client,
    method: request.method ?? 'GET',
    route,
    path: query < 0 ? url : url.slice(0, query),
  };
  if (refusal.status === 429) {
    audit.write({ ...base, event: 'rate_limited', outcome: 'failure', error: 'RATE_LIMITED' });
  } else if (refusal.status === 401) {
    audit.write({ ...base, event: 'denied', outcome: 'denied', error: 'UNAUTHENTICATED', reason: refusal.reason });
  } else {
    audit.write({ ...base, event: 'denied', outcome: 'denied', action: `graphql.${refusal.field}`, error: 'FORBIDDEN' });
  }
}
