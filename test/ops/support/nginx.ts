/**
 * Runs the repository's nginx/nginx.conf in a test: finds the nginx binary, substitutes the
 * lines marked "site:" (upstream, listen ports, certificate directory) and the temp paths, and
 * runs nginx in the foreground as a child process with its prefix, pid file and logs in a
 * temporary directory.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { allOf, describeNeeding, executableRequirement, findExecutable } from '../../support/service-lanes';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
export const NGINX_CONF = path.join(REPO_ROOT, 'nginx', 'nginx.conf');
export const CERT_SCRIPT = path.join(REPO_ROOT, 'nginx', 'generate_self_signed_cert.sh');

/** The sbin directories Debian installs nginx to (often not on a user's PATH). */
const NGINX_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

/** The nginx binary on PATH or in the sbin directories Debian installs it to. */
export function findNginx(): string | undefined {
  return findExecutable('nginx', NGINX_DIRS);
}

export interface NginxSite {
  /** `host:port` of the gateway. */
  upstream: string;
  listenHost: string;
  httpPort: number;
  httpsPort: number;
  /** Directory holding server.crt and server.key. */
  certDir: string;
  /** Directory for nginx's prefix, temp files, pid file and logs. */
  workDir: string;
}

function replaceExactly(text: string, from: string, to: string, count: number): string {
  const found = text.split(from).length - 1;
  if (found !== count) {
    throw new Error(`nginx/nginx.conf: expected ${count} occurrence(s) of ${JSON.stringify(from)}, found ${found}`);
  }
  return text.split(from).join(to);
}

const TEMP_PATH_DIRECTIVES: Record<string, string> = {
  'client-body': 'client_body_temp_path',
  proxy: 'proxy_temp_path',
  fastcgi: 'fastcgi_temp_path',
  uwsgi: 'uwsgi_temp_path',
  scgi: 'scgi_temp_path',
};

/** Temp-path directives for every temp path compiled into this nginx (the defaults need root). */
function tempPathDirectives(binary: string, workDir: string): string[] {
  const info = execFileSync(binary, ['-V'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const compiled = (cmd: string): boolean => info.includes(`--http-${cmd}-temp-path=`);
  return Object.entries(TEMP_PATH_DIRECTIVES)
    .filter(([flag]) => compiled(flag))
    .map(([flag, directive]) => `    ${directive} ${path.join(workDir, `${flag}-temp`)};`);
}

/** nginx/nginx.conf with the site lines substituted, ready for `nginx -p workDir -c <file>`. */
export function renderNginxConf(source: string, site: NginxSite, binary: string): string {
  let conf = source;
  conf = replaceExactly(conf, 'server gateway:8000;', `server ${site.upstream};`, 1);
  conf = replaceExactly(conf, 'listen 80;', `listen ${site.listenHost}:${site.httpPort};`, 1);
  conf = replaceExactly(conf, 'set $tams_https_port "";', `set $tams_https_port ":${site.httpsPort}";`, 1);
  conf = replaceExactly(conf, 'listen 443 ssl;', `listen ${site.listenHost}:${site.httpsPort} ssl;`, 1);
  conf = replaceExactly(conf, '/etc/nginx/certs/', `${site.certDir}/`, 2);
  conf = replaceExactly(conf, '\nhttp {\n', `\nhttp {\n${tempPathDirectives(binary, site.workDir).join('\n')}\n`, 1);
  return conf;
}

/** A TCP port free on `host` right now. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function accepting(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface RunningNginx {
  site: NginxSite;
  /** Access-log lines (JSON, the `tams` log_format) written so far. */
  accessLog(): Record<string, unknown>[];
  errorLog(): string;
  stop(): Promise<void>;
}

/** Checks the rendered configuration with `nginx -t`; throws with nginx's message if it is wrong. */
export function testNginxConf(binary: string, confFile: string, workDir: string): void {
  const log = path.join(workDir, 'nginx-t.log');
  const fd = fs.openSync(log, 'w');
  try {
    execFileSync(binary, ['-t', '-q', '-p', workDir, '-c', confFile, '-e', log, '-g', `pid ${path.join(workDir, 'nginx-t.pid')};`], {
      stdio: ['ignore', fd, fd],
    });
  } catch {
    throw new Error(`nginx -t failed:\n${fs.readFileSync(log, 'utf8')}`);
  } finally {
    fs.closeSync(fd);
  }
}

export async function startNginx(binary: string, site: NginxSite): Promise<RunningNginx> {
  // Workers may run as another user (nobody, when the master is root): they need to reach
  // the temp directories inside workDir.
  fs.chmodSync(site.workDir, 0o755);
  const confFile = path.join(site.workDir, 'nginx.conf');
  fs.writeFileSync(confFile, renderNginxConf(fs.readFileSync(NGINX_CONF, 'utf8'), site, binary));
  const errorFile = path.join(site.workDir, 'error.log');
  testNginxConf(binary, confFile, site.workDir);

  // The configuration logs to /dev/stdout and stderr (the container's output under Docker);
  // here both go to files, since nginx cannot open /dev/stdout when it is a socket.
  const accessFile = path.join(site.workDir, 'access.log');
  const accessFd = fs.openSync(accessFile, 'a');
  const errorFd = fs.openSync(errorFile, 'a');
  const child: ChildProcess = spawn(
    binary,
    ['-p', site.workDir, '-c', confFile, '-e', errorFile, '-g', `daemon off; pid ${path.join(site.workDir, 'nginx.pid')};`],
    { stdio: ['ignore', accessFd, errorFd] },
  );
  fs.closeSync(accessFd);
  fs.closeSync(errorFd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let running = true;
  void exited.then(() => {
    running = false;
  });

  const errorLog = (): string => (fs.existsSync(errorFile) ? fs.readFileSync(errorFile, 'utf8') : '');
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (!running) throw new Error(`nginx exited at start:\n${errorLog()}`);
    if ((await accepting(site.listenHost, site.httpPort)) && (await accepting(site.listenHost, site.httpsPort))) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nginx did not listen within 10 s:\n${errorLog()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  return {
    site,
    accessLog: () =>
      fs
        .readFileSync(accessFile, 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    errorLog,
    async stop() {
      if (!running) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * `describe` for suites that need a real nginx (and openssl, for nginx/generate_self_signed_cert.sh):
 * when either is missing, the suite's tests are reported skipped with a one-line reason,
 * except in CI (`CI=true`), where the suite fails with it (test/support/service-lanes.ts).
 */
export function describeWithNginx(name: string, fn: (binary: string) => void): void {
  const nginx = executableRequirement('nginx', 'apt-get install -y nginx-light; .ci/run installs it', NGINX_DIRS);
  const openssl = executableRequirement('openssl', 'apt-get install -y openssl');
  // Skipped, the body is only collected: it never runs nginx, so the name stands in for the path.
  describeNeeding(allOf(nginx, openssl), name, () => fn(nginx.path ?? 'nginx'));
}
