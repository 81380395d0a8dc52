/**
 * Whether a bucket's CORS rules let browser clients use the presigned URLs the gateway hands
 * out: from each origin the gateway serves (CORS_ORIGINS), a GET, and a PUT with the headers
 * the client is told to send (`content-type`, which for media types is not CORS-safelisted,
 * so the browser asks first; `if-none-match` on conditional-write backends). S3 answers a
 * preflight from the first rule matching origin, method and every requested header, so each
 * (origin, method) needs one rule covering all three.
 */

/** A bucket CORS rule as GetBucketCors returns it. */
export interface CorsRule {
  AllowedOrigins?: string[];
  AllowedMethods?: string[];
  AllowedHeaders?: string[];
}

/** S3's patterns: case-insensitive, with at most one `*` standing for any run of characters. */
function matches(pattern: string, value: string): boolean {
  const p = pattern.toLowerCase();
  const v = value.toLowerCase();
  const star = p.indexOf('*');
  if (star < 0) return p === v;
  const prefix = p.slice(0, star);
  const suffix = p.slice(star + 1);
  return v.length >= prefix.length + suffix.length && v.startsWith(prefix) && v.endsWith(suffix);
}

function allows(rule: CorsRule, origin: string, method: string, headers: readonly string[]): boolean {
  const origins = rule.AllowedOrigins ?? [];
  // A gateway open to every origin needs a bucket open to every origin.
  const originOk = origin === '*' ? origins.includes('*') : origins.some((o) => matches(o, origin));
  if (!originOk || !(rule.AllowedMethods ?? []).some((m) => m.toUpperCase() === method)) return false;
  const allowed = rule.AllowedHeaders ?? [];
  return headers.every((h) => allowed.some((a) => matches(a, h)));
}

/**
 * What the rules lack, one entry per origin and method, e.g. `PUT from https://app.example
 * (headers content-type, if-none-match)`; empty when browsers at every origin can GET and PUT.
 */
export function corsGaps(rules: readonly CorsRule[], origins: readonly string[], putHeaders: readonly string[]): string[] {
  const gaps: string[] = [];
  for (const origin of origins) {
    if (!rules.some((r) => allows(r, origin, 'GET', []))) gaps.push(`GET from ${origin}`);
    if (!rules.some((r) => allows(r, origin, 'PUT', putHeaders))) {
      gaps.push(putHeaders.length === 0 ? `PUT from ${origin}` : `PUT from ${origin} (headers ${putHeaders.join(', ')})`);
    }
  }
  return gaps;
}
