import path from 'node:path';
import { ChildProcess, spawn } from 'node:child_process';

/** A benchmark server in a child process (bench/server-process.ts). */
export interface Server {
  port: number;
  child: ChildProcess;
  /** `authorization` for the gateway (a bearer token with every scope); none for the bare server. */
  headers: Record<string, string>;
}

/**
 * BENCH_CPU_PROF=<dir>: gateway children run with `--cpu-prof` and write their profile there
 * when stopped (server-process exits normally on SIGTERM), one `.cpuprofile` per process.
 */
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF;

/**
 * Starts `server-process <args>` and waits for the port (and, from a gateway, the bearer token)
 * it prints. `env` is added to this process's environment for the child (a gateway reads its
 * configuration from it). The IPC channel carries the counted gateway's store-call counts.
 */
export async function startServer(args: string[], env: Record<string, string> = {}): Promise<Server> {
  const script = path.join(__dirname, 'server-process.js');
  const profile = CPU_PROF_DIR !== undefined && CPU_PROF_DIR !== '' && args[0] !== 'bare' ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(CPU_PROF_DIR)}`] : [];
  const child = spawn(process.execPath, [...profile, script, ...args], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], env: { ...process.env, ...env } });
  let token: string | undefined;
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      token = /TOKEN (\S+)/.exec(out)?.[1];
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { port, child, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } };
}

export async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
