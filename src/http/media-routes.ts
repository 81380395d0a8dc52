import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TamsError } from '../domain/errors';
import { ALLOCATED_TYPE_PARAM, LocalObjectStore, parseByteRange } from '../adapters/local-objects/local-object-store';
import { isMediaType } from '../adapters/local-objects/media-type';
import type { Clock } from '../ports/clock';

interface SignedQuery {
  exp?: string;
  sig?: string;
  [ALLOCATED_TYPE_PARAM]?: string | string[];
}

/** The route of the media URLs: outside TAMS_BASE_PATH, the storage key as the wildcard. */
export const MEDIA_ROUTE = '/media/*';

const UNTYPED = 'application/octet-stream';

/** How an object's stored media type is served: the `Content-Type`, and whether to add `Content-Disposition: attachment`. */
export interface ServedType {
  contentType: string;
  attachment: boolean;
}

/**
 * The type a GET or HEAD answers for an object stored with `stored` (undefined: none known,
 * e.g. uploaded before types were kept): the stored type as given, except for types a
 * browser would run as active content in the gateway's origin, where a page could use the
 * credentials the browser holds for the API. Those are HTML (any `.../html`), XML of any kind
 * (`.../xml`, `...+xml`: SVG, XHTML, and any XML document, which may carry XHTML-namespace
 * scripts), anything naming `script` (JavaScript, ECMAScript, VBScript) and `multipart/*`
 * (`x-mixed-replace`). They are served as `application/octet-stream` with
 * `Content-Disposition: attachment`: with `X-Content-Type-Options: nosniff` no browser renders
 * or runs octet-stream (a `<script>` or stylesheet load of it is blocked too), and attachment
 * makes a navigation to it a download. The stored type is kept as uploaded, so a change of
 * this rule needs no change of stored data. TAMS media (video/mp2t, image/jpeg, ...) is
 * served with its own type.
 */
export function servedType(stored: string | undefined): ServedType {
  if (stored === undefined) return { contentType: UNTYPED, attachment: false };
  return isActiveContent(stored) ? { contentType: UNTYPED, attachment: true } : { contentType: stored, attachment: false };
}

function isActiveContent(mediaType: string): boolean {
  const essence = (mediaType.split(';', 1)[0] as string).trim().toLowerCase();
  const slash = essence.indexOf('/');
  const type = essence.slice(0, slash);
  const subtype = essence.slice(slash + 1);
  return subtype === 'html' || subtype === 'xml' || subtype.endsWith('+xml') || subtype.includes('script') || type === 'multipart';
}

/**
 * The media type an upload is stored with: its `Content-Type`, else the type its PUT URL was
 * allocated with (`ct=`), else none. A malformed one is refused with 400 rather than stored.
 */
function uploadType(request: FastifyRequest): string | undefined {
  const header = request.headers['content-type'];
  if (header !== undefined) {
    const type = header.trim();
    if (!isMediaType(type)) throw new TamsError('bad_request', 'Content-Type must be a media type such as video/mp2t');
    return type;
  }
  const allocated = (request.query as SignedQuery)[ALLOCATED_TYPE_PARAM];
  if (allocated === undefined) return undefined;
  if (typeof allocated !== 'string' || !isMediaType(allocated)) {
    throw new TamsError('bad_request', `The ${ALLOCATED_TYPE_PARAM} parameter of a media URL must be one media type`);
  }
  return allocated;
}

/**
 * The gateway's own media URLs for the local-directory object store: signed, expiring
 * PUT and GET (with Range) of object bytes, streamed to and from disk, each object served
 * with the media type it was uploaded with (see servedType).
 */
export function registerMediaRoutes(app: FastifyInstance, store: LocalObjectStore, clock: Clock, maxObjectBytes: number): void {
  void app.register(async (media) => {
    // Bytes are streamed by the handler, never parsed or buffered.
    media.removeAllContentTypeParsers();
    media.addContentTypeParser('*', (_request, _payload, done) => done(null));

    const authorise = (request: FastifyRequest, method: 'GET' | 'PUT'): string => {
      const key = (request.params as { '*': string })['*'];
      const { exp, sig } = request.query as SignedQuery;
      const expSec = exp !== undefined && /^\d{1,12}$/.test(exp) ? Number(exp) : NaN;
      const nowSec = Math.floor(clock.nowMs() / 1000);
      if (typeof sig !== 'string' || Number.isNaN(expSec) || !store.verify(method, key, expSec, sig, nowSec)) {
        throw new TamsError('forbidden', 'Missing, invalid or expired media URL signature');
      }
      return key;
    };

    media.put(
      MEDIA_ROUTE,
      {
        // Before the body is looked at: fastify would answer a malformed Content-Type 415 on its
        // own, and the signature is checked first so an unsigned request learns nothing more.
        preParsing: async (request, _reply, payload) => {
          authorise(request, 'PUT');
          uploadType(request);
          return payload;
        },
      },
      async (request, reply) => {
        const key = authorise(request, 'PUT');
        const declared = request.headers['content-length'];
        if (declared !== undefined && Number(declared) > maxObjectBytes) {
          throw new TamsError('payload_too_large', `Objects are limited to ${maxObjectBytes} bytes`);
        }
        await store.writeStream(key, request.raw, maxObjectBytes, uploadType(request));
        return reply.code(200).send();
      },
    );

    const read = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const key = authorise(request, 'GET');
      const [stat, stored] = await Promise.all([store.stat(key), store.contentType(key)]);
      if (!stat) throw new TamsError('not_found', 'No media has been uploaded at this URL');
      const range = parseByteRange(request.headers.range, stat.size);
      if (range === 'unsatisfiable') {
        reply.header('Content-Range', `bytes */${stat.size}`);
        throw new TamsError('range_not_satisfiable', 'Requested range not satisfiable');
      }
      const served = servedType(stored);
      reply.header('Accept-Ranges', 'bytes');
      reply.type(served.contentType);
      if (served.attachment) reply.header('Content-Disposition', 'attachment');
      if (range) {
        reply.code(206);
        reply.header('Content-Range', `bytes ${range.start}-${range.end}/${stat.size}`);
        reply.header('Content-Length', String(range.end - range.start + 1));
      } else {
        reply.header('Content-Length', String(stat.size));
      }
      if (request.method === 'HEAD') return reply.send();
      const opened = await store.openRead(key, range ?? undefined);
      return reply.send(opened.stream);
    };
    media.get(MEDIA_ROUTE, { exposeHeadRoute: false }, read);
    media.head(MEDIA_ROUTE, read);
  });
}
