/**
 * Headless Chromium (Debian's `chromium`, driven by playwright-core) for the tests of the
 * gateway's own pages: every request to an origin other than the gateway's (and those a test
 * also allows), WebSockets included, is refused and counted, so a page that would need the
 * network fails its test. Screenshots go to tmp/screenshots/ (ignored by git) or
 * TEST_SCREENSHOT_DIR.
 */
import fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { executableRequirement } from './service-lanes';

export const chromiumRequirement = executableRequirement('chromium', 'apt-get install chromium; .ci/run installs it when missing');

export const SCREENSHOT_DIR = process.env.TEST_SCREENSHOT_DIR ?? path.resolve(__dirname, '../../tmp/screenshots');

export interface OfflinePage {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** URLs the page tried to reach on another origin (each refused). */
  foreignRequests: string[];
  /** Uncaught exceptions and console errors of the page. */
  pageErrors: string[];
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

export interface OfflinePageOptions {
  /** Origins the page may reach besides the gateway's (`http://127.0.0.1:<port>`): an S3 server it is redirected to. */
  alsoAllowed?: readonly string[];
  /**
   * Refuse the other origins in the browser's network stack, not through Playwright's request
   * interception: while interception is on, playwright-core answers every CORS preflight itself
   * with "everything allowed" (and Chromium handles preflighted cross-origin redirects
   * differently while it is on), so a server's CORS rules would go untested. Every request then goes to a proxy that refuses it,
   * except those to the allowed origins (loopback host:port pairs, which bypass it); requests
   * and WebSockets to other origins are counted from the page's events.
   */
  withoutInterception?: boolean;
}

/** An HTTP proxy on loopback that refuses every request and tunnel. */
async function refusingProxy(): Promise<Server> {
  const proxy = createServer((_request, response) => response.writeHead(403).end());
  proxy.on('connect', (_request, socket) => socket.end('HTTP/1.1 403 Forbidden\r\n\r\n'));
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return proxy;
}

/** A browser page that may reach `origin` (and `options.alsoAllowed`) only. */
export async function openOfflinePage(origin: string, options: OfflinePageOptions = {}): Promise<OfflinePage> {
  const executablePath = chromiumRequirement.path;
  if (executablePath === undefined) throw new Error(`chromium is missing: ${chromiumRequirement.missing}`);
  const allowed = [origin, ...(options.alsoAllowed ?? [])];
  const proxy = options.withoutInterception === true ? await refusingProxy() : undefined;
  const browser = await chromium
    .launch({
      executablePath,
      args: [
        '--no-sandbox',
        '--autoplay-policy=no-user-gesture-required',
        // Not Playwright's `proxy` option: it puts `<-loopback>` last, and Chromium only honours
        // host:port bypass rules that come after it.
        ...(proxy === undefined
          ? []
          : [`--proxy-server=http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, `--proxy-bypass-list=${['<-loopback>', ...allowed.map((o) => new URL(o).host)].join(';')}`]),
      ],
    })
    .catch((err: unknown) => {
      proxy?.close();
      throw err;
    });
  const close = async (): Promise<void> => {
    await browser.close();
    if (proxy !== undefined) await new Promise((resolve) => proxy.close(resolve));
  };
  const foreignRequests: string[] = [];
  const pageErrors: string[] = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const foreign = (url: URL): boolean =>
      url.protocol !== 'blob:' && url.protocol !== 'data:' && !allowed.some((o) => url.origin === o || url.origin === o.replace(/^http/, 'ws'));
    if (proxy === undefined) {
      await context.route(
        (url) => foreign(url),
        async (route) => {
          foreignRequests.push(route.request().url());
          await route.abort('blockedbyclient');
        },
      );
      await context.routeWebSocket(
        (url) => foreign(url),
        async (socket) => {
          foreignRequests.push(socket.url());
          await socket.close();
        },
      );
    } else {
      context.on('request', (request) => {
        if (foreign(new URL(request.url()))) foreignRequests.push(request.url());
      });
    }
    const page = await context.newPage();
    if (proxy !== undefined) {
      page.on('websocket', (socket) => {
        if (foreign(new URL(socket.url()))) foreignRequests.push(socket.url());
      });
    }
    page.on('pageerror', (err) => pageErrors.push(`uncaught: ${err.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(`console: ${message.text()}`);
    });
    return {
      browser,
      context,
      page,
      foreignRequests,
      pageErrors,
      async screenshot(name) {
        fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
        const file = path.join(SCREENSHOT_DIR, `${name}.png`);
        await page.screenshot({ path: file, fullPage: true });
        return file;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
