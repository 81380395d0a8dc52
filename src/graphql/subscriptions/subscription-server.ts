import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import {
  type ExecutionArgs,
  type ExecutionResult,
  GraphQLError,
  OperationTypeNode,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type FragmentDefinitionNode,
  Kind,
  type SelectionSetNode,
  createSourceEventStream,
  execute,
  validate,
} from 'graphql';
import type { ConnectionInitMessage } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { type WebSocket, WebSocketServer } from 'ws';
import { TamsError } from '../../domain/errors';
import type { OutboxEvent } from '../../domain/events';
import type { Principal } from '../../domain/principal';
import { ANONYMOUS_PRINCIPAL } from '../../auth/authenticator';
import { authenticateConnection } from '../../auth/connection-auth';
import { hasRequiredScopes, requiredScopes } from '../../services/access-policy';
import { encodeEventCursor } from '../../services/event-cursor';
import { type RateLimiter, rateLimitIdentity } from '../../services/rate-limiter';
import { StoredEventVisibility } from './event-visibility';
import { auditRefusedConnection } from './connection-audit';
import { actionOfRootField } from '../access/shield';
import { type GraphqlServices, createContext } from '../context';
import type { BatchObserver } from '../resolvers/loaders';
import type { PageLimits } from '../resolvers/paging';
import { operationHash } from '../execution/persisted-queries';
import type { GuardedOperation, OperationGuard } from '../limits/operation-guard';
import { type EventHistory, type EventSource, type SubscriptionContext, SubscriptionEvents } from './subscription-events';

export interface SubscriptionServerOptions {
  /** The GraphQL path (Apollo's too): WebSocket upgrades anywhere else are refused. */
  path: string;
  /** The schema Apollo serves, so both transports expose the same operations. */
  schema: GraphQLSchema;
  /** Committed events, and the retained ones for resumed subscriptions (the outbox dispatcher). */
  events: EventSource & EventHistory;
  services: GraphqlServices;
  limits: PageLimits;
  /** Configured absolute public URL (no trailing slash), or undefined to derive it per connection. */
  publicUrl: string | undefined;
  /** The scheme and host the client used for an upgrade request (forwarded ones from trusted proxies). */
  originOf: (request: IncomingMessage) => string;
  /** The limits HTTP operations pass first, checked first here too. */
  guard: OperationGuard;
  /** GRAPHQL_PERSISTED_ONLY: only these operations (by SHA-256 of their text) may subscribe. */
  persistedOnly: ReadonlyMap<string, string> | undefined;
  /** The error registry's GraphQL formatter, as Apollo uses it. */
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  /** Told the size of every DataLoader batch. */
  observeBatch?: BatchObserver;
  /** Given the count of open subscriptions, for a gauge. */
  watchSubscriptions?: (active: () => number) => void;
  /** The client address of an upgrade request, honouring TRUST_PROXY as `request.ip` does. */
  clientAddressOf: (request: IncomingMessage) => string;
  /** Refuses connections from addresses with too many failed authentications; none when rate limits are off. */
  rateLimiter?: RateLimiter | undefined;
}

/** A graphql-ws message is a query document and its variables: far below this. */
const MAX_MESSAGE_BYTES = 1024 * 1024;
/** Each subscription holds a place in the hub and a queue: one socket may not hold thousands. */
const MAX_SUBSCRIPTIONS_PER_CONNECTION = 100;
/**
 * Every live subscription executes again for each event it receives, so what one caller keeps
 * live is bounded across all its connections: this many, and this much estimated cost in all
 * (GRAPHQL_MAX_COST's units). Past either, a new subscription is refused (RATE_LIMITED).
 */
const MAX_LIVE_SUBSCRIPTIONS_PER_CALLER = 10_000;
const MAX_LIVE_SUBSCRIPTION_COST_PER_CALLER = 1_000_000;
/** A subscription's variables are kept for its life: only the declared ones, at most this much JSON. */
const MAX_SUBSCRIPTION_VARIABLES_BYTES = 64 * 1024;
/** How long shutdown waits for clients to answer the 1001 close before dropping them. */
const CLOSE_GRACE_MS = 2000;
/** How often open connections are checked for expired tokens and removed Basic users. */
const CREDENTIALS_SWEEP_MS = 1000;

