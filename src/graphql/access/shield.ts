/**
 * graphql-shield over the access policy: every Query, Mutation and Subscription field maps to
 * the ACTIONS entry whose scopes it needs (the same entries the REST scope table uses), and a
 * field without an entry is denied (`fallbackRule: deny`). The per-resource checks (auth
 * classes) stay in the services, as for REST.
 *
 * Only root fields are wrapped. graphql-shield wraps every field of every type it is given,
 * each nested field becoming an async resolver: measured on compiled execution, a listing of
 * 50 flows with 8 fields each took 15-30% longer (about 1 µs per field), against 1-2 µs per
 * request for root fields only. Nested fields are reached only through a root field, whose
 * check has passed, and read through services that apply the auth classes.
 */
import type { GraphQLSchema } from 'graphql';
import { applyMiddleware, type IMiddlewareTypeMap } from 'graphql-middleware';
import { chain, deny, rule, shield, type IRule } from 'graphql-shield';
import { TamsError } from '../../domain/errors';
import { type AccessAction, requireScopes } from '../../services/access-policy';
import type { RateLimiter } from '../../services/rate-limiter';
import type { GraphqlContext } from '../context';
import { rateLimitRule } from './rate-limit-rules';

type RootType = 'Query' | 'Mutation' | 'Subscription';

/** Every root field of the schema -> the action it performs (test/unit/graphql/shield.test.ts checks the schema against it). */
export const ROOT_FIELD_ACTIONS = {
  Query: {
    flows: 'flows.list',
    flow: 'flow.read',
    segments: 'segments.list',
    service: 'service.read',
    storageBackends: 'storage_backends.list',
    sources: 'sources.list',
    source: 'source.read',
    profiles: 'profiles.list',
    profile: 'profile.read',
    webhooks: 'webhooks.list',
    webhook: 'webhook.read',
    deletionRequests: 'delete_requests.list',
    deletionRequest: 'delete_request.read',
    object: 'object.read',
    me: 'principal.read',
    eventCursor: 'events.subscribe',
  },
  Mutation: {
    putFlow: 'flow.put',
    deleteFlow: 'flow.delete',
    setFlowTag: 'flow.property.write',
    deleteFlowTag: 'flow.property.delete',
    setFlowLabel: 'flow.property.write',
    deleteFlowLabel: 'flow.property.delete',
    setFlowDescription: 'flow.property.write',
    deleteFlowDescription: 'flow.property.delete',
    setFlowMaxBitRate: 'flow.property.write',
    deleteFlowMaxBitRate: 'flow.property.delete',
    setFlowAvgBitRate: 'flow.property.write',
    deleteFlowAvgBitRate: 'flow.property.delete',
    setFlowReadOnly: 'flow.property.write',
    setFlowCollection: 'flow.property.write',
    deleteFlowCollection: 'flow.property.delete',
    setSourceTag: 'source.property.write',
    deleteSourceTag: 'source.property.delete',
    setSourceLabel: 'source.property.write',
    deleteSourceLabel: 'source.property.delete',
    setSourceDescription: 'source.property.write',
    deleteSourceDescription: 'source.property.delete',
    registerSegments: 'segments.register',
    deleteSegments: 'segments.delete',
    allocateStorage: 'storage.allocate',
    addObjectInstance: 'object.instance.add',
    removeObjectInstance: 'object.instance.remove',
    updateService: 'service.update',
    createWebhook: 'webhook.create',
    updateWebhook: 'webhook.update',
    deleteWebhook: 'webhook.delete',
    createProfile: 'profile.create',
  },
  Subscription: {
    flowCreated: 'events.subscribe',
    flowUpdated: 'events.subscribe',
    flowDeleted: 'events.subscribe',
    flowSegmentsAdded: 'events.subscribe',
    flowSegmentsDeleted: 'events.subscribe',
    sourceCreated: 'events.subscribe',
    sourceUpdated: 'events.subscribe',
    sourceDeleted: 'events.subscribe',
    tamsEvents: 'events.subscribe',
  },
} as const satisfies Record<RootType, Record<string, AccessAction>>;

/** The action of a root field, undefined when the table has none (such a field is denied). */
export function actionOfRootField(type: string, field: string): AccessAction | undefined {
  const fields = (ROOT_FIELD_ACTIONS as Record<string, Record<string, AccessAction> | undefined>)[type];
  return fields === undefined || !Object.hasOwn(fields, field) ? undefined : fields[field];
}

/**
 * One rule per action, so fields of one action share its result in a request ('contextual'
 * cache). A refusal is the registry's error (UNAUTHENTICATED or FORBIDDEN, naming the scopes
 * needed), returned for graphql-shield to raise on the field.
 */
function scopeRules(): (action: AccessAction) => IRule {
  const rules = new Map<AccessAction, IRule>();
  return (action) => {
    let scopeRule = rules.get(action);
    if (scopeRule === undefined) {
      scopeRule = rule(`scopes:${action}`, { cache: 'contextual' })((_parent, _args, ctx: GraphqlContext) => {
        try {
          requireScopes(ctx.request.principal, action);
          return true;
        } catch (err) {
          return err as TamsError;
        }
      });
      rules.set(action, scopeRule);
    }
    return scopeRule;
  };
}

export interface ShieldOptions {
  /** Limits list queries and mutations per principal; none when RATE_LIMIT_ENABLED=false. */
  rateLimiter?: RateLimiter | undefined;
}

/** The fields worth a rate limit besides mutations: listings (actions named `*.list`). */
function isListing(action: AccessAction): boolean {
  return action.endsWith('.list');
}

/** The schema with the scope (and rate-limit) rules on its root fields. */
export function applyShield(schema: GraphQLSchema, options: ShieldOptions = {}): GraphQLSchema {
  const scopesOf = scopeRules();
  const { rateLimiter } = options;
  // One instance each: graphql-shield refuses two rules of the same name.
  const limits =
    rateLimiter === undefined
      ? undefined
      : { graphql_list: rateLimitRule(rateLimiter, 'graphql_list'), graphql_mutation: rateLimitRule(rateLimiter, 'graphql_mutation') };
  const ruleTree: Record<string, Record<string, IRule | ReturnType<typeof chain>>> = {};
  const roots = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].flatMap((t) => (t ? [t.name] : []));
  for (const type of roots) {
    const fields = (ROOT_FIELD_ACTIONS as Record<string, Record<string, AccessAction> | undefined>)[type] ?? {};
    ruleTree[type] = Object.fromEntries(
      Object.entries(fields).map(([field, action]) => {
        const scopes = scopesOf(action);
        const limit = type === 'Mutation' ? limits?.graphql_mutation : isListing(action) ? limits?.graphql_list : undefined;
        // chain: a caller without the scope spends nothing of its budget.
        return [field, limit === undefined ? scopes : chain(scopes, limit)];
      }),
    );
  }
  const permissions = shield(ruleTree, {
    fallbackRule: deny,
    // graphql-shield's default (false) answers every error a resolver throws (NOT_FOUND,
    // BAD_USER_INPUT...) with its fallbackError. With true they reach the error formatter
    // untouched, which keeps the registry's codes and masks (and logs) anything else.
    allowExternalErrors: true,
    // Only a `false` rule ends here: the deny fallback of a field the table does not know.
    fallbackError: () => new TamsError('forbidden', 'This operation has no access rule'),
  });
  const generated = permissions.generate(schema) as IMiddlewareTypeMap;
  return applyMiddleware(schema, Object.fromEntries(roots.map((type) => [type, generated[type]])) as IMiddlewareTypeMap);
}
