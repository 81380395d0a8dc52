import type { ServiceInfo } from '../../../domain/entities';
import type { VastClient } from '../client/vast-client';
import type { VastStoreTables } from './vast-tables';

export async function getServiceInfo(_client: VastClient, _tables: VastStoreTables): Promise<ServiceInfo> {
  return Promise.reject(new Error('VAST store: getServiceInfo is not written yet'));
}
export async function setServiceInfo(_client: VastClient, _tables: VastStoreTables, _info: ServiceInfo): Promise<ServiceInfo> {
  return Promise.reject(new Error('VAST store: setServiceInfo is not written yet'));
}
