import type { FastifyInstance, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace, type Span, type Tracer } from '@opentelemetry/api';

/**
 * A server span per HTTP request (`GET /flows/:flowId`), continuing the caller's trace when it
 * sends `traceparent`. Each route handler runs in its request's span context, so the spans
 * made below it (GraphQL operations, store calls) are its children: hooks cannot carry a
 * context into the handler (the body is read in between), so the handlers are wrapped as
 * routes are added. Installed only with tracing on; call it before any route is added.
 */
export function useRequestTracing(app: FastifyInstance, tracer: Tracer): void {
  const spans = new WeakMap<FastifyRequest, Span>();

  app.addHook('onRoute', (route) => {
    const handler: RouteHandlerMethod = route.handler;
    route.handler = function tracedHandler(request, reply) {
      const span = spans.get(request);
      if (span === undefined) return handler.call(this, request, reply);
      return context.with(trace.setSpan(context.active(), span), handler, this, request, reply);
    };
  });

  app.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url;
    const span = tracer.startSpan(
      route === undefined ? request.method : `${request.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': request.method,
          // The path only: a query may carry an access_token or a media URL's signature.
          'url.path': request.url.split('?', 1)[0],
          ...(route === undefined ? {} : { 'http.route': route }),
        },
      },
      propagation.extract(ROOT_CONTEXT, request.headers),
    );
    spans.set(request, span);
    done();
  });

  app.addHook('onResponse', (request, reply, done) => {
    const span = spans.get(request);
    if (span !== undefined) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    done();
  });

  app.addHook('onRequestAbort', (request, done) => {
    const span = spans.get(request);
    if (span !== undefined) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'client closed the connection before the response' });
      span.end();
    }
    done();
  });
}
