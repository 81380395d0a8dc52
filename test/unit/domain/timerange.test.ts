import { TamsError } from '../../../src/domain/errors';
import {
  EMPTY,
  ETERNITY,
  TimeRange,
  compareTimeRanges,
  covers,
  equalTimeRanges,
  formatTimeRange,
  intersection,
  isEternity,
  overlaps,
  parseTimeRange,
  range,
  span,
  tryParseTimeRange,
} from '../../../src/domain/timerange';

const S = 1_000_000_000n;
const tr = (text: string): TimeRange => parseTimeRange(text);

describe('parseTimeRange: the forms of app note 0008', () => {
  it.each<[string, bigint | null, bigint | null]>([
    ['[0:0_10:0)', 0n, 10n * S],
    ['[0:0_10:0]', 0n, 10n * S + 1n],
    ['(0:0_10:0)', 1n, 10n * S],
    ['(0:0_10:0]', 1n, 10n * S + 1n],
    ['(5:0_', 5n * S + 1n, null],
    ['[5:0_', 5n * S, null],
    ['_10:0)', null, 10n * S],
    ['_10:0]', null, 10n * S + 1n],
    ['[1694429247:0_1694429248:0)', 1_694_429_247n * S, 1_694_429_248n * S],
    ['[10:0]', 10n * S, 10n * S + 1n],
    ['10:0', 10n * S, 10n * S + 1n],
    ['[-10:0_-5:500000000)', -10n * S, -5n * S - 500_000_000n],
    ['(-0:1_0:1]', 0n, 2n],
    ['[-1:0]', -S, -S + 1n],
    ['-1:0', -S, -S + 1n],
  ])('%s', (text, start, end) => {
    expect(parseTimeRange(text)).toEqual({ start, end, empty: false });
  });

  it('`_` is eternity', () => {
    expect(tr('_')).toEqual(ETERNITY);
    expect(isEternity(tr('_'))).toBe(true);
  });

  it('`()` is the empty range', () => {
    expect(tr('()')).toEqual(EMPTY);
    expect(tr('()').empty).toBe(true);
    expect(isEternity(tr('()'))).toBe(false);
  });

  it('an instant with both bounds written equals the short form', () => {
    expect(tr('[1694429247:0_1694429247:0]')).toEqual(tr('[1694429247:0]'));
  });

  describe('markers beside an omitted timestamp are ignored', () => {
    it.each([
      ['[_10:0)', '_10:0)'],
      ['(_10:0)', '_10:0)'],
      ['[_10:0]', '_10:0]'],
      ['[5:0_)', '[5:0_'],
      ['[5:0_]', '[5:0_'],
      ['(5:0_)', '(5:0_'],
      ['(_)', '_'],
      ['[_]', '_'],
      ['(_]', '_'],
      ['[_)', '_'],
      ['(_', '_'],
      ['_)', '_'],
    ])('%s equals %s', (withMarkers, without) => {
      expect(tr(withMarkers)).toEqual(tr(without));
    });
  });

  describe('ranges that contain no instant are empty', () => {
    it.each([
      ['[10:0_5:0)', 'end before start'],
      ['[10:0_5:0]', 'end before start, inclusive'],
      ['[-1:0_-2:0]', 'negative, end before start'],
      ['[5:0_5:0)', 'equal bounds, exclusive end'],
      ['(5:0_5:0]', 'equal bounds, exclusive start'],
      ['(5:0_5:0)', 'equal bounds, both exclusive'],
      ['(5:0_5:1)', 'one nanosecond apart, both exclusive: no integer nanosecond between'],
      ['[0:1_0:0]', 'end one nanosecond before start'],
    ])('%s (%s)', (text) => {
      expect(tr(text)).toEqual(EMPTY);
      expect(formatTimeRange(tr(text))).toBe('()');
    });

    it('equal bounds, both inclusive, is the instant', () => {
      expect(tr('[5:0_5:0]')).toEqual(tr('[5:0]'));
      expect(tr('[5:0_5:0]').empty).toBe(false);
    });

    it('one nanosecond apart with one exclusive bound is an instant', () => {
      expect(tr('(5:0_5:1]')).toEqual(tr('[5:1]'));
      expect(tr('[5:0_5:1)')).toEqual(tr('[5:0]'));
    });
  });

  // App note 0008: "treated as empty if ... the start and end are equal and either has an
  // exclusive marker". With no markers at all there is no exclusive marker, so the range is
  // the instant, as `10:0` alone already is.
  it('DOMAIN BUG: unmarked equal bounds `10:0_10:0` are the instant [10:0], not empty (app note 0008)', () => {
    expect(tr('10:0_10:0')).toEqual(tr('[10:0]'));
  });

  describe('rejects malformed text', () => {
    it.each([
      ['', 'empty string (never is `()`)'],
      [' ', 'whitespace'],
      ['[', 'lone marker'],
      [')', 'lone marker'],
      ['[]', 'inclusive markers without timestamps'],
      ['(]', 'mixed markers without timestamps'],
      ['[)', 'mixed markers without timestamps'],
      ['__', 'two separators'],
      ['[0:0_1:0_2:0)', 'three timestamps'],
      ['(10:0)', 'instant with exclusive markers'],
      ['[10:0)', 'instant with an exclusive end'],
      ['(10:0]', 'instant with an exclusive start'],
      ['10:0)', 'instant with only an exclusive marker'],
      ['[00:0_1:0)', 'leading zero in seconds'],
      ['[0:00_1:0)', 'leading zero in nanoseconds'],
      ['[0:0_1:1000000000)', 'nanoseconds too large'],
      ['[0:0 _1:0)', 'inner whitespace'],
      [' [0:0_1:0)', 'leading whitespace'],
      ['[0:0_1:0) ', 'trailing whitespace'],
      ['[0:0_1:0)\n', 'trailing newline'],
      ['{0:0_1:0}', 'wrong brackets'],
      ['[0:0,1:0)', 'comma separator'],
      ['[0:0-1:0)', 'dash separator'],
      ['[+1:0_2:0)', 'plus sign'],
      ['[0_1)', 'integers, not timestamps'],
      ['[0:0_1:0))', 'doubled marker'],
      ['[[0:0_1:0)', 'doubled marker'],
      [')0:0_1:0[', 'reversed markers'],
      ['[0.5:0_1:0)', 'decimal'],
      ['eternity', 'words'],
    ])('%j (%s)', (text) => {
      expect(tryParseTimeRange(text)).toBeUndefined();
      expect(() => parseTimeRange(text)).toThrow(TamsError);
    });

    it('throws bad_timerange (400) naming the input', () => {
      let caught: unknown;
      try {
        parseTimeRange('[00:0_1:0)');
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(TamsError);
      expect((caught as TamsError).code).toBe('bad_timerange');
      expect((caught as TamsError).status).toBe(400);
      expect((caught as TamsError).message).toContain('"[00:0_1:0)"');
    });
  });
});

describe('formatTimeRange: canonical text', () => {
  it.each([
    ['[0:0_10:0)', '[0:0_10:0)'],
    ['[0:0_10:0]', '[0:0_10:1)'],
    ['(0:0_10:0)', '[0:1_10:0)'],
    ['(5:0_', '[5:1_'],
    ['[5:0_', '[5:0_'],
    ['[5:0_)', '[5:0_'],
    ['_10:0)', '_10:0)'],
    ['[_10:0)', '_10:0)'],
    ['_10:0]', '_10:1)'],
    ['_', '_'],
    ['(_)', '_'],
    ['()', '()'],
    ['[10:5_3:0)', '()'],
    ['[10:0]', '[10:0]'],
    ['10:0', '[10:0]'],
    ['[10:0_10:0]', '[10:0]'],
    ['[10:0_10:1)', '[10:0]'],
    ['-1:0', '[-1:0]'],
    ['[-1:0_-0:1]', '[-1:0_0:0)'],
    ['[-2:500000000_-1:0)', '[-2:500000000_-1:0)'],
    ['[-0:0_0:1)', '[0:0]'],
  ])('%s -> %s', (text, canonical) => {
    expect(formatTimeRange(tr(text))).toBe(canonical);
  });

  it('formats half-open values built with range()', () => {
    expect(formatTimeRange(range(-1n, 0n))).toBe('[-0:1]');
    expect(formatTimeRange(range(null, null))).toBe('_');
    expect(formatTimeRange(range(3n, 3n))).toBe('()');
    expect(formatTimeRange(range(0n, null))).toBe('[0:0_');
  });
});

describe('range()', () => {
  it('normalises end <= start to EMPTY', () => {
    expect(range(5n, 5n)).toBe(EMPTY);
    expect(range(5n, 4n)).toBe(EMPTY);
    expect(range(5n, 6n)).toEqual({ start: 5n, end: 6n, empty: false });
  });

  it('EMPTY and ETERNITY are frozen', () => {
    expect(Object.isFrozen(EMPTY)).toBe(true);
    expect(Object.isFrozen(ETERNITY)).toBe(true);
  });
});

describe('clusivity at shared boundaries', () => {
  it('[1:0_2:0) and [2:0] do not overlap', () => {
    expect(overlaps(tr('[1:0_2:0)'), tr('[2:0]'))).toBe(false);
    expect(intersection(tr('[1:0_2:0)'), tr('[2:0]'))).toEqual(EMPTY);
  });

  it('[1:0_2:0] and [2:0] overlap, at exactly 2:0', () => {
    expect(overlaps(tr('[1:0_2:0]'), tr('[2:0]'))).toBe(true);
    expect(intersection(tr('[1:0_2:0]'), tr('[2:0]'))).toEqual(tr('[2:0]'));
  });

  it('adjacent half-open segments [0:0_1:0) and [1:0_2:0) do not overlap; their span is [0:0_2:0)', () => {
    expect(overlaps(tr('[0:0_1:0)'), tr('[1:0_2:0)'))).toBe(false);
    expect(span(tr('[0:0_1:0)'), tr('[1:0_2:0)'))).toEqual(tr('[0:0_2:0)'));
  });

  it('(1:0_2:0] and [1:0] do not overlap; [1:0_2:0] and [1:0] do', () => {
    expect(overlaps(tr('(1:0_2:0]'), tr('[1:0]'))).toBe(false);
    expect(overlaps(tr('[1:0_2:0]'), tr('[1:0]'))).toBe(true);
  });

  it('[1:0_2:0) covers [1:0] but not [2:0]', () => {
    expect(covers(tr('[1:0_2:0)'), tr('[1:0]'))).toBe(true);
    expect(covers(tr('[1:0_2:0)'), tr('[2:0]'))).toBe(false);
    expect(covers(tr('[1:0_2:0]'), tr('[2:0]'))).toBe(true);
  });

  it('one nanosecond of overlap counts', () => {
    expect(overlaps(tr('[0:0_1:1)'), tr('[1:0_2:0)'))).toBe(true);
    expect(intersection(tr('[0:0_1:1)'), tr('[1:0_2:0)'))).toEqual(tr('[1:0]'));
  });
});

describe('algebra on unbounded and empty ranges', () => {
  it('eternity overlaps and covers every non-empty range', () => {
    for (const text of ['[0:0_1:0)', '_5:0)', '(5:0_', '[-3:0]', '_']) {
      expect(overlaps(ETERNITY, tr(text))).toBe(true);
      expect(covers(ETERNITY, tr(text))).toBe(true);
    }
  });

  it('the empty range overlaps nothing, is covered by everything and covers only itself', () => {
    for (const text of ['[0:0_1:0)', '_', '()']) {
      expect(overlaps(EMPTY, tr(text))).toBe(false);
      expect(covers(tr(text), EMPTY)).toBe(true);
    }
    expect(covers(EMPTY, tr('[0:0]'))).toBe(false);
    expect(covers(EMPTY, EMPTY)).toBe(true);
  });

  it('half-unbounded ranges', () => {
    expect(overlaps(tr('_5:0)'), tr('[5:0_'))).toBe(false);
    expect(overlaps(tr('_5:0]'), tr('[5:0_'))).toBe(true);
    expect(intersection(tr('_5:0]'), tr('[5:0_'))).toEqual(tr('[5:0]'));
    expect(intersection(tr('_10:0)'), tr('[5:0_'))).toEqual(tr('[5:0_10:0)'));
    expect(span(tr('_1:0)'), tr('[5:0_'))).toEqual(ETERNITY);
    expect(covers(tr('_10:0)'), tr('_5:0)'))).toBe(true);
    expect(covers(tr('_5:0)'), tr('_10:0)'))).toBe(false);
    expect(covers(tr('[0:0_'), tr('_5:0)'))).toBe(false);
  });

  it('span with the empty range is the other range', () => {
    expect(span(EMPTY, tr('[1:0_2:0)'))).toEqual(tr('[1:0_2:0)'));
    expect(span(tr('[1:0_2:0)'), EMPTY)).toEqual(tr('[1:0_2:0)'));
    expect(span(EMPTY, EMPTY)).toEqual(EMPTY);
  });
});

describe('compareTimeRanges', () => {
  it('sorts unbounded starts first, then by start, then by end; empty last', () => {
    const texts = ['()', '[2:0_3:0)', '_', '[1:0_', '[1:0_2:0)', '_1:0)', '[1:0]', '[-1:0_0:0)'];
    const sorted = texts.map(tr).sort(compareTimeRanges).map(formatTimeRange);
    expect(sorted).toEqual(['_1:0)', '_', '[-1:0_0:0)', '[1:0]', '[1:0_2:0)', '[1:0_', '[2:0_3:0)', '()']);
  });

  it('equalTimeRanges compares meaning, not text', () => {
    expect(equalTimeRanges(tr('(0:0_1:0]'), tr('[0:1_1:1)'))).toBe(true);
    expect(equalTimeRanges(tr('[5:0_1:0)'), tr('()'))).toBe(true);
    expect(equalTimeRanges(tr('[0:0_1:0)'), tr('[0:0_1:0]'))).toBe(false);
    expect(equalTimeRanges(tr('_'), tr('()'))).toBe(false);
  });
});
