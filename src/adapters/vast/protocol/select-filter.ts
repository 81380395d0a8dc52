/**
 * The filters a VAST select can carry: an AND of OR-groups, each OR-group on a single column
 * (the only shape both public clients build; the Python SDK refuses an OR across columns).
 * Anything finer (an OR across columns, a range on a computed value) is narrowed here and
 * finished by the caller in TypeScript.
 */
import type { VastValue } from './vast-columns';

export type ComparisonName = 'equal' | 'not_equal' | 'less' | 'less_equal' | 'greater' | 'greater_equal';

export type ColumnCondition =
  | { readonly op: ComparisonName; readonly value: VastValue }
  | { readonly op: 'is_null' }
  /** "is not null"; VAST's name for it. */
  | { readonly op: 'is_valid' };

export interface OrGroup {
  readonly column: string;
  /** At least one: an empty OR would mean "false", which the clients never send. */
  readonly anyOf: readonly ColumnCondition[];
}

/** Every group must hold; an empty list selects every row. */
export type SelectFilter = readonly OrGroup[];
