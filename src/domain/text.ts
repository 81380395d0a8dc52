/**
 * Client text the stores keep as UTF-8: a lone UTF-16 surrogate (JSON allows `"\ud800"`) cannot
 * be stored as sent (SQLite keeps U+FFFD), so an id holding one would be stored under another
 * id than the one the client goes on using.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when `text` is well-formed UTF-16 (no lone surrogate). */
export function isWellFormedText(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}
