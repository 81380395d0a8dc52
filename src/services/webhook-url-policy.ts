import { BlockList, isIP } from 'node:net';
import { TamsError } from '../domain/errors';

/** A host name -> its addresses (IPv4 and IPv6), as the delivery worker's connection would resolve it. */
export type HostResolver = (hostname: string) => Promise<string[]>;

export interface WebhookUrlPolicyOptions {
  /** TAMS_WEBHOOK_ALLOW_PRIVATE: accept every address (development and tests). */
  allowPrivate: boolean;
  /** Resolves host names so that a name pointing at a refused address is refused too; without it only literal addresses and known names are checked. */
  resolve?: HostResolver;
}

/**
 * Addresses a webhook must not point at: the gateway's own machine, private networks and
 * cloud metadata services, which delivery requests would otherwise reach from inside
 * (server-side request forgery).
 */
const REFUSED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network", 0.0.0.0 reaches the local machine
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT (Alibaba Cloud's metadata service is 100.100.100.200)
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, 169.254.169.254 is the AWS, GCP and Azure metadata service
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking networks
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  REFUSED.addSubnet(net, prefix, 'ipv4');
}
// Azure's host wire server, public but reachable only from inside its VMs.
REFUSED.addAddress('168.63.129.16', 'ipv4');
for (const [net, prefix] of [
  // IPv4-compatible (deprecated): ::127.0.0.1, ::7f00:1, 0:0:0:0:0:0:7f00:1; :: and ::1 too.
  ['::', 96],
  ['::ffff:0:0:0', 96], // IPv4-translated (SIIT): ::ffff:0:7f00:1
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard-only
  ['2001::', 32], // Teredo: carries an obfuscated IPv4 address and tunnels to it
  ['2001:10::', 28], // ORCHID
  ['2001:20::', 28], // ORCHIDv2
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local, fd00::/8 included (AWS's metadata service is fd00:ec2::254)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  REFUSED.addSubnet(net, prefix, 'ipv6');
}

/** Names that always mean this machine or a metadata service, whatever DNS says. */
const REFUSED_NAMES = new Set(['localhost', 'metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data']);
/** Suffixes reserved for loopback (RFC 6761) and private use (`.internal`, ICANN 2024). */
const REFUSED_SUFFIXES = ['.localhost', '.internal'];

/** The 16 bytes of an IPv6 address in text form (hex groups, `::`, an optional dotted IPv4 tail). */
function ipv6Bytes(address: string): number[] {
  let text = address;
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    tail.push(...(dotted[1] as string).split('.').map(Number));
    text = text.slice(0, dotted.index) + '0:0';
  }
  const [head = '', rest] = text.split('::') as [string, string | undefined];
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const front = groups(head);
  const back = rest === undefined ? [] : groups(rest);
  const words = [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  const bytes = words.flatMap((w) => [w >> 8, w & 0xff]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

/** The IPv4 address an IPv6 one carries (NAT64 64:ff9b::/96, 6to4 2002::/16), checked as IPv4 too. */
function embeddedIpv4(address: string): string | undefined {
  const b = ipv6Bytes(address);
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && b.slice(4, 12).every((x) => x === 0)) return b.slice(12).join('.');
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6).join('.');
  return undefined;
}

/** Is this literal address one a webhook may not target? (IPv4-mapped IPv6 counts as its IPv4.) */
export function isRefusedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return REFUSED.check(address, 'ipv4');
  if (family !== 6) return true;
  if (REFUSED.check(address, 'ipv6')) return true;
  const inner = embeddedIpv4(address);
  return inner !== undefined && REFUSED.check(inner, 'ipv4');
}

function isRefusedName(hostname: string): boolean {
  return REFUSED_NAMES.has(hostname) || REFUSED_SUFFIXES.some((suffix) => hostname.endsWith(suffix));
}

function refused(message: string): TamsError {
  return new TamsError('validation_failed', message);
}

/**
 * Where webhooks may point: http(s) URLs whose host is not a loopback, link-local, private or
 * cloud-metadata address, nor a name for one (literal, well-known name, or, with a resolver,
 * any address the name resolves to now), unless `allowPrivate`.
 *
 * This is checked at registration. A name can be re-pointed afterwards (DNS rebinding), so
 * delivery must check the address it actually connects to again (`isRefusedAddress`).
 */
export class WebhookUrlPolicy {
  constructor(private readonly options: WebhookUrlPolicyOptions) {}

  async check(text: string): Promise<void> {
    const url = URL.canParse(text) ? new URL(text) : undefined;
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw refused('Webhook url must be an absolute http or https URL');
    if (this.options.allowPrivate) return;
    // WHATWG parsing has normalised every IPv4 spelling (0x7f.1, 2130706433) to dotted form.
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '').toLowerCase();
    const what = `Webhook url host ${JSON.stringify(url.hostname.slice(0, 64))}`;
    if (isIP(host) !== 0) {
      if (isRefusedAddress(host)) throw refused(`${what} is a loopback, private, link-local or metadata address`);
      return;
    }
    if (isRefusedName(host)) throw refused(`${what} names a loopback, private or metadata host`);
    if (this.options.resolve === undefined) return;
    let addresses: string[];
    try {
      addresses = await this.options.resolve(host);
    } catch {
      throw refused(`${what} could not be resolved`);
    }
    if (addresses.length === 0) throw refused(`${what} could not be resolved`);
    if (addresses.some(isRefusedAddress)) throw refused(`${what} resolves to a loopback, private, link-local or metadata address`);
  }
}