function withCode(error: GraphQLError, code: string): GraphQLError {
  return new GraphQLError(error.message, {
    ...(error.nodes === undefined ? {} : { nodes: error.nodes }),
    ...(error.source === undefined ? {} : { source: error.source }),
    ...(error.positions === undefined ? {} : { positions: error.positions }),
    ...(error.path === undefined ? {} : { path: error.path }),
    ...(error.originalError === undefined ? {} : { originalError: error.originalError }),
    extensions: { ...error.extensions, code },
  });
}

function tamsGraphqlError(error: TamsError): GraphQLError {
  return new GraphQLError(error.message, { originalError: error });
}

/** Close codes of refused connections and subscriptions (graphql-ws leaves 4400-4499 to the server's meaning). */
const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_FORBIDDEN = 4403;
/** graphql-ws's own code for too many requests, here too many failed authentications from the address. */
const CLOSE_TOO_MANY_REQUESTS = 4429;
/** RFC 6455 "try again later": the credentials could not be checked (key set unreachable). */
const CLOSE_TRY_AGAIN_LATER = 1013;

/** The root fields an operation selects, through its fragments. */
function rootFieldNames(selectionSet: SelectionSetNode, fragments: ReadonlyMap<string, FragmentDefinitionNode>, seen = new Set<string>()): string[] {
  return selectionSet.selections.flatMap((selection) => {
    if (selection.kind === Kind.FIELD) return [selection.name.value];
    if (selection.kind === Kind.INLINE_FRAGMENT) return rootFieldNames(selection.selectionSet, fragments, seen);
    const fragment = fragments.get(selection.name.value);
    if (fragment === undefined || seen.has(selection.name.value)) return [];
    seen.add(selection.name.value);
    return rootFieldNames(fragment.selectionSet, fragments, seen);
  });
}

/**
 * graphql-js `subscribe`, with two differences for long-lived, widely shared subscriptions:
 * - each event runs with fresh loaders: one loader cache for hours of events would serve the
 *   first event's reads (a flow's source, say) to every later one;
 * - subscribers of one event with the same document, variables and request context share one
 *   execution of it, so an event costs an execution per distinct subscription, not per
 *   subscriber (1,000 dashboards watching one flow execute once).
 * `return()` reaches the event stream at once, so a completed subscription leaves the hub.
 * Each result carries its event's cursor (`extensions.cursor`), to resume from with `after`.
 */
function subscriptionExecutor(
  services: GraphqlServices,
  limits: PageLimits,
  observeBatch: BatchObserver | undefined,
): (args: ExecutionArgs) => Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  // Keyed by the event object the hub hands every subscriber: gone once they all have it.
  const executions = new WeakMap<object, Map<string, Promise<ExecutionResult>>>();
  return async (args) => {
    const stream = await createSourceEventStream(args);
    if (!(Symbol.asyncIterator in stream)) return stream;
    const events = stream[Symbol.asyncIterator]();
    const operation = args.contextValue as SubscriptionContext;
    const query = args.document.loc?.source.body;
    // Everything a result depends on besides the event; without the query text, nothing is shared.
    // A digest: the text and variables are not kept once per subscription.
    const key = query === undefined ? undefined : createHash('sha256').update(JSON.stringify([query, args.operationName, args.variableValues, operation.request])).digest('base64');
    const run = async (event: OutboxEvent): Promise<ExecutionResult> => {
      const contextValue: SubscriptionContext = { ...createContext(services, operation.request, limits, observeBatch), events: operation.events };
      const result = await execute({ ...args, rootValue: event, contextValue });
      return { ...result, extensions: { ...result.extensions, cursor: encodeEventCursor(event.seq) } };
    };
    const results: AsyncIterableIterator<ExecutionResult> = {
      async next() {
        const next = await events.next();
        if (next.done === true) return { value: undefined, done: true };
        // Credentials are checked before each delivery, not only when the subscription began.
        if (operation.stillAuthenticated?.() === false) {
          await events.return?.();
          return { value: undefined, done: true };
        }
        const event = next.value as OutboxEvent;
        if (key === undefined) return { value: await run(event), done: false };
        let byKey = executions.get(event);
        if (!byKey) executions.set(event, (byKey = new Map<string, Promise<ExecutionResult>>()));
        let result = byKey.get(key);
        if (!result) byKey.set(key, (result = run(event)));
        return { value: await result, done: false };
      },
      async return() {
        await events.return?.();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return results;
      },
    };
    return results;
  };
}

