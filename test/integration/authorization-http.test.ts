/**
 * Authorization over real HTTP with TAMS_AUTH=on and real tokens (signed with the gateway's
 * embedded key): the scope matrix of application note 0016 for every REST operation, and the
 * fine-grained `auth_classes` rules with the note's News / Sport example, over REST and GraphQL.
 */
import { randomUUID } from 'node:crypto';
import { startHarness, type Harness } from '../support/gateway-harness';
import { describeWithSpec, listOperations } from '../support/tams-spec';
import { embeddedTokens } from '../support/auth-tokens';
import { videoFlow } from '../fixtures/flows';
import { checkedFetch } from '../support/checked-fetch';

const ISSUER = 'https://tams.test';
const AUDIENCE = 'tams-gateway';

interface Sent {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
  body: any;
}

type Json = Record<string, unknown>;

function scopeClaim(scopes: readonly string[]): string {
  return scopes.map((s) => `tams-api/${s}`).join(' ');
}

async function send(h: Harness, token: string, method: string, url: string, body?: unknown): Promise<Sent> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await checkedFetch(`${h.base}${url}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

async function graphql(h: Harness, token: string, query: string, variables: Json = {}): Promise<{ data?: Json; errors?: { message: string; extensions?: { code?: string }; path?: string[] }[] }> {
  const res = await checkedFetch(`${h.base}/graphql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: Json; errors?: { message: string; extensions?: { code?: string } }[] };
}

/** The scopes each operation needs, from the note (HEAD as GET; admin always). */
function neededScopes(method: string, path: string): string[] {
  const m = method === 'HEAD' ? 'GET' : method;
  const key = `${m} ${path}`;
  if (['GET /', 'GET /service', 'GET /service/storage-backends'].includes(key)) return ['admin', 'read', 'write', 'delete'];
  if (key === 'POST /service' || key === 'GET /flow-delete-requests') return ['admin'];
  if (key === 'GET /flow-delete-requests/{request-id}') return ['admin', 'delete'];
  if (path === '/service/webhooks/{webhookId}') return ['admin', 'read'];
  if (key === 'DELETE /flows/{flowId}' || key === 'DELETE /flows/{flowId}/segments') return ['admin', 'delete'];
  if (m === 'GET') return ['admin', 'read'];
  return ['admin', 'write'];
}

