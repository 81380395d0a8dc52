/**
 * Headless Chromium (Debian's `chromium`, driven by playwright-core) for the tests of the
 * gateway's own pages: every request to an origin other than the gateway's, WebSockets
 * included, is refused and counted, so a page that would need the network fails its test.
 * Screenshots go to tmp/screenshots/ (ignored by git) or TEST_SCREENSHOT_DIR.
 */
import fs from 'node:fs';
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

/** A browser page that may reach `origin` only. */
export async function openOfflinePage(origin: string): Promise<OfflinePage> {
  const executablePath = chromiumRequirement.path;
  if (executablePath === undefined) throw new Error(`chromium is missing: ${chromiumRequirement.missing}`);
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'] });
  const foreignRequests: string[] = [];
  const pageErrors: string[] = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const foreign = (url: URL): boolean => url.protocol !== 'blob:' && url.protocol !== 'data:' && url.origin !== origin && url.origin !== origin.replace(/^http/, 'ws');
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
    const page = await context.newPage();
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
      close: () => browser.close(),
    };
  } catch (err) {
    await browser.close();
    throw err;
  }
}
