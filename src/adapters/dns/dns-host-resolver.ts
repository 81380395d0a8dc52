import { lookup } from 'node:dns/promises';
import type { HostResolver } from '../../services/webhook-url-policy';

/**
 * Resolves a name as an outgoing connection would (getaddrinfo, /etc/hosts included), every
 * address of both families, giving up after `timeoutMs` so a slow resolver cannot hold a
 * request.
 */
export function dnsHostResolver(timeoutMs: number): HostResolver {
  return async (hostname) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`resolving ${hostname} timed out`)), timeoutMs);
    });
    try {
      const found = await Promise.race([lookup(hostname, { all: true, verbatim: true }), timeout]);
      return found.map((a) => a.address);
    } finally {
      clearTimeout(timer);
    }
  };
}
