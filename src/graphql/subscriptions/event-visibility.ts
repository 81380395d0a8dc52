import type { Flow, Source } from '../../domain/entities';
import type { OutboxEvent } from '../../domain/events';
import type { Principal } from '../../domain/principal';
import { type ResourceClasses, authClassesOf, isAdmin } from '../../services/access-policy';
import type { GraphqlServices } from '../context';
import type { EventVisibility } from './subscription-events';

/**
 * Reads what a decision about an event needs (the flow or source behind it). Unrestricted, so
 * the store's answer comes back as stored; it never serves a client.
 */
const EVENT_READER = Object.freeze<Principal>({
  subject: 'subscription-event-access',
  scopes: ['admin'],
  authClasses: [],
  method: 'none',
  authenticated: true,
});

/** Classes remembered per flow and source, for events about ones that are gone (deletions). */
const REMEMBERED = 10_000;

/**
 * A resource gone without this gateway ever having seen its classes: nobody but admin sees
 * its event (an empty `auth_classes` tag is closed to everyone else).
 */
const UNKNOWN: ResourceClasses = [];

/**
 * Subscribers see an event when `canSeeEvent` says so with the classes its resource has when
 * the event is delivered: those of the flow (its own `auth_classes`, else its source's) for
 * `flows/*`, those of the source for `sources/*`. Created and updated events carry the
 * resource; the others are looked up through the services. A deleted resource is no longer
 * stored, so the classes seen last for each flow and source are remembered.
 */
export class StoredEventVisibility implements EventVisibility {
  private readonly remembered = new Map<string, ResourceClasses>();

  constructor(private readonly services: GraphqlServices) {}

  seesAll(viewer: Principal): boolean {
    return isAdmin(viewer);
  }

  canSee(viewer: Principal, event: OutboxEvent, classes: ResourceClasses): boolean {
    return this.services.policy.canSeeEvent(viewer, event, classes);
  }

  async classesOf(event: OutboxEvent): Promise<ResourceClasses> {
    const access = this.services.flows.access;
    switch (event.event_type) {
      case 'flows/created':
      case 'flows/updated': {
        const { flow } = event.event as { flow: Flow };
        return this.remember(`flow:${flow.id}`, await access.classesOfFlow(flow));
      }
      case 'flows/deleted':
      case 'flows/segments_added':
      case 'flows/segments_deleted': {
        const id = event.flow_id ?? (event.event as { flow_id: string }).flow_id;
        const [flow] = await this.services.flows.getFlows({ baseUrl: '', principal: EVENT_READER }, [id]);
        if (flow === undefined || flow instanceof Error) return this.remembered.get(`flow:${id}`) ?? UNKNOWN;
        return this.remember(`flow:${id}`, await access.classesOfFlow(flow));
      }
      case 'sources/created':
      case 'sources/updated': {
        const { source } = event.event as { source: Source };
        return this.remember(`source:${source.id}`, authClassesOf(source.tags));
      }
      case 'sources/deleted': {
        const id = event.source_id ?? (event.event as { source_id: string }).source_id;
        const [source] = await this.services.flows.getSources({ baseUrl: '', principal: EVENT_READER }, [id]);
        if (source === undefined || source instanceof Error) return this.remembered.get(`source:${id}`) ?? UNKNOWN;
        return this.remember(`source:${id}`, authClassesOf(source.tags));
      }
    }
  }

  private remember(key: string, classes: ResourceClasses): ResourceClasses {
    this.remembered.delete(key);
    if (this.remembered.size >= REMEMBERED) this.remembered.delete(this.remembered.keys().next().value as string);
    this.remembered.set(key, classes);
    return classes;
  }
}
