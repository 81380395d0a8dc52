/**
 * The one rate-limit policy; the REST hook (src/http/rate-limit.ts), the GraphQL shield rules
 * (src/graphql/access/rate-limit-rules.ts) and the WebSocket server are thin edges over it, as they
 * are over the access policy. Fixed windows over RateLimitCounters: O(1) per request, atomic
 * in Redis, and a refusal can say exactly when the window ends (Retry-After).
 */
import { TamsError } from '../domain/errors';
import type { Principal } from '../domain/principal';
import type { RateLimitCounters } from '../ports/rate-limit-counters';
import type { AccessAction } from './access-policy';

/**
 * What is counted. `read` and `write`: REST operations per principal; `graphql_list`: GraphQL
 * list fields (the expensive ones) per principal; `graphql_mutation`: GraphQL mutation fields
 * per principal; `graphql_cost`: the estimated cost of each GraphQL operation, charged before
 * it runs, per principal; `auth_failure`: rejected credentials per client address.
 */
export const RATE_LIMIT_RULES = ['read', 'write', 'graphql_list', 'graphql_mutation', 'graphql_cost', 'auth_failure'] as const;
export type RateLimitRule = (typeof RATE_LIMIT_RULES)[number];

/** Where a refusal happened, for the metrics. */
export type RateLimitEdge = 'rest' | 'graphql';

export interface RateLimitSettings {
  windowMs: number;
  /** What each rule allows per window (and per identity). */
  perWindow: Readonly<Record<RateLimitRule, number>>;
}

/** Limits are configured per minute; a shorter window gets its share (at least 1), so bursts are smoothed. */
export function perWindowFromPerMinute(perMinute: Readonly<Record<RateLimitRule, number>>, windowMs: number): Record<RateLimitRule, number> {
  const share = (n: number): number => Math.max(1, Math.round((n * windowMs) / 60_000));
  return Object.fromEntries(RATE_LIMIT_RULES.map((rule) => [rule, share(perMinute[rule])])) as Record<RateLimitRule, number>;
}

const WHAT: Readonly<Record<RateLimitRule, string>> = {
  read: 'read requests',
  write: 'write requests',
  graphql_list: 'GraphQL list queries',
  graphql_mutation: 'GraphQL mutations',
  graphql_cost: 'GraphQL operations for their cost',
  auth_failure: 'failed authentications from this address',
};

/** The registry's `rate_limited`, with the seconds until the limit lifts (REST Retry-After, GraphQL extensions.retryAfter). */
export class RateLimitedError extends TamsError {
  constructor(
    readonly rule: RateLimitRule,
    readonly retryAfterSec: number,
  ) {
    super('rate_limited', `Too many ${WHAT[rule]}: retry in ${retryAfterSec} s`);
  }
}

/** Whose budget a request spends: its subject when authenticated, else its client address. */
export function rateLimitIdentity(principal: Principal, clientAddress: string): string {
  return principal.authenticated ? `sub:${principal.subject}` : `ip:${clientAddress}`;
}

/** REST operations are reads (actions named `*.read`, `*.list`: GET and HEAD) or writes (everything else). */
export function restRuleOf(action: AccessAction): 'read' | 'write' {
  return action.endsWith('.read') || action.endsWith('.list') ? 'read' : 'write';
}

export interface RateLimiterHooks {
  rejected?: (edge: RateLimitEdge, rule: RateLimitRule) => void;
  /**
   * The counters failed (Redis away): requests go through unlimited rather than fail. Told at
   * most once per window, not once per request.
   */
  countersFailed?: (err: unknown) => void;
}

export class RateLimiter {
  private lastFailureToldMs = -Infinity;

  constructor(
    private readonly counters: RateLimitCounters,
    readonly settings: RateLimitSettings,
    private readonly hooks: RateLimiterHooks = {},
  ) {}

  /**
   * Counts `amount` (one request, or a GraphQL operation's cost) under `rule` for `identity`:
   * the refusal when that goes over the limit. What a refused request asked for is counted
   * too, so a caller that keeps asking stays refused until the window ends.
   */
  async take(edge: RateLimitEdge, rule: RateLimitRule, identity: string, amount = 1): Promise<RateLimitedError | undefined> {
    try {
      const window = await this.counters.hit(`${rule}:${identity}`, this.settings.windowMs, amount);
      return window.count > this.settings.perWindow[rule] ? this.refuse(edge, rule, window.resetInMs) : undefined;
    } catch (err) {
      this.countersFailed(err);
      return undefined;
    }
  }

  /** The refusal when `identity` has used up `rule` already; counts nothing. */
  async exhausted(edge: RateLimitEdge, rule: RateLimitRule, identity: string): Promise<RateLimitedError | undefined> {
    try {
      const window = await this.counters.peek(`${rule}:${identity}`);
      return window.count >= this.settings.perWindow[rule] ? this.refuse(edge, rule, window.resetInMs) : undefined;
    } catch (err) {
      this.countersFailed(err);
      return undefined;
    }
  }

  /** Counts one event (a failed authentication) without deciding anything. */
  async record(rule: RateLimitRule, identity: string): Promise<void> {
    try {
      await this.counters.hit(`${rule}:${identity}`, this.settings.windowMs);
    } catch (err) {
      this.countersFailed(err);
    }
  }

  private countersFailed(err: unknown): void {
    const now = Date.now();
    if (now - this.lastFailureToldMs < this.settings.windowMs) return;
    this.lastFailureToldMs = now;
    this.hooks.countersFailed?.(err);
  }

  private refuse(edge: RateLimitEdge, rule: RateLimitRule, resetInMs: number): RateLimitedError {
    this.hooks.rejected?.(edge, rule);
    return new RateLimitedError(rule, Math.max(1, Math.ceil(resetInMs / 1000)));
  }
}
