/**
 * Docker cannot run on the development and CI machines, so the Dockerfile, docker-compose.yml
 * and nginx/nginx.conf are checked against each other and against the gateway statically:
 * ports, paths, service names and variable names. nginx/generate_self_signed_cert.sh is run
 * for real (it needs only openssl).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { loadStorageBackendsFile } from '../../src/storage-backends-file';
import { durationInSeconds, gatewayVariables, sizeInBytes } from './support/gateway-config';
import {
  composeDefault,
  dockerEnv,
  findDirectives,
  NginxDirective,
  parseDockerfile,
  parseNginxConf,
  readRepoFile,
  readYaml,
  Yaml,
} from './support/deploy-files';
import { CERT_SCRIPT, REPO_ROOT } from './support/nginx';
import { loadWithAnyEnvironment } from './support/storage-backends';
import { describeNeeding, executableRequirement } from '../support/service-lanes';

const dockerfile = parseDockerfile(readRepoFile('Dockerfile'));
const runtime = dockerfile.stages[dockerfile.stages.length - 1]!;
const imageEnv = dockerEnv(runtime);
const compose = readYaml('docker-compose.yml');
const gatewayService = compose.services.gateway;
const nginxService = compose.services.nginx;
const nginxConf = parseNginxConf(readRepoFile('nginx/nginx.conf'));
const packageJson = JSON.parse(readRepoFile('package.json')) as { main: string; version: string };

function instructions(stage: { instructions: { instruction: string; args: string }[] }, name: string): string[] {
  return stage.instructions.filter((i) => i.instruction === name).map((i) => i.args);
}

/** A value the operator must set (`${NAME:?message}`: compose refuses to start without it) stands for one they did. */
const operatorValue = (name: string): string => `operator-set-${name}`;

/** A compose value as compose resolves it: required variables set by the operator, the others unset. */
function composeValue(value: unknown): string {
  return composeDefault(String(value).replace(/\$\{(\w+):\?[^}]*\}/g, (_, name: string) => operatorValue(name)));
}

/** The gateway container's environment: the image's ENV, then compose's, with ${X:-default} resolved. */
function composeEnvironment(): Record<string, string> {
  const env: Record<string, string> = { ...imageEnv };
  for (const [name, value] of Object.entries(gatewayService.environment as Record<string, string>)) env[name] = composeValue(value);
  return env;
}

/** `path:target[:ro]` volumes of a compose service as [source, target] pairs. */
function volumes(service: Yaml): [string, string][] {
  return (service.volumes as string[]).map((v) => {
    const [source, target] = v.split(':') as [string, string];
    return [source, target];
  });
}

function directive(tree: NginxDirective[], name: string): NginxDirective[] {
  return findDirectives(tree, name).map((f) => f.directive);
}

const httpBlock = directive(nginxConf, 'http')[0]!.block!;
const servers = httpBlock.filter((d) => d.name === 'server');
const httpsServer = servers.find((s) => s.block!.some((d) => d.name === 'listen' && d.args.includes('ssl')))!;
const plainServer = servers.find((s) => s !== httpsServer)!;
const locations = directive(httpsServer.block!, 'location');
const location = (match: (args: string[]) => boolean): NginxDirective => locations.find((l) => match(l.args))!;

