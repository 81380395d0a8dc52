/**
 * The Kubernetes manifests (k8s/), offline: each one valid against the Kubernetes API schemas
 * and free of unknown fields, and all of them consistent with each other and with the gateway
 * they deploy (the variables src/config.ts reads, the port, the routes the probes hit, the
 * request limits, the public URL).
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { loadStorageBackendsFile } from '../../src/storage-backends-file';
import { startHarness } from '../support/gateway-harness';
import { durationInSeconds, gatewayVariables, sizeInBytes } from './support/gateway-config';
import { readRepoFile, readYaml, Yaml } from './support/deploy-files';
import { kindKey, schemaErrors, supportedKinds, unknownFields } from './support/k8s-schema';
import { DEFAULT_LAYOUT, Layout, matches, SCALE_OUT_LAYOUT, shutdownGraceMs } from './support/k8s-layouts';
import { REPO_ROOT } from './support/nginx';
import { loadWithAnyEnvironment } from './support/storage-backends';
import { checkedFetch } from '../support/checked-fetch';

const K8S_DIR = 'k8s';
// The default layout as kustomize renders it (support/kustomize.ts): k8s/kustomization.yaml,
// the shared manifests of k8s/base/ and the StatefulSet. The scale-out overlay has its own
// test file (deploy-k8s-scale-out.test.ts).
const layout = new Layout(DEFAULT_LAYOUT);
const kustomization = readYaml(`${K8S_DIR}/kustomization.yaml`);
const manifests: { file: string; doc: Yaml }[] = layout.rendering.resources;
const manifestFiles = [...new Set(manifests.map((m) => m.file))].sort();

const only = (kind: string): Yaml => layout.only(kind);
const named = (kind: string, name: string): Yaml => layout.named(kind, name);

const namespace = only('Namespace');
const configMap = named('ConfigMap', 'tams-gateway-config');
const secrets = manifests.filter((m) => m.doc.kind === 'Secret').map((m) => m.doc);
const authSecret = named('Secret', 'tams-gateway-auth');
const s3Secret = named('Secret', 'tams-s3-credentials');
const service = only('Service');
const statefulSet = only('StatefulSet');
const ingress = only('Ingress');
const pdb = only('PodDisruptionBudget');
const networkPolicy = only('NetworkPolicy');
const pod = layout.pod;
const container = layout.container;
const packageJson = JSON.parse(readRepoFile('package.json')) as { version: string };

/** What the container's environment holds: its ConfigMap and Secret, then its own `env`. */
function containerEnvironment(): Record<string, string> {
  for (const source of container.envFrom ?? []) if (source.configMapRef) expect(source.configMapRef.name).toBe(configMap.metadata.name);
  return layout.environment();
}

function containerPort(nameOrNumber: string | number): number | undefined {
  return layout.containerPort(nameOrNumber);
}

/** Every YAML file under k8s/, relative to the repository. */
function yamlFilesUnder(dir: string): string[] {
  return fs.readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = path.posix.join(dir, entry.name);
    if (entry.isDirectory()) return yamlFilesUnder(relative);
    return /\.ya?ml$/.test(entry.name) ? [relative] : [];
  });
}

