import type { SegmentRecord } from '../../../domain/entities';
import type { TimeRange } from '../../../domain/timerange';
import type { Page, PageRequest, SegmentQuery, SegmentTextPage } from '../../../ports/metadata-store';
import type { VastClient } from '../client/vast-client';
import { listSegmentsPage } from './segment-window';
import type { VastStoreTables } from './vast-tables';

export async function listSegments(client: VastClient, tables: VastStoreTables, flowId: string, query: SegmentQuery, page: PageRequest): Promise<Page<SegmentRecord>> {
  return listSegmentsPage(client, tables, flowId, query, page);
}
export async function listSegmentTexts(_client: VastClient, _tables: VastStoreTables, _flowId: string, _query: SegmentQuery, _page: PageRequest): Promise<SegmentTextPage> {
  return Promise.reject(new Error('VAST store: listSegmentTexts is not written yet'));
}
export async function getFlowTimerange(_client: VastClient, _tables: VastStoreTables, _flowId: string, _within: TimeRange): Promise<TimeRange> {
  return Promise.reject(new Error('VAST store: getFlowTimerange is not written yet'));
}
export async function countSegments(_client: VastClient, _tables: VastStoreTables, _flowId: string): Promise<number> {
  return Promise.reject(new Error('VAST store: countSegments is not written yet'));
}