describe('Dockerfile', () => {
  it('builds in stages from Node 22 and runs production dependencies as a non-root user', () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of dockerfile.stages) expect(stage.from).toMatch(/^node:22(\.|-|$)/);
    expect(instructions(runtime, 'USER')).toEqual(['node']);
    const build = dockerfile.stages.find((s) => s.name === runtime.instructions.find((i) => i.args.startsWith('--from='))?.args.split(/[= ]/)[1]);
    expect(build).toBeDefined();
    expect(instructions(build!, 'RUN').join('\n')).toMatch(/npm ci\b[\s\S]*npm prune --omit=dev/);
    expect(instructions(runtime, 'RUN').join('\n')).not.toMatch(/npm (ci|install)/);
  });

  it('bundles the web pages in the build stage (with its dev dependencies) and ships dist/web', () => {
    const build = dockerfile.stages.find((s) => s !== runtime)!;
    const runs = instructions(build, 'RUN').join('\n');
    expect(runs).toMatch(/node scripts\/build-web\.js[\s\S]*npm prune --omit=dev/);
    // Every file a page's bundle is made of (scripts/build-web.js records them) is copied.
    const copiedSources = instructions(build, 'COPY').map((args) => args.split(' ')[0]!);
    for (const source of ['web', 'schema', 'scripts/build-web.js']) expect(copiedSources).toContain(source);
    // jest's globalSetup builds dist/web first.
    const manifest = path.join(REPO_ROOT, 'dist', 'web', '.build-inputs.json');
    const inputs = Object.values((JSON.parse(fs.readFileSync(manifest, 'utf8')) as { inputs: Record<string, string[]> }).inputs).flat();
    expect(inputs.length).toBeGreaterThan(0);
    for (const input of inputs) expect([input, copiedSources.some((source) => input === source || input.startsWith(`${source}/`))]).toEqual([input, true]);
    expect(instructions(runtime, 'COPY')).toContain('--from=build /app/dist/web ./dist/web');
  });

  it('sets only variables the gateway reads, listens on all interfaces, and starts with them', () => {
    const read = gatewayVariables();
    expect(Object.keys(imageEnv).filter((name) => !read.has(name))).toEqual([]);
    expect(imageEnv).toMatchObject({ HOST: '0.0.0.0', NODE_ENV: 'production' });
    const config = loadConfig({ ...imageEnv, TAMS_AUTH: 'on' });
    expect(instructions(runtime, 'EXPOSE')).toEqual([String(config.port)]);
    expect(instructions(runtime, 'VOLUME')).toEqual([JSON.stringify([config.dataDir])]);
  });

  it('starts package.json main, and checks /readyz on PORT', () => {
    expect(JSON.parse(instructions(runtime, 'CMD')[0]!)).toEqual(['node', packageJson.main]);
    const healthcheck = instructions(runtime, 'HEALTHCHECK')[0]!;
    expect(healthcheck).toContain("/readyz'");
    expect(healthcheck).toContain('process.env.PORT');
  });

  it('copies what exists and is not excluded by .dockerignore, and src imports nothing outside src', () => {
    const ignored = readRepoFile('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    const copied = dockerfile.stages.flatMap((s) =>
      s.instructions.filter((i) => i.instruction === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => i.args.split(' ').slice(0, -1)),
    );
    expect(copied.length).toBeGreaterThan(0);
    for (const source of copied) {
      expect([source, fs.existsSync(path.join(REPO_ROOT, source))]).toEqual([source, true]);
      expect([source, ignored.includes(source)]).toEqual([source, false]);
    }
    for (const secretOrBulk of ['.git', 'node_modules', 'dist', 'data', 'nginx', '.env']) expect(ignored).toContain(secretOrBulk);
    // tsconfig.build.json compiles src/ (and bench/, absent from the image): nothing may reach outside src/.
    const srcDir = path.join(REPO_ROOT, 'src');
    const escaping: string[] = [];
    const visit = (dir: string): void => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) visit(full);
        else if (entry.name.endsWith('.ts')) {
          for (const m of fs.readFileSync(full, 'utf8').matchAll(/(?:from\s+|require\(|import\()\s*'(\.{1,2}\/[^']+)'/g)) {
            if (!path.resolve(dir, m[1]!).startsWith(`${srcDir}${path.sep}`)) escaping.push(`${path.relative(REPO_ROOT, full)}: ${m[1]!}`);
          }
        }
      }
    };
    visit(srcDir);
    expect(escaping).toEqual([]);
  });
});

