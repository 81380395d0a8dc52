/**
 * The audit trail over real HTTP: one JSON line per write (REST, GraphQL mutation field,
 * media upload), per denial (401 with its reason, 403), per rate-limit hit and per admin read,
 * with request id, principal, client address and time; none for ordinary reads. No token,
 * password, webhook key or URL signature ever appears in it, nor in fastify's own log lines
 * (checked on a gateway process, whose stdout carries both).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { readAuditLines, startHarness, type Harness } from '../support/gateway-harness';
import { embeddedTokens } from '../support/auth-tokens';
import { startGatewayProcess, type GatewayProcess } from '../ops/support/gateway-process';
import { videoFlow } from '../fixtures/flows';
import { runCli } from '../../src/cli';
import { checkedFetch } from '../support/checked-fetch';

const ISSUER = 'https://tams.test';
const AUDIENCE = 'tams-gateway';
const ALL_SCOPES = 'tams-api/read tams-api/write tams-api/delete tams-api/admin';
const WEBHOOK_KEY = 'whk-9f8e7d6c5b4a-never-logged';
const PASSWORD = 'basic-password-never-logged';
const LABEL_VALUE = 'label-value-not-in-the-audit';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON lines and bodies
type Json = any;
type Line = Record<string, Json>;

interface Sent {
  status: number;
  headers: Headers;
  body: Json;
}

async function send(base: string, method: string, url: string, options: { token?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<Sent & { requestId: string }> {
  const requestId = `audit-${randomUUID()}`;
  const headers: Record<string, string> = { 'x-request-id': requestId, ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await checkedFetch(`${base}${url}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : (JSON.parse(text) as unknown), requestId };
}

function readLines(file: string): Line[] {
  return readAuditLines(file) as Line[];
}

describe('audit log', () => {
  let h: Harness;
  let dir: string;
  let file: string;
  let admin: string;
  let reader: string;
  const secrets: string[] = [WEBHOOK_KEY, PASSWORD, LABEL_VALUE];
  const linesOf = (requestId: string): Line[] => readLines(file).filter((l) => l.requestId === requestId);

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-audit-'));
    file = path.join(dir, 'nested', 'audit.log');
    h = await startHarness({ TAMS_AUTH: 'on', AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE, AUDIT_LOG_FILE: file });
    const tokens = await embeddedTokens(h.dataDir, ISSUER, AUDIENCE);
    admin = await tokens.sign({ sub: 'auditor-admin', scope: ALL_SCOPES });
    reader = await tokens.sign({ sub: 'just-a-reader', scope: 'tams-api/read' });
    secrets.push(admin, reader, ...tokens.bad.map((b) => b.token));
  });
  afterAll(async () => {
    await h.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes one line per REST write: who, where from, what resource, which fields, outcome', async () => {
    const flow = videoFlow({ label: LABEL_VALUE });
    const put = await send(h.base, 'PUT', `/flows/${flow.id as string}`, { token: admin, body: flow });
    expect(put.status).toBe(201);
    const [line, ...more] = linesOf(put.requestId);
    expect(more).toEqual([]);
    expect(line).toMatchObject({
      name: 'audit',
      level: 'info',
      event: 'write',
      outcome: 'success',
      status: 201,
      requestId: put.requestId,
      principal: { subject: 'auditor-admin', method: 'bearer', authenticated: true },
      client: '127.0.0.1',
      method: 'PUT',
      route: '/flows/:flowId',
      path: `/flows/${flow.id as string}`,
      action: 'flow.put',
      resource: { flowId: flow.id },
    });
    expect(new Date(line!.time as string).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(line!.changed.fields).toEqual(expect.arrayContaining(['label', 'source_id', 'format', 'essence_parameters']));

    const label = await send(h.base, 'PUT', `/flows/${flow.id as string}/label`, { token: admin, body: JSON.stringify(LABEL_VALUE) });
    expect(label.status).toBe(204);
    expect(linesOf(label.requestId)).toEqual([expect.objectContaining({ event: 'write', outcome: 'success', action: 'flow.property.write', route: '/flows/:flowId/label' })]);

    const bad = await send(h.base, 'POST', `/flows/${flow.id as string}/segments`, { token: admin, body: { object_id: 'x', timerange: 'not a range' } });
    expect(bad.status).toBe(400);
    expect(linesOf(bad.requestId)).toEqual([expect.objectContaining({ event: 'write', outcome: 'failure', status: 400, action: 'segments.register', error: expect.any(String) })]);

    const deleted = await send(h.base, 'DELETE', `/flows/${flow.id as string}/label`, { token: admin });
    expect(linesOf(deleted.requestId)).toEqual([expect.objectContaining({ event: 'write', method: 'DELETE', status: 204, action: 'flow.property.delete' })]);
  });

  it('names what a POST created, and the fields of a webhook but never its key', async () => {
    const hook = await send(h.base, 'POST', '/service/webhooks', {
      token: admin,
      body: { url: 'https://hooks.example.com/in', events: ['flows/created'], api_key_name: 'X-Api-Key', api_key_value: WEBHOOK_KEY },
    });
    expect(hook.status).toBe(201);
    expect(linesOf(hook.requestId)).toEqual([
      expect.objectContaining({ event: 'write', outcome: 'success', action: 'webhook.create', created: hook.body.id, changed: { fields: ['api_key_name', 'api_key_value', 'events', 'url'] } }),
    ]);
  });

  it('writes nothing for ordinary reads, one admin line for reads that need the admin scope', async () => {
    for (const url of ['/flows', '/service', '/service/webhooks', `/flows/${randomUUID()}/segments`]) {
      const res = await send(h.base, 'GET', url, { token: admin });
      expect(res.status).toBe(200);
      expect(linesOf(res.requestId)).toEqual([]);
    }
    const missing = await send(h.base, 'GET', `/flows/${randomUUID()}`, { token: admin });
    expect(missing.status).toBe(404);
    expect(linesOf(missing.requestId)).toEqual([]);
    const adminRead = await send(h.base, 'GET', '/flow-delete-requests', { token: admin });
    expect(adminRead.status).toBe(200);
    expect(linesOf(adminRead.requestId)).toEqual([expect.objectContaining({ event: 'admin', outcome: 'success', action: 'delete_requests.list' })]);
  });

  it('records every 401 with the reason authentication failed, and every 403', async () => {
    const none = await send(h.base, 'GET', '/flows');
    expect(none.status).toBe(401);
    expect(linesOf(none.requestId)).toEqual([
      expect.objectContaining({ event: 'denied', outcome: 'denied', status: 401, reason: 'no credentials', principal: expect.objectContaining({ authenticated: false }) }),
    ]);
    const tokens = await embeddedTokens(h.dataDir, ISSUER, AUDIENCE);
    for (const bad of tokens.bad) {
      const res = await send(h.base, 'PUT', `/flows/${randomUUID()}`, { token: bad.token, body: {} });
      expect(res.status).toBe(401);
      expect(linesOf(res.requestId)).toEqual([expect.objectContaining({ event: 'denied', status: 401, reason: bad.reason, method: 'PUT', route: '/flows/:flowId' })]);
      const inQuery = await send(h.base, 'GET', `/flows?limit=1&access_token=${encodeURIComponent(bad.token)}`);
      expect(inQuery.status).toBe(401);
      expect(linesOf(inQuery.requestId)).toEqual([expect.objectContaining({ event: 'denied', status: 401, path: '/flows' })]);
    }
    const gql = await send(h.base, 'POST', '/graphql', { token: tokens.bad[0]!.token, body: { query: '{ service { name } }' } });
    expect(gql.status).toBe(401);
    expect(linesOf(gql.requestId)).toEqual([expect.objectContaining({ event: 'denied', status: 401, route: '/graphql', reason: tokens.bad[0]!.reason })]);

    const forbidden = await send(h.base, 'PUT', `/flows/${randomUUID()}`, { token: reader, body: videoFlow() });
    expect(forbidden.status).toBe(403);
    expect(linesOf(forbidden.requestId)).toEqual([
      expect.objectContaining({ event: 'denied', outcome: 'denied', status: 403, action: 'flow.put', principal: { subject: 'just-a-reader', method: 'bearer', authenticated: true } }),
    ]);
    const adminOnly = await send(h.base, 'GET', '/flow-delete-requests', { token: reader });
    expect(adminOnly.status).toBe(403);
    expect(linesOf(adminOnly.requestId)).toEqual([expect.objectContaining({ event: 'denied', status: 403 })]);
  });

  it('records a 404 that hides a resource of another auth class as a denial, and a plain 404 not at all', async () => {
    const flow = videoFlow({ tags: { auth_classes: ['news'] } });
    const put = await send(h.base, 'PUT', `/flows/${flow.id as string}`, { token: admin, body: flow });
    expect(put.status).toBe(201);
    const tokens = await embeddedTokens(h.dataDir, ISSUER, AUDIENCE);
    const sport = await tokens.sign({ sub: 'sport-reader', scope: 'tams-api/read', auth_classes: ['sport'] });
    secrets.push(sport);
    const hidden = await send(h.base, 'GET', `/flows/${flow.id as string}`, { token: sport });
    expect(hidden.status).toBe(404);
    expect(linesOf(hidden.requestId)).toEqual([
      expect.objectContaining({ event: 'denied', outcome: 'denied', status: 404, permissionDenial: true, principal: expect.objectContaining({ subject: 'sport-reader' }) }),
    ]);
    const missing = await send(h.base, 'GET', `/flows/${randomUUID()}`, { token: sport });
    expect(missing.status).toBe(404);
    expect(linesOf(missing.requestId)).toEqual([]);
  });

  it('records Basic failures without the password', async () => {
    const io = { stdout: () => undefined, stderr: () => undefined, readStdin: async () => `${PASSWORD}\n`, env: { TAMS_DATA_DIR: h.dataDir } };
    expect(await runCli(['user', 'add', 'editor', '--scopes', 'read,write', '--password-stdin'], io)).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const basic = (password: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`editor:${password}`).toString('base64')}` });
    secrets.push(Buffer.from(`editor:${PASSWORD}`).toString('base64'), Buffer.from(`editor:${PASSWORD}x`).toString('base64'));
    const wrong = await send(h.base, 'POST', '/service/webhooks', { headers: basic(`${PASSWORD}x`), body: { url: 'https://h.example.com', events: [] } });
    expect(wrong.status).toBe(401);
    expect(linesOf(wrong.requestId)).toEqual([expect.objectContaining({ event: 'denied', status: 401, reason: expect.any(String) })]);
    const right = await send(h.base, 'POST', '/service/webhooks', { headers: basic(PASSWORD), body: { url: 'https://h.example.com', events: [] } });
    expect(right.status).toBe(201);
    expect(linesOf(right.requestId)).toEqual([expect.objectContaining({ event: 'write', principal: { subject: 'editor', method: 'basic', authenticated: true } })]);
  });

  it('writes one line per GraphQL mutation field (aliases included), with ids and field names only', async () => {
    const flow = videoFlow();
    expect((await send(h.base, 'PUT', `/flows/${flow.id as string}`, { token: admin, body: flow })).status).toBe(201);
    const res = await send(h.base, 'POST', '/graphql', {
      token: admin,
      body: {
        query: `mutation($f: ID!, $label: String!, $hook: WebhookInput!) {
          first: setFlowLabel(flowId: $f, label: $label) { id }
          second: setFlowDescription(flowId: $f, description: "${LABEL_VALUE}") { id }
          createWebhook(input: $hook) { id }
        }`,
        variables: { f: flow.id, label: LABEL_VALUE, hook: { url: 'https://hooks.example.com/gql', events: ['flows/created'], apiKeyName: 'X-Key', apiKeyValue: WEBHOOK_KEY } },
      },
    });
    expect(res.status).toBe(200);
    const lines = linesOf(res.requestId);
    expect(lines).toHaveLength(3);
    const [first, second, hook] = lines;
    expect(first).toMatchObject({ event: 'write', outcome: 'success', action: 'graphql.setFlowLabel', route: '/graphql', resource: { flowId: flow.id }, changed: { fields: ['label'] }, principal: { subject: 'auditor-admin' } });
    expect(second).toMatchObject({ action: 'graphql.setFlowDescription', outcome: 'success', changed: { fields: ['description'] } });
    expect(hook).toMatchObject({ action: 'graphql.createWebhook', outcome: 'success', created: res.body.data.createWebhook.id });
    expect(hook!.changed.fields).toEqual(expect.arrayContaining(['apiKeyName', 'apiKeyValue', 'events', 'url']));

    // A failing field fails alone: the fields before it were done (its null empties `data`).
    const partly = await send(h.base, 'POST', '/graphql', {
      token: admin,
      body: { query: `mutation { done: setFlowLabel(flowId: "${flow.id as string}", label: "y") { id } missing: setFlowLabel(flowId: "${randomUUID()}", label: "x") { id } }` },
    });
    expect(partly.body.data).toBeNull();
    expect(linesOf(partly.requestId)).toEqual([
      expect.objectContaining({ action: 'graphql.setFlowLabel', outcome: 'success', resource: { flowId: flow.id } }),
      expect.objectContaining({ action: 'graphql.setFlowLabel', outcome: 'failure', error: 'NOT_FOUND' }),
    ]);

    // A mutation the caller may not run is a denial; a query alone writes nothing.
    const refused = await send(h.base, 'POST', '/graphql', { token: reader, body: { query: `mutation { deleteFlowLabel(flowId: "${flow.id as string}") { id } }` } });
    expect(refused.body.errors[0].extensions.code).toBe('FORBIDDEN');
    expect(linesOf(refused.requestId)).toEqual([expect.objectContaining({ event: 'denied', outcome: 'denied', action: 'graphql.deleteFlowLabel', error: 'FORBIDDEN' })]);
    const deniedQuery = await send(h.base, 'POST', '/graphql', { token: reader, body: { query: '{ service { name } deletionRequests { nodes { id } } }' } });
    expect(deniedQuery.body.errors[0].extensions.code).toBe('FORBIDDEN');
    expect(linesOf(deniedQuery.requestId)).toEqual([expect.objectContaining({ event: 'denied', action: 'graphql.deletionRequests', error: 'FORBIDDEN' })]);
    const query = await send(h.base, 'POST', '/graphql', { token: admin, body: { query: '{ flows(first: 1) { nodes { id } } }' } });
    expect(query.status).toBe(200);
    expect(linesOf(query.requestId)).toEqual([]);
  });

  it('records media uploads to signed URLs without the signature', async () => {
    const flow = videoFlow();
    expect((await send(h.base, 'PUT', `/flows/${flow.id as string}`, { token: admin, body: flow })).status).toBe(201);
    const storage = await send(h.base, 'POST', `/flows/${flow.id as string}/storage`, { token: admin, body: { limit: 1 } });
    const putUrl = new URL(storage.body.media_objects[0].put_url.url as string);
    secrets.push(putUrl.searchParams.get('sig')!);
    const upload = await send(h.base, 'PUT', `${putUrl.pathname}${putUrl.search}`, { headers: { 'content-type': 'video/mp2t' }, body: 'bytes' });
    expect(upload.status).toBe(200);
    expect(linesOf(upload.requestId)).toEqual([
      expect.objectContaining({ event: 'write', outcome: 'success', action: 'media.put', route: '/media/*', path: putUrl.pathname, principal: expect.objectContaining({ subject: 'anonymous' }) }),
    ]);
    const forged = await send(h.base, 'PUT', `${putUrl.pathname}?exp=1&sig=AAAA`, { body: 'bytes' });
    expect(forged.status).toBe(403);
    expect(linesOf(forged.requestId)).toEqual([expect.objectContaining({ event: 'denied', status: 403, action: 'media.put' })]);
  });

  it('holds no token, password, webhook key or signature (grep of the whole file)', () => {
    const text = fs.readFileSync(file, 'utf8');
    expect(text.split('\n').filter((l) => l !== '').length).toBeGreaterThan(20);
    for (const secret of secrets) expect({ secret, found: text.includes(secret) }).toEqual({ secret, found: false });
    expect(text).not.toMatch(/access_token|authorization|Bearer |Basic /i);
  });
});

describe('audit log: rate-limit hits', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ RATE_LIMIT_WRITE_PER_MINUTE: '2', RATE_LIMIT_GRAPHQL_MUTATIONS_PER_MINUTE: '2' });
  });
  afterAll(async () => {
    await h.close();
  });
  const lines = (): Line[] => h.auditLines() as Line[];

  it('writes a rate_limited line for each 429 on REST and each RATE_LIMITED GraphQL mutation', async () => {
    const limited: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await send(h.base, 'POST', '/service/webhooks', { body: { url: 'https://h.example.com', events: [] } });
      if (res.status === 429) limited.push(res.requestId);
    }
    expect(limited.length).toBeGreaterThan(0);
    for (const id of limited) {
      expect(lines().filter((l) => l.requestId === id)).toEqual([expect.objectContaining({ event: 'rate_limited', outcome: 'failure', status: 429, action: 'webhook.create' })]);
    }
    const gqlLimited: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await send(h.base, 'POST', '/graphql', { body: { query: 'mutation { createWebhook(input: { url: "https://h.example.com", events: [] }) { id } }' } });
      if (res.body.errors?.[0]?.extensions?.code === 'RATE_LIMITED') gqlLimited.push(res.requestId);
    }
    expect(gqlLimited.length).toBeGreaterThan(0);
    for (const id of gqlLimited) {
      expect(lines().filter((l) => l.requestId === id)).toEqual([expect.objectContaining({ event: 'rate_limited', action: 'graphql.createWebhook', error: 'RATE_LIMITED' })]);
    }
  });
});

describe('logs of a gateway process (stdout: fastify log lines and the audit trail)', () => {
  let gateway: GatewayProcess;
  let base: string;
  beforeAll(async () => {
    gateway = await startGatewayProcess({ TAMS_AUTH: 'on', LOG_LEVEL: 'info', TAMS_WEBHOOK_ALLOW_PRIVATE: 'true' });
    base = `http://127.0.0.1:${gateway.port}`;
  }, 120_000);
  afterAll(async () => {
    await gateway.stop();
  });

  it('carry request ids, and no token, password or webhook key', async () => {
    const token = gateway.token('read,write,delete,admin');
    const io = { stdout: () => undefined, stderr: () => undefined, readStdin: async () => `${PASSWORD}\n`, env: { TAMS_DATA_DIR: gateway.dataDir } };
    expect(await runCli(['user', 'add', 'editor', '--scopes', 'read,write', '--password-stdin'], io)).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const basic = `Basic ${Buffer.from(`editor:${PASSWORD}`).toString('base64')}`;
    const wrongBasic = `Basic ${Buffer.from(`editor:${PASSWORD}!`).toString('base64')}`;

    const hook = await send(base, 'POST', '/service/webhooks', { token, body: { url: 'http://127.0.0.1:9/in', events: ['flows/created'], api_key_name: 'X-Key', api_key_value: WEBHOOK_KEY } });
    expect(hook.status).toBe(201);
    expect((await send(base, 'GET', `/flows?access_token=${token}`)).status).toBe(200);
    expect((await send(base, 'GET', `/flows?access_token=${token}x`)).status).toBe(401);
    expect((await send(base, 'GET', '/flows', { headers: { authorization: basic } })).status).toBe(200);
    expect((await send(base, 'GET', '/flows', { headers: { authorization: wrongBasic } })).status).toBe(401);
    expect((await send(base, 'POST', '/graphql', { token: `${token}x`, body: { query: '{ service { name } }' } })).status).toBe(401);
    const gql = await send(base, 'POST', '/graphql', {
      headers: { authorization: basic },
      body: { query: 'mutation($i: WebhookInput!) { createWebhook(input: $i) { id } }', variables: { i: { url: 'http://127.0.0.1:9/x', events: [], apiKeyName: 'X-Key', apiKeyValue: WEBHOOK_KEY } } },
    });
    expect(gql.body.data.createWebhook.id).toEqual(expect.any(String));
    await new Promise((resolve) => setTimeout(resolve, 300));

    const logs = gateway.logs();
    const text = JSON.stringify(logs);
    for (const secret of [token, `${token}x`, WEBHOOK_KEY, PASSWORD, basic.slice(6), wrongBasic.slice(6)]) {
      expect({ secret: secret.slice(0, 12), found: text.includes(secret) }).toEqual({ secret: secret.slice(0, 12), found: false });
    }
    const requestLines = logs.filter((l) => l.reqId === hook.requestId);
    expect(requestLines.length).toBeGreaterThanOrEqual(2);
    expect(logs.filter((l) => l.name === 'audit' && l.requestId === hook.requestId)).toEqual([expect.objectContaining({ event: 'write', created: hook.body.id })]);
    expect(logs.filter((l) => l.name === 'audit' && l.status === 401).length).toBe(3);
  });
});
