import { randomUUID } from 'node:crypto';
import type { Webhook, WebhookStatus } from '../domain/entities';
import { TamsError } from '../domain/errors';
import type { TamsEventType } from '../domain/events';
import type { MetadataStore, TagFilter } from '../ports/metadata-store';
import type { Clock } from '../ports/clock';
import type { Principal, Scope } from '../domain/principal';
import type { PageCursorCodec } from './page-cursor';
import type { CursorPage, ListOptions } from './flow-service';
import type { RequestContext } from './request-context';
import { AccessPolicy, authClassesOf, enforce, requireAuthClassChange } from './access-policy';
import { ResourceAccess } from './resource-access';
import { WebhookUrlPolicy } from './webhook-url-policy';

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
/** Store pages a listing reads at most to fill one page for a request that may not read every webhook. */
const SCAN_PAGES_PER_LIST = 10;

/**
 * A registration as stored: besides `owner` (the subject), what the owner was allowed when it
 * last created or replaced the webhook. Events are checked one by one against these
 * (AppNote 0016, `canSeeEvent`). Whoever replaces a webhook becomes its owner, so nobody can
 * point someone else's webhook at their own receiver and get events they may not read.
 */
export interface StoredWebhook extends Webhook {
  owner_scopes?: Scope[];
  owner_auth_classes?: string[];
  owner_authenticated?: boolean;
}

/**
 * The principal a webhook's events are checked against (for the delivery worker and
 * `canSeeEvent`). A registration without a recorded owner (made before authorization
 * existed) gets a principal that may see nothing.
 */
export function webhookOwner(webhook: Webhook): Principal {
  const stored = webhook as StoredWebhook;
  return {
    subject: webhook.owner ?? '',
    scopes: stored.owner_scopes ?? [],
    authClasses: stored.owner_auth_classes ?? [],
    method: 'none',
    authenticated: stored.owner_authenticated ?? false,
  };
}

function ownedBy(principal: Principal): Pick<StoredWebhook, 'owner' | 'owner_scopes' | 'owner_auth_classes' | 'owner_authenticated'> {
  return {
    owner: principal.subject,
    owner_scopes: [...principal.scopes],
    owner_auth_classes: [...principal.authClasses],
    owner_authenticated: principal.authenticated,
  };
}

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
  // Set by delivery: why it stopped (`error`), or which events retention made it skip.
  if (w.error !== undefined) view.error = w.error;
  return view;
}

function isUrlIdKey(key: unknown): key is [string, string] {
  return Array.isArray(key) && key.length === 2 && typeof key[0] === 'string' && typeof key[1] === 'string';
}

