/**
 * The access policy inside the services, with principals given directly and a real SQLite
 * store (no mocks): what the REST and GraphQL edges both rely on. Covers what HTTP cannot
 * reach in this configuration: a storage backend carrying auth_classes (get_urls, allocation,
 * listing), filtered listings paged to the end, batch reads for the GraphQL loaders, and the
 * per-event check of a webhook owner against events read from the outbox.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Flow, StorageBackend } from '../../src/domain/entities';
import { TamsError } from '../../src/domain/errors';
import { DEVELOPMENT_PRINCIPAL, type Principal, type Scope } from '../../src/domain/principal';
import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import { LocalObjectStore } from '../../src/adapters/local-objects/local-object-store';
import { ObjectStores } from '../../src/services/object-stores';
import { AccessPolicy, authClassesOf, canSeeEvent, flowClasses } from '../../src/services/access-policy';
import { FlowService } from '../../src/services/flow-service';
import { PageCursorCodec } from '../../src/services/page-cursor';
import { SegmentService } from '../../src/services/segment-service';
import { ServiceInfoService } from '../../src/services/service-info-service';
import { StorageService } from '../../src/services/storage-service';
import { WebhookService, webhookOwner } from '../../src/services/webhook-service';
import type { RequestContext } from '../../src/services/request-context';
import { ETERNITY } from '../../src/domain/timerange';
import { videoFlow } from '../fixtures/flows';

const clock = { nowMs: () => Date.now() };

function as(scopes: readonly Scope[], authClasses: readonly string[]): RequestContext {
  const principal: Principal = { subject: `p-${authClasses.join('-')}`, scopes, authClasses, method: 'bearer', authenticated: true };
  return { baseUrl: 'http://gateway.test', principal };
}

const ALL: readonly Scope[] = ['read', 'write', 'delete'];
const dev: RequestContext = { baseUrl: 'http://gateway.test', principal: DEVELOPMENT_PRINCIPAL };
// News shares with Sport through sport_ro, so it holds a grant on that class too.
const news = as(ALL, ['news', 'sport_ro:read']);
const sport = as(ALL, ['sport', 'sport_ro:read']);
const archivist = as(ALL, ['news', 'archive_ro:read']);

let dir: string;
let store: SqliteMetadataStore;
let flows: FlowService;
let segments: SegmentService;
let storage: StorageService;
let serviceInfo: ServiceInfoService;
let webhooks: WebhookService;
const backend: StorageBackend = {
  id: randomUUID(),
  label: 'archive',
  store_type: 'http_object_store',
  provider: 'test',
  store_product: 'local-directory',
  default_storage: true,
  tags: { auth_classes: 'news,archive_ro' },
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tams-authz-'));
  store = new SqliteMetadataStore({ filename: join(dir, 'tams.db') });
  await store.init();
  const objects = new LocalObjectStore({ rootDir: join(dir, 'objects'), secret: randomBytes(32), backend, maxObjectBytes: 1024 });
  const cursors = new PageCursorCodec(randomBytes(32));
  const policy = new AccessPolicy();
  flows = new FlowService(store, cursors, clock, policy);
  const stores = new ObjectStores([objects]);
  segments = new SegmentService(store, stores, flows, cursors, clock, { presignedUrlTimeoutSec: 3600, verifyUploads: false });
  storage = new StorageService(store, stores, flows, clock, 3600, 10);
  serviceInfo = new ServiceInfoService(store, stores, { defaultName: 't', serviceVersion: '0', minObjectTimeout: '3600:0', presignedUrlTimeout: '3600:0' }, policy);
  webhooks = new WebhookService(store, clock, cursors, flows.access);
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function put(ctx: RequestContext, overrides: Record<string, unknown>): Promise<Flow> {
  const body = videoFlow(overrides) as Flow;
  return (await flows.putFlow(ctx, body.id, body)).flow;
}

describe('storage backends with auth_classes', () => {
  let flow: Flow;
  const objectId = `o-${randomUUID()}`;

  beforeAll(async () => {
    flow = await put(news, { tags: { auth_classes: 'news,sport_ro' } });
    await storage.allocate(news, flow.id, { object_ids: [objectId] });
    expect(await segments.registerSegments(news, flow.id, [{ object_id: objectId, timerange: '[0:0_1:0)' }])).toEqual([]);
  });

  it('are listed to requests with any permission on them', () => {
    expect(serviceInfo.storageBackends(news)).toHaveLength(1);
    expect(serviceInfo.storageBackends(archivist)).toHaveLength(1);
    expect(serviceInfo.storageBackends(sport)).toEqual([]);
    expect(serviceInfo.storageBackends(dev)).toHaveLength(1);
  });

  it('limit get_urls to backends the request may read, leaving the list empty otherwise', async () => {
    const options = { limit: 10, getUrls: { verbose: false }, includeObjectTimerange: false };
    const forNews = await segments.listSegments(news, flow.id, { timerange: ETERNITY }, options);
    expect(forNews.items[0]!.get_urls).toHaveLength(1);
    const forSport = await segments.listSegments(sport, flow.id, { timerange: ETERNITY }, options);
    expect(forSport.items).toHaveLength(1);
    expect(forSport.items[0]!.get_urls).toEqual([]);
    const object = await storage.getObject(sport, objectId, { verbose: false }, { limit: 10 });
    expect(object.body.get_urls).toEqual([]);
    expect(object.body.referenced_by_flows).toEqual([flow.id]);
  });

  it('allocation needs write on the backend as well as on the flow', async () => {
    const readOnlyBackend = as(ALL, ['mine', 'archive_ro:read']);
    const own = await put(readOnlyBackend, { tags: { auth_classes: 'mine' } });
    await expect(storage.allocate(readOnlyBackend, own.id, { limit: 1 })).rejects.toMatchObject({ code: 'forbidden' });
    const stranger = as(ALL, ['other']);
    const theirs = await put(stranger, { tags: { auth_classes: 'other' } });
    await expect(storage.allocate(stranger, theirs.id, { limit: 1 })).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(storage.allocate(news, theirs.id, { limit: 1 })).rejects.toMatchObject({ code: 'not_found' });
  });
});

describe('filtered listings', () => {
  const label = `paged-${randomUUID()}`;
  const visible: string[] = [];

  beforeAll(async () => {
    // 30 flows, one in three readable by Sport: pages of 4 come back short but page to the end.
    for (let i = 0; i < 30; i++) {
      const flow = await put(news, { label, tags: { auth_classes: i % 3 === 0 ? 'news,sport_ro' : 'news' } });
      if (i % 3 === 0) visible.push(flow.id);
    }
  });

  it('page through exactly the readable items, each once', async () => {
    const seen: string[] = [];
    let page: string | undefined;
    let calls = 0;
    do {
      const result = await flows.listFlows(sport, { label }, { limit: 4, ...(page === undefined ? {} : { page }) });
      expect(result.items.length).toBeLessThanOrEqual(4);
      seen.push(...result.items.map((f) => f.id));
      page = result.next;
      calls++;
    } while (page !== undefined && calls < 50);
    expect(seen.sort()).toEqual([...visible].sort());
    const all = await flows.listFlows(news, { label }, { limit: 100 });
    expect(all.items).toHaveLength(30);
  });

  it('batch reads (GraphQL loaders) hide what has no permission and refuse what is not readable', async () => {
    const writer = as(['write'], ['news:write']);
    const [shared, hidden, unknown] = await flows.getFlows(sport, [visible[0]!, (await flows.listFlows(news, { label }, { limit: 2 })).items.find((f) => !visible.includes(f.id))!.id, randomUUID()]);
    expect((shared as Flow).id).toBe(visible[0]);
    expect(hidden).toBeUndefined();
    expect(unknown).toBeUndefined();
    const [refused] = await flows.getFlows(writer, [visible[0]!]);
    expect(refused).toBeInstanceOf(TamsError);
    expect((refused as TamsError).code).toBe('forbidden');
    const pages = await flows.listFirstFlowPages(sport, [{ label }], 100);
    expect(pages[0]!.items.map((f) => f.id).sort()).toEqual([...visible].sort());
  });
});

describe('webhook events, checked one by one against the owner', () => {
  it('records the owner and lets canSeeEvent decide per event with the resource classes of the moment', async () => {
    const hook = await webhooks.create(sport, { url: 'https://hooks.example.com/in', events: ['flows/created', 'flows/updated'] });
    const stored = await store.getWebhook(hook.id);
    const owner = webhookOwner(stored!);
    expect(owner).toMatchObject({ subject: sport.principal.subject, scopes: ALL, authClasses: ['sport', 'sport_ro:read'], authenticated: true });
    expect(hook).not.toHaveProperty('owner_scopes');
    expect(await webhooks.get(sport, hook.id)).not.toHaveProperty('owner_auth_classes');

    const start = await store.lastEventSeq();
    const shared = await put(news, { tags: { auth_classes: 'news,sport_ro' } });
    await put(news, { tags: { auth_classes: 'news' } });
    const events = (await store.readEvents(start, 100)).filter((e) => e.event_type === 'flows/created');
    const seen: string[] = [];
    for (const event of events) {
      const flow = await store.getFlow(event.flow_id!);
      const classes = flowClasses(flow!, await store.getSource(flow!.source_id));
      if (canSeeEvent(owner, event, classes)) seen.push(event.flow_id!);
    }
    expect(seen).toEqual([shared.id]);

    // Whoever replaces the webhook becomes the owner its events are checked against.
    await webhooks.update(news, hook.id, { id: hook.id, url: 'https://news.example.com/in', events: ['flows/created'], status: 'created' });
    const replaced = webhookOwner((await store.getWebhook(hook.id))!);
    expect(replaced.authClasses).toEqual(['news', 'sport_ro:read']);
    expect(webhookOwner({ id: 'x', url: 'u', events: [], status: 'created' }).scopes).toEqual([]);
  });
});

describe('unrestricted requests (admin, TAMS_AUTH=off)', () => {
  it('see and change everything, including auth_classes', async () => {
    const flow = await put(news, { tags: { auth_classes: 'news' } });
    expect((await flows.getFlow(dev, flow.id)).id).toBe(flow.id);
    await flows.properties.putFlowTag(dev, flow.id, 'auth_classes', 'anything');
    expect(authClassesOf((await flows.getFlow(dev, flow.id)).tags)).toEqual(['anything']);
    await expect(flows.getFlow(news, flow.id)).rejects.toMatchObject({ code: 'not_found' });
  });
});
