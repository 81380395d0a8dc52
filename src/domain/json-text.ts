/**
 * Printable ASCII other than `"` and `\`: a string of these is its own JSON string content.
 * (U+2028/2029 and anything non-ASCII go the JSON.stringify way too.)
 */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/**
 * `JSON.stringify(s)` for a string, cheaper for the usual ids, timeranges and URLs: each
 * JSON.stringify call costs far more than the few characters of such a string, and a page of
 * segments quotes about a hundred of them.
 */
export function jsonString(s: string): string {
  return isPlainJsonText(s) ? `"${s}"` : JSON.stringify(s);
}

/** True when `"${s}"` is the JSON string of s (printable ASCII other than `"` and `\`). */
export function isPlainJsonText(s: string): boolean {
  return PLAIN.test(s);
}