describeWithSpec('authorization over HTTP (TAMS_AUTH=on, real tokens)', () => {
  let h: Harness;
  let sign: (claims: Json) => Promise<string>;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    h = await startHarness({ TAMS_AUTH: 'on', AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE, TAMS_DELETE_ASYNC_THRESHOLD: '0' });
    const issued = await embeddedTokens(h.dataDir, ISSUER, AUDIENCE);
    sign = async (claims) => issued.sign(claims);
    const all = ['read', 'write', 'delete'];
    tokens.admin = await sign({ sub: 'admin', scope: scopeClaim(['read', 'write', 'delete', 'admin']) });
    for (const scope of ['read', 'write', 'delete', 'admin']) tokens[scope] = await sign({ sub: `only-${scope}`, scope: scopeClaim([scope]) });
    tokens.none = await sign({ sub: 'no-scopes', scope: '' });
    // News may share its content with Sport: it holds a grant on sport_ro, which Sport reads through.
    tokens.news = await sign({ sub: 'newsroom', scope: scopeClaim(all), auth_classes: ['news', 'sport_ro:read'] });
    tokens.sport = await sign({ sub: 'sports-desk', scope: scopeClaim(all), auth_classes: ['sport', 'sport_ro:read', 'sport_archive'] });
    tokens.staff = await sign({ sub: 'staff', scope: scopeClaim(all), auth_classes: ['staff'] });
  });
  afterAll(async () => {
    await h.close();
  });

  describe('scopes: every operation, every single-scope token', () => {
    const operations = listOperations();
    const concrete = (template: string): string => template.replace(/\{([^}]+)\}/g, (_m, name: string) => (name === 'name' ? 'genre' : randomUUID()));

    it.each(operations.map((o) => [o.method, o.path] as const))('%s %s', async (method, path) => {
      const needed = neededScopes(method, path);
      const body = method === 'POST' || method === 'PUT' ? {} : undefined;
      for (const scope of ['read', 'write', 'delete', 'admin', 'none']) {
        const res = await send(h, tokens[scope]!, method, concrete(path), body);
        if (needed.includes(scope)) {
          expect([scope, res.status === 403 || res.status === 401]).toEqual([scope, false]);
        } else {
          expect([scope, res.status]).toEqual([scope, 403]);
          if (method !== 'HEAD') expect(res.body.type).toBe('Forbidden');
        }
      }
    });
  });

  describe('auth classes: the News / Sport example of the note', () => {
    const newsX = videoFlow({ label: 'news x', tags: { auth_classes: 'news,sport_ro' } });
    const newsY = videoFlow({ label: 'news y', tags: { auth_classes: ['news'] } });
    const sportA = videoFlow({ label: 'sport a', tags: { auth_classes: 'sport' } });
    const open = videoFlow({ label: 'open' });
    const id = (f: Json): string => f.id as string;
    const source = (f: Json): string => f.source_id as string;

    beforeAll(async () => {
      expect((await send(h, tokens.news!, 'PUT', `/flows/${id(newsX)}`, newsX)).status).toBe(201);
      expect((await send(h, tokens.news!, 'PUT', `/flows/${id(newsY)}`, newsY)).status).toBe(201);
      expect((await send(h, tokens.sport!, 'PUT', `/flows/${id(sportA)}`, sportA)).status).toBe(201);
      expect((await send(h, tokens.admin!, 'PUT', `/flows/${id(open)}`, open)).status).toBe(201);
    });

    it('a new source takes the auth_classes of the flow that created it', async () => {
      const res = await send(h, tokens.admin!, 'GET', `/sources/${source(newsX)}/tags`);
      expect(res.body).toEqual({ auth_classes: 'news,sport_ro' });
    });

    it('lists only what the request may read', async () => {
      const listed = async (token: string, url: string): Promise<string[]> => ((await send(h, token, 'GET', url)).body as Json[]).map((x) => x.id as string);
      const ours = new Set([newsX, newsY, sportA, open].map(id));
      expect((await listed(tokens.sport!, '/flows')).filter((f) => ours.has(f)).sort()).toEqual([id(newsX), id(sportA), id(open)].sort());
      expect((await listed(tokens.news!, '/flows')).filter((f) => ours.has(f)).sort()).toEqual([id(newsX), id(newsY), id(open)].sort());
      expect((await listed(tokens.admin!, '/flows')).filter((f) => ours.has(f))).toHaveLength(4);
      const sources = await listed(tokens.sport!, '/sources');
      expect(sources).toContain(source(newsX));
      expect(sources).not.toContain(source(newsY));
      // A client filter on the tag cannot widen what is shown.
      expect(await listed(tokens.sport!, '/flows?tag.auth_classes=news')).toEqual([]);
    });

    it('no permission at all is a 404, some but not enough a 403', async () => {
      expect((await send(h, tokens.sport!, 'GET', `/flows/${id(newsY)}`)).status).toBe(404);
      expect((await send(h, tokens.sport!, 'HEAD', `/flows/${id(newsY)}`)).status).toBe(404);
      expect((await send(h, tokens.sport!, 'GET', `/flows/${id(newsY)}/segments`)).status).toBe(404);
      expect((await send(h, tokens.sport!, 'DELETE', `/flows/${id(newsY)}`)).status).toBe(404);
      expect((await send(h, tokens.news!, 'GET', `/sources/${source(sportA)}`)).status).toBe(404);
      expect((await send(h, tokens.sport!, 'GET', `/flows/${id(newsX)}`)).status).toBe(200);
      expect((await send(h, tokens.sport!, 'GET', `/flows/${id(newsX)}/label`)).body).toBe('news x');
      for (const [method, url, body] of [
        ['PUT', `/flows/${id(newsX)}/label`, 'renamed'],
        ['DELETE', `/flows/${id(newsX)}/label`, undefined],
        ['PUT', `/flows/${id(newsX)}`, newsX],
        ['DELETE', `/flows/${id(newsX)}`, undefined],
        ['DELETE', `/flows/${id(newsX)}/segments`, undefined],
        ['POST', `/flows/${id(newsX)}/storage`, { limit: 1 }],
        ['PUT', `/sources/${source(newsX)}/label`, 'renamed'],
      ] as const) {
        const res = await send(h, tokens.sport!, method, url, body);
        expect([method, url, res.status, res.body?.type]).toEqual([method, url, 403, 'Forbidden']);
      }
      expect((await send(h, tokens.news!, 'PUT', `/flows/${id(newsX)}/label`, 'news x')).status).toBe(204);
    });

    it('resources without auth_classes are open to every authenticated request', async () => {
      expect((await send(h, tokens.sport!, 'PUT', `/flows/${id(open)}/description`, 'shared')).status).toBe(204);
      expect((await send(h, tokens.news!, 'GET', `/flows/${id(open)}/description`)).body).toBe('shared');
    });

    it('changing auth_classes needs a grant on every class added or removed', async () => {
      // Adding a class the request holds no grant on.
      expect((await send(h, tokens.sport!, 'PUT', `/flows/${id(sportA)}/tags/auth_classes`, ['sport', 'news'])).status).toBe(403);
      expect((await send(h, tokens.news!, 'PUT', `/flows/${id(newsX)}/tags/auth_classes`, 'news,sport_ro,sport')).status).toBe(403);
      expect((await send(h, tokens.sport!, 'PUT', `/flows/${id(open)}/tags/auth_classes`, 'news')).status).toBe(403);
      const created = videoFlow({ tags: { auth_classes: 'sport' } });
      expect((await send(h, tokens.news!, 'PUT', `/flows/${id(created)}`, created)).status).toBe(403);
      expect((await send(h, tokens.sport!, 'POST', '/service/webhooks', { url: 'https://h.example.com', events: ['flows/created'], tags: { auth_classes: 'news' } })).status).toBe(403);
      // Removing one: Sport may write this flow (through `sport`) but holds nothing on `archive`.
      const archived = videoFlow({ tags: { auth_classes: ['sport', 'archive'] } });
      expect((await send(h, tokens.admin!, 'PUT', `/flows/${id(archived)}`, archived)).status).toBe(201);
      expect((await send(h, tokens.sport!, 'PUT', `/flows/${id(archived)}/tags/auth_classes`, 'sport')).status).toBe(403);
      expect((await send(h, tokens.sport!, 'DELETE', `/flows/${id(archived)}/tags/auth_classes`)).status).toBe(403);
      expect((await send(h, tokens.sport!, 'PUT', `/flows/${id(archived)}`, { ...archived, tags: {} })).status).toBe(403);
      // Classes it holds, and other tags, are fine.
      expect((await send(h, tokens.sport!, 'PUT', `/sources/${source(sportA)}/tags/auth_classes`, 'sport,sport_archive')).status).toBe(204);
      expect((await send(h, tokens.sport!, 'PUT', `/flows/${id(archived)}/tags/genre`, 'football')).status).toBe(204);
      expect((await send(h, tokens.news!, 'DELETE', `/sources/${source(sportA)}/tags/auth_classes`)).status).toBe(404);
      expect((await send(h, tokens.admin!, 'DELETE', `/flows/${id(archived)}/tags/auth_classes`)).status).toBe(204);
    });

    it('a flow added to an existing source needs write permission on the source', async () => {
      const onNewsX = videoFlow({ source_id: source(newsX), tags: { auth_classes: 'sport' } });
      expect((await send(h, tokens.sport!, 'PUT', `/flows/${id(onNewsX)}`, onNewsX)).status).toBe(403);
      const onNewsY = videoFlow({ source_id: source(newsY), tags: { auth_classes: 'sport' } });
      expect((await send(h, tokens.sport!, 'PUT', `/flows/${id(onNewsY)}`, onNewsY)).status).toBe(403);
      const proxy = videoFlow({ source_id: source(newsX), label: 'news x proxy' });
      expect((await send(h, tokens.news!, 'PUT', `/flows/${id(proxy)}`, proxy)).status).toBe(201);
      // Without its own auth_classes, the flow takes its source's: Sport may read, not write.
      expect((await send(h, tokens.sport!, 'GET', `/flows/${id(proxy)}`)).status).toBe(200);
      expect((await send(h, tokens.sport!, 'PUT', `/flows/${id(proxy)}/label`, 'x')).status).toBe(403);
    });

    it('objects: re-use needs read on the object; GET lists readable flows only, 404 when none', async () => {
      const object = `obj-${randomUUID()}`;
      const segment = (start: number): Json => ({ object_id: object, timerange: `[${start}:0_${start + 2}:0)` });
      const fresh = `fresh-${randomUUID()}`;
      expect((await send(h, tokens.news!, 'POST', `/flows/${id(newsY)}/storage`, { object_ids: [object] })).status).toBe(201);
      expect((await send(h, tokens.sport!, 'POST', `/flows/${id(sportA)}/storage`, { object_ids: [fresh] })).status).toBe(201);
      expect((await send(h, tokens.news!, 'POST', `/flows/${id(newsY)}/segments`, segment(0))).status).toBe(201);
      expect((await send(h, tokens.sport!, 'GET', `/objects/${object}`)).status).toBe(404);
      const stolen = await send(h, tokens.sport!, 'POST', `/flows/${id(sportA)}/segments`, segment(0));
      expect([stolen.status, stolen.body.type]).toEqual([403, 'Forbidden']);
      const bulk = await send(h, tokens.sport!, 'POST', `/flows/${id(sportA)}/segments`, [segment(0), { object_id: fresh, timerange: '[2:0_4:0)' }]);
      expect(bulk.status).toBe(200);
      expect(bulk.body.failed_segments.map((f: Json) => (f.error as Json).type)).toEqual(['Forbidden']);
      // News re-uses it in News X, which Sport may read: Sport now sees the object through it.
      expect((await send(h, tokens.news!, 'POST', `/flows/${id(newsX)}/segments`, segment(10))).status).toBe(201);
      const seen = await send(h, tokens.sport!, 'GET', `/objects/${object}`);
      expect(seen.status).toBe(200);
      expect(seen.body.referenced_by_flows).toEqual([id(newsX)]);
      expect(seen.body.first_referenced_by_flow).toBeUndefined();
      expect((await send(h, tokens.news!, 'GET', `/objects/${object}`)).body.referenced_by_flows.sort()).toEqual([id(newsX), id(newsY)].sort());
      // Instances: write on every referencing flow.
      const instance = { url: 'https://cdn.example.com/copy', label: 'cdn' };
      expect((await send(h, tokens.sport!, 'POST', `/objects/${object}/instances`, instance)).status).toBe(403);
      expect((await send(h, tokens.news!, 'POST', `/objects/${object}/instances`, instance)).status).toBe(201);
      // Segments of a readable flow: sport reads News X's segments.
      expect((await send(h, tokens.sport!, 'GET', `/flows/${id(newsX)}/segments`)).body).toHaveLength(1);
    });

    it('webhooks: filters need read on the flows, webhooks carry their own classes, delete needs delete', async () => {
      const hook = (extra: Json = {}): Json => ({ url: 'https://hooks.example.com/in', events: ['flows/created'], ...extra });
      // A hidden flow or source in a filter is answered as an unknown one is (accepted: no
      // existence oracle), and the attempt is in the audit trail; its events never reach sport.
      const auditBefore = h.auditLines().length;
      const unknownFlow = await send(h, tokens.sport!, 'POST', '/service/webhooks', hook({ flow_ids: [randomUUID()] }));
      const hiddenFlow = await send(h, tokens.sport!, 'POST', '/service/webhooks', hook({ flow_ids: [id(newsY)] }));
      const hiddenSource = await send(h, tokens.sport!, 'POST', '/service/webhooks', hook({ source_ids: [source(newsY)] }));
      expect([unknownFlow.status, hiddenFlow.status, hiddenSource.status]).toEqual([201, 201, 201]);
      const written = h.auditLines().slice(auditBefore);
      expect(written.map((l: Json) => l.concealed)).toEqual([undefined, [`flow:${id(newsY)}`], [`source:${source(newsY)}`]]);
      expect((await send(h, tokens.sport!, 'POST', '/service/webhooks', hook({ tags: { auth_classes: 'news' } }))).status).toBe(403);
      const mine = await send(h, tokens.sport!, 'POST', '/service/webhooks', hook({ flow_ids: [id(newsX)], tags: { auth_classes: 'sport' } }));
      expect(mine.status).toBe(201);
      const hookId = mine.body.id as string;
      expect(mine.body.owner).toBeUndefined();
      expect((await send(h, tokens.news!, 'GET', `/service/webhooks/${hookId}`)).status).toBe(404);
      expect(((await send(h, tokens.news!, 'GET', '/service/webhooks')).body as Json[]).map((w) => w.id)).not.toContain(hookId);
      expect(((await send(h, tokens.sport!, 'GET', '/service/webhooks')).body as Json[]).map((w) => w.id)).toContain(hookId);
      expect((await send(h, tokens.news!, 'DELETE', `/service/webhooks/${hookId}`)).status).toBe(404);
      // The read scope alone may replace and delete a webhook (the note's ⚠️), given the classes.
      const reader = await sign({ sub: 'sport-reader', scope: scopeClaim(['read']), auth_classes: ['sport'] });
      expect((await send(h, reader, 'PUT', `/service/webhooks/${hookId}`, hook({ id: hookId, status: 'created', tags: { auth_classes: 'sport' } }))).status).toBe(201);
      const readOnly = await sign({ sub: 'sport-viewer', scope: scopeClaim(['read']), auth_classes: ['sport:read'] });
      expect((await send(h, readOnly, 'DELETE', `/service/webhooks/${hookId}`)).status).toBe(403);
      expect((await send(h, reader, 'DELETE', `/service/webhooks/${hookId}`)).status).toBe(204);
    });

    it('flow delete requests: admin lists them; delete permission on the flow reads one, even after the flow is gone', async () => {
      const doomed = videoFlow({ tags: { auth_classes: 'news' } });
      expect((await send(h, tokens.news!, 'PUT', `/flows/${id(doomed)}`, doomed)).status).toBe(201);
      const objectId = `d-${randomUUID()}`;
      expect((await send(h, tokens.news!, 'POST', `/flows/${id(doomed)}/storage`, { object_ids: [objectId] })).status).toBe(201);
      expect((await send(h, tokens.news!, 'POST', `/flows/${id(doomed)}/segments`, { object_id: objectId, timerange: '[0:0_1:0)' })).status).toBe(201);
      const deleted = await send(h, tokens.news!, 'DELETE', `/flows/${id(doomed)}`);
      expect(deleted.status).toBe(202);
      const requestId = deleted.body.id as string;
      expect(deleted.body.flow_auth_classes).toBeUndefined();
      for (let i = 0; i < 50 && (await send(h, tokens.admin!, 'GET', `/flow-delete-requests/${requestId}`)).body.status !== 'done'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect((await send(h, tokens.admin!, 'GET', `/flows/${id(doomed)}`)).status).toBe(404);
      const own = await send(h, tokens.news!, 'GET', `/flow-delete-requests/${requestId}`);
      expect([own.status, own.body.status, own.body.flow_auth_classes]).toEqual([200, 'done', undefined]);
      expect((await send(h, tokens.sport!, 'GET', `/flow-delete-requests/${requestId}`)).status).toBe(404);
      expect((await send(h, tokens.delete!, 'GET', `/flow-delete-requests/${requestId}`)).status).toBe(404);
      expect((await send(h, tokens.news!, 'GET', '/flow-delete-requests')).status).toBe(403);
      const listed = await send(h, tokens.admin!, 'GET', '/flow-delete-requests');
      expect((listed.body as Json[]).map((r) => r.id)).toContain(requestId);
      expect((listed.body as Json[]).every((r) => r.flow_auth_classes === undefined)).toBe(true);
    });

    it('service: POST needs admin, storage backends are listed to any scope', async () => {
      expect((await send(h, tokens.news!, 'POST', '/service', { name: 'mine' })).status).toBe(403);
      expect((await send(h, tokens.admin!, 'POST', '/service', { name: 'TAMS' })).status).toBe(200);
      expect((await send(h, tokens.delete!, 'GET', '/service/storage-backends')).body).toHaveLength(1);
    });

    it('GraphQL reads and writes through the same policy', async () => {
      const list = await graphql(h, tokens.sport!, '{ flows(first: 1000) { nodes { id } } }');
      const ids = ((list.data?.flows as Json).nodes as Json[]).map((n) => n.id);
      expect(ids).toContain(id(newsX));
      expect(ids).not.toContain(id(newsY));
      const hidden = await graphql(h, tokens.sport!, 'query($id: ID!) { flow(id: $id) { id } }', { id: id(newsY) });
      expect(hidden.data?.flow).toBeNull();
      const shared = await graphql(h, tokens.sport!, 'query($id: ID!) { flow(id: $id) { id source { id } } }', { id: id(newsX) });
      expect(shared.data?.flow).toEqual({ id: id(newsX), source: { id: source(newsX) } });
      const write = await graphql(h, tokens.sport!, 'mutation($id: ID!) { setFlowLabel(flowId: $id, label: "x") { id } }', { id: id(newsX) });
      expect(write.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const gone = await graphql(h, tokens.sport!, 'mutation($id: ID!) { deleteFlow(id: $id) { done } }', { id: id(newsY) });
      expect(gone.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      const escalate = await graphql(h, tokens.sport!, 'mutation($id: ID!) { setFlowTag(flowId: $id, name: "auth_classes", value: ["sport", "news"]) { id } }', { id: id(sportA) });
      expect(escalate.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    });
  });

  describe('AUTH_DEFAULT_CLASSES', () => {
    let d: Harness;
    let staff: string;
    let news: string;

    beforeAll(async () => {
      d = await startHarness({ TAMS_AUTH: 'on', AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE, AUTH_DEFAULT_CLASSES: 'staff' });
      const issued = await embeddedTokens(d.dataDir, ISSUER, AUDIENCE);
      staff = await issued.sign({ sub: 'staff', scope: scopeClaim(['read', 'write']), auth_classes: ['staff'] });
      news = await issued.sign({ sub: 'news', scope: scopeClaim(['read', 'write']), auth_classes: ['news'] });
    });
    afterAll(async () => {
      await d.close();
    });

    it('untagged resources carry the default classes', async () => {
      const untagged = videoFlow();
      expect((await send(d, staff, 'PUT', `/flows/${untagged.id as string}`, untagged)).status).toBe(201);
      expect((await send(d, staff, 'GET', `/flows/${untagged.id as string}`)).status).toBe(200);
      expect((await send(d, news, 'GET', `/flows/${untagged.id as string}`)).status).toBe(404);
      const tagged = videoFlow({ tags: { auth_classes: 'news' } });
      expect((await send(d, news, 'PUT', `/flows/${tagged.id as string}`, tagged)).status).toBe(201);
      expect((await send(d, news, 'GET', `/flows/${tagged.id as string}`)).status).toBe(200);
      // The local storage backend has no auth_classes: it carries the default too.
      expect((await send(d, news, 'GET', '/service/storage-backends')).body).toEqual([]);
      expect((await send(d, staff, 'GET', '/service/storage-backends')).body).toHaveLength(1);
    });
  });
});
