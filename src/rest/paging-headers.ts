import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CursorPage } from '../services/flow-service';
import type { Query } from './query-params';

/**
 * Sets the TAMS paging headers. `Link` carries the same query with `page` replaced by the
 * next cursor, as an absolute URL.
 */
export function setPagingHeaders(
  request: FastifyRequest,
  reply: FastifyReply,
  restBase: string,
  page: CursorPage<unknown>,
  options: { reverse?: boolean; nextKeyHeader?: boolean } = {},
): void {
  reply.header('X-Paging-Limit', String(page.limit));
  reply.header('X-Paging-Count', String(page.items.length));
  if (options.reverse !== undefined) reply.header('X-Paging-Reverse-Order', String(options.reverse));
  if (page.next === undefined) return;
  if (options.nextKeyHeader !== false) reply.header('X-Paging-NextKey', page.next);
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(request.query as Query)) {
    if (key === 'page' || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) query.append(key, v);
  }
  query.set('page', page.next);
  const path = request.url.split('?')[0] as string;
  reply.header('Link', `<${restBase}${path}?${query.toString()}>; rel="next"`);
}
