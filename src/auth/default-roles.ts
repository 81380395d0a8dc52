/** The roles of application note 0016 and the scopes they carry (ROLE_SCOPES starts from these). */
import { SCOPES, type Scope } from '../domain/principal';

export const DEFAULT_ROLE_SCOPES: Readonly<Record<string, readonly Scope[]>> = Object.freeze({
  administrator: SCOPES,
  viewer: ['read'],
  editor: ['read', 'write'],
  'store-writer': ['write'],
  'store-cleanup-system': ['delete'],
});
