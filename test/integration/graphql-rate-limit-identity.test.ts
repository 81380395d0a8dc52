/**
 * Anonymous GraphQL callers are limited by their client address, on every execution path:
 * Apollo's (which runs each operation on a copy of the context) and the prepared-query path
 * (which a repeated text reaches). A context copy once lost the address, so the first runs of a
 * text counted under `ip:unknown` (one budget shared by every anonymous client) and the later,
 * prepared runs under the real address (a second budget).
 */
import { startHarness, type Harness } from '../support/gateway-harness';
import { checkedFetch } from '../support/checked-fetch';

describe('GraphQL rate limits of an anonymous caller (TAMS_AUTH=off)', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ RATE_LIMIT_GRAPHQL_LISTS_PER_MINUTE: '2', TRUST_PROXY: 'true' });
  });

  afterAll(async () => {
    await h.close();
  });

  const ask = async (forwardedFor: string): Promise<string> => {
    const res = await checkedFetch(`${h.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
      body: JSON.stringify({ query: '{ flows(first: 1) { nodes { id } } }' }),
    });
    const body = (await res.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
    return body.errors?.[0]?.extensions?.code ?? 'ok';
  };

  it('spends one budget per address whichever path runs the query, and another address has its own', async () => {
    const first = [];
    for (let i = 0; i < 6; i++) first.push(await ask('198.51.100.7'));
    expect(first).toEqual(['ok', 'ok', 'RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED']);
    // The same text from another client (now on the prepared path): its own two.
    const second = [];
    for (let i = 0; i < 3; i++) second.push(await ask('198.51.100.8'));
    expect(second).toEqual(['ok', 'ok', 'RATE_LIMITED']);
  });
});
