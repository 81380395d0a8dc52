/**
 * The official TAMS 8.2 OpenAPI document and JSON Schemas, loaded from disk for conformance
 * tests. Nothing here is bundled into src/: the spec folder is only read at test time.
 *
 * The folder is `$TAMS_SPEC_DIR`, or `../shared/tams-spec` next to the repository root.
 * Suites that need it use `describeWithSpec` (one test: `itWithSpec`), which reports them
 * skipped (one line of output) when the folder is missing, except in CI (`CI=true`) where a
 * missing spec is a failure.
 */
import fs from 'node:fs';
import path from 'node:path';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { describeNeeding, itNeeding, type Requirement } from './service-lanes';

const REPO_ROOT = path.resolve(__dirname, '../..');
const SPEC_FILE = path.join('api', 'TimeAddressableMediaStore.yaml');
const HTTP_METHODS = ['get', 'head', 'post', 'put', 'delete', 'patch', 'options'] as const;

/** Absolute path of the TAMS spec folder (the one holding `api/`). */
export function specDir(): string {
  const fromEnv = process.env.TAMS_SPEC_DIR;
  return fromEnv ? path.resolve(fromEnv) : path.resolve(REPO_ROOT, '../shared/tams-spec');
}

export function specAvailable(): boolean {
  return fs.existsSync(path.join(specDir(), SPEC_FILE));
}

/** The spec folder, as a requirement of a test lane (test/support/service-lanes.ts). */
export function specRequirement(): Requirement {
  return {
    what: 'the TAMS spec',
    missing: specAvailable() ? undefined : `no ${SPEC_FILE} under ${specDir()} (set TAMS_SPEC_DIR, or put the spec in ../shared/tams-spec)`,
  };
}

/**
 * `describe` for suites that read the official spec. Missing spec: outside CI the suite's
 * tests are reported skipped (the reason printed once); with CI=true the suite fails with it.
 * A suite that reads the spec while jest collects it gets one placeholder test instead.
 */
export function describeWithSpec(name: string, fn: () => void): void {
  describeNeeding(specRequirement(), name, fn);
}

/** `it` for one test that reads the official spec: skipped without it outside CI, failed in CI. */
export function itWithSpec(name: string, fn: jest.ProvidesCallback, timeout?: number): void {
  itNeeding(specRequirement(), name, fn, timeout);
}

export interface OperationSummary {
  operationId: string;
  /** Upper-case HTTP method. */
  method: string;
  /** OpenAPI path template, e.g. `/flows/{flowId}/segments`. */
  path: string;
  /** Declared response statuses, ascending. */
  statuses: number[];
}

export interface ResponseExample {
  operationId: string;
  status: number;
  /** Path of the example file relative to `api/`, e.g. `examples/flow-get-200-multi.json`. */
  file: string;
}

export interface ValidationResult {
  ok: boolean;
  /** Empty when ok; otherwise Ajv's errors, one per line. */
  errors: string;
}

type Json = Record<string, unknown>;

interface Operation extends OperationSummary {
  /** Response objects by status, with `#/components/responses/...` already resolved. */
  responses: Map<number, Json>;
}

interface LoadedSpec {
  ajv: Ajv2020;
  document: Json;
  operations: Map<string, Operation>;
  validators: Map<string, ValidateFunction>;
}

let loaded: LoadedSpec | undefined;

function isJson(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
}

/** Rewrites the document's `schemas/x.json` refs to the `$id`s the schema files are registered under. */
function toSchemaIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toSchemaIds);
  if (!isJson(value)) return value;
  const out: Json = {};
  for (const [key, child] of Object.entries(value)) {
    out[key] = key === '$ref' && typeof child === 'string' ? child.replace(/^(\.\/)?schemas\//, '') : toSchemaIds(child);
  }
  return out;
}

