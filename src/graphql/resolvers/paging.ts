import { TamsError } from '../../domain/errors';
import type { Connection, Edge } from '../types/connection.type';
import type { PageInfo } from '../types/page-info.type';

/** Page-size bounds (TAMS_PAGE_LIMIT_DEFAULT / TAMS_PAGE_LIMIT_MAX). */
export interface PageLimits {
  pageLimitDefault: number;
  pageLimitMax: number;
}

export interface PageArgs {
  first?: number | null;
  after?: string | null;
}

/** One page as the services return it: items and the signed cursor of the next page. */
export interface ServicePage<T> {
  items: T[];
  next?: string;
}

export type PageFetcher<T> = (limit: number, page: string | undefined) => Promise<ServicePage<T>>;

/**
 * A GraphQL cursor points just after one node: `p` is the service's signed cursor of the
 * page the node was on (absent for the first page) and `s` how many nodes of that page to
 * skip. The service cursor carries the signature, so a forged `p` is refused by the service.
 */
interface NodeCursor {
  p?: string;
  s: number;
}

function badCursor(): TamsError {
  return new TamsError('bad_cursor', 'Invalid cursor');
}

function encodeCursor(cursor: NodeCursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(text: string, limits: PageLimits): NodeCursor {
  if (text.length > 8192) throw badCursor();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw badCursor();
  }
  if (typeof parsed !== 'object' || parsed === null) throw badCursor();
  const { p, s } = parsed as { p?: unknown; s?: unknown };
  if (p !== undefined && typeof p !== 'string') throw badCursor();
  if (typeof s !== 'number' || !Number.isInteger(s) || s < 0 || s > limits.pageLimitMax) throw badCursor();
  return p === undefined ? { s } : { p, s };
}

/**
 * How many rows a listing reads past before its page because of `after` (the cursor's skip),
 * for the cost limit; 0 for a cursor that does not decode (the listing refuses it anyway).
 */
export function cursorRowsSkipped(after: unknown, limits: PageLimits): number {
  if (typeof after !== 'string') return 0;
  try {
    return decodeCursor(after, limits).s;
  } catch {
    return 0;
  }
}

export function pageSize(first: number | null | undefined, limits: PageLimits): number {
  if (first === null || first === undefined) return limits.pageLimitDefault;
  if (first < 1 || first > limits.pageLimitMax) {
    throw new TamsError('bad_request', `first must be between 1 and ${limits.pageLimitMax}`);
  }
  return first;
}

/** A Relay connection over a service listing, `first` nodes after the `after` cursor. */
export async function paginate<T, N>(
  fetch: PageFetcher<T>,
  args: PageArgs,
  limits: PageLimits,
  toNode: (item: T) => N,
): Promise<Connection<N>> {
  const first = pageSize(args.first, limits);
  const start: NodeCursor = args.after === null || args.after === undefined ? { s: 0 } : decodeCursor(args.after, limits);
  let anchor = start.p;
  if (start.s > 0) {
    // The cursor points into a page: read past the nodes before it, then start from the next page.
    const skipped = await fetch(start.s, anchor);
    if (skipped.next === undefined) return { edges: [], nodes: [], pageInfo: { hasNextPage: false, endCursor: null } };
    anchor = skipped.next;
  }
  const page = await fetch(first, anchor);
  const nodes = page.items.map(toNode);
  const last = nodes.length - 1;
  const cursorAt = (i: number): string =>
    encodeCursor(i === last && page.next !== undefined ? { p: page.next, s: 0 } : { ...(anchor === undefined ? {} : { p: anchor }), s: i + 1 });
  let edges: Edge<N>[] | undefined;
  let pageInfo: PageInfo | undefined;
  return {
    // Edges and page info are built on first read: a query selecting only `nodes` pays for no cursors.
    get edges() {
      edges ??= nodes.map((node, i) => ({ node, cursor: cursorAt(i) }));
      return edges;
    },
    nodes,
    get pageInfo() {
      // A filtered listing (what the caller may read) can answer an empty page that is not the
      // last: its end cursor then points past the page, so the client can go on.
      pageInfo ??= {
        hasNextPage: page.next !== undefined,
        endCursor: last >= 0 ? cursorAt(last) : page.next === undefined ? null : encodeCursor({ p: page.next, s: 0 }),
      };
      return pageInfo;
    },
  };
}
