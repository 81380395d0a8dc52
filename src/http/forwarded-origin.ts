import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import proxyAddr from '@fastify/proxy-addr';

/** The last value of a header a chain of proxies appended to. */
function lastEntry(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[value.length - 1] : value;
  if (text === undefined || text === '') return undefined;
  const comma = text.lastIndexOf(',');
  return (comma === -1 ? text : text.slice(comma + 1)).trim();
}

/**
 * The scheme and host a client used, for requests fastify never sees as requests (WebSocket
 * upgrades): X-Forwarded-Proto and X-Forwarded-Host count only from a TRUST_PROXY address,
 * exactly as fastify decides for `request.protocol` and `request.host`.
 */
export function forwardedOrigin(trustProxy: boolean | string): (request: IncomingMessage) => string {
  const trusted: (address: string, hop: number) => boolean =
    trustProxy === true
      ? () => true
      : trustProxy === false
        ? () => false
        : proxyAddr.compile(trustProxy.split(',').map((a) => a.trim()).filter((a) => a !== ''));
  return (request) => {
    const peer = request.socket.remoteAddress;
    const viaProxy = peer !== undefined && trusted(peer, 0);
    const direct = (request.socket as Partial<TLSSocket>).encrypted === true ? 'https' : 'http';
    const scheme = (viaProxy ? lastEntry(request.headers['x-forwarded-proto']) : undefined) ?? direct;
    const host = (viaProxy ? lastEntry(request.headers['x-forwarded-host']) : undefined) ?? request.headers.host ?? 'localhost';
    return `${scheme}://${host}`;
  };
}