function resolveLocalRef(document: Json, ref: string): Json {
  if (!ref.startsWith('#/')) throw new Error(`unsupported reference ${ref}`);
  let node: unknown = document;
  for (const part of ref.slice(2).split('/')) {
    node = isJson(node) ? node[part.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
  }
  if (!isJson(node)) throw new Error(`unresolvable reference ${ref}`);
  return node;
}

function deref(document: Json, value: unknown): Json | undefined {
  if (!isJson(value)) return undefined;
  const ref = value.$ref;
  return typeof ref === 'string' && ref.startsWith('#/') ? resolveLocalRef(document, ref) : value;
}

function load(): LoadedSpec {
  if (loaded) return loaded;
  const dir = specDir();
  if (!specAvailable()) throw new Error(`TAMS spec not found at ${dir} (set TAMS_SPEC_DIR)`);

  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const schemaDir = path.join(dir, 'api', 'schemas');
  for (const file of fs.readdirSync(schemaDir).filter((f) => f.endsWith('.json')).sort()) {
    const schema = readJson(path.join(schemaDir, file));
    if (!isJson(schema)) throw new Error(`${file} is not a JSON Schema object`);
    // The files refer to each other by bare file name ("uuid.json"), so that is their id.
    ajv.addSchema(typeof schema.$id === 'string' ? schema : { ...schema, $id: file });
  }

  const document = parseYaml(fs.readFileSync(path.join(dir, SPEC_FILE), 'utf8')) as unknown;
  if (!isJson(document) || !isJson(document.paths)) throw new Error(`${SPEC_FILE} has no paths`);

  const operations = new Map<string, Operation>();
  for (const [pathTemplate, pathItem] of Object.entries(document.paths)) {
    if (!isJson(pathItem)) continue;
    for (const method of HTTP_METHODS) {
      const operation = pathItem[method];
      if (!isJson(operation) || typeof operation.operationId !== 'string') continue;
      const responses = new Map<number, Json>();
      for (const [status, response] of Object.entries(isJson(operation.responses) ? operation.responses : {})) {
        const resolved = deref(document, response);
        if (resolved && /^\d{3}$/.test(status)) responses.set(Number(status), resolved);
      }
      operations.set(operation.operationId, {
        operationId: operation.operationId,
        method: method.toUpperCase(),
        path: pathTemplate,
        statuses: [...responses.keys()].sort((a, b) => a - b),
        responses,
      });
    }
  }
  loaded = { ajv, document, operations, validators: new Map() };
  return loaded;
}

function jsonContent(response: Json): Json | undefined {
  const content = response.content;
  if (!isJson(content)) return undefined;
  const json = content['application/json'];
  return isJson(json) ? json : undefined;
}

function compileCached(spec: LoadedSpec, key: string, schema: unknown): ValidateFunction {
  let validate = spec.validators.get(key);
  if (!validate) {
    validate = spec.ajv.compile(toSchemaIds(schema) as Json);
    spec.validators.set(key, validate);
  }
  return validate;
}

function getOperation(spec: LoadedSpec, operationId: string): Operation {
  const operation = spec.operations.get(operationId);
  if (!operation) throw new Error(`unknown TAMS operationId ${JSON.stringify(operationId)}`);
  return operation;
}

/**
 * The compiled schema of a response body, or `undefined` when the status is declared without
 * a body. Throws for an unknown operationId or an undeclared status.
 */
export function responseValidator(operationId: string, status: number): ValidateFunction | undefined {
  const spec = load();
  const operation = getOperation(spec, operationId);
  const response = operation.responses.get(status);
  if (!response) {
    throw new Error(`${operationId} declares no ${status} response (declared: ${operation.statuses.join(', ')})`);
  }
  const schema = jsonContent(response)?.schema;
  return schema === undefined ? undefined : compileCached(spec, `response ${operationId} ${status}`, schema);
}

function result(validate: ValidateFunction, body: unknown, ajv: Ajv2020): ValidationResult {
  return validate(body) ? { ok: true, errors: '' } : { ok: false, errors: ajv.errorsText(validate.errors, { separator: '\n' }) };
}

/**
 * Checks a response body against the operation's declared schema for that status.
 * - unknown operationId: throws (a typo must not make a test pass);
 * - undeclared status: not ok;
 * - status declared without a body schema (e.g. 204, most 404s): ok when the body is empty
 *   (`undefined`, `null` or `''`), and for 4xx/5xx also when it is a TAMS error (error.json),
 *   which is the body this gateway sends for every error;
 * - HEAD operations: ok when the body is empty.
 */
export function validateResponse(operationId: string, status: number, body: unknown): ValidationResult {
  const spec = load();
  const operation = getOperation(spec, operationId);
  if (!operation.responses.has(status)) {
    return { ok: false, errors: `${operationId} declares no ${status} response (declared: ${operation.statuses.join(', ')})` };
  }
  const empty = body === undefined || body === null || body === '';
  if (operation.method === 'HEAD') {
    return empty ? { ok: true, errors: '' } : { ok: false, errors: 'a HEAD response must have no body' };
  }
  const validate = responseValidator(operationId, status);
  if (validate) return result(validate, body, spec.ajv);
  if (empty) return { ok: true, errors: '' };
  if (status >= 400) return result(compileCached(spec, 'error', { $ref: 'error.json' }), body, spec.ajv);
  return { ok: false, errors: `${operationId} ${status} declares no body, got ${JSON.stringify(body)}` };
}

function normalizeTemplate(template: string): string {
  return template
    .replace(/\{[^}]+\}/g, '{}')
    .replace(/:[A-Za-z_][A-Za-z0-9_]*/g, '{}')
    .replace(/(.)\/+$/, '$1');
}

