import { randomUUID } from 'node:crypto';
import { startHarness, Harness, TamsResponse } from '../support/gateway-harness';
import { checkedFetch } from '../support/checked-fetch';

/** /service/webhooks registrations: CRUD, listing, statuses, bad input, the secret key. */

const SECRET = 'Bearer s3cr3t-never-shown-21238dksdjqwpqscj9';

describe('/service/webhooks', () => {
  let h: Harness;
  const texts: string[] = [];

  async function call(method: string, path: string, body?: unknown): Promise<TamsResponse> {
    const res = await h.request(method, path, body);
    texts.push(res.text, [...res.headers.entries()].map(([k, v]) => `${k}: ${v}`).join('\n'));
    return res;
  }

  /** For statuses the YAML does not declare for an operation (a 400 on GET list): a bad query, marked malformed. */
  async function raw(method: string, path: string): Promise<Response> {
    return checkedFetch(`${h.base}${path}`, { method }, { malformed: 'a query parameter the listing refuses (the YAML declares no 400)' });
  }

  async function create(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const res = await call('POST', '/service/webhooks', body);
    expect(res.status).toBe(201);
    return res.body as Record<string, unknown>;
  }

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    for (const text of texts) expect(text).not.toContain('s3cr3t');
    await h.close();
  });

  it('registers, shows, updates and deletes a webhook (the spec example)', async () => {
    const posted = await create({
      url: 'https://hook.example.com',
      api_key_name: 'Authorization',
      api_key_value: SECRET,
      events: ['flows/created', 'flows/updated'],
    });
    const id = posted.id as string;
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(posted).toEqual({
      id,
      url: 'https://hook.example.com',
      api_key_name: 'Authorization',
      events: ['flows/created', 'flows/updated'],
      status: 'created',
    });

    const got = await call('GET', `/service/webhooks/${id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(posted);
    const head = await call('HEAD', `/service/webhooks/${id}`);
    expect(head.status).toBe(200);
    expect(head.text).toBe('');

    // PUT without api_key_value keeps the stored secret.
    const put = await call('PUT', `/service/webhooks/${id}`, {
      id,
      url: 'https://hook.example.com/v2',
      api_key_name: 'X-Api-Key',
      events: ['flows/deleted'],
      status: 'created',
      flow_ids: [randomUUID()],
      verbose_storage: true,
      tags: { team: 'news' },
    });
    expect(put.status).toBe(201);
    expect(put.body).toMatchObject({ id, url: 'https://hook.example.com/v2', api_key_name: 'X-Api-Key', events: ['flows/deleted'], status: 'created', verbose_storage: true });
    const stored = await h.gateway.store.getWebhook(id);
    expect(stored?.api_key_value).toBe(SECRET);
    expect((await call('GET', `/service/webhooks/${id}`)).body).toEqual(put.body);

    // Moving the url to another scheme, host or port without sending the key again is refused:
    // the stored key is never delivered to a new address.
    const moves = ['https://attacker.example/v2', 'http://hook.example.com/v2', 'https://hook.example.com:8443/v2', 'https://hook.example.com.attacker.example/v2'];
    for (const url of moves) {
      const moved = await call('PUT', `/service/webhooks/${id}`, { id, url, api_key_name: 'X-Api-Key', events: ['flows/deleted'], status: 'created' });
      expect({ url, status: moved.status, type: moved.body.type }).toEqual({ url, status: 400, type: 'ValidationError' });
      expect(moved.body.summary).toMatch(/send api_key_value again/);
      expect(await h.gateway.store.getWebhook(id)).toMatchObject({ url: 'https://hook.example.com/v2', api_key_value: SECRET });
    }
    // The default port written out is the same origin; a new key may go anywhere.
    expect((await call('PUT', `/service/webhooks/${id}`, { id, url: 'https://hook.example.com:443/v3', api_key_name: 'X-Api-Key', events: [], status: 'created' })).status).toBe(201);
    expect((await h.gateway.store.getWebhook(id))?.api_key_value).toBe(SECRET);
    const rekeyed = await call('PUT', `/service/webhooks/${id}`, { id, url: 'https://other.example/v2', api_key_name: 'X-Api-Key', api_key_value: 'new-key', events: [], status: 'created' });
    expect(rekeyed.status).toBe(201);
    expect(await h.gateway.store.getWebhook(id)).toMatchObject({ url: 'https://other.example/v2', api_key_value: 'new-key' });
    expect((await call('PUT', `/service/webhooks/${id}`, { ...put.body, id, url: 'https://hook.example.com/v2', api_key_name: 'X-Api-Key', api_key_value: SECRET })).status).toBe(201);

    // PUT without api_key_name drops the key.
    const noKey = await call('PUT', `/service/webhooks/${id}`, { id, url: 'https://hook.example.com/v2', events: [], status: 'created' });
    expect(noKey.status).toBe(201);
    expect(noKey.body.api_key_name).toBeUndefined();
    expect((await h.gateway.store.getWebhook(id))?.api_key_value).toBeUndefined();

    expect((await call('DELETE', `/service/webhooks/${id}`)).status).toBe(204);
    expect((await call('GET', `/service/webhooks/${id}`)).status).toBe(404);
    expect((await call('HEAD', `/service/webhooks/${id}`)).status).toBe(404);
    expect((await call('DELETE', `/service/webhooks/${id}`)).status).toBe(404);
  });

  it('lists by url (reverse on request), filtered by tags, paged with headers', async () => {
    const tag = randomUUID();
    const urls = ['https://c.example.com/', 'http://a.example.com/', 'https://b.example.com/x', 'https://b.example.com/'];
    for (const [i, url] of urls.entries()) {
      await create({ url, events: ['sources/created'], tags: { suite: tag, parity: i % 2 === 0 ? 'even' : 'odd' }, api_key_name: 'X-Key', api_key_value: SECRET });
    }
    const sorted = [...urls].sort();
    const list = await call('GET', `/service/webhooks?tag.suite=${tag}`);
    expect(list.status).toBe(200);
    expect(list.body.map((w: { url: string }) => w.url)).toEqual(sorted);
    expect(list.headers.get('x-paging-count')).toBe('4');
    expect(list.headers.get('x-paging-reverse-order')).toBe('false');

    const reversed = await call('GET', `/service/webhooks?tag.suite=${tag}&reverse_order=true`);
    expect(reversed.body.map((w: { url: string }) => w.url)).toEqual([...sorted].reverse());
    expect(reversed.headers.get('x-paging-reverse-order')).toBe('true');

    const odd = await call('GET', `/service/webhooks?tag.suite=${tag}&tag.parity=odd`);
    expect(odd.body.map((w: { url: string }) => w.url)).toEqual([urls[1], urls[3]].sort());
    const untagged = await call('GET', `/service/webhooks?tag.suite=${tag}&tag_exists.parity=false`);
    expect(untagged.body).toEqual([]);

    for (const reverse of [false, true]) {
      const seen: string[] = [];
      let next: string | null = `/service/webhooks?tag.suite=${tag}&limit=3&reverse_order=${reverse}`;
      while (next !== null) {
        const page: TamsResponse = await call('GET', next);
        expect(page.status).toBe(200);
        expect(page.headers.get('x-paging-limit')).toBe('3');
        const head = await call('HEAD', next);
        expect(head.status).toBe(200);
        expect(head.headers.get('x-paging-count')).toBe(page.headers.get('x-paging-count'));
        expect(head.headers.get('link')).toBe(page.headers.get('link'));
        seen.push(...page.body.map((w: { url: string }) => w.url));
        const link = page.headers.get('link');
        if (link === null) {
          next = null;
        } else {
          expect(page.headers.get('x-paging-nextkey')).toBeTruthy();
          const target = new URL(/^<([^>]+)>; rel="next"$/.exec(link)![1]!);
          expect(target.origin).toBe(h.base);
          next = `${target.pathname}${target.search}`;
        }
      }
      expect(seen).toEqual(reverse ? [...sorted].reverse() : sorted);
    }
    const badCursor = await raw('GET', '/service/webhooks?page=garbage');
    expect(badCursor.status).toBe(400);
    expect((await raw('GET', '/service/webhooks?limit=0')).status).toBe(400);
    expect((await raw('GET', '/service/webhooks?reverse_order=maybe')).status).toBe(400);
  });

  it('applies the status transitions the spec allows', async () => {
    const disabled = await create({ url: 'https://status.example.com', events: ['flows/created'], status: 'disabled' });
    const id = disabled.id as string;
    expect(disabled.status).toBe('disabled');
    const put = (status: string): Promise<TamsResponse> =>
      call('PUT', `/service/webhooks/${id}`, { id, url: 'https://status.example.com', events: ['flows/created'], status });

    let res = await put('created');
    expect([res.status, res.body.status]).toEqual([201, 'created']);
    res = await put('disabled');
    expect([res.status, res.body.status]).toEqual([201, 'disabled']);

    // A running webhook asked to stay enabled stays started.
    const stored = (await h.gateway.store.getWebhook(id))!;
    await h.gateway.store.putWebhook({ ...stored, status: 'started' });
    res = await put('created');
    expect([res.status, res.body.status]).toEqual([201, 'started']);
    res = await put('disabled');
    expect([res.status, res.body.status]).toEqual([201, 'disabled']);

    // The service put it in error: it shows the error, cannot be disabled, can be re-enabled.
    const error = { type: 'DeliveryFailed', summary: 'receiver answered 500', time: new Date().toISOString() };
    await h.gateway.store.putWebhook({ ...stored, status: 'error', error });
    const got = await call('GET', `/service/webhooks/${id}`);
    expect(got.body).toMatchObject({ status: 'error', error });
    res = await put('disabled');
    expect(res.status).toBe(400);
    expect(res.body.summary).toMatch(/error/);
    res = await put('created');
    expect([res.status, res.body.status, res.body.error]).toEqual([201, 'created', undefined]);

    // Clients cannot set the service's own statuses.
    for (const status of ['started', 'error', 'bogus']) {
      expect((await put(status)).status).toBe(400);
      expect((await call('POST', '/service/webhooks', { url: 'https://x.example.com', events: [], status })).status).toBe(400);
    }
  });

  it('refuses bad registrations with 400', async () => {
    const base = { url: 'https://ok.example.com', events: ['flows/created'] };
    const cases: [string, unknown][] = [
      ['ftp url', { ...base, url: 'ftp://hook.example.com/x' }],
      ['file url', { ...base, url: 'file:///etc/passwd' }],
      ['javascript url', { ...base, url: 'javascript:alert(1)' }],
      ['relative url', { ...base, url: '/hook' }],
      ['not a url', { ...base, url: 'not a url' }],
      ['empty url', { ...base, url: '' }],
      ['url not a string', { ...base, url: 42 }],
      ['header name with space', { ...base, api_key_name: 'Bad Header', api_key_value: 'x' }],
      ['header name with colon', { ...base, api_key_name: 'X-Key:', api_key_value: 'x' }],
      ['header name empty', { ...base, api_key_name: '', api_key_value: 'x' }],
      ['header name non-ascii', { ...base, api_key_name: 'Schlüssel', api_key_value: 'x' }],
      ['reserved header name', { ...base, api_key_name: 'Content-Length', api_key_value: '1' }],
      ['header value with newline', { ...base, api_key_name: 'X-Key', api_key_value: 'a\r\nX-Injected: 1' }],
      ['key value without name', { ...base, api_key_value: SECRET }],
      ['key name without value', { ...base, api_key_name: 'X-Key' }],
      ['unknown event', { ...base, events: ['flows/bogus'] }],
      ['events not an array', { ...base, events: 'flows/created' }],
      ['missing events', { url: 'https://ok.example.com' }],
      ['missing url', { events: [] }],
      ['bad flow_ids', { ...base, flow_ids: ['not-a-uuid'] }],
      ['bad presigned', { ...base, presigned: 'yes' }],
      ['misspelt filter', { ...base, flow_id: [randomUUID()] }],
      ['client-chosen id', { ...base, id: randomUUID() }],
      ['array body', [base]],
    ];
    for (const [name, body] of cases) {
      const res = await call('POST', '/service/webhooks', body);
      expect({ name, status: res.status }).toEqual({ name, status: 400 });
      expect(typeof res.body.summary).toBe('string');
    }
    const notJson = await call('POST', '/service/webhooks', '{"url":');
    expect(notJson.status).toBe(400);

    const { id } = await create(base);
    const put = (body: unknown, path = `/service/webhooks/${id as string}`): Promise<TamsResponse> => call('PUT', path, body);
    expect((await put({ ...base, id, status: 'created', url: 'gopher://x' })).status).toBe(400);
    expect((await put({ ...base, id, status: 'created', api_key_name: 'a b', api_key_value: 'x' })).status).toBe(400);
    expect((await put({ ...base, id, status: 'created', api_key_name: 'X-Key' })).status).toBe(400);
    expect((await put({ ...base, id: randomUUID(), status: 'created' })).status).toBe(400);
    expect((await put({ ...base, status: 'created' })).status).toBe(400);
    expect((await put({ ...base, id })).status).toBe(400);
    const unknown = randomUUID();
    expect((await put({ ...base, id: unknown, status: 'created' }, `/service/webhooks/${unknown}`)).status).toBe(404);
  });

  it('answers 404 for unknown and malformed ids', async () => {
    const body = { url: 'https://x.example.com', events: [], status: 'created' };
    for (const id of [randomUUID(), 'not-a-uuid', randomUUID().toUpperCase()]) {
      for (const method of ['GET', 'HEAD', 'DELETE']) {
        expect({ id, method, status: (await call(method, `/service/webhooks/${id}`)).status }).toEqual({ id, method, status: 404 });
      }
      expect((await call('PUT', `/service/webhooks/${id}`, { ...body, id })).status).toBe(404);
    }
  });
});
