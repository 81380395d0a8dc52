/**
 * The built gateway as an operator runs it (`node dist/src/main.js`, what `npm start` runs):
 * secure by default on a fresh data dir, printing a ready admin token; `npm run -s token`
 * printing a token alone on stdout; `?access_token=` redacted from the request log while the
 * reason of a refusal is logged; TAMS_AUTH=off warned about, and refused in production.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { jwtVerify } from 'jose';
import { loadOrCreateEmbeddedKey } from '../../src/auth/embedded-keys';
import { checkedFetch } from '../support/checked-fetch';

const ROOT = path.resolve(__dirname, '../..');

interface Running {
  child: ChildProcess;
  output: () => string;
  base: string;
}

function baseEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, TAMS_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'info', ...extra };
}

/** The first match of `re` in the output, waiting for it to be printed. */
async function waitFor(child: ChildProcess, output: () => string, re: RegExp): Promise<RegExpExecArray> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const m = re.exec(output());
    if (m) return m;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no ${String(re)} in the gateway's output:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function start(env: NodeJS.ProcessEnv): Promise<Running> {
  const child = spawn(process.execPath, ['dist/src/main.js'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const port = (await waitFor(child, () => out, /listening on [^\n]*:(\d+)\n/))[1] as string;
  await waitFor(child, () => out, /\n {2}auth: {4}[^\n]*\n/);
  return { child, output: () => out, base: `http://127.0.0.1:${port}` };
}

async function stop(running: Running): Promise<void> {
  if (running.child.exitCode !== null) return;
  const exited = new Promise((resolve) => running.child.once('exit', resolve));
  running.child.kill('SIGTERM');
  await exited;
}

/** The pino JSON lines of the output. */
function logLines(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('the built gateway and CLI (authentication)', () => {
  let dataDir: string;
  const started: Running[] = [];

  beforeAll(() => {
    // As `npm start` does: build dist/ when a source is newer.
    try {
      execFileSync(process.execPath, ['scripts/build-if-stale.js'], { cwd: ROOT, stdio: 'pipe', timeout: 300_000 });
    } catch (err) {
      const { stdout, stderr } = err as { stdout?: Buffer; stderr?: Buffer };
      throw new Error(`the build failed (npm start would too):\n${String(stdout ?? '')}${String(stderr ?? '')}`);
    }
  }, 320_000);
  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-start-'));
  });
  afterEach(async () => {
    for (const running of started.splice(0)) await stop(running);
    // Unset when the build in beforeAll failed.
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts secure on a fresh data dir with a ready admin token, redacts access_token in logs and logs refusal reasons', async () => {
    const gateway = await start(baseEnv(dataDir));
    started.push(gateway);
    const token = (await waitFor(gateway.child, gateway.output, /admin token[^\n]*:\n {4}(\S+)\n/))[1];
    const key = loadOrCreateEmbeddedKey(dataDir);
    expect(key.created).toBe(false);
    await expect(jwtVerify(token as string, key.publicKey)).resolves.toMatchObject({ payload: { sub: 'admin', scope: 'tams-api/read tams-api/write tams-api/delete tams-api/admin' } });

    expect((await checkedFetch(`${gateway.base}/flows`)).status).toBe(401);
    expect((await checkedFetch(`${gateway.base}/flows?limit=5&access_token=${token as string}`)).status).toBe(200);
    expect((await checkedFetch(`${gateway.base}/flows`, { headers: { authorization: 'Bearer not-a-token' } })).status).toBe(401);
    await new Promise((resolve) => setTimeout(resolve, 200));

    const output = gateway.output();
    const logs = logLines(output);
    // Printed once, in the banner, and never logged.
    expect(output.split(token as string)).toHaveLength(2);
    expect(logs.some((l) => (l.req as { url?: string } | undefined)?.url === '/flows?limit=5&access_token=[REDACTED]')).toBe(true);
    expect(logs).toEqual(expect.arrayContaining([expect.objectContaining({ msg: 'authentication failed', reason: 'no credentials', method: 'none' })]));
    expect(logs).toEqual(expect.arrayContaining([expect.objectContaining({ msg: 'authentication failed', reason: 'malformed token', method: 'bearer' })]));
  });

  it('npm run -s token prints one token alone on stdout, which the gateway accepts', async () => {
    const gateway = await start(baseEnv(dataDir));
    started.push(gateway);
    const stdout = execFileSync('npm', ['run', '-s', 'token', '--', '--scopes', 'read', '--ttl', '10m', '--sub', 'reader'], {
      cwd: ROOT,
      env: baseEnv(dataDir),
      encoding: 'utf8',
    });
    expect(stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const { payload } = await jwtVerify(stdout.trim(), loadOrCreateEmbeddedKey(dataDir).publicKey);
    expect(payload).toMatchObject({ sub: 'reader', scope: 'tams-api/read' });
    expect((payload.exp as number) - (payload.iat as number)).toBe(600);
    expect((await checkedFetch(`${gateway.base}/flows`, { headers: { authorization: `Bearer ${stdout.trim()}` } })).status).toBe(200);
  });

  it('with TAMS_AUTH=off says so at start and lets everyone in; in production refuses to start', async () => {
    const gateway = await start(baseEnv(dataDir, { TAMS_AUTH: 'off' }));
    started.push(gateway);
    expect(gateway.output()).toContain('auth:    OFF');
    expect(gateway.output()).not.toContain('admin token');
    expect(logLines(gateway.output())).toEqual(expect.arrayContaining([expect.objectContaining({ level: 40, msg: expect.stringContaining('TAMS_AUTH=off') })]));
    expect((await checkedFetch(`${gateway.base}/flows`)).status).toBe(200);

    const refused = spawn(process.execPath, ['dist/src/main.js'], { cwd: ROOT, env: baseEnv(dataDir, { TAMS_AUTH: 'off', NODE_ENV: 'production' }) });
    let stderr = '';
    refused.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((resolve) => refused.once('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toBe('configuration error: TAMS_AUTH: off is refused when NODE_ENV=production\n');
  });
});