function compareByUrl(a: Webhook, b: Webhook): number {
  if (a.url !== b.url) return a.url < b.url ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Webhook registrations (delivery is a later worker). Access (AppNote 0016): a webhook's
 * own `auth_classes` tag decides who may read (list, get), write (replace) or delete it;
 * filters on flows or sources need read permission on each of them; changing the webhook's
 * `auth_classes` needs a grant on every class added or removed.
 */
export class WebhookService {
  private readonly access: ResourceAccess;

  constructor(
    readonly store: MetadataStore,
    readonly clock: Clock,
    private readonly cursors: PageCursorCodec,
    access?: ResourceAccess,
    /** Which addresses webhook URLs may target; by default literal private addresses and known names are refused. */
    private readonly urlPolicy: WebhookUrlPolicy = new WebhookUrlPolicy({ allowPrivate: false }),
    /** Registrations one owner may hold (TAMS_WEBHOOKS_PER_OWNER); 0 for no limit. */
    private readonly perOwner = 0,
  ) {
    this.access = access ?? new ResourceAccess(store, new AccessPolicy());
  }

  private async existing(ctx: RequestContext, id: string, permission: 'read' | 'write' | 'delete'): Promise<Webhook> {
    const webhook = await this.store.getWebhook(id);
    if (!webhook) throw new TamsError('not_found', `Webhook ${id} does not exist`);
    if (!this.access.unrestricted(ctx.principal)) {
      enforce(this.access.policy.decide(ctx.principal, permission, authClassesOf(webhook.tags)), `Webhook ${id}`, permission);
    }
    return webhook;
  }

  private readable(ctx: RequestContext, webhooks: Webhook[]): Webhook[] {
    if (this.access.unrestricted(ctx.principal)) return webhooks;
    return webhooks.filter((w) => this.access.policy.can(ctx.principal, 'read', authClassesOf(w.tags)));
  }

  /** A webhook may only filter on flows and sources the request may read (unknown ids hide nothing). */
  /**
   * Filters may name flows and sources that do not exist (yet). One the request may not see is
   * treated exactly as one that does not exist (accepted, its events never delivered to this
   * caller, whose permissions are checked per event), so the answer tells nothing about it;
   * the attempt is recorded. One it sees but may not read is a 403.
   */
  private async checkFilters(ctx: RequestContext, body: WebhookBody): Promise<void> {
    if (this.access.unrestricted(ctx.principal)) return;
    const flowIds = [...new Set([...(body.flow_ids ?? []), ...(body.flow_collected_by_ids ?? [])])];
    const sourceIds = [...new Set([...(body.source_ids ?? []), ...(body.source_collected_by_ids ?? [])])];
    for (const flow of await this.store.getFlows(flowIds)) {
      if (flow === undefined) continue;
      const decision = await this.access.decideOnFlow(ctx.principal, 'read', flow);
      if (decision === 'not_found') ctx.concealed?.(`flow:${flow.id}`);
      else await this.access.checkFlow(ctx.principal, 'read', flow);
    }
    for (const source of await this.store.getSources(sourceIds)) {
      if (source === undefined) continue;
      if (this.access.decideOnSource(ctx.principal, 'read', source) === 'not_found') ctx.concealed?.(`source:${source.id}`);
      else this.access.checkSource(ctx.principal, 'read', source);
    }
  }

  private static filters(body: WebhookBody): Partial<Webhook> {
    const out: Partial<Webhook> = {};
    for (const field of FILTER_FIELDS) {
      if (body[field] !== undefined) (out as Record<string, unknown>)[field] = body[field];
    }
    return out;
  }

  /**
   * Every registration costs delivery work on every commit, so one owner may hold at most
   * `perOwner` (400: the status the spec declares for a refused registration). Checked before
   * the write, so concurrent registrations may pass it by a few.
   */
  private async checkOwnerLimit(ctx: RequestContext): Promise<void> {
    if (this.perOwner === 0) return;
    if ((await this.store.countWebhooksOwnedBy(ctx.principal.subject)) >= this.perOwner) {
      throw bad(`This owner already has ${this.perOwner} webhooks, the most one may register (TAMS_WEBHOOKS_PER_OWNER): delete some first`);
    }
  }

  /** POST /service/webhooks: a new registration with a server-generated id, owned by the caller. */
  async create(ctx: RequestContext, body: WebhookBody): Promise<WebhookView> {
    checkUrl(body.url);
    checkApiKey(body.api_key_name, body.api_key_value);
    await this.checkFilters(ctx, body);
    await this.urlPolicy.check(body.url);
    requireAuthClassChange(ctx.principal, undefined, authClassesOf(body.tags), 'a webhook');
    await this.checkOwnerLimit(ctx);
    const webhook: StoredWebhook = {
      id: randomUUID(),
      url: body.url,
      events: body.events,
      status: body.status ?? 'created',
      ...(body.api_key_name === undefined ? {} : { api_key_name: body.api_key_name, api_key_value: body.api_key_value }),
      ...WebhookService.filters(body),
      ...ownedBy(ctx.principal),
      created: new Date(this.clock.nowMs()).toISOString(),
    };
    await this.store.putWebhook(webhook);
    return webhookView(webhook);
  }

  async get(ctx: RequestContext, id: string): Promise<WebhookView> {
    return webhookView(await this.existing(ctx, id, 'read'));
  }

  /**
   * PUT /service/webhooks/{id}: replaces the registration. An omitted api_key_value keeps
   * the stored one (clients never see it, so cannot send it back) while the url stays on the
   * same origin (scheme, host and port); moving the url elsewhere needs the key sent again,
   * or whoever may PUT the webhook could have the owner's key delivered to an address of
   * theirs. An omitted api_key_name removes the key. The caller becomes the owner.
   */
  async update(ctx: RequestContext, id: string, body: WebhookBody): Promise<WebhookView> {
    if (body.id !== id) throw bad(`Webhook id in the body (${String(body.id)}) does not match the path (${id})`);
    const current = await this.existing(ctx, id, 'write');
    await this.checkFilters(ctx, body);
    requireAuthClassChange(ctx.principal, authClassesOf(current.tags), authClassesOf(body.tags), `webhook ${id}`);
    checkUrl(body.url);
    await this.urlPolicy.check(body.url);
    const kept = sameOrigin(current.url, body.url) ? current.api_key_value : undefined;
    if (body.api_key_name !== undefined && body.api_key_value === undefined && kept === undefined && current.api_key_value !== undefined) {
      throw bad('The webhook url moves to another origin: send api_key_value again (the stored key is never sent to a new address)');
    }
    const keyValue = body.api_key_name === undefined ? body.api_key_value : (body.api_key_value ?? kept);
    checkApiKey(body.api_key_name, keyValue);
    const status = nextStatus(current.status, body.status ?? 'created');
    if (current.owner !== ctx.principal.subject) await this.checkOwnerLimit(ctx);
    const webhook: StoredWebhook = {
      id,
      url: body.url,
      events: body.events,
      status,
      ...(body.api_key_name === undefined ? {} : { api_key_name: body.api_key_name, api_key_value: keyValue }),
      ...WebhookService.filters(body),
      ...ownedBy(ctx.principal),
      ...(current.created === undefined ? {} : { created: current.created }),
    };
    await this.store.putWebhook(webhook);
    return webhookView(webhook);
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    await this.existing(ctx, id, 'delete');
    if (!(await this.store.deleteWebhook(id))) throw new TamsError('not_found', `Webhook ${id} does not exist`);
  }

  /**
   * Sorted by url then id (ADR 0052), or the reverse; only webhooks the request may read. A
   * page of a restricted request may come back short (with a cursor to go on from).
   */
  async list(ctx: RequestContext, filter: { tags?: TagFilter; reverse: boolean }, options: ListOptions): Promise<CursorPage<WebhookView>> {
    const storeFilter = filter.tags === undefined ? {} : { tags: filter.tags };
    if (!filter.reverse) {
      const listing = 'webhooks:url';
      let after = options.page === undefined ? undefined : this.cursors.decode(listing, options.page);
      const scans = this.access.unrestricted(ctx.principal) ? 1 : SCAN_PAGES_PER_LIST;
      const items: Webhook[] = [];
      let page: { items: Webhook[]; next?: unknown } = { items: [] };
      for (let scanned = 0; scanned < scans && items.length < options.limit; scanned++) {
        page = await this.store.listWebhooks(storeFilter, { limit: options.limit - items.length, ...(after === undefined ? {} : { after }) });
        items.push(...this.readable(ctx, page.items));
        if (page.next === undefined) break;
        after = page.next;
      }
      return {
        items: items.map(webhookView),
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
      all.push(...this.readable(ctx, page.items));
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

/** Whether two webhook urls share scheme, host and port (the default port written or not). */
function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}