/**
 * GraphQL subscriptions over graphql-ws on the HTTP server, at the GraphQL path (other upgrade
 * paths are refused). Only subscription operations are served: queries and mutations go over HTTP,
 * through Apollo and its plugins. On close the clients get 1001 (going away) before the HTTP
 * server stops, which would otherwise wait for the upgraded sockets.
 */
export function registerSubscriptionServer(app: FastifyInstance, options: SubscriptionServerOptions): void {
  const { schema, services, limits } = options;
  // Each event is checked against each subscriber's scopes and auth classes on delivery.
  const hub = new SubscriptionEvents(options.events, { visibility: new StoredEventVisibility(services), history: options.events });
  const { rateLimiter } = options;
  options.watchSubscriptions?.(() => hub.size);
  const format = (error: GraphQLError): GraphQLFormattedError => options.formatError(error.toJSON(), error);

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });

  // What each caller keeps live (by rate-limit identity), and what each socket's subscriptions hold of it.
  const live = new Map<string, { count: number; cost: number }>();
  const held = new Map<WebSocket, Map<string, { identity: string; cost: number }>>();
  const release = (socket: WebSocket, id: string): void => {
    const entry = held.get(socket)?.get(id);
    if (entry === undefined) return;
    held.get(socket)?.delete(id);
    const total = live.get(entry.identity);
    if (total === undefined) return;
    total.count--;
    total.cost -= entry.cost;
    if (total.count <= 0) live.delete(entry.identity);
  };
  const hold = (socket: WebSocket, id: string, identity: string, cost: number): TamsError | undefined => {
    const total = live.get(identity) ?? { count: 0, cost: 0 };
    if (total.count + 1 > MAX_LIVE_SUBSCRIPTIONS_PER_CALLER || total.cost + cost > MAX_LIVE_SUBSCRIPTION_COST_PER_CALLER) {
      return new TamsError('rate_limited', `Too many live subscriptions for this caller (at most ${MAX_LIVE_SUBSCRIPTIONS_PER_CALLER}, of estimated cost ${MAX_LIVE_SUBSCRIPTION_COST_PER_CALLER} in all)`);
    }
    total.count++;
    total.cost += cost;
    live.set(identity, total);
    let mine = held.get(socket);
    if (mine === undefined) {
      held.set(socket, (mine = new Map<string, { identity: string; cost: number }>()));
      socket.once('close', () => {
        for (const subscription of [...(held.get(socket)?.keys() ?? [])]) release(socket, subscription);
        held.delete(socket);
      });
    }
    mine.set(id, { identity, cost });
    return undefined;
  };

  // Each open connection's caller: a token expires, a Basic user is removed, and the
  // connection (every subscription on it) must end then, not when the client leaves.
  const callers = new Map<WebSocket, Principal>();
  const expire = (socket: WebSocket, principal: Principal): void => {
    if (!callers.delete(socket)) return;
    app.log.info({ subject: principal.subject }, 'GraphQL WebSocket closed: credentials no longer valid');
    socket.close(CLOSE_UNAUTHORIZED, 'Unauthorized: credentials expired');
  };
  const current = (socket: WebSocket, principal: Principal): boolean => {
    if (app.authenticator.isCurrent(principal)) return true;
    expire(socket, principal);
    return false;
  };
  const sweep = setInterval(() => {
    for (const [socket, principal] of callers) current(socket, principal);
  }, CREDENTIALS_SWEEP_MS);
  sweep.unref();
  const server = useServer<ConnectionInitMessage['payload'], { principal: Principal }>(
    {
      schema,
      // Never an error text in a close reason (graphql-ws puts it there outside production).
      isProd: true,
      // The connection's caller, from connection_init (or its upgrade request). graphql-ws
      // closes a refused connection with 4403; closing it first gives the refusal its own code
      // (unauthenticated 4401), and graphql-ws's close then does nothing.
      onConnect: async (ctx) => {
        const { socket, request } = ctx.extra;
        const address = options.clientAddressOf(request);
        if (app.authenticator.enabled && (await rateLimiter?.exhausted('graphql', 'auth_failure', address)) !== undefined) {
          socket.close(CLOSE_TOO_MANY_REQUESTS, 'Too many requests');
          auditRefusedConnection(app.audit, options.path, request, address, { status: 429 });
          return false;
        }
        const outcome = await authenticateConnection(app.authenticator, ctx.connectionParams, request);
        if (!outcome.ok) {
          const { failure } = outcome;
          app.log.info({ authFailure: failure }, 'GraphQL WebSocket connection refused');
          socket.close(failure.unavailable ? CLOSE_TRY_AGAIN_LATER : CLOSE_UNAUTHORIZED, failure.unavailable ? 'Try again later' : 'Unauthorized');
          if (!failure.unavailable) auditRefusedConnection(app.audit, options.path, request, address, { status: 401, reason: failure.reason });
          // As over HTTP, only credentials presented and refused count as a failed authentication.
          if (!failure.unavailable && failure.method !== 'none') await rateLimiter?.record('auth_failure', address);
          return false;
        }
        ctx.extra.principal = outcome.principal;
        if (app.authenticator.enabled) {
          callers.set(socket, outcome.principal);
          socket.once('close', () => callers.delete(socket));
        }
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        const caller = ctx.extra.principal;
        if (caller !== undefined && !current(ctx.extra.socket, caller)) {
          return [tamsGraphqlError(new TamsError('unauthorized', 'The connection\'s credentials have expired: connect again with new ones'))];
        }
        // graphql-ws has already counted this one in.
        if (Object.keys(ctx.subscriptions).length > MAX_SUBSCRIPTIONS_PER_CONNECTION) {
          return [tamsGraphqlError(new TamsError('rate_limited', `At most ${MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection`))];
        }
        if (options.persistedOnly !== undefined && !options.persistedOnly.has(operationHash(payload.query))) {
          return [tamsGraphqlError(new TamsError('persisted_query_required', 'Only the persisted operations are accepted'))];
        }
        // Limits first: a refused operation is never validated or run.
        let guarded: GuardedOperation;
        try {
          guarded = options.guard.check(payload.query, payload.operationName, payload.variables ?? undefined, true);
        } catch (err) {
          if (err instanceof TamsError) return [tamsGraphqlError(err)];
          if (err instanceof GraphQLError) return [withCode(err, 'GRAPHQL_PARSE_FAILED')];
          throw err;
        }
        const principal = ctx.extra.principal ?? ANONYMOUS_PRINCIPAL;
        const identity = rateLimitIdentity(principal, options.clientAddressOf(ctx.extra.request));
        if (rateLimiter !== undefined && guarded.cost > 0) {
          const limited = await rateLimiter.take('graphql', 'graphql_cost', identity, Math.ceil(guarded.cost));
          if (limited !== undefined) return [tamsGraphqlError(limited)];
        }
        const { document, operation } = guarded;
        if (document === undefined) throw new Error('the operation guard answered without the document asked for');
        const invalid = validate(schema, document);
        if (invalid.length > 0) return invalid.map((e) => withCode(e, 'GRAPHQL_VALIDATION_FAILED'));
        if (!operation) {
          return [new GraphQLError('Unable to identify the operation: name it with operationName', { extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } })];
        }
        if (operation.operation !== OperationTypeNode.SUBSCRIPTION) {
          return [tamsGraphqlError(new TamsError('method_not_allowed', `Only subscriptions are served over WebSocket; send a ${operation.operation} over HTTP`))];
        }
        // graphql-shield guards each event's resolver, not the start of a subscription: the
        // scopes of the subscribed field are checked here. A refusal closes the socket (4403).
        const subscriptionType = schema.getSubscriptionType()?.name ?? 'Subscription';
        const fragments = new Map(document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])));
        for (const field of rootFieldNames(operation.selectionSet, fragments)) {
          const action = actionOfRootField(subscriptionType, field);
          if (action !== undefined && hasRequiredScopes(principal, action)) continue;
          app.log.info({ subject: principal.subject, field }, 'GraphQL subscription refused: missing scope');
          ctx.extra.socket.close(CLOSE_FORBIDDEN, 'Forbidden');
          auditRefusedConnection(app.audit, options.path, ctx.extra.request, options.clientAddressOf(ctx.extra.request), { status: 403, principal, field });
          const needed = action === undefined ? 'an access rule' : `scope ${requiredScopes(action).join(' or ')}`;
          return [tamsGraphqlError(new TamsError('forbidden', `Subscribing to ${field} needs ${needed}`))];
        }
        // Kept for the subscription's life: only what the operation declares (graphql-js
        // ignores the rest), and not much of it.
        const declared = new Set((operation.variableDefinitions ?? []).map((v) => v.variable.name.value));
        const variableValues = Object.fromEntries(Object.entries(payload.variables ?? {}).filter(([name]) => declared.has(name)));
        if (JSON.stringify(variableValues).length > MAX_SUBSCRIPTION_VARIABLES_BYTES) {
          return [tamsGraphqlError(new TamsError('bad_request', `A subscription's variables may hold at most ${MAX_SUBSCRIPTION_VARIABLES_BYTES} bytes of JSON`))];
        }
        const refused = hold(ctx.extra.socket, id, identity, Math.max(1, Math.ceil(guarded.cost)));
        if (refused !== undefined) return [tamsGraphqlError(refused)];
        // graphql-ws takes no subscription before onConnect has accepted the connection.
        const request = { baseUrl: options.publicUrl ?? options.originOf(ctx.extra.request), principal };
        const socket = ctx.extra.socket;
        const contextValue: SubscriptionContext = {
          ...createContext(services, request, limits, options.observeBatch),
          events: hub.forViewer(principal),
          stillAuthenticated: () => !app.authenticator.enabled || current(socket, principal),
        };
        return { schema, document, operationName: payload.operationName, variableValues, contextValue };
      },
      subscribe: subscriptionExecutor(services, limits, options.observeBatch),
      onComplete: (ctx, id) => release(ctx.extra.socket, id),
      onNext: (_ctx, _id, _payload, _args, result) => {
        if (result.errors === undefined) return undefined;
        // Errors without a path are graphql-js rejecting the variables: the client's input.
        const errors = result.errors.map((e) => format(e.path === undefined && e.extensions.code === undefined ? withCode(e, 'BAD_USER_INPUT') : e));
        return { ...result, errors };
      },
      onError: (_ctx, _id, _payload, errors) => errors.map(format),
    },
    wss,
  );

  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if ((request.url ?? '').split('?', 1)[0] !== options.path) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  });

  app.addHook('preClose', async () => {
    clearInterval(sweep);
    // A client that never answers the close handshake must not hold the shutdown.
    const timer = setTimeout(() => {
      for (const client of wss.clients) client.terminate();
    }, CLOSE_GRACE_MS);
    try {
      await server.dispose();
    } finally {
      clearTimeout(timer);
    }
  });
}
