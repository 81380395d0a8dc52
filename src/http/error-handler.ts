import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, TamsError, errorBody } from '../domain/errors';

/** Maps framework errors (bad JSON, body too large, wrong content type) onto the registry. */
function fromFrameworkError(err: FastifyError): TamsError | undefined {
  const status = err.statusCode;
  if (typeof status !== 'number' || status < 400 || status >= 500) return undefined;
  const byStatus: Record<number, ErrorCode> = {
    404: 'not_found',
    405: 'method_not_allowed',
    413: 'payload_too_large',
    415: 'unsupported_media_type',
  };
  return new TamsError(byStatus[status] ?? 'bad_request', err.message);
}

/** Every error leaves as a TAMS error body; anything unexpected is logged and masked as 500. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const tams = err instanceof TamsError ? err : fromFrameworkError(err);
    if (!tams) {
      request.log.error({ err }, 'unhandled error');
    }
    const error = tams ?? new TamsError('internal', 'Internal server error');
    void reply.code(error.status).type('application/json').send(errorBody(error));
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new TamsError('not_found', `No resource at ${request.method} ${request.url.split('?')[0]}`);
    void reply.code(404).type('application/json').send(errorBody(error));
  });
}

/**
 * Fastify's `frameworkErrors`: what fails before routing (a request target with an undecodable
 * escape, FST_ERR_BAD_URL) is answered with the TAMS error body too, not fastify's own.
 */
export function frameworkErrorReply(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const error = fromFrameworkError(err) ?? new TamsError('bad_request', 'The request target cannot be decoded');
  void reply.code(error.status).type('application/json').send(errorBody(error));
}