describe('docker-compose.yml', () => {
  it('runs the gateway with variables it reads, and it starts with them', () => {
    const env = composeEnvironment();
    // The gateway reads src/config.ts's variables, and those its storage backends file names.
    const read = new Set([...gatewayVariables(), ...loadWithAnyEnvironment(backendsFileOnHost(loadConfig(env).storageBackendsFile!)).variables]);
    expect(Object.keys(gatewayService.environment as object).filter((name) => !read.has(name))).toEqual([]);
    const config = loadConfig(env);
    expect(config).toMatchObject({ host: '0.0.0.0', nodeEnv: 'production', auth: 'on' });
    expect(gatewayService.image).toBe(`tams-gateway:${packageJson.version}`);
    expect(gatewayService.build).toBe('.');
  });

  it('keeps TAMS_DATA_DIR on a named volume and the gateway reachable only through nginx', () => {
    const config = loadConfig(composeEnvironment());
    const data = volumes(gatewayService).find(([, target]) => target === config.dataDir);
    expect(data).toBeDefined();
    expect(Object.keys(compose.volumes as object)).toContain(data![0]);
    expect(gatewayService.ports).toBeUndefined();
    expect(gatewayService.expose).toEqual([String(config.port)]);
    expect(gatewayService.read_only).toBe(true);
    expect(durationInSeconds(gatewayService.stop_grace_period as string)).toBeGreaterThan(0);
  });

  it('points nginx at the gateway service and PORT, and trusts only the nginx address', () => {
    const config = loadConfig(composeEnvironment());
    const upstream = httpBlock.find((d) => d.name === 'upstream')!;
    const proxied = new Set(directive(httpsServer.block!, 'proxy_pass').map((d) => d.args[0]));
    expect([...proxied]).toEqual([`http://${upstream.args[0]!}`]);
    expect(directive(upstream.block!, 'server').map((d) => d.args[0])).toEqual([`gateway:${config.port}`]);
    expect(Object.keys(compose.services as object)).toContain('gateway');
    const nginxAddress = nginxService.networks.edge.ipv4_address as string;
    expect(config.trustProxy).toBe(nginxAddress);
    expect(nginxAddress.split('.').slice(0, 3).join('.')).toBe((compose.networks.edge.ipam.config[0].subnet as string).split('.').slice(0, 3).join('.'));
    expect(nginxService.depends_on).toEqual({ gateway: { condition: 'service_healthy' } });
  });

  it('mounts nginx/nginx.conf and the certificate directory where the configuration expects them', () => {
    const mounts = new Map(volumes(nginxService).map(([source, target]) => [target, source]));
    expect(mounts.get('/etc/nginx/nginx.conf')).toBe('./nginx/nginx.conf');
    for (const name of ['ssl_certificate', 'ssl_certificate_key']) {
      const file = directive(httpsServer.block!, name)[0]!.args[0]!;
      expect(mounts.get(path.posix.dirname(file))).toBe('./nginx/certs');
    }
  });

  it('publishes the ports nginx listens on, HTTPS on 443 so the redirect needs no port', () => {
    const listens = (server: NginxDirective): string[] => directive(server.block!, 'listen').map((d) => d.args[0]!);
    expect(listens(plainServer)).toEqual(['80']);
    expect(listens(httpsServer)).toEqual(['443']);
    expect(nginxService.ports).toEqual(['80:80', '443:443']);
    expect(directive(plainServer.block!, 'set')[0]!.args).toEqual(['$tams_https_port', '']);
  });
});

/** The repository file compose mounts at `target` in the gateway container. */
function backendsFileOnHost(target: string): string {
  const mount = volumes(gatewayService).find(([, to]) => to === target);
  if (mount === undefined) throw new Error(`docker-compose.yml mounts nothing at ${target} in the gateway`);
  return path.join(REPO_ROOT, mount[0]);
}

