/**
 * Credentials -> Principal, for the three schemes the TAMS spec allows: a bearer JWT in
 * `Authorization`, the same JWT in `?access_token=`, and HTTP Basic against the users file.
 * Free of any HTTP framework: the fastify hook and the WebSocket server both call it.
 */
import type { JWTPayload } from 'jose';
import type { AuthConfig, Config } from '../config';
import { DEVELOPMENT_PRINCIPAL, type Principal } from '../domain/principal';
import { BasicUsers } from './basic-users';
import { principalFromClaims } from './claims';
import { createJwtVerifier, type JwtVerifier, type JwtVerifierTuning } from './jwt-verifier';

export interface Credentials {
  /** The `Authorization` header. */
  authorization?: string | undefined;
  /** The `access_token` query parameter (several when it was repeated). */
  accessToken?: string | readonly string[] | undefined;
}

/** Why a request was not authenticated: for the logs and the audit trail, never the client. */
export interface AuthFailure {
  reason: string;
  /** The scheme the caller tried (`none`: no usable credentials at all). */
  method: Principal['method'];
  /** The credentials could not be checked (the key set is unreachable): a 503, not a 401. */
  unavailable: boolean;
}

export type AuthOutcome = { ok: true; principal: Principal } | { ok: false; failure: AuthFailure };

export interface Authenticator {
  /** False with TAMS_AUTH=off: every caller is the development principal. */
  readonly enabled: boolean;
  authenticate(credentials: Credentials): Promise<AuthOutcome>;
  /**
   * Whether a principal authenticated earlier still holds: its token has not expired, its
   * Basic user is still in the users file. Long-lived connections (WebSocket subscriptions)
   * ask before each delivery and periodically.
   */
  isCurrent(principal: Principal, nowMs?: number): boolean;
  /** The `WWW-Authenticate` challenges answering this failure. */
  challenges(failure: AuthFailure): string[];
}

/** The caller of a route that needs no credentials (health, signed media URLs), or one that failed. */
export const ANONYMOUS_PRINCIPAL: Principal = Object.freeze({
  subject: 'anonymous',
  scopes: [],
  authClasses: [],
  method: 'none',
  authenticated: false,
});

const REALM = 'tams';

function fail(reason: string, method: Principal['method'], unavailable = false): AuthOutcome {
  return { ok: false, failure: { reason, method, unavailable } };
}

const DEVELOPMENT: Authenticator = {
  enabled: false,
  authenticate: async () => ({ ok: true, principal: DEVELOPMENT_PRINCIPAL }),
  isCurrent: () => true,
  challenges: () => [],
};

class CredentialAuthenticator implements Authenticator {
  readonly enabled = true;
  private readonly principals = new WeakMap<JWTPayload, Partial<Record<'bearer' | 'access_token', Principal | undefined>>>();

  constructor(
    private readonly verifier: JwtVerifier,
    private readonly users: BasicUsers,
    private readonly config: AuthConfig,
  ) {}

  async authenticate({ authorization, accessToken }: Credentials): Promise<AuthOutcome> {
    if (accessToken !== undefined) {
      // RFC 6750 section 2: a client must not send its token more than one way at once.
      if (authorization !== undefined) return fail('credentials in both the Authorization header and access_token', 'access_token');
      if (typeof accessToken !== 'string') return fail('access_token given more than once', 'access_token');
      return this.token(accessToken, 'access_token');
    }
    if (authorization === undefined || authorization.trim() === '') return fail('no credentials', 'none');
    const m = /^\s*([A-Za-z]+) +(\S+)\s*$/.exec(authorization);
    if (!m) return fail('malformed Authorization header', 'none');
    const scheme = (m[1] as string).toLowerCase();
    if (scheme === 'bearer') return this.token(m[2] as string, 'bearer');
    if (scheme === 'basic') return this.basic(m[2] as string);
    return fail(`unsupported Authorization scheme ${JSON.stringify(m[1])}`, 'none');
  }

  /**
   * The principal of verified claims, worked out once per claims object: a token in the
   * verified-token cache hands back the same claims on every request, so its repeat requests
   * skip reading scopes and auth classes again. Entries go with their claims (a WeakMap).
   * Principals are frozen, as they are shared between requests.
   */
  private principalOf(claims: JWTPayload, method: 'bearer' | 'access_token'): Principal | undefined {
    let known = this.principals.get(claims);
    if (known === undefined) {
      known = {};
      this.principals.set(claims, known);
    }
    if (!(method in known)) {
      const principal = principalFromClaims(claims, this.config.claims, method);
      known[method] = principal === undefined ? undefined : Object.freeze(principal);
    }
    return known[method];
  }

  private async token(token: string, method: 'bearer' | 'access_token'): Promise<AuthOutcome> {
    if (token === '') return fail('empty token', method);
    const checked = await this.verifier.verify(token);
    if (!checked.ok) return fail(checked.reason, method, checked.unavailable);
    const principal = this.principalOf(checked.claims, method);
    return principal === undefined ? fail('token has no sub claim', method) : { ok: true, principal };
  }

  private async basic(encoded: string): Promise<AuthOutcome> {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return fail('malformed Basic credentials', 'basic');
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return fail('malformed Basic credentials', 'basic');
    const checked = await this.users.verify(decoded.slice(0, colon), decoded.slice(colon + 1));
    if (!checked.ok) return fail(checked.reason, 'basic', checked.busy === true);
    const { name, scopes, authClasses } = checked.user;
    return { ok: true, principal: { subject: name, name, scopes, authClasses, method: 'basic', authenticated: true } };
  }

  isCurrent(principal: Principal, nowMs: number = Date.now()): boolean {
    if (principal.expiresAtMs !== undefined && nowMs >= principal.expiresAtMs) return false;
    if (principal.method === 'basic') return this.users.exists(principal.subject);
    return true;
  }

  challenges(failure: AuthFailure): string[] {
    // RFC 6750: `invalid_token` tells a client its token (not its lack of one) was refused.
    const tokenRefused = failure.method === 'bearer' || failure.method === 'access_token';
    const bearer = `Bearer realm="${REALM}"${tokenRefused ? ', error="invalid_token"' : ''}`;
    return this.users.hasUsers() ? [bearer, `Basic realm="${REALM}", charset="UTF-8"`] : [bearer];
  }
}

export function createAuthenticator(config: Pick<Config, 'auth' | 'dataDir' | 'authentication'>, tuning: JwtVerifierTuning = {}): Authenticator {
  if (config.auth === 'off') return DEVELOPMENT;
  const auth = config.authentication;
  return new CredentialAuthenticator(createJwtVerifier(auth, config.dataDir, tuning), new BasicUsers(auth.usersFile), auth);
}

/** What an operator should hear about at start: authentication off, or tokens checked loosely. */
export function authenticationWarnings(config: Pick<Config, 'auth' | 'authentication'>): string[] {
  if (config.auth === 'off') {
    return ['TAMS_AUTH=off: authentication is disabled and every request has every scope (development only)'];
  }
  const { key, issuer, audience } = config.authentication;
  if (key.kind === 'embedded') return [];
  const unchecked = [issuer === undefined ? 'AUTH_ISSUER' : undefined, audience === undefined ? 'AUTH_AUDIENCE' : undefined].filter((v) => v !== undefined);
  return unchecked.length === 0 ? [] : [`${unchecked.join(' and ')} not set: tokens signed by this key are accepted whoever they were issued by or for`];
}
