/**
 * docker-compose.yml's `scale-out` profile, statically (Docker cannot run on the development and
 * CI machines): two gateway replicas on PostgreSQL 15, Redis and MinIO behind their own NGINX
 * (nginx/nginx.scale-out.conf), the shared secrets from deploy/scale-out.env.example, and the
 * default `docker compose up` left as it was. The signing-key job's script is run for real.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { loadStorageBackendsFile } from '../../src/storage-backends-file';
import { EMBEDDED_KEY_FILE, loadOrCreateEmbeddedKey } from '../../src/auth/embedded-keys';
import { gatewayVariables } from './support/gateway-config';
import { composeDefault, dockerEnv, findDirectives, NginxDirective, parseDockerfile, parseNginxConf, readRepoFile, readYaml, Yaml } from './support/deploy-files';
import { REPO_ROOT } from './support/nginx';
import { loadWithAnyEnvironment } from './support/storage-backends';

const PROFILE = 'scale-out';
const compose = readYaml('docker-compose.yml');
const services = compose.services as Record<string, Yaml>;
const composeText = readRepoFile('docker-compose.yml');
const dockerfile = parseDockerfile(readRepoFile('Dockerfile'));
const imageEnv = dockerEnv(dockerfile.stages[dockerfile.stages.length - 1]!);
const envExample = readRepoFile('deploy/scale-out.env.example');
const gateways = ['gateway-1', 'gateway-2'];
const gateway = services['gateway-1'];
const nginxService = services['nginx-scale-out'];
const keysJob = services['scale-out-keys'];
const postgres = services.postgres;
const redis = services.redis;

/** Whether this checkout's gateway reads the PostgreSQL settings yet (src/config.ts). */
const gatewayHasPostgres = gatewayVariables().has('DATABASE_URL');
const SCALE_OUT_VARIABLES = ['TAMS_STORE', 'DATABASE_URL', 'TAMS_PG_POOL_SIZE', 'TAMS_MIGRATE_ON_START', 'TAMS_SECRET', 'TAMS_EMBEDDED_KEY_FILE', 'REDIS_URL'];

const operatorValues: Record<string, string> = {
  MINIO_ROOT_PASSWORD: 'operator-minio-root',
  TAMS_S3_SECRET_ACCESS_KEY: 'operator-s3-secret',
  POSTGRES_PASSWORD: randomBytes(24).toString('hex'),
  TAMS_SECRET: randomBytes(32).toString('hex'),
};

/** A compose value as compose resolves it with `values` set (the others unset). */
function interpolate(value: unknown, values: Record<string, string>): string {
  return composeDefault(
    String(value).replace(/\$\{(\w+)(?::?[-?][^}]*)?\}/g, (whole: string, name: string) => values[name] ?? whole),
  );
}

/** A service's container environment: the image's ENV (for the gateway image), then compose's. */
function environment(service: Yaml, values: Record<string, string> = operatorValues): Record<string, string> {
  const env: Record<string, string> = service.image === services.gateway.image ? { ...imageEnv } : {};
  for (const [name, value] of Object.entries((service.environment ?? {}) as Record<string, string>)) env[name] = interpolate(value, values);
  return env;
}

/** Names compose must find set (`${NAME:?...}`) in the YAML text of `service`. */
function requiredVariables(service: Yaml): string[] {
  return [...JSON.stringify(service).matchAll(/\$\{(\w+):\?/g)].map((m) => m[1]!).sort();
}

function volumes(service: Yaml): { source: string; target: string; readOnly: boolean }[] {
  return ((service.volumes ?? []) as string[]).map((v) => {
    const [source, target, mode] = v.split(':') as [string, string, string | undefined];
    return { source, target, readOnly: mode === 'ro' };
  });
}

const directive = (tree: NginxDirective[], name: string): NginxDirective[] => findDirectives(tree, name).map((f) => f.directive);

function exampleValues(): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of envExample.split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) values[m[1]!] = m[2]!;
  }
  return values;
}