describe('docker-compose.yml: media in MinIO', () => {
  const minio = compose.services.minio;
  const setup = compose.services['minio-setup'];
  const setupEnv = setup.environment as Record<string, string>;
  const config = loadConfig(composeEnvironment());
  const apiPort = 9000;

  it('runs a pinned MinIO with a health check, its API published for the presigned URLs and its data on a volume', () => {
    expect(minio.image).toMatch(/^minio\/minio:RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ$/);
    expect(minio.command).toEqual(['server', '/data']);
    expect(minio.healthcheck.test).toEqual(['CMD', 'mc', 'ready', 'local']);
    expect(durationInSeconds(minio.healthcheck.interval as string)).toBeGreaterThan(0);
    expect(minio.ports).toEqual([`${apiPort}:${apiPort}`]);
    const data = volumes(minio).find(([, target]) => target === '/data');
    expect(Object.keys(compose.volumes as object)).toContain(data![0]);
    // No default root password: compose refuses to start until the operator sets one.
    expect(minio.environment.MINIO_ROOT_PASSWORD).toMatch(/^\$\{MINIO_ROOT_PASSWORD:\?.+\}$/);
    expect(minio.networks).toEqual(['edge']);
  });

  it('allows the gateway\'s browser origins on the bucket (server-wide: community MinIO has no bucket CORS)', () => {
    expect(minio.environment.MINIO_API_CORS_ALLOW_ORIGIN).toMatch(/^\$\{CORS_ORIGINS:-https:\/\/[^}]+\}$/);
    expect(gatewayService.environment.CORS_ORIGINS).toBe('${CORS_ORIGINS:-}');
  });

  it('starts the gateway once MinIO is healthy and the bucket and its user exist', () => {
    expect(gatewayService.depends_on).toEqual({
      minio: { condition: 'service_healthy' },
      'minio-setup': { condition: 'service_completed_successfully' },
    });
    expect(setup.depends_on).toEqual({ minio: { condition: 'service_healthy' } });
    expect(setup.image).toMatch(/^minio\/mc:RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ$/);
    expect(setup.restart).toBe('no');
  });

  it('mounts a backends file at TAMS_STORAGE_BACKENDS_FILE that loads with the gateway\'s environment and points at the MinIO service', () => {
    expect(config.storageBackendsFile).toBe('/etc/tams/storage-backends.json');
    const file = backendsFileOnHost(config.storageBackendsFile!);
    expect((gatewayService.volumes as string[]).find((v) => v.includes(config.storageBackendsFile!))).toMatch(/:ro$/);
    const [backend, ...others] = loadStorageBackendsFile(file, composeEnvironment());
    expect(others).toEqual([]);
    const endpoint = new URL(backend!.endpoint);
    expect([endpoint.hostname, Number(endpoint.port)]).toEqual(['minio', apiPort]);
    expect(backend).toMatchObject({ pathStyle: true, bucket: setupEnv.BUCKET, conditionalWrites: true, backend: { store_product: 'minio', default_storage: true } });
    // The gateway signs with the user the setup job creates, from the same variables.
    expect(backend!.credentials).toEqual({ kind: 'static', accessKeyId: 'tams-gateway', secretAccessKey: operatorValue('TAMS_S3_SECRET_ACCESS_KEY') });
    for (const name of loadWithAnyEnvironment(file).variables) expect([name, gatewayService.environment[name]]).toEqual([name, setupEnv[name]]);
  });

  it('the setup job is valid shell that creates the bucket, a policy for it alone, and the gateway\'s user', () => {
    const script = (setup.command as string[]).join('\n');
    expect(setup.entrypoint).toEqual(['/bin/sh', '-euc']);
    // $$ is compose's escape for a $ the shell sees.
    execFileSync('sh', ['-n', '-c', script.replace(/\$\$/g, '$')], { stdio: 'pipe' });
    expect(script).toContain('mc alias set tams http://minio:9000 ');
    expect(script).toContain('mc mb --ignore-existing "tams/$$BUCKET"');
    const policy = /<<EOF\n([\s\S]*?)\nEOF\n/.exec(script)![1]!.replace(/\$\$BUCKET/g, setupEnv.BUCKET!);
    expect(JSON.parse(policy).Statement.flatMap((st: { Resource: string[] }) => st.Resource)).toEqual([
      `arn:aws:s3:::${setupEnv.BUCKET!}`,
      `arn:aws:s3:::${setupEnv.BUCKET!}/*`,
    ]);
    expect(script).toContain('mc admin user add tams "$$TAMS_S3_ACCESS_KEY_ID" "$$TAMS_S3_SECRET_ACCESS_KEY"');
    expect(script).toContain('mc admin policy attach tams tams-gateway --user "$$TAMS_S3_ACCESS_KEY_ID"');
    expect(setupEnv.MINIO_ROOT_PASSWORD).toBe(minio.environment.MINIO_ROOT_PASSWORD);
  });
});

