/**
 * The cluster's S3 endpoint (`VAST_ENDPOINT`): `http(s)://host[:port]`, nothing else. The Host
 * header carries the port only when it is not the scheme's default, as both public clients
 * send and sign it (Python SDK: `aws_host` drops 80 and 443; AWS SDK v1: the same rule).
 */

export interface VastEndpoint {
  protocol: 'http:' | 'https:';
  /** What to connect to: a name or an address (IPv6 without its brackets). */
  connectHost: string;
  port: number;
  /** The Host header as sent and signed. */
  hostHeader: string;
}

const SHAPE = 'a VAST endpoint must be http://host[:port] or https://host[:port], with no user, path, query or fragment';

export function parseVastEndpoint(endpoint: string): VastEndpoint {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new Error(SHAPE);
  }
  // The message never repeats the endpoint: a user:password@ part would be a secret.
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(SHAPE);
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') throw new Error(SHAPE);
  if (url.pathname !== '/' && url.pathname !== '') throw new Error(SHAPE);
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  const connectHost = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { protocol: url.protocol, connectHost, port, hostHeader: url.host };
}