describe('Kubernetes manifests: schemas', () => {
  it('covers every manifest kind with a validator', () => {
    expect(manifests.map((m) => kindKey(m.doc)).filter((k) => !supportedKinds().includes(k))).toEqual([]);
  });

  it.each(manifestFiles)('%s is valid against the Kubernetes API schema, with no unknown field', (file) => {
    for (const { doc } of manifests.filter((m) => m.file === file)) {
      expect({ file, kind: doc.kind, schema: schemaErrors(doc), unknown: unknownFields(doc) }).toEqual({
        file,
        kind: doc.kind,
        schema: [],
        unknown: [],
      });
    }
  });

  it('the schema check catches what it must', () => {
    const broken = structuredClone(statefulSet);
    broken.spec.replicas = 'one';
    broken.spec.template.spec.containers[0].readinesProbe = broken.spec.template.spec.containers[0].readinessProbe;
    delete broken.spec.selector;
    expect(schemaErrors(broken)).toEqual(expect.arrayContaining(['/spec/replicas must be integer', '/spec must have required property selector']));
    expect(unknownFields(broken)).toEqual(['spec.template.spec.containers[0].readinesProbe']);
  });

  it('renders from k8s/kustomization.yaml, every resource in the namespace of namespace.yaml, no file left unused', () => {
    expect(kustomization).toMatchObject({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', namespace: namespace.metadata.name });
    expect(manifests.map((m) => `${m.doc.kind as string}/${m.doc.metadata.name as string}`).sort()).toEqual([
      'ConfigMap/tams-gateway-config',
      'ConfigMap/tams-storage-backends',
      'Ingress/tams-gateway',
      'Namespace/tams',
      'NetworkPolicy/tams-gateway',
      'PodDisruptionBudget/tams-gateway',
      'Secret/tams-gateway-auth',
      'Secret/tams-s3-credentials',
      'Service/tams-gateway',
      'StatefulSet/tams-gateway',
    ]);
    for (const { file, doc } of manifests.filter((m) => m.doc.kind !== 'Namespace')) {
      expect([file, doc.metadata.namespace]).toEqual([file, namespace.metadata.name]);
    }
    // Each manifest, patch and kustomization under k8s/ belongs to one of the two layouts.
    const scaleOut = new Layout(SCALE_OUT_LAYOUT).rendering;
    const used = new Set([...layout.rendering.files, ...layout.rendering.kustomizations, ...scaleOut.files, ...scaleOut.kustomizations]);
    expect(yamlFilesUnder(K8S_DIR).filter((file) => !used.has(file))).toEqual([]);
  });
});

/** The repository file the container sees at `target`: a mounted ConfigMap's key. */
const mountedFile = (target: string): string => layout.mountedFile(target);

describe('Kubernetes manifests: agreement with the gateway', () => {
  const env = containerEnvironment();

  it('sets only variables the gateway reads, and the gateway starts with them', () => {
    // The gateway reads src/config.ts's variables, and those its storage backends file names.
    const read = new Set([...gatewayVariables(), ...loadWithAnyEnvironment(mountedFile(loadConfig(env).storageBackendsFile!)).variables]);
    expect(Object.keys(env).filter((name) => !read.has(name))).toEqual([]);
    for (const value of Object.values(env)) expect(typeof value).toBe('string');
    const config = loadConfig(env);
    expect(config).toMatchObject({ host: '0.0.0.0', nodeEnv: 'production', auth: 'on' });
  });

  it('keeps no real secret in the Secret templates', () => {
    expect(secrets.map((s: Yaml) => s.metadata.name).sort()).toEqual(['tams-gateway-auth', 'tams-s3-credentials']);
    for (const secret of secrets) {
      expect(secret.type).toBe('Opaque');
      expect(secret.data).toBeUndefined();
      expect(Object.entries(secret.stringData as Record<string, string>).filter(([, value]) => value !== '')).toEqual([]);
    }
    expect(Object.keys(authSecret.stringData as Record<string, string>).every((name) => name.startsWith('AUTH_'))).toBe(true);
  });

  it('mounts the storage backends file from a generated ConfigMap at TAMS_STORAGE_BACKENDS_FILE, read-only', () => {
    const target = loadConfig(env).storageBackendsFile!;
    expect(target).toBe('/etc/tams/storage-backends.json');
    const volume = (pod.volumes as Yaml[]).find((v) => v.configMap?.name === 'tams-storage-backends');
    expect(Object.keys(volume)).toEqual(['name', 'configMap']);
    expect(fs.existsSync(mountedFile(target))).toBe(true);
  });

  it('gives the backends file every credential variable it names, from the S3 Secret', () => {
    const file = mountedFile(loadConfig(env).storageBackendsFile!);
    const { variables } = loadWithAnyEnvironment(file);
    expect(variables.length).toBeGreaterThan(0);
    expect(Object.keys(s3Secret.stringData as Record<string, string>).sort()).toEqual(variables);
    expect((container.envFrom as Yaml[]).map((source) => source.secretRef?.name)).toContain(s3Secret.metadata.name);
    // Filled in as an operator would, the file loads with the container's environment.
    const filled = { ...env, ...Object.fromEntries(variables.map((name) => [name, `operator-set-${name}`])) };
    const [backend, ...others] = loadStorageBackendsFile(file, filled);
    expect(others).toEqual([]);
    expect(backend).toMatchObject({ backend: { default_storage: true }, credentials: { kind: 'static', secretAccessKey: 'operator-set-TAMS_S3_SECRET_ACCESS_KEY' } });
    // Left empty, as in the template, the gateway refuses to start naming the variable.
    expect(() => loadStorageBackendsFile(file, env)).toThrow(/credentials\.access_key_id_env names TAMS_S3_ACCESS_KEY_ID, which is not set/);
  });

  it('exposes PORT on the container, the Service and the NetworkPolicy', () => {
    const port = loadConfig(env).port;
    expect(containerPort('http')).toBe(port);
    const servicePort = service.spec.ports.find((p: Yaml) => p.name === 'http');
    expect(containerPort(servicePort.targetPort)).toBe(port);
    for (const rule of networkPolicy.spec.ingress) {
      for (const p of rule.ports) expect(containerPort(p.port)).toBe(port);
    }
    const backend = ingress.spec.rules[0].http.paths[0].backend.service;
    expect(backend.name).toBe(service.metadata.name);
    expect(service.spec.ports.some((p: Yaml) => p.name === backend.port.name || p.port === backend.port.number)).toBe(true);
  });

  it('selects the gateway pods everywhere with the same labels', () => {
    const labels = statefulSet.spec.template.metadata.labels as Record<string, string>;
    expect(statefulSet.spec.selector.matchLabels).toEqual(service.spec.selector);
    for (const selector of [statefulSet.spec.selector.matchLabels, service.spec.selector, pdb.spec.selector.matchLabels, networkPolicy.spec.podSelector.matchLabels]) {
      expect(matches(selector, labels)).toBe(true);
    }
    expect(statefulSet.spec.serviceName).toBe(service.metadata.name);
    expect(statefulSet.spec.replicas).toBe(1);
  });

  it('keeps TAMS_DATA_DIR on the PersistentVolumeClaim and /tmp writable under a read-only root', () => {
    const dataDir = loadConfig(env).dataDir;
    const claim = statefulSet.spec.volumeClaimTemplates[0];
    const mount = (name: string): Yaml => container.volumeMounts.find((m: Yaml) => m.name === name);
    expect(mount(claim.metadata.name).mountPath).toBe(dataDir);
    expect(claim.spec.accessModes).toEqual(['ReadWriteOnce']);
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, runAsNonRoot: true });
    expect(container.securityContext.capabilities.drop).toEqual(['ALL']);
    const tmp = pod.volumes.find((v: Yaml) => v.name === 'tmp');
    expect([mount('tmp').mountPath, Object.keys(tmp)]).toEqual(['/tmp', ['name', 'emptyDir']]);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 });
    expect(pod.enableServiceLinks).toBe(false);
    expect(container.resources.requests).toEqual(expect.objectContaining({ cpu: expect.any(String), memory: expect.any(String) }));
    expect(container.resources.limits).toEqual(expect.objectContaining({ memory: expect.any(String) }));
  });

  it('runs the image compose builds, tagged with the package version', () => {
    const compose = readYaml('docker-compose.yml');
    expect(container.image).toBe(compose.services.gateway.image);
    expect(container.image).toBe(`tams-gateway:${packageJson.version}`);
    expect(kustomization.images).toEqual([{ name: 'tams-gateway', newTag: packageJson.version }]);
  });

  it('waits long enough for a graceful shutdown', () => {
    const preStop = container.lifecycle.preStop.exec.command as string[];
    expect(preStop[0]).toBe('sleep');
    const pause = Number(preStop[1]);
    const graceMs = shutdownGraceMs(env);
    expect(graceMs).toBeGreaterThan(0);
    expect(statefulSet.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(pause + graceMs / 1000 + 5);
    const compose = readYaml('docker-compose.yml');
    expect(durationInSeconds(compose.services.gateway.stop_grace_period as string)).toBe(statefulSet.spec.template.spec.terminationGracePeriodSeconds);
  });

  it('probes routes the gateway serves, without credentials, with auth on', async () => {
    const probes = { startupProbe: '/livez', livenessProbe: '/livez', readinessProbe: '/readyz' } as const;
    for (const [probe, expected] of Object.entries(probes)) {
      expect([probe, container[probe].httpGet.path]).toEqual([probe, expected]);
      expect(containerPort(container[probe].httpGet.port)).toBe(loadConfig(env).port);
    }
    // The manifests' own settings, on a loopback port and a temporary data directory; media
    // stays local (no bucket to reach here: the backends file is checked above).
    const { HOST: _host, PORT: _port, TAMS_DATA_DIR: _dataDir, LOG_LEVEL: _logLevel, TAMS_STORAGE_BACKENDS_FILE: _backends, ...settings } = env;
    for (const extra of [{}, { TAMS_BASE_PATH: '/tams/v8.2' }] as Record<string, string>[]) {
      const h = await startHarness({ ...settings, ...extra });
      try {
        expect(h.gateway.config.auth).toBe('on');
        for (const probe of Object.keys(probes) as (keyof typeof probes)[]) {
          const res = await checkedFetch(`${h.base}${container[probe].httpGet.path as string}`);
          expect([probe, res.status]).toEqual([probe, 200]);
        }
        expect((await checkedFetch(`${h.base}/flows`)).status).toBe(401);
      } finally {
        await h.close();
      }
    }
  });
});

