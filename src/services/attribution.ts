/**
 * `created_by` and `updated_by` (flow-common.json, source.json, deletion-request.json): "Service
 * implementations SHOULD set suitable default values ... based on the principal accessing the
 * system, and MAY permit clients to edit the value, subject to suitable permissions-based
 * limitations." The gateway records the caller's name (Principal.name); a value the client
 * sends is kept only from a caller with the admin scope or a role named in
 * AUTH_ATTRIBUTION_ROLES. Without authentication (TAMS_AUTH=off) nobody is named.
 */
import type { Principal } from '../domain/principal';

/** The name this caller is recorded under, or undefined when nobody is authenticated. */
export function callerName(principal: Principal): string | undefined {
  return principal.authenticated ? (principal.name ?? principal.subject) : undefined;
}

/** Whether the caller may set created_by / updated_by itself. */
export function mayAttribute(principal: Principal): boolean {
  return principal.scopes.includes('admin') || principal.mayAttribute === true;
}

interface Attributed {
  created_by?: string;
  updated_by?: string;
}

/**
 * The created_by / updated_by a whole-document write (flow PUT) stores. created_by: the
 * stored one (the caller's on creation); updated_by: the caller. A permitted caller's own
 * values win, except an updated_by equal to the stored one (a document read and sent back is
 * not a claim to be someone else).
 */
export function attributeWrite<T extends Attributed>(principal: Principal, sent: T, stored: Attributed | undefined): T {
  const out: T = { ...sent };
  const caller = callerName(principal);
  const permitted = mayAttribute(principal);
  const createdBy = permitted && sent.created_by !== undefined ? sent.created_by : stored === undefined ? (caller ?? sent.created_by) : stored.created_by;
  const sentUpdatedBy = permitted && sent.updated_by !== undefined && sent.updated_by !== stored?.updated_by ? sent.updated_by : undefined;
  const updatedBy = sentUpdatedBy ?? caller ?? (stored === undefined ? sent.updated_by : stored.updated_by);
  setOrDelete(out, 'created_by', createdBy);
  setOrDelete(out, 'updated_by', updatedBy);
  return out;
}

/** A property write (tags, label, read_only, ...): updated_by becomes the caller (kept when nobody is named). */
export function attributeChange<T extends Attributed>(principal: Principal, changed: T): T {
  const caller = callerName(principal);
  return caller === undefined ? changed : { ...changed, updated_by: caller };
}

function setOrDelete(target: Attributed, key: keyof Attributed, value: string | undefined): void {
  if (value === undefined) delete target[key];
  else target[key] = value;
}
