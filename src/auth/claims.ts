/**
 * Token claims -> TAMS scopes, roles and auth classes. Which claims carry them is configured
 * (identity providers disagree: `scope` or `scp`, `roles` or `realm_access.roles`), and the
 * scope names carry a prefix (`tams-api/read`, application note 0016).
 */
import type { ClaimsConfig } from '../config';
import { SCOPES, type Principal, type Scope } from '../domain/principal';

type Claims = Readonly<Record<string, unknown>>;

/**
 * A claim by name. A name that is not itself a claim but has dots walks into nested objects
 * (Keycloak's `realm_access.roles`); URL-like claim names (`https://example.com/roles`) are
 * looked up whole first, so their dots do not split them.
 */
export function claimValue(claims: Claims, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  let node: unknown = claims;
  for (const part of name.split('.')) {
    if (typeof node !== 'object' || node === null || Array.isArray(node) || !Object.hasOwn(node, part)) return undefined;
    node = (node as Claims)[part];
  }
  return node;
}

/** A claim that is a space-separated string (OAuth `scope`) or an array of strings. */
function stringList(value: unknown): string[] {
  if (typeof value === 'string') return value.split(/\s+/).filter((s) => s !== '');
  if (Array.isArray(value)) return value.filter((s): s is string => typeof s === 'string' && s !== '');
  return [];
}

/** The TAMS scopes granted by the scope claim and by the roles claim, in canonical order. */
export function scopesFromClaims(claims: Claims, config: ClaimsConfig): Scope[] {
  const granted = new Set<string>();
  for (const name of stringList(claimValue(claims, config.scopeClaim))) {
    if (name.startsWith(config.scopePrefix)) granted.add(name.slice(config.scopePrefix.length));
  }
  for (const role of stringList(claimValue(claims, config.rolesClaim))) {
    if (!Object.hasOwn(config.roleScopes, role)) continue;
    for (const scope of config.roleScopes[role] ?? []) granted.add(scope);
  }
  return SCOPES.filter((s) => granted.has(s));
}

export function authClassesFromClaims(claims: Claims, config: ClaimsConfig): string[] {
  return [...new Set(stringList(claimValue(claims, config.authClassesClaim)))];
}

/**
 * The Principal a verified token stands for, or undefined when it names nobody. Client
 * credentials tokens of some providers carry `client_id` instead of `sub`.
 */
export function principalFromClaims(claims: Claims, config: ClaimsConfig, method: 'bearer' | 'access_token'): Principal | undefined {
  const subject = typeof claims.sub === 'string' && claims.sub !== '' ? claims.sub : claims.client_id;
  if (typeof subject !== 'string' || subject === '') return undefined;
  const named = claimValue(claims, config.userClaim);
  // The name goes into created_by / updated_by, which a client reading a flow sends back: kept within what a PUT accepts.
  const roles = stringList(claimValue(claims, config.rolesClaim));
  return {
    subject,
    name: boundedName(typeof named === 'string' && named !== '' ? named : subject),
    ...(roles.some((role) => config.attributionRoles.includes(role)) ? { mayAttribute: true } : {}),
    scopes: scopesFromClaims(claims, config),
    authClasses: authClassesFromClaims(claims, config),
    method,
    authenticated: true,
    ...(typeof claims.exp === 'number' ? { expiresAtMs: claims.exp * 1000 } : {}),
  };
}

/** The most characters of a caller's name recorded in created_by / updated_by (a PUT accepts up to 4096). */
const MAX_NAME_LENGTH = 1024;

function boundedName(name: string): string {
  return name.length <= MAX_NAME_LENGTH ? name : name.slice(0, MAX_NAME_LENGTH);
}

/** The claims that grant these scopes and auth classes under this configuration (tokens the gateway signs). */
export function claimsGranting(scopes: readonly Scope[], authClasses: readonly string[], config: ClaimsConfig): Record<string, unknown> {
  return {
    [config.scopeClaim]: scopes.map((s) => `${config.scopePrefix}${s}`).join(' '),
    ...(authClasses.length === 0 ? {} : { [config.authClassesClaim]: [...authClasses] }),
  };
}
