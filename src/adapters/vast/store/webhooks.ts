/**
 * Webhook registrations and their delivery positions in VAST, and outbox retention (not written
 * yet: see issue 20).
 */
import type { Webhook } from '../../../domain/entities';
import type { Page, PageRequest, WebhookFilter } from '../../../ports/metadata-store';
import type { CursorMove, IdleCursorMove, OutboxPruned, WebhookBacklog, WebhookDelivery } from '../../../ports/webhook-delivery';
import type { VastClient } from '../client/vast-client';
import type { VastStoreTables } from './vast-tables';

function notYet(name: string): Error {
  return new Error(`VAST store: ${name} is not written yet`);
}

export async function getWebhook(_client: VastClient, _tables: VastStoreTables, _id: string): Promise<Webhook | undefined> {
  return Promise.reject(notYet('getWebhook'));
}
export async function listWebhooks(_client: VastClient, _tables: VastStoreTables, _filter: WebhookFilter, _page: PageRequest): Promise<Page<Webhook>> {
  return Promise.reject(notYet('listWebhooks'));
}
export async function putWebhook(_client: VastClient, _tables: VastStoreTables, _webhook: Webhook): Promise<void> {
  return Promise.reject(notYet('putWebhook'));
}
export async function deleteWebhook(_client: VastClient, _tables: VastStoreTables, _id: string): Promise<boolean> {
  return Promise.reject(notYet('deleteWebhook'));
}
export async function countWebhooksOwnedBy(_client: VastClient, _tables: VastStoreTables, _owner: string): Promise<number> {
  return Promise.reject(notYet('countWebhooksOwnedBy'));
}
export async function listWebhookDeliveries(_client: VastClient, _tables: VastStoreTables, _behind: boolean): Promise<WebhookDelivery[]> {
  return Promise.reject(notYet('listWebhookDeliveries'));
}
export async function getWebhookDelivery(_client: VastClient, _tables: VastStoreTables, _id: string): Promise<WebhookDelivery | undefined> {
  return Promise.reject(notYet('getWebhookDelivery'));
}
export async function advanceWebhookCursor(_client: VastClient, _tables: VastStoreTables, _id: string, _from: number, _to: number, _skipped?: Webhook['error']): Promise<boolean> {
  return Promise.reject(notYet('advanceWebhookCursor'));
}
export async function advanceWebhookCursors(_client: VastClient, _tables: VastStoreTables, _moves: readonly CursorMove[]): Promise<boolean[]> {
  return Promise.reject(notYet('advanceWebhookCursors'));
}
export async function advanceIdleWebhookCursors(_client: VastClient, _tables: VastStoreTables, _moves: readonly IdleCursorMove[]): Promise<number> {
  return Promise.reject(notYet('advanceIdleWebhookCursors'));
}
export async function recordWebhookFailure(_client: VastClient, _tables: VastStoreTables, _id: string, _attempts: number, _nextAttemptMs: number, _lastError: string): Promise<void> {
  return Promise.reject(notYet('recordWebhookFailure'));
}
export async function failWebhook(_client: VastClient, _tables: VastStoreTables, _id: string, _error: NonNullable<Webhook['error']>): Promise<boolean> {
  return Promise.reject(notYet('failWebhook'));
}
export async function outboxPruned(_client: VastClient, _tables: VastStoreTables): Promise<OutboxPruned> {
  return Promise.reject(notYet('outboxPruned'));
}
export async function pruneEvents(_client: VastClient, _tables: VastStoreTables, _before: string, _limit: number): Promise<number> {
  return Promise.reject(notYet('pruneEvents'));
}
export async function webhookBacklogs(_client: VastClient, _tables: VastStoreTables): Promise<WebhookBacklog[]> {
  return Promise.reject(notYet('webhookBacklogs'));
}
