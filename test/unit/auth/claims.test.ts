import { loadConfig } from '../../../src/config';
import { authClassesFromClaims, claimValue, claimsGranting, principalFromClaims, scopesFromClaims } from '../../../src/auth/claims';

const defaults = loadConfig({}).authentication.claims;

describe('claims -> scopes, roles and auth classes', () => {
  it('reads prefixed scopes from a space-separated string or an array, ignoring others', () => {
    expect(scopesFromClaims({ scope: 'openid tams-api/write tams-api/read profile' }, defaults)).toEqual(['read', 'write']);
    expect(scopesFromClaims({ scope: ['tams-api/admin', 'tams-api/delete', 'read'] }, defaults)).toEqual(['delete', 'admin']);
    expect(scopesFromClaims({ scope: 'tams-api/everything tams-api/' }, defaults)).toEqual([]);
    expect(scopesFromClaims({ scope: 42 }, defaults)).toEqual([]);
    expect(scopesFromClaims({}, defaults)).toEqual([]);
  });

  it('takes the scope claim name and prefix from the configuration (empty prefix: bare names)', () => {
    const scp = loadConfig({ AUTH_SCOPE_CLAIM: 'scp', AUTH_SCOPE_PREFIX: '' }).authentication.claims;
    expect(scopesFromClaims({ scp: ['read', 'delete'], scope: 'tams-api/admin' }, scp)).toEqual(['read', 'delete']);
    const custom = loadConfig({ AUTH_SCOPE_PREFIX: 'https://media.example/' }).authentication.claims;
    expect(scopesFromClaims({ scope: 'https://media.example/write tams-api/read' }, custom)).toEqual(['write']);
  });

  it('maps the roles of application note 0016 onto scopes', () => {
    expect(scopesFromClaims({ roles: ['viewer'] }, defaults)).toEqual(['read']);
    expect(scopesFromClaims({ roles: 'editor' }, defaults)).toEqual(['read', 'write']);
    expect(scopesFromClaims({ roles: ['administrator'] }, defaults)).toEqual(['read', 'write', 'delete', 'admin']);
    expect(scopesFromClaims({ roles: ['store-writer', 'store-cleanup-system'] }, defaults)).toEqual(['write', 'delete']);
    expect(scopesFromClaims({ roles: ['viewer'], scope: 'tams-api/delete' }, defaults)).toEqual(['read', 'delete']);
    expect(scopesFromClaims({ roles: ['toString', '__proto__', 'constructor'] }, defaults)).toEqual([]);
  });

  it('uses a configured role map and a nested roles claim (Keycloak)', () => {
    const keycloak = loadConfig({ AUTH_ROLES_CLAIM: 'realm_access.roles', AUTH_ROLE_SCOPES: '{"ops":["read","delete"]}' }).authentication.claims;
    expect(scopesFromClaims({ realm_access: { roles: ['ops', 'viewer'] } }, keycloak)).toEqual(['read', 'delete']);
  });

  it('looks a URL-like claim name up whole before walking dots', () => {
    expect(claimValue({ 'https://example.com/roles': ['a'] }, 'https://example.com/roles')).toEqual(['a']);
    expect(claimValue({ a: { b: { c: 1 } } }, 'a.b.c')).toBe(1);
    expect(claimValue({ a: { b: 1 } }, 'a.x')).toBeUndefined();
    expect(claimValue({ a: ['x'] }, 'a.0')).toBeUndefined();
  });

  it('reads auth classes (ADR 0035) from their claim, without duplicates', () => {
    expect(authClassesFromClaims({ auth_classes: ['news', 'sport', 'news'] }, defaults)).toEqual(['news', 'sport']);
    expect(authClassesFromClaims({ auth_classes: 'news sport' }, defaults)).toEqual(['news', 'sport']);
    const groups = loadConfig({ AUTH_CLASSES_CLAIM: 'groups' }).authentication.claims;
    expect(authClassesFromClaims({ groups: ['drama'] }, groups)).toEqual(['drama']);
  });

  it('builds a principal from sub (or client_id), and none without a subject', () => {
    expect(principalFromClaims({ sub: 'alice', scope: 'tams-api/read', auth_classes: ['news'] }, defaults, 'bearer')).toEqual({
      subject: 'alice',
      name: 'alice',
      scopes: ['read'],
      authClasses: ['news'],
      method: 'bearer',
      authenticated: true,
    });
    expect(principalFromClaims({ client_id: 'ingest-bot' }, defaults, 'access_token')).toMatchObject({ subject: 'ingest-bot', method: 'access_token', scopes: [] });
    expect(principalFromClaims({ sub: '' }, defaults, 'bearer')).toBeUndefined();
    expect(principalFromClaims({}, defaults, 'bearer')).toBeUndefined();
  });

  it('names the caller by AUTH_USER_CLAIM (falling back to the subject), and lets AUTH_ATTRIBUTION_ROLES set created_by', () => {
    const named = loadConfig({ AUTH_USER_CLAIM: 'preferred_username', AUTH_ATTRIBUTION_ROLES: 'curator, archivist' }).authentication.claims;
    expect(principalFromClaims({ sub: 'u-1', preferred_username: 'alice' }, named, 'bearer')).toMatchObject({ subject: 'u-1', name: 'alice' });
    expect(principalFromClaims({ sub: 'u-2' }, named, 'bearer')).toMatchObject({ subject: 'u-2', name: 'u-2' });
    expect(principalFromClaims({ sub: 'u-3', roles: ['archivist'] }, named, 'bearer')).toMatchObject({ mayAttribute: true });
    expect(principalFromClaims({ sub: 'u-4', roles: ['editor'] }, named, 'bearer')!.mayAttribute).toBeUndefined();
    expect(principalFromClaims({ sub: 'u-5', roles: ['archivist'] }, defaults, 'bearer')!.mayAttribute).toBeUndefined();
    // A name is what created_by records, and a PUT sends back: at most 1,024 characters.
    expect(principalFromClaims({ sub: 'u-6', preferred_username: 'n'.repeat(6000) }, named, 'bearer')!.name).toBe('n'.repeat(1024));
  });

  it('grants through the configured claims what it reads back', () => {
    const claims = claimsGranting(['read', 'admin'], ['news'], defaults);
    expect(claims).toEqual({ scope: 'tams-api/read tams-api/admin', auth_classes: ['news'] });
    expect(scopesFromClaims(claims, defaults)).toEqual(['read', 'admin']);
    expect(claimsGranting(['write'], [], defaults)).toEqual({ scope: 'tams-api/write' });
  });
});
