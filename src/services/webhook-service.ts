import { randomUUID } from 'node:crypto';
import type { Webhook, WebhookStatus } from '../domain/entities';
import { TamsError } from '../domain/errors';
import type { TamsEventType } from '../domain/events';
import type { MetadataStore, TagFilter } from '../ports/metadata-store';
import type { Clock } from '../ports/clock';
import type { PageCursorCodec } from './page-cursor';
import type { CursorPage, ListOptions } from './flow-service';

/** The fields a client sets (webhook-post.json / webhook-put.json), schema-valid. */
export type WebhookBody = Omit<Webhook, 'id' | 'events' | 'status' | 'error' | 'owner' | 'created'> & {
  id?: string;
  events: TamsEventType[];
  status?: 'created' | 'disabled';
};

/** What the API shows of a registration (webhook-get.json): never the key value. */
export type WebhookView = Omit<Webhook, 'api_key_value' | 'owner' | 'created'>;

const FILTER_FIELDS = [
  'flow_ids',
  'source_ids',
  'flow_collected_by_ids',
  'source_collected_by_ids',
  'accept_get_urls',
  'accept_storage_ids',
  'presigned',
  'verbose_storage',
  'include_object_timerange',
  'tags',
] as const;

/** RFC 9110 field-name (token). */
const HEADER_NAME_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 9110 field-value: visible characters, spaces and tabs, no leading or trailing whitespace. */
const HEADER_VALUE_RE = /^(?:[\x21-\x7e\x80-\xff](?:[\x20-\x7e\x80-\xff\t]*[\x21-\x7e\x80-\xff])?)?$/;
/** Headers delivery sets itself or that describe the connection: a key cannot replace them. */
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'proxy-connection',
]);

const REVERSE_SCAN_PAGE = 1000;

function bad(message: string): TamsError {
  return new TamsError('validation_failed', message);
}