/**
 * The operationId for a method and path template. Templates may use OpenAPI (`{flowId}`) or
 * fastify (`:flowId`) parameters; parameter names need not match. Throws when none matches.
 */
export function operationFor(method: string, pathTemplate: string): string {
  const wantedMethod = method.toUpperCase();
  const wantedPath = normalizeTemplate(pathTemplate);
  for (const operation of load().operations.values()) {
    if (operation.method === wantedMethod && normalizeTemplate(operation.path) === wantedPath) {
      return operation.operationId;
    }
  }
  throw new Error(`no TAMS operation for ${wantedMethod} ${pathTemplate}`);
}

export function listOperations(): OperationSummary[] {
  return [...load().operations.values()].map(({ operationId, method, path: p, statuses }) => ({
    operationId,
    method,
    path: p,
    statuses: [...statuses],
  }));
}

/** Every example file the document attaches to a response (`example: {$ref}` or `examples.*.externalValue`). */
export function listResponseExamples(): ResponseExample[] {
  const examples: ResponseExample[] = [];
  for (const operation of load().operations.values()) {
    for (const [status, response] of operation.responses) {
      const content = jsonContent(response);
      if (!content) continue;
      const files: string[] = [];
      if (isJson(content.example) && typeof content.example.$ref === 'string') files.push(content.example.$ref);
      for (const example of Object.values(isJson(content.examples) ? content.examples : {})) {
        if (!isJson(example)) continue;
        if (typeof example.externalValue === 'string') files.push(example.externalValue);
        if (isJson(example.value) && typeof example.value.$ref === 'string') files.push(example.value.$ref);
      }
      for (const file of files) examples.push({ operationId: operation.operationId, status, file });
    }
  }
  return examples;
}

/** Reads a file of the spec's `api/` folder (e.g. `examples/flow-put.json`) as JSON. */
export function readSpecJson(relativePath: string): unknown {
  return readJson(path.join(specDir(), 'api', relativePath));
}

/** The official JSON Schema of one file in `api/schemas/`, compiled with its references resolved. */
export function officialSchema(fileName: string): ValidateFunction {
  const spec = load();
  const validate = spec.ajv.getSchema(fileName);
  if (!validate) throw new Error(`no TAMS schema ${fileName}`);
  return validate;
}

/** The official request-body schema of an operation (e.g. the object-or-array segment POST). */
export function requestValidator(operationId: string): ValidateFunction {
  const spec = load();
  const operation = getOperation(spec, operationId);
  const pathItem = (spec.document.paths as Json)[operation.path] as Json;
  const requestBody = deref(spec.document, (pathItem[operation.method.toLowerCase()] as Json).requestBody);
  const schema = requestBody ? jsonContent(requestBody)?.schema : undefined;
  if (schema === undefined) throw new Error(`${operationId} declares no JSON request body`);
  return compileCached(spec, `request ${operationId}`, schema);
}

/** Webhook event types declared under the document's `webhooks:` (e.g. `flows/created`). */
export function listEventTypes(): string[] {
  const webhooks = load().document.webhooks;
  return Object.keys(isJson(webhooks) ? webhooks : {});
}

/** Checks a webhook payload (`{event_timestamp, event_type, event}`) against the declared schema. Throws for an unknown event type. */
export function validateEvent(eventType: string, envelope: unknown): ValidationResult {
  const spec = load();
  const webhooks = spec.document.webhooks;
  const hook = isJson(webhooks) ? webhooks[eventType] : undefined;
  const requestBody = isJson(hook) ? deref(spec.document, hook.post) : undefined;
  const body = requestBody ? deref(spec.document, requestBody.requestBody) : undefined;
  const schema = body ? jsonContent(body)?.schema : undefined;
  if (schema === undefined) throw new Error(`unknown TAMS webhook event type ${JSON.stringify(eventType)}`);
  return result(compileCached(spec, `event ${eventType}`, schema), envelope, spec.ajv);
}
