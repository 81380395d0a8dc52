/**
 * Whether `text` is an absolute http or https URL. URLs clients give the store to hand out to
 * every reader (segment get_urls, object instances) must be: a `javascript:` or `file:` URL, or
 * one naming a cloud metadata service by another scheme, would be served to browsers and tools.
 */
export function isHttpUrl(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
}
