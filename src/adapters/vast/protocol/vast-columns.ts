/**
 * The column types the gateway stores in VAST tables, and their Arrow types.
 *
 * TAMS needs int64 (times in nanoseconds, counters), utf8 (ids, JSON) and bool;
 * uint64 is VAST's internal row id; int8/16/32 exist because VAST's own test
 * vectors use them. Keeping the set this small keeps every type the gateway can
 * send one that both VAST's clients are seen to send.
 */
import { Bool, DataType, Field, Int16, Int32, Int64, Int8, Uint64, Utf8 } from 'apache-arrow';

export type VastColumnType = 'int8' | 'int16' | 'int32' | 'int64' | 'uint64' | 'utf8' | 'bool';

export interface VastColumn {
  readonly name: string;
  readonly type: VastColumnType;
  readonly nullable: boolean;
}

/**
 * VAST's internal row id: selected on request, and the key of updates and
 * deletes (there are no unique keys). uint64 on plain tables; VAST's Python SDK
 * uses decimal128(38, 0) on sorted tables, which the gateway does not create.
 */
export const ROW_ID_COLUMN_NAME = '$row_id';
export const ROW_ID_COLUMN: VastColumn = { name: ROW_ID_COLUMN_NAME, type: 'uint64', nullable: true };

/** VAST's "no row" marker: a sub-split whose next row id is this has no more rows. */
export const INVALID_ROW_ID = (1n << 48n) - 1n;

export function arrowTypeOf(type: VastColumnType): DataType {
  switch (type) {
    case 'int8':
      return new Int8();
    case 'int16':
      return new Int16();
    case 'int32':
      return new Int32();
    case 'int64':
      return new Int64();
    case 'uint64':
      return new Uint64();
    case 'utf8':
      return new Utf8();
    case 'bool':
      return new Bool();
  }
}

/** The column type an Arrow type stands for, or undefined for one the gateway never uses. */
export function vastTypeOf(type: DataType): VastColumnType | undefined {
  if (DataType.isUtf8(type)) return 'utf8';
  if (DataType.isBool(type)) return 'bool';
  if (!DataType.isInt(type)) return undefined;
  if (!type.isSigned) return type.bitWidth === 64 ? 'uint64' : undefined;
  switch (type.bitWidth) {
    case 8:
      return 'int8';
    case 16:
      return 'int16';
    case 32:
      return 'int32';
    case 64:
      return 'int64';
  }
}

export function arrowFieldOf(column: VastColumn): Field {
  return new Field(column.name, arrowTypeOf(column.type), column.nullable);
}

/** The value a cell of this column holds in JavaScript (null aside). */
export type VastValue = bigint | number | string | boolean;

/** Checks a value against a column type, so a wrong one fails here and not on the cluster. */
export function checkValue(column: VastColumn, value: VastValue | null | undefined): void {
  if (value === null || value === undefined) {
    if (!column.nullable) throw new TypeError(`column ${column.name} is not nullable`);
    return;
  }
  const fits = ((): boolean => {
    switch (column.type) {
      case 'int8':
        return Number.isInteger(value) && (value as number) >= -128 && (value as number) <= 127;
      case 'int16':
        return Number.isInteger(value) && (value as number) >= -32768 && (value as number) <= 32767;
      case 'int32':
        return Number.isInteger(value) && (value as number) >= -2147483648 && (value as number) <= 2147483647;
      case 'int64':
        return typeof value === 'bigint' && BigInt.asIntN(64, value) === value;
      case 'uint64':
        return typeof value === 'bigint' && BigInt.asUintN(64, value) === value;
      case 'utf8':
        return typeof value === 'string';
      case 'bool':
        return typeof value === 'boolean';
    }
  })();
  if (!fits) throw new TypeError(`column ${column.name} (${column.type}) cannot hold ${typeof value} ${String(value)}`);
}
