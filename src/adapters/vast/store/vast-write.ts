/**
 * One run of a VAST write transaction and the events it writes (appended in order, through the
 * outbox's counter row, when the work is done). Shared by the document writers (documents.ts,
 * source-collections.ts).
 */
import type { TamsEventPayload } from '../../../domain/events';
import type { EventContext } from '../../../ports/webhook-delivery';
import type { VastTransaction } from '../client/vast-transaction';
import { readContexts, type PendingEvent } from './event-context';
import { appendEvents } from './outbox';
import type { VastStoreTables } from './vast-tables';

export class VastWrite {
  private readonly events: PendingEvent[] = [];

  constructor(
    readonly tx: VastTransaction,
    readonly tables: VastStoreTables,
    readonly now: string,
  ) {}

  /**
   * Records an event with its context as the rows are now (what the SQL stores' append sees), or
   * `context` when given (a resource about to be deleted: computed from its documents first).
   */
  async event(payload: TamsEventPayload, ids: { flow_id?: string; source_id?: string } = {}, context?: EventContext | null): Promise<void> {
    const event: { payload: TamsEventPayload; timestamp: string; flowId?: string; sourceId?: string; context?: EventContext | null } = { payload, timestamp: this.now };
    if (ids.flow_id !== undefined) event.flowId = ids.flow_id;
    if (ids.source_id !== undefined) event.sourceId = ids.source_id;
    event.context = context !== undefined ? context : ((await readContexts(this.tx, this.tables, [event]))[0] ?? null);
    this.events.push(event);
  }

  async flush(): Promise<void> {
    await appendEvents(this.tx, this.tables, this.events.splice(0));
  }
}
