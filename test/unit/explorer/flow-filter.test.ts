import { groupBySource, matchesLabel, matchesText } from '../../../web/explorer/flow-filter';
import type { FlowSummary } from '../../../web/explorer/operations';

function flow(overrides: Partial<FlowSummary>): FlowSummary {
  return {
    id: 'f',
    sourceId: 's',
    format: 'urn:x-nmos:format:video',
    label: null,
    description: null,
    codec: null,
    container: null,
    tags: null,
    source: null,
    ...overrides,
  };
}

describe('explorer flow list', () => {
  it('matches every typed word against ids, labels and tags', () => {
    const f = flow({ id: 'abc-123', label: 'Camera One', tags: { genre: ['news', 'live'] }, source: { id: 's', label: 'Studio A' } });
    expect(matchesText(f, '')).toBe(true);
    expect(matchesText(f, 'camera news')).toBe(true);
    expect(matchesText(f, 'studio abc')).toBe(true);
    expect(matchesText(f, 'camera sport')).toBe(false);
    expect(matchesLabel(f, 'one')).toBe(true);
    expect(matchesLabel(f, 'two')).toBe(false);
  });

  it('groups flows under their sources, both in label order', () => {
    const groups = groupBySource([
      flow({ id: 'v', sourceId: 's2', label: 'video', source: { id: 's2', label: 'B' } }),
      flow({ id: 'a', sourceId: 's1', label: 'audio', source: { id: 's1', label: 'A' } }),
      flow({ id: 'c', sourceId: 's2', label: 'audio', source: { id: 's2', label: 'B' } }),
    ]);
    expect(groups.map((g) => [g.sourceId, g.flows.map((f) => f.id)])).toEqual([
      ['s1', ['a']],
      ['s2', ['c', 'v']],
    ]);
  });
});
