/**
 * Builders for the filters a VAST select carries: an AND of OR-groups, each OR-group on one
 * column (protocol/select-filter.ts). The shape VAST cannot take, an OR across two columns, cannot
 * be built: `anyOf` refuses groups on different columns, so a caller that needs one narrows on
 * the server with what VAST can express and finishes in TypeScript.
 *
 *   allOf(column('flow_id').equal('f1'), column('start').less(end), anyOf(column('label').isNull(), column('label').equal('x')))
 *
 * Values are checked against the column's type when the request is built (bigint for int64 and
 * uint64, string for utf8, boolean for bool).
 */
import type { ColumnCondition, ComparisonName, OrGroup, SelectFilter } from '../protocol/select-filter';
import type { VastValue } from '../protocol/vast-columns';

export type { ColumnCondition, OrGroup, SelectFilter };

export interface ColumnConditions {
  equal(value: VastValue): OrGroup;
  notEqual(value: VastValue): OrGroup;
  less(value: VastValue): OrGroup;
  lessEqual(value: VastValue): OrGroup;
  greater(value: VastValue): OrGroup;
  greaterEqual(value: VastValue): OrGroup;
  isNull(): OrGroup;
  /** Not null (VAST's `is_valid`). */
  isValid(): OrGroup;
}

/** The conditions one column can be put to; each makes a one-condition OR-group. */
export function column(name: string): ColumnConditions {
  const compare = (op: ComparisonName) => (value: VastValue): OrGroup => ({ column: name, anyOf: [{ op, value }] });
  return {
    equal: compare('equal'),
    notEqual: compare('not_equal'),
    less: compare('less'),
    lessEqual: compare('less_equal'),
    greater: compare('greater'),
    greaterEqual: compare('greater_equal'),
    isNull: () => ({ column: name, anyOf: [{ op: 'is_null' }] }),
    isValid: () => ({ column: name, anyOf: [{ op: 'is_valid' }] }),
  };
}

/** One OR-group from conditions on the same column; conditions on two columns are refused. */
export function anyOf(...groups: readonly OrGroup[]): OrGroup {
  const first = groups[0];
  if (first === undefined) throw new TypeError('anyOf needs at least one condition: an empty OR matches nothing');
  const other = groups.find((group) => group.column !== first.column);
  if (other !== undefined) {
    throw new TypeError(`VAST cannot OR conditions on two columns (${first.column}, ${other.column}): filter on one and finish the other in TypeScript`);
  }
  return { column: first.column, anyOf: groups.flatMap((group) => group.anyOf) };
}

/** Every group must hold; no group selects every row. Nested filters are flattened. */
export function allOf(...parts: readonly (OrGroup | SelectFilter)[]): SelectFilter {
  return parts.flatMap((part): OrGroup[] => (isOrGroup(part) ? [part] : [...part]));
}

function isOrGroup(part: OrGroup | SelectFilter): part is OrGroup {
  return !Array.isArray(part);
}
