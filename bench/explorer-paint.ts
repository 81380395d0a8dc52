/**
 * `explorer-paint` (run only when named in BENCH_SCENARIOS): commit-to-paint latency of the live
 * explorer (/explorer/). Headless Chromium (Debian's `chromium`, or BENCH_CHROMIUM) opens the
 * page on a gateway in a child process (authentication on, the token typed into the page),
 * selects a flow holding BENCH_PAINT_PREFILL segments (default 1,000), then segments are
 * registered through REST one at a time, BENCH_PAINT_SEGMENTS of them (default 200; 10 more
 * before them, unreported). Each latency runs from just before the registration POST is sent to
 * the first frame painted after the timeline drew the segment (a MutationObserver on the
 * timeline's data-segment-count, then an animation frame and a task queued from it, which runs
 * once that frame is painted); the next registration waits for that paint.
 * Both clocks are the machine's wall clock (Date.now() here and in the page). It covers the
 * POST and its commit, the outbox dispatch, the graphql-ws push, the page's redraw of every
 * segment, and a frame; the registrations start once the page's subscriptions are open on the
 * gateway (its tams_graphql_subscriptions gauge, METRICS_TOKEN). Reported: p50/p99/max, and on
 * the way there the POST's answer and the end of the redraw (before its frame).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer, stopServer } from './server-launch';
import { allocate, post, putVideoFlow } from './subscriptions-fanout';

const WARMUP = 10;
const METRICS_TOKEN = 'bench-explorer-paint';
/** Longest wait for one segment to be painted before the scenario fails. */
const PAINT_TIMEOUT_MS = 15_000;

function positiveInteger(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, not ${process.env[name]}`);
  return value;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

function spread(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `p50 ${percentile(sorted, 50).toFixed(1)} ms  p99 ${percentile(sorted, 99).toFixed(1)} ms  max ${sorted[sorted.length - 1]!.toFixed(1)} ms`;
}

/** What the page-side code below reads and writes (the bench is compiled without DOM types). */
interface PageGlobals {
  document: { getElementById(id: string): { dataset: Record<string, string | undefined> } | null };
  MutationObserver: new (callback: () => void) => { observe(target: unknown, options: { attributes: boolean; attributeFilter: string[] }): void };
  requestAnimationFrame(callback: () => void): void;
  setTimeout(callback: () => void, ms: number): void;
  /** Segment count -> wall-clock ms of the first frame after it was drawn. */
  explorerPaints: Record<string, number>;
  /** Segment count -> wall-clock ms the timeline was redrawn with it (before the frame). */
  explorerDraws: Record<string, number>;
}

/** The gateway's tams_graphql_subscriptions gauge. */
async function openSubscriptions(base: string): Promise<number> {
  const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  return Number(/^tams_graphql_subscriptions (\d+)/m.exec(await res.text())?.[1] ?? 0);
}

function chromiumPath(): string {
  const candidates = [process.env.BENCH_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => p !== undefined && p !== '');
  const found = candidates.find((p) => fs.existsSync(p));
  if (found === undefined) throw new Error(`explorer-paint needs Chromium: none at ${candidates.join(', ')} (apt-get install chromium, or set BENCH_CHROMIUM)`);
  return found;
}

export async function explorerPaintScenario(): Promise<void> {
  const prefill = positiveInteger('BENCH_PAINT_PREFILL', 1000);
  const measured = positiveInteger('BENCH_PAINT_SEGMENTS', 200);
  process.stdout.write(
    `\nexplorer-paint: registration POST sent -> the explorer's timeline painted with the segment (headless Chromium, one tab, SVG timeline), ` +
      `${measured} segments registered one at a time on a flow of ${prefill}\n`,
  );
  const executablePath = chromiumPath();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-bench-explorer-'));
  const server = await startServer(['gateway', dataDir], { METRICS_TOKEN });
  const base = `http://127.0.0.1:${server.port}`;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...server.headers };
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  try {
    const flowId = await putVideoFlow(base, headers);
    const ids = Array.from({ length: prefill + WARMUP + measured }, (_, i) => `paint-${i}`);
    await allocate(base, headers, flowId, ids);
    for (let i = 0; i < prefill; i += 1000) {
      const batch = ids.slice(i, Math.min(prefill, i + 1000)).map((objectId, j) => ({ object_id: objectId, timerange: `[${i + j}:0_${i + j + 1}:0)` }));
      const res = await fetch(`${base}/flows/${flowId}/segments`, { method: 'POST', headers, body: JSON.stringify(batch) });
      if (res.status !== 201) throw new Error(`prefill registration answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    }

    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await page.goto(`${base}/explorer/`);
    await page.fill('#token', (server.headers.authorization ?? '').replace(/^Bearer /, ''));
    await page.click('#token-form button[type=submit]');
    await page.click(`#sources button[data-flow-id="${flowId}"]`, { timeout: PAINT_TIMEOUT_MS });
    await page.locator(`#timeline[data-segment-count="${prefill}"]`).waitFor({ timeout: PAINT_TIMEOUT_MS });
    // The page's subscriptions (flowCreated, flowDeleted, and the flow's segments added and
    // deleted) are open on the gateway before the first registration.
    const deadline = Date.now() + PAINT_TIMEOUT_MS;
    while ((await openSubscriptions(base)) < 4) {
      if (Date.now() > deadline) throw new Error('explorer-paint: the page did not open its four subscriptions');
      await new Promise((r) => setTimeout(r, 50));
    }
    await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      g.explorerPaints = {};
      g.explorerDraws = {};
      const timeline = g.document.getElementById('timeline')!;
      new g.MutationObserver(() => {
        const count = timeline.dataset.segmentCount ?? '';
        g.explorerDraws[count] ??= Date.now();
        // The frame callback runs just before the frame is painted; a task queued from it runs after.
        g.requestAnimationFrame(() => g.setTimeout(() => (g.explorerPaints[count] ??= Date.now()), 0));
      }).observe(timeline, { attributes: true, attributeFilter: ['data-segment-count'] });
    });

    const latencies: number[] = [];
    const answers: number[] = [];
    const draws: number[] = [];
    for (let i = 0; i < WARMUP + measured; i++) {
      const second = prefill + i;
      const sent = Date.now();
      const failure = await post(base, headers, flowId, ids[second]!, second);
      const answered = Date.now();
      if (failure !== undefined) throw new Error(`explorer-paint: registration refused: ${failure}`);
      const count = String(second + 1);
      await page.waitForFunction((c) => (globalThis as unknown as PageGlobals).explorerPaints[c] !== undefined, count, { timeout: PAINT_TIMEOUT_MS });
      const [drawn, painted] = await page.evaluate((c) => {
        const g = globalThis as unknown as PageGlobals;
        return [g.explorerDraws[c]!, g.explorerPaints[c]!];
      }, count);
      if (i >= WARMUP) {
        latencies.push(painted - sent);
        answers.push(answered - sent);
        draws.push(drawn - sent);
      }
    }
    process.stdout.write(`  commit to paint: ${spread(latencies)}\n`);
    process.stdout.write(`  on the way: POST answered ${spread(answers)}\n`);
    process.stdout.write(`               timeline redrawn (before the frame) ${spread(draws)}\n`);
  } finally {
    await browser.close();
    await stopServer(server.child);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
