import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TamsError } from '../domain/errors';
import { LocalObjectStore, parseByteRange } from '../adapters/local-objects/local-object-store';
import type { Clock } from '../ports/clock';

interface SignedQuery {
  exp?: string;
  sig?: string;
}

/** The route of the media URLs: outside TAMS_BASE_PATH, the storage key as the wildcard. */
export const MEDIA_ROUTE = '/media/*';

/**
 * The gateway's own media URLs for the local-directory object store: signed, expiring
 * PUT and GET (with Range) of object bytes, streamed to and from disk.
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

    media.put(MEDIA_ROUTE, async (request, reply) => {
      const key = authorise(request, 'PUT');
      const declared = request.headers['content-length'];
      if (declared !== undefined && Number(declared) > maxObjectBytes) {
        throw new TamsError('payload_too_large', `Objects are limited to ${maxObjectBytes} bytes`);
      }
      await store.writeStream(key, request.raw, maxObjectBytes);
      return reply.code(200).send();
    });

    const read = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const key = authorise(request, 'GET');
      const stat = await store.stat(key);
      if (!stat) throw new TamsError('not_found', 'No media has been uploaded at this URL');
      const range = parseByteRange(request.headers.range, stat.size);
      if (range === 'unsatisfiable') {
        reply.header('Content-Range', `bytes */${stat.size}`);
        throw new TamsError('range_not_satisfiable', 'Requested range not satisfiable');
      }
      reply.header('Accept-Ranges', 'bytes');
      reply.type('application/octet-stream');
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
