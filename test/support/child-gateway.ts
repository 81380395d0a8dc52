/**
 * The built gateway in a child process (`node dist/src/main.js`, what `npm start` runs), for
 * tests that must read its real log: everything it prints on stdout and stderr is kept, and
 * bearer tokens come from the operator CLI (`node dist/src/cli.js token`), so none is ever
 * printed by the gateway itself.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

export interface ChildExit {
  /** The exit code, or null when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ChildGatewayOptions {
  /**
   * The data directory (SQLite tams.db, objects/, keys) to start on, e.g. one a previous
   * process used; stop() then leaves it in place. Default: a fresh temporary directory,
   * removed by stop().
   */
  dataDir?: string;
}

export interface ChildGateway {
  child: ChildProcess;
  base: string;
  dataDir: string;
  /**
   * Settles once the process has exited and all it printed has been read (the child's
   * 'close' event, not 'exit', which can come before the last output).
   */
  closed: Promise<ChildExit>;
  /** Sends `signal` to the process, without waiting. */
  kill(signal: NodeJS.Signals): void;
  /** Resolves once stdout matches `pattern` (rejects after `timeoutMs`, or when the process has closed without it). */
  waitForStdout(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Everything printed so far on stdout. */
  stdout(): string;
  /** Everything printed so far on stderr. */
  stderr(): string;
  /** The JSON lines of stdout (pino request log, audit lines when AUDIT_LOG_FILE is unset). */
  logLines(): Record<string, unknown>[];
  /** A token from `cli.js token` with this gateway's data dir (signed with its embedded key). */
  token(scopes: string, extraArgs?: string[]): string;
  /** SIGTERM, SIGKILL after 10 s, waits for 'close'; removes the data dir it made. Safe to call twice. */
  stop(): Promise<void>;
}

/** As `npm start` does: builds dist/ when a source is newer (throws the build output when it fails). */
export function buildIfStale(): void {
  try {
    execFileSync(process.execPath, ['scripts/build-if-stale.js'], { cwd: ROOT, stdio: 'pipe', timeout: 300_000 });
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`the build failed:\n${String(stdout ?? '')}${String(stderr ?? '')}`);
  }
}

/**
 * Starts the built gateway on a free loopback port with `env` (plus PATH, HOME, TAMS_DATA_DIR,
 * PORT=0). Resolves once its banner is printed; call buildIfStale() first.
 */
export async function startChildGateway(env: Record<string, string> = {}, options: ChildGatewayOptions = {}): Promise<ChildGateway> {
  const ownDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tams-child-'));
  const processEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, TAMS_DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env };
  const child = spawn(process.execPath, ['dist/src/main.js'], { cwd: ROOT, env: processEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => (out += chunk));
  child.stderr?.on('data', (chunk: string) => (err += chunk));
  // 'close', not 'exit': 'exit' can come while the last of stdout and stderr is still unread.
  let hasClosed = false;
  const closed = new Promise<ChildExit>((resolve) =>
    child.once('close', (code, signal) => {
      hasClosed = true;
      resolve({ code, signal });
    }),
  );
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (!hasClosed) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await closed;
      clearTimeout(timer);
    }
    if (ownDataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  };
  const waitForStdout = async (pattern: RegExp, timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(out)) {
      if (hasClosed) throw new Error(`the gateway closed before printing ${String(pattern)}:\n${err}${out}`);
      if (Date.now() > deadline) throw new Error(`the gateway did not print ${String(pattern)} within ${timeoutMs} ms:\n${err}${out}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  const deadline = Date.now() + 60_000;
  let port: string | undefined;
  // The banner's auth line is printed after the listening line: the embedded key exists by then.
  while (port === undefined) {
    const m = /listening on [^\n]*:(\d+)\n[\s\S]*\n {2}auth: {4}[^\n]*\n/.exec(out);
    if (m) port = m[1];
    else if (hasClosed || child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`the gateway did not start:\n${err}${out}`);
    } else await new Promise((resolve) => setTimeout(resolve, 50));
  }

  return {
    child,
    base: `http://127.0.0.1:${port}`,
    dataDir,
    closed,
    kill: (signal) => void child.kill(signal),
    waitForStdout,
    stdout: () => out,
    stderr: () => err,
    logLines: () =>
      out
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    token: (scopes, extraArgs = []) =>
      execFileSync(process.execPath, ['dist/src/cli.js', 'token', '--scopes', scopes, ...extraArgs], {
        cwd: ROOT,
        env: processEnv,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 60_000,
      }).trim(),
    stop,
  };
}

/**
 * The built gateway in a child process for the enclosing `describe` block: started (building
 * `dist/` first when stale) before its tests and stopped after them. Call the answer inside a
 * test to reach it.
 */
export function childGatewayForSuite(env: Record<string, string> = {}): () => ChildGateway {
  let gateway: ChildGateway | undefined;
  beforeAll(async () => {
    buildIfStale();
    gateway = await startChildGateway(env);
  }, 360_000);
  afterAll(async () => {
    await gateway?.stop();
  }, 30_000);
  return () => {
    if (gateway === undefined) throw new Error('the child gateway did not start');
    return gateway;
  };
}
