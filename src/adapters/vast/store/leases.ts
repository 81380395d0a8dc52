import type { VastClient } from '../client/vast-client';
import type { VastStoreTables } from './vast-tables';

export async function acquireLease(_client: VastClient, _tables: VastStoreTables, _name: string, _holder: string, _ttlMs: number, _nowMs: number): Promise<boolean> {
  return Promise.reject(new Error('VAST store: acquireLease is not written yet'));
}
export async function releaseLease(_client: VastClient, _tables: VastStoreTables, _name: string, _holder: string): Promise<void> {
  return Promise.reject(new Error('VAST store: releaseLease is not written yet'));
}
