/**
 * The GraphQL IDE (GRAPHQL_LANDING_PAGE) in headless Chromium against a real gateway with
 * authentication on and introspection off, every request to another origin refused: a browser
 * opening /graphql gets GraphiQL, a token typed into its field authorizes a query of the first
 * example tab, and the subscription tab shows an event of a segment registered through REST.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Page } from 'playwright-core';
import { issueToken, tokenSigner } from '../../src/auth/token-issuer';
import { checkedFetch } from '../support/checked-fetch';
import { startHarness, type Harness } from '../support/gateway-harness';
import { chromiumRequirement, openOfflinePage, SCREENSHOT_DIR, type OfflinePage } from '../support/offline-browser';
import { describeNeeding } from '../support/service-lanes';

const METRICS_TOKEN = 'graphiql-test-metrics';
/** Generous: a shared 2-core machine, a browser and a gateway at once. */
const WAIT_MS = 30_000;

/** The CodeMirror 5 editors GraphiQL renders keep their instance on their element. */
interface CodeMirrorElement {
  CodeMirror: { getValue(): string; operationName?: string | null };
}

/** The text of GraphiQL's response pane (CodeMirror draws only the visible lines). */
const responseText = (page: Page): Promise<string> =>
  page.locator('.result-window .CodeMirror').evaluate((element) => (element as unknown as CodeMirrorElement).CodeMirror.getValue());

/**
 * The operation GraphiQL will run: it parses the editor's text 100 ms after a change (a tab
 * switch included), and a run before that would send the previous tab's operation name.
 */
const selectedOperation = (page: Page): Promise<string | null | undefined> =>
  page.locator('.graphiql-query-editor .CodeMirror').evaluate((element) => (element as unknown as CodeMirrorElement).CodeMirror.operationName);

/** The text of the query editor of the active tab. */
const queryText = (page: Page): Promise<string> =>
  page.locator('.graphiql-query-editor .CodeMirror').evaluate((element) => (element as unknown as CodeMirrorElement).CodeMirror.getValue());

describeNeeding(chromiumRequirement, 'the GraphQL IDE in headless Chromium, offline', () => {
  let h: Harness;
  let token: string;
  let browser: OfflinePage;
  const flowId = randomUUID();
  const auth = (): Record<string, string> => ({ authorization: `Bearer ${token}` });

  /** Uploads a small object and registers it on the flow through TAMS REST; its object id. */
  async function registerSegment(timerange: string): Promise<string> {
    const storage = await h.request('POST', `/flows/${flowId}/storage`, { limit: 1 }, auth());
    expect(storage.status).toBe(201);
    const object = storage.body.media_objects[0] as { object_id: string; put_url: { url: string; 'content-type': string } };
    const put = await checkedFetch(object.put_url.url, { method: 'PUT', body: randomBytes(188), headers: { 'content-type': object.put_url['content-type'] } });
    expect(put.status).toBe(200);
    const registered = await h.request('POST', `/flows/${flowId}/segments`, { object_id: object.object_id, timerange }, auth());
    expect(registered.status).toBe(201);
    return object.object_id;
  }

  async function openSubscriptions(): Promise<number> {
    const res = await checkedFetch(`${h.base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    return Number(/^tams_graphql_subscriptions (\d+)/m.exec(await res.text())?.[1] ?? 0);
  }

  async function waitUntil(what: string, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  beforeAll(async () => {
    h = await startHarness({ TAMS_AUTH: 'on', GRAPHQL_LANDING_PAGE: 'true', GRAPHQL_INTROSPECTION: 'false', METRICS_TOKEN });
    token = await issueToken(tokenSigner(h.gateway.config), { subject: 'graphiql-test', scopes: ['read', 'write'], authClasses: [], ttlSec: 3600 }, h.gateway.config);
    const flow = { id: flowId, source_id: randomUUID(), format: 'urn:x-nmos:format:data', codec: 'text/plain', container: 'video/mp2t', label: 'graphiql-test-flow', essence_parameters: {} };
    expect((await h.request('PUT', `/flows/${flowId}`, flow, auth())).status).toBe(201);
    await registerSegment('[0:0_1:0)');
    browser = await openOfflinePage(h.base);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('opens at /graphql with the example tabs, and refuses the first query until a token is typed', async () => {
    const { page } = browser;
    await page.goto(`${h.base}/graphql`);
    await page.locator('.graphiql-execute-button').waitFor({ timeout: WAIT_MS });
    await waitUntil('GraphiQL to parse the first tab', async () => (await selectedOperation(page)) === 'FlowsWithSegments');
    expect(await page.locator('.graphiql-tab').count()).toBe(3);
    expect(await queryText(page)).toContain('query FlowsWithSegments');

    await page.click('.graphiql-execute-button');
    await waitUntil('the refusal in the response pane', async () => (await responseText(page)).includes('UNAUTHENTICATED'));
  });

  it('runs the flows query with the token and shows the flow with its segment', async () => {
    const { page } = browser;
    await page.fill('#token', token);
    await page.click('.graphiql-execute-button');
    await waitUntil('the flow in the response pane', async () => (await responseText(page)).includes(flowId));
    const result = JSON.parse(await responseText(page)) as { data: { flows: { nodes: { id: string; segments: { nodes: { timerange: string }[] } }[] } } };
    const flow = result.data.flows.nodes.find((node) => node.id === flowId);
    expect(flow?.segments.nodes.map((s) => s.timerange)).toEqual(['[0:0_1:0)']);
    expect(await page.evaluate(() => (globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem('tams-graphiql-token'))).toBe(token);
    await browser.screenshot('graphiql-query');
  });

  it('runs the subscription tab over the WebSocket and shows a segment registered through REST', async () => {
    const { page } = browser;
    await page.locator('.graphiql-tab').nth(2).locator('button').first().click();
    expect(await queryText(page)).toContain('subscription SegmentsAdded');
    await waitUntil('GraphiQL to parse the tab', async () => (await selectedOperation(page)) === 'SegmentsAdded');
    const before = await openSubscriptions();
    await page.click('.graphiql-execute-button');
    await waitUntil('the subscription to open', async () => (await openSubscriptions()) > before);
    const objectId = await registerSegment('[1:0_2:0)');
    await waitUntil('the event in the response pane', async () => (await responseText(page)).includes(objectId));
    const event = JSON.parse(await responseText(page)) as { data: { flowSegmentsAdded: { flowId: string; segments: { objectId: string; timerange: string }[] } } };
    expect(event.data.flowSegmentsAdded.flowId).toBe(flowId);
    expect(event.data.flowSegmentsAdded.segments).toEqual([{ objectId, timerange: '[1:0_2:0)' }]);
    process.stdout.write(`GraphiQL screenshots: ${SCREENSHOT_DIR}\n`);
    await browser.screenshot('graphiql-subscription');
  });

  it('reached no other origin and raised no errors', () => {
    expect(browser.foreignRequests).toEqual([]);
    // The query sent before the token was typed is the one expected error (a 401 in the console).
    expect(browser.pageErrors.filter((e) => !/401/.test(e))).toEqual([]);
  });
});
