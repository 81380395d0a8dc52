/** An inclusive byte range, as in `Content-Range: bytes start-end/size`. */
export interface ByteRange {
  start: number;
  end: number;
}

const SINGLE_RANGE_RE = /^bytes=[ \t]*(\d*)-(\d*)[ \t]*$/i;

/**
 * Interprets an HTTP `Range` header (RFC 9110 §14) against an object of `size` bytes.
 *
 * - `undefined`: send the whole body with 200 (no header, another unit, a syntactically
 *   invalid range, or several ranges, which we choose not to serve as multipart).
 * - `'unsatisfiable'`: answer 416 with `Content-Range: bytes *\/size`.
 * - a range: answer 206; `end` is already clamped to the last byte.
 */
export function parseByteRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const m = SINGLE_RANGE_RE.exec(header);
  if (!m) return undefined;
  const [, first = '', last = ''] = m;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    // Suffix range `-n`: the last n bytes.
    const n = Number(last);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? Infinity : Number(last);
  if (end < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}