function checkUrl(text: string): void {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw bad(`Webhook url ${JSON.stringify(text.slice(0, 64))} is not an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw bad(`Webhook url must use http or https, not ${url.protocol.slice(0, -1)}`);
  }
  if (url.hostname === '') throw bad('Webhook url has no host');
}

function checkApiKey(name: string | undefined, value: string | undefined): void {
  if (name === undefined) {
    if (value !== undefined) throw bad('api_key_value needs an api_key_name');
    return;
  }
  if (!HEADER_NAME_RE.test(name)) throw bad(`api_key_name ${JSON.stringify(name.slice(0, 64))} is not a valid HTTP header name`);
  if (RESERVED_HEADERS.has(name.toLowerCase())) throw bad(`api_key_name cannot be ${name}: delivery sets that header itself`);
  if (value === undefined) throw bad('api_key_name needs an api_key_value');
  if (!HEADER_VALUE_RE.test(value)) throw bad('api_key_value is not a valid HTTP header value');
}

/**
 * The status a client's PUT leads to. Clients ask for `created` (enable) or `disabled`; an
 * enabled webhook stays as it is, and an `error` webhook cannot go straight to `disabled`
 * (webhook-get.json).
 */
function nextStatus(current: WebhookStatus, requested: 'created' | 'disabled'): WebhookStatus {
  if (requested === 'disabled') {
    if (current === 'error') throw bad('A webhook in the error state cannot be disabled; re-enable it with status created, or delete it');
    return 'disabled';
  }
  return current === 'started' ? 'started' : 'created';
}

export function webhookView(w: Webhook): WebhookView {
  const view: WebhookView = { id: w.id, url: w.url, events: w.events, status: w.status };
  if (w.api_key_name !== undefined) view.api_key_name = w.api_key_name;
  for (const field of FILTER_FIELDS) {
    if (w[field] !== undefined) (view as Record<string, unknown>)[field] = w[field];
  }
  if (w.status === 'error' && w.error !== undefined) view.error = w.error;
  return view;
}

function isUrlIdKey(key: unknown): key is [string, string] {
  return Array.isArray(key) && key.length === 2 && typeof key[0] === 'string' && typeof key[1] === 'string';
}

function compareByUrl(a: Webhook, b: Webhook): number {
  if (a.url !== b.url) return a.url < b.url ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Webhook registrations (delivery is a later worker). */
export class WebhookService {
  constructor(
    readonly store: MetadataStore,
    readonly clock: Clock,
    private readonly cursors: PageCursorCodec,
  ) {}

  private async existing(id: string): Promise<Webhook> {
    const webhook = await this.store.getWebhook(id);
    if (!webhook) throw new TamsError('not_found', `Webhook ${id} does not exist`);
    return webhook;
  }

  private static filters(body: WebhookBody): Partial<Webhook> {
    const out: Partial<Webhook> = {};
    for (const field of FILTER_FIELDS) {
      if (body[field] !== undefined) (out as Record<string, unknown>)[field] = body[field];
    }
    return out;
  }

  /** POST /service/webhooks: a new registration with a server-generated id. */
  async create(body: WebhookBody): Promise<WebhookView> {
    checkUrl(body.url);
    checkApiKey(body.api_key_name, body.api_key_value);
    const webhook: Webhook = {
      id: randomUUID(),
      url: body.url,
      events: body.events,
      status: body.status ?? 'created',
      ...(body.api_key_name === undefined ? {} : { api_key_name: body.api_key_name, api_key_value: body.api_key_value }),
      ...WebhookService.filters(body),
      created: new Date(this.clock.nowMs()).toISOString(),
    };
    await this.store.putWebhook(webhook);
    return webhookView(webhook);
  }

  async get(id: string): Promise<WebhookView> {
    return webhookView(await this.existing(id));
  }

  /**
   * PUT /service/webhooks/{id}: replaces the registration. An omitted api_key_value keeps
   * the stored one (clients never see it, so cannot send it back); an omitted api_key_name
   * removes the key.
   */
  async update(id: string, body: WebhookBody): Promise<WebhookView> {
    if (body.id !== id) throw bad(`Webhook id in the body (${String(body.id)}) does not match the path (${id})`);
    const current = await this.existing(id);
    checkUrl(body.url);
    const keyValue = body.api_key_name === undefined ? body.api_key_value : (body.api_key_value ?? current.api_key_value);
    checkApiKey(body.api_key_name, keyValue);
    const status = nextStatus(current.status, body.status ?? 'created');
    const webhook: Webhook = {
      id,
      url: body.url,
      events: body.events,
      status,
      ...(body.api_key_name === undefined ? {} : { api_key_name: body.api_key_name, api_key_value: keyValue }),
      ...WebhookService.filters(body),
      ...(current.owner === undefined ? {} : { owner: current.owner }),
      ...(current.created === undefined ? {} : { created: current.created }),
    };
    await this.store.putWebhook(webhook);
    return webhookView(webhook);
  }

  async delete(id: string): Promise<void> {
    if (!(await this.store.deleteWebhook(id))) throw new TamsError('not_found', `Webhook ${id} does not exist`);
  }

  /** Sorted by url then id (ADR 0052), or the reverse. */
  async list(filter: { tags?: TagFilter; reverse: boolean }, options: ListOptions): Promise<CursorPage<WebhookView>> {
    const storeFilter = filter.tags === undefined ? {} : { tags: filter.tags };
    if (!filter.reverse) {
      const listing = 'webhooks:url';
      const after = options.page === undefined ? undefined : this.cursors.decode(listing, options.page);
      const page = await this.store.listWebhooks(storeFilter, { limit: options.limit, ...(after === undefined ? {} : { after }) });
      return {
        items: page.items.map(webhookView),
        limit: options.limit,
        ...(page.next === undefined ? {} : { next: this.cursors.encode(listing, page.next) }),
      };
    }
    // The store lists in ascending order only; registrations are few, so the reverse listing
    // is built from a full scan and paged by (url, id) keyset.
    const listing = 'webhooks:url:reverse';
    const after = options.page === undefined ? undefined : this.cursors.decode(listing, options.page);
    if (after !== undefined && !isUrlIdKey(after)) throw new TamsError('bad_cursor', 'Invalid page cursor');
    const all: Webhook[] = [];
    let next: unknown;
    do {
      const page = await this.store.listWebhooks(storeFilter, { limit: REVERSE_SCAN_PAGE, ...(next === undefined ? {} : { after: next }) });
      all.push(...page.items);
      next = page.next;
    } while (next !== undefined);
    all.sort((a, b) => compareByUrl(b, a));
    const start = after === undefined ? 0 : all.findIndex((w) => compareByUrl(w, { url: after[0], id: after[1] } as Webhook) < 0);
    const items = start < 0 ? [] : all.slice(start, start + options.limit);
    const last = items[items.length - 1];
    const more = start >= 0 && start + options.limit < all.length;
    return {
      items: items.map(webhookView),
      limit: options.limit,
      ...(more && last !== undefined ? { next: this.cursors.encode(listing, [last.url, last.id]) } : {}),
    };
  }
}
