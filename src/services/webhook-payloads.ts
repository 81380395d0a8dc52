/**
 * What a webhook is sent for an event, decided when each attempt is sent: whether the owner
 * may see the event now, and the TAMS envelope `{event_timestamp, event_type, event}`, whose
 * segments carry get_urls signed for this attempt under the webhook's `accept_get_urls`,
 * `accept_storage_ids`, `presigned` and `verbose_storage`, and their object's timerange with
 * `include_object_timerange`.
 */
import type { Flow, ObjectRecord, Source, Webhook } from '../domain/entities';
import type { Principal } from '../domain/principal';
import type { Clock } from '../ports/clock';
import type { MetadataStore } from '../ports/metadata-store';
import type { ContextualEvent } from '../ports/webhook-delivery';
import { authClassesOf, type ResourceClasses } from './access-policy';
import { GetUrlBuilder } from './get-urls';
import type { ObjectStores } from './object-stores';
import type { ResourceAccess } from './resource-access';
import { eventFlowId, eventSourceId } from './webhook-matching';

export interface WebhookPayloadOptions {
  /** Where the gateway's own URLs (local media) start: TAMS_PUBLIC_URL. */
  baseUrl: string;
  /** How long signed get_urls work after the attempt. */
  presignedUrlTimeoutSec: number;
}

/** A resource gone with nothing remembered about it: only admin sees its events. */
const UNKNOWN: ResourceClasses = [];

function classesOfTag(tag: string | string[] | undefined): ResourceClasses {
  return tag === undefined ? undefined : authClassesOf({ auth_classes: tag });
}

/** Reads for one batch of events: each flow and source looked up once. */
export class WebhookEventBatch {
  private readonly flows = new Map<string, Promise<Flow | undefined>>();
  private readonly sources = new Map<string, Promise<Source | undefined>>();

  constructor(
    private readonly store: MetadataStore,
    private readonly access: ResourceAccess,
  ) {}

  private flow(id: string): Promise<Flow | undefined> {
    let found = this.flows.get(id);
    if (found === undefined) this.flows.set(id, (found = this.store.getFlow(id)));
    return found;
  }

  private source(id: string): Promise<Source | undefined> {
    let found = this.sources.get(id);
    if (found === undefined) this.sources.set(id, (found = this.store.getSource(id)));
    return found;
  }

  /** The classes of the event's flow or source as stored now; `absent` when it does not exist (any more). */
  private async currentClassesOf(event: ContextualEvent): Promise<ResourceClasses | 'absent'> {
    if (event.event_type.startsWith('flows/')) {
      const id = eventFlowId(event);
      const flow = id === undefined ? undefined : await this.flow(id);
      return flow === undefined ? 'absent' : this.access.classesOfFlow(flow);
    }
    const id = eventSourceId(event);
    const source = id === undefined ? undefined : await this.source(id);
    return source === undefined ? 'absent' : authClassesOf(source.tags);
  }

  /** The classes the event's resource had when the event committed; `unknown` when nothing was recorded. */
  private static storedClassesOf(event: ContextualEvent): ResourceClasses | 'unknown' {
    const context = event.context;
    if (context === undefined) return 'unknown';
    if (event.event_type.startsWith('flows/')) return classesOfTag(context.flow_classes) ?? classesOfTag(context.source_classes);
    return classesOfTag(context.source_classes);
  }

  /**
   * The class sets the event must pass, every one of them: those its resource had when it
   * committed (a flow deleted and re-created under the same id by someone else does not
   * reveal the old one's events), and, while the resource exists, those it has now (a flow
   * restricted after its events hides them). An event with no recorded context whose
   * resource is gone is for admin only.
   */
  async classesOf(event: ContextualEvent): Promise<ResourceClasses[]> {
    const stored = WebhookEventBatch.storedClassesOf(event);
    const current = await this.currentClassesOf(event);
    const sets: ResourceClasses[] = [];
    if (stored !== 'unknown') sets.push(stored);
    if (current !== 'absent') sets.push(current);
    return sets.length > 0 ? sets : [UNKNOWN];
  }

  async visibleTo(owner: Principal, event: ContextualEvent): Promise<boolean> {
    if (this.access.unrestricted(owner)) return true;
    const sets = await this.classesOf(event);
    return sets.every((classes) => this.access.policy.canSeeEvent(owner, event, classes));
  }
}

export class WebhookPayloads {
  /**
   * The objects of each event's segments, read once for every webhook sent the same event read
   * (the delivery worker shares reads between webhooks); URLs are still signed per attempt.
   */
  private readonly objectsOf = new WeakMap<ContextualEvent, Promise<Map<string, ObjectRecord>>>();

  constructor(
    private readonly store: MetadataStore,
    private readonly stores: ObjectStores,
    private readonly access: ResourceAccess,
    private readonly clock: Clock,
    private readonly options: WebhookPayloadOptions,
  ) {}

  batch(): WebhookEventBatch {
    return new WebhookEventBatch(this.store, this.access);
  }

  /** The JSON body of one attempt. */
  async body(webhook: Webhook, owner: Principal, event: ContextualEvent): Promise<string> {
    const envelope = { event_timestamp: event.event_timestamp, event_type: event.event_type, event: event.event };
    if (event.event_type !== 'flows/segments_added') return JSON.stringify(envelope);
    const payload = event.event as { flow_id: string; segments: Record<string, unknown>[] };
    return JSON.stringify({ ...envelope, event: { ...payload, segments: await this.segments(webhook, owner, event, payload.segments) } });
  }

  private objects(event: ContextualEvent, segments: Record<string, unknown>[]): Promise<Map<string, ObjectRecord>> {
    let found = this.objectsOf.get(event);
    if (found === undefined) {
      const ids = [...new Set(segments.map((s) => s.object_id).filter((id): id is string => typeof id === 'string'))];
      found = this.store.getObjects(ids).then((records) => {
        const objects = new Map<string, ObjectRecord>();
        records.forEach((o) => {
          if (o !== undefined) objects.set(o.id, o);
        });
        return objects;
      });
      this.objectsOf.set(event, found);
      found.catch(() => this.objectsOf.delete(event));
    }
    return found;
  }

  private async segments(webhook: Webhook, owner: Principal, event: ContextualEvent, segments: Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
    const objects = await this.objects(event, segments);
    const urls = new GetUrlBuilder(
      this.stores,
      {
        ...(webhook.accept_get_urls === undefined ? {} : { acceptGetUrls: webhook.accept_get_urls }),
        ...(webhook.accept_storage_ids === undefined ? {} : { acceptStorageIds: webhook.accept_storage_ids }),
        ...(webhook.presigned === undefined ? {} : { presigned: webhook.presigned }),
        verbose: webhook.verbose_storage === true,
      },
      this.options.baseUrl,
      Math.floor(this.clock.nowMs() / 1000) + this.options.presignedUrlTimeoutSec,
      (backend) => this.access.canUseBackend(owner, 'read', backend),
    );
    urls.prepare([...objects.values()].map((o) => o.instances));
    return segments.map((segment) => {
      const object = typeof segment.object_id === 'string' ? objects.get(segment.object_id) : undefined;
      // An object collected since the event has no URL left to give.
      if (object === undefined) return segment;
      const out: Record<string, unknown> = { ...segment };
      if (webhook.include_object_timerange === true && out.object_timerange === undefined && object.timerange !== undefined) {
        out.object_timerange = object.timerange;
      }
      out.get_urls = urls.build(object.instances, object.uncontrolled_urls.length > 0 ? object.uncontrolled_urls : undefined);
      return out;
    });
  }
}
