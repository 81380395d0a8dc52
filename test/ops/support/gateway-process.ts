/**
 * The gateway as production runs it: `src/main.ts` in its own node process (TypeScript compiled
 * on load by transpile-register.js), configured only through environment variables, with its
 * JSON log lines collected for assertions.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './nginx';

export interface GatewayProcess {
  port: number;
  dataDir: string;
  /** A bearer token from the operator CLI (`cli.ts token`), signed with this gateway's key. */
  token(scopes: string): string;
  /** Every JSON log line printed so far (pino, one object per line). */
  logs(): Record<string, unknown>[];
  /** Sends `signal` to the process (SIGTERM starts a graceful shutdown), without waiting. */
  kill(signal: NodeJS.Signals): void;
  /** The exit code, once the process has exited (null when a signal killed it). */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

const REGISTER = path.join(__dirname, 'transpile-register.js');

/**
 * Starts `node src/main.ts` on a free loopback port with exactly `env` (plus PATH), so no
 * variable of the calling shell leaks into the gateway's configuration.
 */
export async function startGatewayProcess(env: Record<string, string>): Promise<GatewayProcess> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-ops-gateway-'));
  const processEnv = { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', TAMS_DATA_DIR: dataDir, ...env };
  const child: ChildProcess = spawn(process.execPath, ['-r', REGISTER, path.join(REPO_ROOT, 'src', 'main.ts')], {
    cwd: REPO_ROOT,
    env: processEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });
  let exitCode: number | null | undefined;
  // 'close', not 'exit': it comes once the process has ended and its output has all been read.
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      exitCode = code;
      resolve(code);
    }),
  );

  const deadline = Date.now() + 60_000;
  let port: number | undefined;
  while (port === undefined) {
    const banner = /^TAMS gateway \S+ listening on [^\n]*:(\d+)$/m.exec(stdout);
    if (banner) port = Number(banner[1]);
    else if (exitCode !== undefined) throw new Error(`gateway exited with ${String(exitCode)} at start:\n${stderr}${stdout}`);
    else if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gateway did not start within 60 s:\n${stderr}${stdout}`);
    } else await new Promise((r) => setTimeout(r, 50));
  }

  return {
    port,
    dataDir,
    token: (scopes) =>
      execFileSync(process.execPath, ['-r', REGISTER, path.join(REPO_ROOT, 'src', 'cli.ts'), 'token', '--scopes', scopes], {
        cwd: REPO_ROOT,
        env: processEnv,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }).trim(),
    logs: () =>
      stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    kill: (signal) => child.kill(signal),
    exited,
    async stop() {
      if (exitCode === undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