describe('docker-compose.yml: the default layout is unchanged by the scale-out profile', () => {
  const defaults = Object.keys(services).filter((name) => services[name].profiles === undefined);

  it('starts the same services without a profile, and puts every other one in scale-out', () => {
    expect(defaults.sort()).toEqual(['gateway', 'minio', 'minio-setup', 'nginx']);
    for (const name of Object.keys(services).filter((n) => !defaults.includes(n))) expect([name, services[name].profiles]).toEqual([name, [PROFILE]]);
    // A default service that depended on a profile service would drag it in.
    for (const name of defaults) {
      expect([name, Object.keys(services[name].depends_on ?? {}).filter((d) => !defaults.includes(d))]).toEqual([name, []]);
    }
  });

  it('requires no variable the default services do not require already (compose interpolates every profile)', () => {
    const byDefault = new Set(defaults.flatMap((name) => requiredVariables(services[name])));
    for (const name of Object.keys(services).filter((n) => !defaults.includes(n))) {
      expect([name, requiredVariables(services[name]).filter((v) => !byDefault.has(v))]).toEqual([name, []]);
    }
  });

  it('names every variable the file reads without a default in deploy/scale-out.env.example, left empty there', () => {
    const example = exampleValues();
    const yamlLines = composeText.split('\n').filter((line) => !line.trimStart().startsWith('#')).join('\n');
    const withoutDefault = [...yamlLines.matchAll(/\$\{(\w+)(:?-([^}]*)|:\?[^}]*)?\}/g)].filter((m) => m[2] === undefined || m[2].startsWith(':?') || m[3] === '').map((m) => m[1]!);
    expect([...new Set(withoutDefault)].filter((name) => !(name in example))).toEqual([]);
    for (const secret of ['MINIO_ROOT_PASSWORD', 'TAMS_S3_SECRET_ACCESS_KEY', 'POSTGRES_PASSWORD', 'TAMS_SECRET']) expect([secret, example[secret]]).toEqual([secret, '']);
    // Empty, the gateway refuses TAMS_SECRET: it would otherwise sign with a per-replica secret.
    if (gatewayHasPostgres) {
      expect(() => loadConfig({ ...environment(gateway), TAMS_SECRET: '', TAMS_EMBEDDED_KEY_FILE: '' })).toThrow(/TAMS_SECRET/);
    }
  });
});

