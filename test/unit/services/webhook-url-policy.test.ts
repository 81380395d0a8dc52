/**
 * The webhook URL policy on its own: literal addresses by class, and names checked by what
 * they resolve to (a resolver function standing in for DNS).
 */
import { TamsError } from '../../../src/domain/errors';
import { WebhookUrlPolicy, isRefusedAddress, type HostResolver } from '../../../src/services/webhook-url-policy';

const table = (entries: Record<string, string[]>): HostResolver => async (host) => {
  const found = entries[host];
  if (found === undefined) throw new Error(`ENOTFOUND ${host}`);
  return found;
};

async function verdict(policy: WebhookUrlPolicy, url: string): Promise<string> {
  try {
    await policy.check(url);
    return 'ok';
  } catch (err) {
    if (err instanceof TamsError && err.code === 'validation_failed') return err.message;
    throw err;
  }
}

describe('webhook URL policy', () => {
  it('classifies literal addresses', () => {
    for (const address of ['127.0.0.1', '10.0.0.1', '172.20.1.1', '192.168.0.1', '169.254.169.254', '0.0.0.0', '100.64.1.1', '::1', '::', 'fd00::1', 'fe80::1', '::ffff:7f00:1', '::ffff:10.0.0.1', '64:ff9b::a9fe:a9fe', '2002:a00:1::1', 'not an address',
      // IPv4-compatible, IPv4-translated and Teredo forms of loopback and private addresses.
      '::127.0.0.1', '0:0:0:0:0:0:7f00:1', '::7f00:1', '::ffff:0:7f00:1', '::ffff:0:a00:1', '2001:0:4136:e378:8000:63bf:3fff:fdd2', '2001::1', '100::1', '2001:db8::1']) {
      expect({ address, refused: isRefusedAddress(address) }).toEqual({ address, refused: true });
    }
    for (const address of ['93.184.216.34', '8.8.8.8', '172.32.0.1', '192.169.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:5db8:d822', '64:ff9b::808:808']) {
      expect({ address, refused: isRefusedAddress(address) }).toEqual({ address, refused: false });
    }
  });

  it('refuses names resolving to any refused address, and names that do not resolve', async () => {
    const policy = new WebhookUrlPolicy({
      allowPrivate: false,
      resolve: table({
        'public.example.com': ['93.184.216.34', '2606:2800:220:1::248'],
        'rebind.example.com': ['93.184.216.34', '127.0.0.1'],
        'intranet.example.com': ['10.20.30.40'],
        'v6-private.example.com': ['fd12::5'],
        'empty.example.com': [],
      }),
    });
    expect(await verdict(policy, 'https://public.example.com/hook')).toBe('ok');
    expect(await verdict(policy, 'https://rebind.example.com/hook')).toMatch(/resolves to a loopback, private/);
    expect(await verdict(policy, 'https://intranet.example.com/hook')).toMatch(/resolves to/);
    expect(await verdict(policy, 'https://v6-private.example.com/hook')).toMatch(/resolves to/);
    expect(await verdict(policy, 'https://empty.example.com/hook')).toMatch(/could not be resolved/);
    expect(await verdict(policy, 'https://unknown.example.com/hook')).toMatch(/could not be resolved/);
    // Literals and well-known names never reach the resolver.
    expect(await verdict(policy, 'http://localhost/')).toMatch(/names a loopback/);
    expect(await verdict(policy, 'http://93.184.216.34/')).toBe('ok');
  });

  it('checks only literals and known names without a resolver, and nothing but the scheme when private addresses are allowed', async () => {
    const literal = new WebhookUrlPolicy({ allowPrivate: false });
    expect(await verdict(literal, 'https://anything.example.com/')).toBe('ok');
    expect(await verdict(literal, 'http://192.168.1.1/')).not.toBe('ok');
    // The IPv6 spellings of loopback that got through before, as URL literals.
    for (const url of ['http://[::127.0.0.1]/', 'http://[0:0:0:0:0:0:7f00:1]/', 'http://[::ffff:0:7f00:1]/', 'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', 'http://[::ffff:127.0.0.1]/']) {
      expect({ url, verdict: await verdict(literal, url) }).toEqual({ url, verdict: expect.stringMatching(/loopback, private, link-local or metadata address/) });
    }
    const open = new WebhookUrlPolicy({ allowPrivate: true, resolve: table({}) });
    expect(await verdict(open, 'http://127.0.0.1/')).toBe('ok');
    expect(await verdict(open, 'http://unresolvable.example.com/')).toBe('ok');
    expect(await verdict(open, 'gopher://127.0.0.1/')).toMatch(/http or https/);
  });
});
