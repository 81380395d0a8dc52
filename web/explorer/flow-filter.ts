/** The explorer's flow list: filters applied in the page, and flows grouped under their sources. */
import type { FlowSummary } from './operations';

/** The flow formats TAMS defines, for the format filter. */
export const FLOW_FORMATS = [
  'urn:x-nmos:format:video',
  'urn:x-nmos:format:audio',
  'urn:x-nmos:format:data',
  'urn:x-tam:format:image',
  'urn:x-nmos:format:multi',
] as const;

/** Every word of `text` appears (case-insensitively) in the flow's ids, labels, description, codec or tags. */
export function matchesText(flow: FlowSummary, text: string): boolean {
  const words = text.toLowerCase().split(/\s+/).filter((w) => w !== '');
  if (words.length === 0) return true;
  const tagText = Object.entries(flow.tags ?? {}).flatMap(([name, value]) => [name, ...(Array.isArray(value) ? value : [value])]);
  const haystack = [flow.id, flow.sourceId, flow.label, flow.description, flow.codec, flow.container, flow.format, flow.source?.label, ...tagText]
    .filter((part): part is string => typeof part === 'string')
    .join('\n')
    .toLowerCase();
  return words.every((w) => haystack.includes(w));
}

/** Case-insensitive substring of the flow's label (the REST `label` filter is an exact match; this one is for typing). */
export function matchesLabel(flow: FlowSummary, label: string): boolean {
  const wanted = label.trim().toLowerCase();
  return wanted === '' || (flow.label ?? '').toLowerCase().includes(wanted);
}

export interface SourceGroup {
  sourceId: string;
  label: string | null;
  flows: FlowSummary[];
}

/** Flows under their sources, sources by label then id, flows by label then id. */
export function groupBySource(flows: readonly FlowSummary[]): SourceGroup[] {
  const groups = new Map<string, SourceGroup>();
  for (const flow of flows) {
    const group = groups.get(flow.sourceId) ?? { sourceId: flow.sourceId, label: flow.source?.label ?? null, flows: [] };
    group.flows.push(flow);
    groups.set(flow.sourceId, group);
  }
  const byLabel = (a: { label: string | null; id: string }, b: { label: string | null; id: string }): number =>
    (a.label ?? '').localeCompare(b.label ?? '') || a.id.localeCompare(b.id);
  const sorted = [...groups.values()].sort((a, b) => byLabel({ label: a.label, id: a.sourceId }, { label: b.label, id: b.sourceId }));
  for (const g of sorted) g.flows.sort(byLabel);
  return sorted;
}
