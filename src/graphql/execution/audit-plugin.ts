import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import type { FastifyRequest } from 'fastify';
import {
  Kind,
  OperationTypeNode,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLFormattedError,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import { type AuditEntry, type AuditLog, auditRequestFields, isPermissionDenialError } from '../../http/audit-log';

/** GraphQL codes that refuse a caller (as 401 and 403 do in REST), and the rate limit's. */
const DENIALS = new Set(['UNAUTHENTICATED', 'FORBIDDEN']);
const RATE_LIMITED = 'RATE_LIMITED';

/**
 * Where a GraphQL context keeps the HTTP request behind it, so lines name the caller like
 * REST's. A symbol key: invisible to resolvers, and kept when Apollo shallow-copies the
 * context for each operation.
 */
const HTTP_REQUEST = Symbol('audited HTTP request');

/** `context` with the request it serves attached for the audit plugin. */
export function auditedContext<C extends object>(request: FastifyRequest, context: C): C {
  return Object.assign(context, { [HTTP_REQUEST]: request });
}

function requestOf(context: object): FastifyRequest | undefined {
  return (context as { [HTTP_REQUEST]?: FastifyRequest })[HTTP_REQUEST];
}

type Variables = Readonly<Record<string, unknown>> | undefined;

function valueOf(node: ValueNode, variables: Variables): unknown {
  if (node.kind === Kind.VARIABLE) return variables?.[node.name.value];
  if (node.kind === Kind.STRING || node.kind === Kind.ENUM) return node.value;
  if (node.kind === Kind.OBJECT) return Object.fromEntries(node.fields.map((f) => [f.name.value, true]));
  if (node.kind === Kind.LIST) return node.values.map((v) => valueOf(v, variables));
  return undefined;
}

/** Ids named by the field's arguments (`id`, `flowId`...), and the names of everything else it sends: never a value. */
function describeField(field: FieldNode, variables: Variables): Pick<AuditEntry, 'resource' | 'changed'> {
  const resource: Record<string, string> = {};
  const fields = new Set<string>();
  for (const argument of field.arguments ?? []) {
    const name = argument.name.value;
    const value = valueOf(argument.value, variables);
    if ((name === 'id' || name.endsWith('Id')) && typeof value === 'string') resource[name] = value;
    else if (typeof value === 'object' && value !== null && !Array.isArray(value)) for (const key of Object.keys(value)) fields.add(key);
    else fields.add(name);
  }
  return {
    ...(Object.keys(resource).length === 0 ? {} : { resource }),
    ...(fields.size === 0 ? {} : { changed: { fields: [...fields].sort() } }),
  };
}

/** The root fields of an operation, through its fragments (as written: `@skip`/`@include` are not evaluated). */
function rootFields(selections: SelectionSetNode, fragments: ReadonlyMap<string, FragmentDefinitionNode>, seen = new Set<string>()): FieldNode[] {
  return selections.selections.flatMap((s) => {
    if (s.kind === Kind.FIELD) return [s];
    if (s.kind === Kind.INLINE_FRAGMENT) return rootFields(s.selectionSet, fragments, seen);
    const fragment = fragments.get(s.name.value);
    if (fragment === undefined || seen.has(s.name.value)) return [];
    seen.add(s.name.value);
    return rootFields(fragment.selectionSet, fragments, seen);
  });
}

function eventOf(code: string | undefined, permissionDenial: boolean): Pick<AuditEntry, 'event' | 'outcome'> {
  if ((code !== undefined && DENIALS.has(code)) || permissionDenial) return { event: 'denied', outcome: 'denied' };
  if (code === RATE_LIMITED) return { event: 'rate_limited', outcome: 'failure' };
  return { event: 'write', outcome: code === undefined ? 'success' : 'failure' };
}

/** What the audit trail needs of one answered GraphQL operation. */
export interface AuditedOperation {
  operation: OperationDefinitionNode | undefined;
  document: DocumentNode | undefined;
  variables: Variables;
  data: Record<string, unknown> | null | undefined;
  /** The response's errors, as formatted. */
  formatted: readonly GraphQLFormattedError[];
  /** The same errors before formatting, one to one and in order. */
  raw: readonly unknown[];
  status: number;
}

/**
 * The GraphQL side of the audit trail (src/http/audit-log.ts has the REST side): one line per
 * mutation field, with its outcome, the ids it named and the names of what it sent; and one
 * line per denial or rate-limit error of any other operation. Queries without such errors
 * write nothing. Called by {@link useGraphqlAudit} for Apollo's pipeline and by the
 * prepared-query path.
 */
export function auditOperation(audit: AuditLog, path: string, request: FastifyRequest, answered: AuditedOperation): void {
  const { operation, data, formatted } = answered;
  const mutation = operation?.operation === OperationTypeNode.MUTATION;
  const concealed = request.auditConcealed ?? undefined;
  if (!mutation && formatted.length === 0 && concealed === undefined) return;
  // formatError maps errors one to one, in order: the raw error says whether a 404 hides a resource.
  const errors = formatted.map((error, i) => ({ error, permissionDenial: isPermissionDenialError(answered.raw[i]) }));
  const base = { ...auditRequestFields(request), route: path, status: answered.status };
  const codeOf = (e: GraphQLFormattedError): string | undefined => (typeof e.extensions?.code === 'string' ? e.extensions.code : undefined);

  if (mutation) {
    const fragments = new Map((answered.document?.definitions ?? []).filter((d) => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
    for (const field of rootFields(operation.selectionSet, fragments)) {
      const key = field.alias?.value ?? field.name.value;
      const result = data?.[key] as { id?: unknown } | null | undefined;
      // A field with a result was done (an error deeper in what it answers changes nothing);
      // an error without a path (limits, variables) concerns the whole operation.
      const failed = result != null ? undefined : (errors.find((e) => e.error.path?.[0] === key) ?? errors.find((e) => e.error.path === undefined));
      const code = failed === undefined ? undefined : codeOf(failed.error);
      const created = field.name.value.startsWith('create') ? result?.id : undefined;
      audit.write({
        ...base,
        ...eventOf(code, failed?.permissionDenial ?? false),
        action: `graphql.${field.name.value}`,
        ...describeField(field, answered.variables),
        ...(code === undefined ? {} : { error: code }),
        ...(typeof created === 'string' ? { created } : {}),
        ...(failed?.permissionDenial === true ? { permissionDenial: true as const } : {}),
        ...(concealed === undefined ? {} : { concealed }),
      });
    }
    return;
  }
  // A lookup of something the caller may not see answers null, as for an unknown id; REST's
  // answer is a 404 marked as a denial, and this is the same denial.
  if (concealed !== undefined) {
    audit.write({ ...base, event: 'denied', outcome: 'denied', permissionDenial: true, concealed });
  }
  for (const { error, permissionDenial } of errors) {
    const code = codeOf(error);
    if (!permissionDenial && (code === undefined || (!DENIALS.has(code) && code !== RATE_LIMITED))) continue;
    const root = error.path?.[0];
    audit.write({
      ...base,
      ...eventOf(code, permissionDenial),
      ...(typeof root === 'string' ? { action: `graphql.${root}` } : {}),
      ...(code === undefined ? {} : { error: code }),
      ...(permissionDenial ? { permissionDenial: true as const } : {}),
    });
  }
}

/** {@link auditOperation} for every operation Apollo answers over HTTP. */
export function useGraphqlAudit<C extends object>(audit: AuditLog, path: string): ApolloServerPlugin<C> {
  const listener: GraphQLRequestListener<C> = {
    async willSendResponse(rc) {
      const request = requestOf(rc.contextValue);
      if (request === undefined || rc.response.body.kind !== 'single') return;
      const { data, errors = [] } = rc.response.body.singleResult;
      auditOperation(audit, path, request, {
        operation: rc.operation,
        document: rc.document,
        variables: rc.request.variables,
        data,
        formatted: errors,
        raw: rc.errors ?? [],
        status: rc.response.http.status ?? 200,
      });
    },
  };
  return {
    async requestDidStart() {
      return listener;
    },
  };
}
