/**
 * The media types the local object store keeps beside an object: what an upload's
 * `Content-Type` (or its allocation) said, served back on GET.
 */

/** Longest type kept, as for every MIME type in a TAMS body (REQUEST_LIMITS.mimeTypeLength). */
export const MEDIA_TYPE_MAX_LENGTH = 255;

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
/** RFC 9110 quoted-string without obs-text: printable ASCII, space and tab, `\` escapes. */
const QUOTED = '"(?:[\\t !#-\\[\\]-~]|\\\\[\\t -~])*"';
/**
 * RFC 9110 `media-type`: `type "/" subtype *( OWS ";" OWS parameter )`, ASCII only. Nothing
 * it accepts can break a header line (no CR, LF or other control character but tab).
 */
const MEDIA_TYPE_RE = new RegExp(`^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|${QUOTED}))*$`);

/** True for a well-formed media type (`video/mp2t`, `video/mp4; codecs="avc1.64001f"`) of at most 255 characters. */
export function isMediaType(text: string): boolean {
  return text.length <= MEDIA_TYPE_MAX_LENGTH && MEDIA_TYPE_RE.test(text);
}
