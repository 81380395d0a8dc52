/**
 * Authentication of a GraphQL WebSocket connection (graphql-ws). Browsers cannot set headers
 * on a WebSocket, so clients put credentials in `connectionParams` of `connection_init`:
 * `{ authorization: 'Bearer <jwt>' }` (or `'Basic <base64>'`), or `{ token: '<jwt>' }` /
 * `{ access_token: '<jwt>' }`. A connection that sends none there is judged by its upgrade
 * request's `Authorization` header or `?access_token=`, as an HTTP request would be.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { AuthOutcome, Authenticator, Credentials } from './authenticator';

type ConnectionParams = Readonly<Record<string, unknown>> | undefined;

export interface UpgradeRequest {
  headers: IncomingHttpHeaders;
  url?: string | undefined;
}

function fromParams(params: NonNullable<ConnectionParams>): Credentials | 'malformed' | undefined {
  const header = params.authorization ?? params.Authorization;
  const token = params.token ?? params.access_token;
  if (header === undefined && token === undefined) return undefined;
  if (header !== undefined && token !== undefined) return 'malformed';
  if (header !== undefined) return typeof header === 'string' ? { authorization: header } : 'malformed';
  return typeof token === 'string' ? { authorization: `Bearer ${token}` } : 'malformed';
}

/** The credentials of an HTTP upgrade request (or any node request): header and `access_token`. */
export function credentialsOfRequest(request: UpgradeRequest): Credentials {
  const tokens = new URL(request.url ?? '/', 'http://localhost').searchParams.getAll('access_token');
  return {
    authorization: request.headers.authorization,
    accessToken: tokens.length === 0 ? undefined : tokens.length === 1 ? tokens[0] : tokens,
  };
}

/**
 * Call from graphql-ws `onConnect` and refuse the connection unless `ok` (returning false there
 * closes it with 4403); keep `principal` for the connection's operations. Log `failure.reason`,
 * never send it.
 */
export async function authenticateConnection(
  authenticator: Authenticator,
  connectionParams: ConnectionParams,
  upgradeRequest?: UpgradeRequest,
): Promise<AuthOutcome> {
  const given = connectionParams === undefined || connectionParams === null ? undefined : fromParams(connectionParams);
  if (given === 'malformed') return { ok: false, failure: { reason: 'malformed credentials in connectionParams', method: 'none', unavailable: false } };
  return authenticator.authenticate(given ?? (upgradeRequest === undefined ? {} : credentialsOfRequest(upgradeRequest)));
}