describe('nginx/nginx.conf', () => {
  it('speaks TLS 1.2 and 1.3 only, with forward-secret AEAD suites', () => {
    expect(directive(httpsServer.block!, 'ssl_protocols')[0]!.args).toEqual(['TLSv1.2', 'TLSv1.3']);
    for (const suite of directive(httpsServer.block!, 'ssl_ciphers')[0]!.args[0]!.split(':')) expect(suite).toMatch(/^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
  });

  it('proxies without a URI part, so encoded slashes reach the gateway as sent', () => {
    const passes = directive(httpsServer.block!, 'proxy_pass');
    expect(passes.length).toBe(locations.length);
    for (const pass of passes) expect(pass.args[0]).toMatch(/^http:\/\/[A-Za-z0-9_.-]+(:\d+)?$/);
  });

  it('sets the forwarding headers once, for every location, overwriting what clients send', () => {
    const headers = Object.fromEntries(directive(httpsServer.block!, 'proxy_set_header').map((d) => [d.args[0]!.toLowerCase(), d.args[1]]));
    expect(headers).toMatchObject({
      host: '$tams_authority',
      'x-forwarded-host': '$tams_authority',
      'x-forwarded-proto': '$scheme',
      'x-real-ip': '$remote_addr',
      'x-forwarded-for': '$proxy_add_x_forwarded_for',
      upgrade: '$http_upgrade',
      connection: '$connection_upgrade',
    });
    // A location setting any proxy_set_header would inherit none of the server's.
    for (const l of locations) expect([l.args.join(' '), directive(l.block!, 'proxy_set_header')]).toEqual([l.args.join(' '), []]);
  });

  it('adds no response header: security headers have one owner, the gateway', () => {
    for (const name of ['add_header', 'more_set_headers', 'add_trailer']) expect(directive(nginxConf, name)).toEqual([]);
  });

  it('allows JSON bodies up to TAMS_MAX_BODY_BYTES and media up to TAMS_MAX_OBJECT_BYTES, streamed', () => {
    const defaults = loadConfig({});
    const bodyLimit = (block: NginxDirective[]): number => sizeInBytes(directive(block, 'client_max_body_size')[0]!.args[0]!);
    expect(bodyLimit(httpsServer.block!.filter((d) => d.name !== 'location'))).toBeGreaterThanOrEqual(defaults.maxBodyBytes);
    const media = location((args) => args[0] === '/media/');
    expect(bodyLimit(media.block!)).toBeGreaterThanOrEqual(defaults.maxObjectBytes);
    expect(directive(media.block!, 'proxy_request_buffering')[0]!.args).toEqual(['off']);
  });

  it('keeps GraphQL WebSocket connections open for an hour', () => {
    const graphql = location((args) => args.join(' ') === '~ /graphql$');
    expect(durationInSeconds(directive(graphql.block!, 'proxy_read_timeout')[0]!.args[0]!)).toBeGreaterThanOrEqual(3600);
    expect(directive(httpsServer.block!, 'proxy_http_version')[0]!.args).toEqual(['1.1']);
  });

  it('redirects plain HTTP to HTTPS and defines the optional rate zones', () => {
    expect(directive(plainServer.block!, 'return')[0]!.args).toEqual(['301', 'https://$host$tams_https_port$request_uri']);
    expect(directive(httpBlock, 'limit_req_zone').length).toBeGreaterThan(0);
  });
});

// The script runs openssl: without it the two tests are reported skipped (failed when CI=true).
describeNeeding(executableRequirement('openssl', 'apt-get install -y openssl'), 'nginx/generate_self_signed_cert.sh', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-certs-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const openssl = (...args: string[]): string => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

  it('issues a server certificate for localhost, 127.0.0.1 and the given host, signed by a local CA', () => {
    execFileSync('bash', [CERT_SCRIPT, 'media.example.test', dir], { stdio: 'pipe' });
    for (const file of ['ca.crt', 'ca.key', 'server.crt', 'server.key']) expect(fs.existsSync(path.join(dir, file))).toBe(true);
    expect(fs.statSync(path.join(dir, 'server.key')).mode & 0o077).toBe(0);
    expect(fs.statSync(path.join(dir, 'ca.key')).mode & 0o077).toBe(0);
    const san = openssl('x509', '-in', path.join(dir, 'server.crt'), '-noout', '-ext', 'subjectAltName');
    expect(san).toMatch(/DNS:localhost/);
    expect(san).toMatch(/IP Address:127\.0\.0\.1/);
    expect(san).toMatch(/DNS:media\.example\.test/);
    expect(openssl('verify', '-CAfile', path.join(dir, 'ca.crt'), path.join(dir, 'server.crt')).trim()).toBe(`${path.join(dir, 'server.crt')}: OK`);
    // The names nginx.conf loads are the ones the script writes.
    for (const name of ['ssl_certificate', 'ssl_certificate_key']) {
      expect(fs.existsSync(path.join(dir, path.posix.basename(directive(httpsServer.block!, name)[0]!.args[0]!)))).toBe(true);
    }
  });

  it('keeps the CA when renewing, and takes an IP address as an IP subjectAltName', () => {
    const ca = fs.readFileSync(path.join(dir, 'ca.crt'));
    const before = fs.readFileSync(path.join(dir, 'server.crt'));
    execFileSync('bash', [CERT_SCRIPT, '192.0.2.10', dir], { stdio: 'pipe' });
    expect(fs.readFileSync(path.join(dir, 'ca.crt')).equals(ca)).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'server.crt')).equals(before)).toBe(false);
    expect(openssl('x509', '-in', path.join(dir, 'server.crt'), '-noout', '-ext', 'subjectAltName')).toMatch(/IP Address:192\.0\.2\.10/);
    expect(openssl('verify', '-CAfile', path.join(dir, 'ca.crt'), path.join(dir, 'server.crt')).trim()).toMatch(/: OK$/);
  });
});
