import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TamsError } from '../domain/errors';
import { MAX_TIMESTAMP_SECONDS, NANOS_PER_SECOND, type Nanos } from '../domain/timestamp';
import { type AccessAction, requireScopes } from '../services/access-policy';
import type { HlsService, HlsUrl } from '../services/hls/hls-service';
import { HLS_FLOW_PLAYLIST_ROUTE, HLS_INIT_ROUTE, HLS_SEGMENT_ROUTE, HLS_SOURCE_PLAYLIST_ROUTE, PLAYLIST_SUFFIX } from '../services/hls/hls-paths';
import { type RestOptions, publicBase, requestContext } from '../rest/rest-context';
import { type Query, UUID_RE, timerange } from '../rest/query-params';

const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';

const ACTIONS: Readonly<Record<string, AccessAction>> = {
  [HLS_FLOW_PLAYLIST_ROUTE]: 'segments.list',
  [HLS_SEGMENT_ROUTE]: 'segments.list',
  [HLS_INIT_ROUTE]: 'segments.list',
  [HLS_SOURCE_PLAYLIST_ROUTE]: 'source.read',
};

/**
 * `METHOD route` -> the access action of each HLS route (HEAD as GET): its scopes, and the REST
 * rate-limit budget it spends (a playlist or segment fetch is a read, as the segment listing is).
 */
export const HLS_ROUTE_ACTIONS: ReadonlyMap<string, AccessAction> = new Map(
  Object.entries(ACTIONS).flatMap(([route, action]) => [[`GET ${route}`, action], [`HEAD ${route}`, action]]),
);

/** The id of `{id}.m3u8`; a malformed one is a 404 as in the TAMS paths. */
function playlistId(request: FastifyRequest): string {
  const file = (request.params as { playlist: string }).playlist;
  const id = file.endsWith(PLAYLIST_SUFFIX) ? file.slice(0, -PLAYLIST_SUFFIX.length) : '';
  if (!UUID_RE.test(id)) throw new TamsError('invalid_path_id', 'An HLS playlist path is /hls/flows/{flowId}.m3u8 or /hls/sources/{sourceId}.m3u8');
  return id;
}

function flowIdOf(request: FastifyRequest): string {
  const id = (request.params as { flowId: string }).flowId;
  if (!UUID_RE.test(id)) throw new TamsError('invalid_path_id', 'The flowId in the path is not a valid id');
  return id;
}

/** `{nanoseconds}` (optionally `.{extension}`): the start of a segment's timerange. */
function segmentStart(text: string, withExtension: boolean): Nanos {
  const m = (withExtension ? /^(-?[0-9]{1,20})\.[a-z0-9]{1,5}$/ : /^(-?[0-9]{1,20})$/).exec(text);
  const start = m === null ? undefined : BigInt(m[1] as string);
  // The store's timestamps are bounded; anything outside them names no segment.
  if (start === undefined || (start < 0n ? -start : start) / NANOS_PER_SECOND > MAX_TIMESTAMP_SECONDS) {
    throw new TamsError('not_found', 'An HLS segment path is /hls/flows/{flowId}/segments/{start nanoseconds}.{extension}');
  }
  return start;
}

/**
 * The URL builder of one request: absolute URLs as every URL the gateway hands out, carrying
 * the request's `access_token` onward so that a player that authenticated with it (it cannot
 * send headers) can follow the playlist's URIs.
 */
function urlBuilder(request: FastifyRequest, options: RestOptions): HlsUrl {
  const base = publicBase(request, options);
  const token = new URLSearchParams(request.url.slice(request.url.indexOf('?') + 1 || request.url.length)).get('access_token');
  return (path, params = {}) => {
    const query = new URLSearchParams(params);
    if (token !== null) query.set('access_token', token);
    const text = query.toString();
    return text === '' ? `${base}${path}` : `${base}${path}?${text}`;
  };
}

function sendPlaylist(reply: FastifyReply, text: string): FastifyReply {
  // A playlist may carry the caller's access_token, and a live one changes with every segment.
  return reply.header('cache-control', 'no-store').type(PLAYLIST_TYPE).send(text);
}

function redirect(reply: FastifyReply, location: string): FastifyReply {
  // The signed URL expires: no cache may keep this answer longer than the request.
  return reply.code(302).header('cache-control', 'no-store').header('location', location).send();
}

/**
 * HLS over the flows (docs/hls.md): the playlists, and segment and init URIs that redirect to
 * freshly signed media URLs. Authenticated as every request is; each route needs the scopes
 * of its action, and the service applies the auth classes as the segment listing does.
 */
export function registerHlsRoutes(app: FastifyInstance, hls: HlsService, options: RestOptions): void {
  void app.register(async (routes) => {
    routes.addHook('preHandler', async (request) => {
      const action = HLS_ROUTE_ACTIONS.get(`${request.method} ${request.routeOptions.url}`);
      if (action !== undefined) requireScopes(request.principal, action);
    });

    routes.get(HLS_FLOW_PLAYLIST_ROUTE, async (request, reply) => {
      const flowId = playlistId(request);
      const window = timerange(request.query as Query);
      return sendPlaylist(reply, await hls.mediaPlaylist(requestContext(request, options), flowId, window, urlBuilder(request, options)));
    });

    routes.get(HLS_SOURCE_PLAYLIST_ROUTE, async (request, reply) => {
      const sourceId = playlistId(request);
      const window = timerange(request.query as Query);
      return sendPlaylist(reply, await hls.multivariantPlaylist(requestContext(request, options), sourceId, window, urlBuilder(request, options)));
    });

    routes.get(HLS_SEGMENT_ROUTE, async (request, reply) => {
      const flowId = flowIdOf(request);
      const start = segmentStart((request.params as { segment: string }).segment, true);
      return redirect(reply, await hls.objectUrl(requestContext(request, options), flowId, start, 'media'));
    });

    routes.get(HLS_INIT_ROUTE, async (request, reply) => {
      const flowId = flowIdOf(request);
      const params = request.params as { start: string; init: string };
      if (!/^init\.[a-z0-9]{1,5}$/.test(params.init)) throw new TamsError('not_found', 'An HLS init segment path is /hls/flows/{flowId}/segments/{start}/init.mp4');
      const start = segmentStart(params.start, false);
      return redirect(reply, await hls.objectUrl(requestContext(request, options), flowId, start, 'init'));
    });
  });
}
