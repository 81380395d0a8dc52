/**
 * Graceful shutdown. What a request can expect once SIGTERM (or SIGINT) has arrived:
 * - one whose bytes reached the gateway is answered as usual, with `Connection: close`;
 * - a new connection is refused once the listener has closed (readiness already answers 503,
 *   so load balancers have stopped sending; a refused connection is always safe to retry);
 * - an idle keep-alive connection is closed (a client writing on it at that very instant sees
 *   the connection reset, as HTTP/1.1 allows: the gateway never read that request).
 * Gateway.close() runs the steps; this module holds the HTTP side and the deadline.
 */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';

/**
 * During a shutdown every response closes its connection and a connection left idle is closed
 * at once, so no keep-alive client holds the drain open until keepAliveTimeout (72 s by
 * default): node closes idle connections only once, as the listener closes.
 */
export function useShutdownDrain(app: FastifyInstance, shuttingDown: () => boolean): void {
  app.addHook('onSend', (request, reply, payload, done) => {
    if (shuttingDown() && request.raw.httpVersionMajor === 1) void reply.header('connection', 'close');
    done(null, payload);
  });
  app.addHook('onResponse', (_request, _reply, done) => {
    // A response whose head went out before the shutdown began leaves its connection open.
    if (shuttingDown()) app.server.closeIdleConnections();
    done();
  });
}

/**
 * Resolves after the next poll phase of the event loop: requests whose bytes were already in
 * the socket buffers when the signal was handled have been read by then, so closing the idle
 * connections cannot cut them off.
 */
export function afterPendingReads(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

export interface SignalShutdownOptions {
  /** The whole shutdown: readiness, HTTP drain, WebSocket close, background work, stores. */
  close: () => Promise<void>;
  /** SHUTDOWN_GRACE_MS: past it, the process exits with code 1 whatever is still open. */
  graceMs: number;
  log: FastifyBaseLogger;
  exit?: (code: number) => void;
}

/**
 * On the first SIGTERM or SIGINT, runs `close` and exits 0 when it is done, or 1 when it fails
 * or outlasts the grace period. A second signal exits at once (Ctrl-C twice).
 */
export function shutDownOnSignals(options: SignalShutdownOptions): void {
  const { log, graceMs } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let started = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (started) {
      log.warn({ signal }, 'second signal during shutdown: exiting now');
      exit(1);
      return;
    }
    started = true;
    log.info({ signal, graceMs }, 'shutting down');
    const deadline = setTimeout(() => {
      log.error({ graceMs }, 'shutdown outlasted SHUTDOWN_GRACE_MS: exiting with work still open');
      exit(1);
    }, graceMs);
    options.close().then(
      () => {
        clearTimeout(deadline);
        log.info('shut down');
        exit(0);
      },
      (err: unknown) => {
        clearTimeout(deadline);
        log.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