describe('Kubernetes manifests: Ingress', () => {
  const env = containerEnvironment();
  const annotations = ingress.metadata.annotations as Record<string, string>;

  it('terminates TLS with the secret tams-tls for the host of TAMS_PUBLIC_URL, redirecting HTTP', () => {
    const publicUrl = new URL(loadConfig(env).publicUrl!);
    expect(publicUrl.protocol).toBe('https:');
    expect(ingress.spec.tls).toEqual([{ hosts: [publicUrl.hostname], secretName: 'tams-tls' }]);
    expect(ingress.spec.rules.map((r: Yaml) => r.host)).toEqual([publicUrl.hostname]);
    expect(ingress.spec.ingressClassName).toBe('nginx');
    expect(annotations['nginx.ingress.kubernetes.io/ssl-redirect']).toBe('true');
    expect(annotations['ingress.kubernetes.io/ssl-redirect']).toBe('true');
    const paths = ingress.spec.rules[0].http.paths;
    expect(paths).toEqual([expect.objectContaining({ path: '/', pathType: 'Prefix' })]);
  });

  it('lets media uploads of TAMS_MAX_OBJECT_BYTES and JSON bodies of TAMS_MAX_BODY_BYTES through', () => {
    const config = loadConfig(env);
    for (const key of ['nginx.ingress.kubernetes.io/proxy-body-size', 'nginx.org/client-max-body-size']) {
      expect([key, sizeInBytes(annotations[key]!) >= Math.max(config.maxObjectBytes, config.maxBodyBytes)]).toEqual([key, true]);
    }
    expect(annotations['nginx.ingress.kubernetes.io/proxy-request-buffering']).toBe('off');
  });

  it('keeps WebSocket subscriptions open for an hour', () => {
    for (const key of [
      'nginx.ingress.kubernetes.io/proxy-read-timeout',
      'nginx.ingress.kubernetes.io/proxy-send-timeout',
      'nginx.org/proxy-read-timeout',
      'nginx.org/proxy-send-timeout',
    ]) {
      expect([key, durationInSeconds(annotations[key]!)]).toEqual([key, 3600]);
    }
    expect(annotations['nginx.org/websocket-services']).toBe(service.metadata.name);
  });

  it('adds no header and rewrites no path: security headers and object ids belong to the gateway', () => {
    expect(annotations['nginx.org/hsts']).toBe('false');
    const forbidden = Object.keys(annotations).filter((key) =>
      /(snippet|custom-headers|more-set-headers|add-headers|rewrite-target|use-regex|app-root|hsts)$/.test(key) && key !== 'nginx.org/hsts',
    );
    expect(forbidden).toEqual([]);
  });
});