describe('docker-compose.yml: two gateway replicas', () => {
  it('runs two identical replicas of the default gateway\'s image', () => {
    expect(services['gateway-2']).toEqual(gateway);
    expect(gateway.image).toBe(services.gateway.image);
    expect(gateway.build).toBe('.');
    expect(gateway.ports).toBeUndefined();
    expect(gateway.read_only).toBe(true);
    expect(gateway.stop_grace_period).toBe(services.gateway.stop_grace_period);
    expect(gateway.cap_drop).toEqual(['ALL']);
  });

  it('sets only variables the gateway reads (or the scale-out settings of issue 19 while they are being wired in)', () => {
    const env = environment(gateway);
    const read = new Set([...gatewayVariables(), ...loadWithAnyEnvironment(path.join(REPO_ROOT, backendsFile())).variables]);
    const unknown = Object.keys(gateway.environment as object).filter((name) => !read.has(name));
    expect(unknown.filter((name) => !SCALE_OUT_VARIABLES.includes(name))).toEqual([]);
    if (gatewayHasPostgres) expect(unknown).toEqual([]);
    expect(env).toMatchObject({ TAMS_STORE: 'postgres', TAMS_MIGRATE_ON_START: 'true', TAMS_AUTH: 'on', NODE_ENV: 'production' });
  });

  (gatewayHasPostgres ? it : it.skip)('starts on PostgreSQL with the .env filled in and the shared key in place', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-compose-keys-'));
    try {
      const keyFile = path.join(dir, EMBEDDED_KEY_FILE);
      fs.writeFileSync(keyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }));
      const config = loadConfig({ ...environment(gateway), TAMS_EMBEDDED_KEY_FILE: keyFile }) as unknown as Record<string, unknown>;
      expect(config).toMatchObject({ store: 'postgres', migrateOnStart: true, host: '0.0.0.0' });
      expect(config.postgres).toMatchObject({ poolSize: 10 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('connects to the postgres service as its user, database and password', () => {
    const url = new URL(environment(gateway).DATABASE_URL!);
    const pg = environment(postgres);
    expect([url.protocol, url.hostname, url.port, url.pathname]).toEqual(['postgres:', 'postgres', '5432', `/${pg.POSTGRES_DB!}`]);
    expect([decodeURIComponent(url.username), decodeURIComponent(url.password)]).toEqual([pg.POSTGRES_USER, operatorValues.POSTGRES_PASSWORD]);
    // The password goes into a URL as is: the example asks for hex.
    expect(envExample).toMatch(/POSTGRES_PASSWORD=\$\(openssl rand -hex \d+\)/);
    expect(postgres.image).toMatch(/^postgres:15(\.\d+)?-alpine$/);
    expect(postgres.healthcheck.test).toEqual(['CMD', 'pg_isready', '-U', pg.POSTGRES_USER, '-d', pg.POSTGRES_DB]);
    expect(volumes(postgres).map((v) => v.target)).toEqual(['/var/lib/postgresql/data']);
    expect(Object.keys(compose.volumes as object)).toContain(volumes(postgres)[0]!.source);
  });

  it('shares rate limits in the redis service, and reaches PostgreSQL and Redis only on an internal network', () => {
    const url = new URL(environment(gateway).REDIS_URL!);
    expect([url.protocol, url.hostname, url.port]).toEqual(['redis:', 'redis', '6379']);
    expect(redis.image).toMatch(/^redis:7(\.\d+)*-alpine$/);
    expect(redis.healthcheck.test).toEqual(['CMD', 'redis-cli', 'ping']);
    for (const service of [postgres, redis]) {
      expect(service.networks).toEqual(['backend']);
      expect(service.ports).toBeUndefined();
    }
    expect(compose.networks.backend).toEqual({ internal: true });
    expect([...(gateway.networks as string[])].sort()).toEqual(['backend', 'edge']);
  });

  it('signs cursors and URLs with the one TAMS_SECRET of .env, the same in both replicas', () => {
    expect(gateway.environment.TAMS_SECRET).toBe('${TAMS_SECRET:-}');
    for (const name of gateways) expect(environment(services[name]).TAMS_SECRET).toBe(operatorValues.TAMS_SECRET);
  });

  it('starts once PostgreSQL, Redis and MinIO are healthy, the bucket exists and the signing key is made', () => {
    expect(gateway.depends_on).toEqual({
      postgres: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
      minio: { condition: 'service_healthy' },
      'minio-setup': { condition: 'service_completed_successfully' },
      'scale-out-keys': { condition: 'service_completed_successfully' },
    });
  });

  it('keeps TAMS_DATA_DIR on a tmpfs: nothing of the scale-out layout lives there', () => {
    const env = environment(gateway);
    expect(gateway.tmpfs).toEqual(expect.arrayContaining([env.TAMS_DATA_DIR, '/tmp']));
    expect(volumes(gateway).filter((v) => v.target === env.TAMS_DATA_DIR)).toEqual([]);
  });
});

/** The repository file compose mounts at TAMS_STORAGE_BACKENDS_FILE in the scale-out gateways. */
function backendsFile(): string {
  const target = environment(gateway).TAMS_STORAGE_BACKENDS_FILE!;
  const mount = volumes(gateway).find((v) => v.target === target);
  if (mount === undefined) throw new Error(`nothing is mounted at ${target}`);
  expect(mount.readOnly).toBe(true);
  return mount.source;
}

describe('docker-compose.yml: media and the shared signing key', () => {
  it('keeps media in the MinIO bucket of the default layout, under a prefix of its own', () => {
    const file = path.join(REPO_ROOT, backendsFile());
    const [backend, ...others] = loadStorageBackendsFile(file, environment(gateway));
    expect(others).toEqual([]);
    const defaultFile = path.join(REPO_ROOT, 'deploy/storage-backends.example.json');
    const [defaultBackend] = loadStorageBackendsFile(defaultFile, environment(gateway));
    expect(new URL(backend!.endpoint).host).toBe('minio:9000');
    expect(backend).toMatchObject({ bucket: services['minio-setup'].environment.BUCKET, pathStyle: true, backend: { default_storage: true } });
    expect(backend!.keyPrefix).not.toBe(defaultBackend!.keyPrefix);
    expect(backend!.keyPrefix.startsWith(`${defaultBackend!.keyPrefix}/`)).toBe(false);
    expect(backend!.backend.id).not.toBe(defaultBackend!.backend.id);
    expect(backend!.credentials).toEqual({ kind: 'static', accessKeyId: 'tams-gateway', secretAccessKey: operatorValues.TAMS_S3_SECRET_ACCESS_KEY });
  });

  it('reads TAMS_EMBEDDED_KEY_FILE from the volume the key job writes, mounted read-only', () => {
    const keyFile = environment(gateway).TAMS_EMBEDDED_KEY_FILE!;
    const mount = volumes(gateway).find((v) => keyFile.startsWith(`${v.target}/`))!;
    expect(mount.readOnly).toBe(true);
    const jobFile = environment(keysJob).KEY_FILE!;
    const jobMount = volumes(keysJob).find((v) => jobFile.startsWith(`${v.target}/`))!;
    expect(jobMount.source).toBe(mount.source);
    expect(Object.keys(compose.volumes as object)).toContain(mount.source);
    expect(path.posix.relative(jobMount.target, jobFile)).toBe(path.posix.relative(mount.target, keyFile));
    // Mounted where the image has /data (owned by the image's user), so the new volume is too.
    expect(jobMount.target).toBe(imageEnv.TAMS_DATA_DIR);
    expect(keysJob).toMatchObject({ image: gateway.image, restart: 'no', network_mode: 'none', read_only: true, entrypoint: ['node', '-e'] });
  });

  describe('the key job\'s script', () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-compose-keyjob-'));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    // $$ is compose's escape for a literal $: the script has none to unescape.
    const script = (keysJob.command as string[])[0]!;
    const run = (keyFile: string): string =>
      execFileSync(process.execPath, ['-e', script], { env: { PATH: process.env.PATH, KEY_FILE: keyFile }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

    it('makes a P-256 key the gateway reads, private to its user, and keeps it on later runs', () => {
      expect(script).not.toMatch(/\$/);
      const file = path.join(dir, EMBEDDED_KEY_FILE);
      expect(run(file)).toContain('created');
      expect(fs.statSync(file).mode & 0o077).toBe(0);
      const first = fs.readFileSync(file);
      expect(loadOrCreateEmbeddedKey(dir)).toMatchObject({ created: false, file });
      expect(run(file)).toContain('keeping');
      expect(fs.readFileSync(file).equals(first)).toBe(true);
    });

    it('fails on a key of another curve, so the gateways do not start with it', () => {
      const file = path.join(dir, EMBEDDED_KEY_FILE);
      fs.writeFileSync(file, generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }));
      expect(() => run(file)).toThrow(/not a P-256 key/);
      expect(createPrivateKey(fs.readFileSync(file)).asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    });
  });
});

describe('docker-compose.yml: nginx-scale-out and nginx/nginx.scale-out.conf', () => {
  const conf = parseNginxConf(readRepoFile('nginx/nginx.scale-out.conf'));
  const single = parseNginxConf(readRepoFile('nginx/nginx.conf'));
  const http = (tree: NginxDirective[]): NginxDirective[] => directive(tree, 'http')[0]!.block!;
  const upstream = http(conf).find((d) => d.name === 'upstream')!;
  const mounts = new Map(volumes(nginxService).map((v) => [v.target, v]));

  it('balances over the two replicas on PORT', () => {
    const port = environment(gateway).PORT;
    expect(directive(upstream.block!, 'server').map((d) => d.args[0])).toEqual(gateways.map((name) => `${name}:${port!}`));
    expect(upstream.args).toEqual(http(single).find((d) => d.name === 'upstream')!.args);
    expect(nginxService.depends_on).toEqual(Object.fromEntries(gateways.map((name) => [name, { condition: 'service_healthy' }])));
  });

  it('is nginx.conf but for the upstream servers and the HTTPS port the redirect adds', () => {
    const publishedHttps = (nginxService.ports as string[]).map((p) => p.split(':')).find(([, inside]) => inside === '443')![0]!;
    const normalise = (tree: NginxDirective[]): NginxDirective[] =>
      tree.map((d) => {
        if (d.name === 'upstream') return { ...d, block: d.block!.filter((s) => s.name !== 'server') };
        if (d.name === 'set' && d.args[0] === '$tams_https_port') return { ...d, args: [d.args[0], '<port>'] };
        return d.block ? { ...d, block: normalise(d.block) } : d;
      });
    expect(normalise(conf)).toEqual(normalise(single));
    expect(directive(conf, 'set').find((d) => d.args[0] === '$tams_https_port')!.args[1]).toBe(`:${publishedHttps}`);
  });

  it('publishes ports of its own, so both layouts can run, and is the address the replicas trust', () => {
    expect(nginxService.ports).toEqual(['8080:80', '8443:443']);
    const published = (ports: string[]): string[] => ports.map((p) => p.split(':')[0]!);
    expect(published(nginxService.ports as string[]).filter((p) => published(services.nginx.ports as string[]).includes(p))).toEqual([]);
    const address = nginxService.networks.edge.ipv4_address as string;
    expect(loadConfig({ TRUST_PROXY: environment(gateway).TRUST_PROXY! }).trustProxy).toBe(address);
    expect(address).not.toBe(services.nginx.networks.edge.ipv4_address);
    expect(address.split('.').slice(0, 3).join('.')).toBe((compose.networks.edge.ipam.config[0].subnet as string).split('.').slice(0, 3).join('.'));
  });

  it('mounts nginx.scale-out.conf and the certificates nginx.conf uses', () => {
    expect(mounts.get('/etc/nginx/nginx.conf')).toEqual({ source: './nginx/nginx.scale-out.conf', target: '/etc/nginx/nginx.conf', readOnly: true });
    expect(mounts.get('/etc/nginx/certs')?.source).toBe('./nginx/certs');
    expect(nginxService.image).toBe(services.nginx.image);
  });
});
