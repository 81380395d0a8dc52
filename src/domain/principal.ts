/** The TAMS scopes of application note 0016, without their configurable prefix. */
export const SCOPES = ['read', 'write', 'delete', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** Who is calling and what they may do. Every request has one, possibly anonymous. */
export interface Principal {
  /** The token's `sub`, the Basic user name, or a fixed name when authentication is off. */
  subject: string;
  scopes: readonly Scope[];
  /** The auth classes (ADR 0035) the caller belongs to. */
  authClasses: readonly string[];
  /** How the caller proved who they are. */
  method: 'none' | 'bearer' | 'access_token' | 'basic';
  authenticated: boolean;
  /**
   * The name `created_by` / `updated_by` record (the claim AUTH_USER_CLAIM names, else the
   * subject; the Basic user name). Unset when nobody is authenticated.
   */
  name?: string;
  /** Holds a role named in AUTH_ATTRIBUTION_ROLES: may set created_by / updated_by itself (as admin may). */
  mayAttribute?: boolean;
  /** When the credentials stop being valid (a token's `exp`), in ms since the epoch; undefined: no set end. */
  expiresAtMs?: number;
}

/** TAMS_AUTH=off (development only): every request may do everything. */
export const DEVELOPMENT_PRINCIPAL: Principal = Object.freeze({
  subject: 'development',
  scopes: SCOPES,
  authClasses: [],
  method: 'none',
  authenticated: false,
});
