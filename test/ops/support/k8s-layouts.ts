/**
 * The two Kubernetes layouts as the tests see them: k8s/ (one gateway in a StatefulSet, SQLite on
 * a PersistentVolumeClaim) and k8s/overlays/scale-out/ (a Deployment of stateless replicas),
 * each rendered by support/kustomize.ts, with lookups over its resources.
 */
import path from 'node:path';
import { readRepoFile, Yaml } from './deploy-files';
import { renderKustomization, Rendering } from './kustomize';
import { REPO_ROOT } from './nginx';

export const DEFAULT_LAYOUT = 'k8s';
export const SCALE_OUT_LAYOUT = 'k8s/overlays/scale-out';

export class Layout {
  readonly rendering: Rendering;

  constructor(readonly dir: string) {
    this.rendering = renderKustomization(dir);
  }

  get resources(): Yaml[] {
    return this.rendering.resources.map((r) => r.doc);
  }

  all(kind: string): Yaml[] {
    return this.resources.filter((doc) => doc.kind === kind);
  }

  only(kind: string): Yaml {
    const found = this.all(kind);
    if (found.length !== 1) throw new Error(`${this.dir}: expected one ${kind}, found ${found.length}`);
    return found[0];
  }

  named(kind: string, name: string): Yaml {
    const found = this.all(kind).find((doc) => doc.metadata.name === name);
    if (found === undefined) throw new Error(`${this.dir}: no ${kind} named ${name}`);
    return found;
  }

  /** The gateway's workload: the StatefulSet of the default layout, the Deployment of the scale-out one. */
  get workload(): Yaml {
    const workloads = [...this.all('StatefulSet'), ...this.all('Deployment')];
    if (workloads.length !== 1) throw new Error(`${this.dir}: expected one workload, found ${workloads.length}`);
    return workloads[0];
  }

  get pod(): Yaml {
    return this.workload.spec.template.spec;
  }

  get container(): Yaml {
    return this.pod.containers.find((c: Yaml) => c.name === 'gateway');
  }

  /** The value a Secret holds under `key` (stringData, or base64 data). */
  secretValue(name: string, key: string): string | undefined {
    const secret = this.named('Secret', name);
    if (secret.stringData?.[key] !== undefined) return secret.stringData[key] as string;
    if (secret.data?.[key] !== undefined) return Buffer.from(secret.data[key] as string, 'base64').toString('utf8');
    return undefined;
  }

  /** What the container's environment holds: its envFrom sources in order, then its own `env`. */
  environment(): Record<string, string> {
    const env: Record<string, string> = {};
    const container = this.container;
    for (const source of container.envFrom ?? []) {
      if (source.configMapRef) Object.assign(env, this.named('ConfigMap', source.configMapRef.name).data);
      if (source.secretRef) {
        const secret = this.named('Secret', source.secretRef.name);
        for (const key of Object.keys({ ...secret.stringData, ...secret.data })) env[key] = this.secretValue(source.secretRef.name, key)!;
      }
    }
    for (const e of container.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom?.secretKeyRef) {
        const value = this.secretValue(e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key);
        if (value === undefined) throw new Error(`${this.dir}: ${e.name} names ${e.valueFrom.secretKeyRef.key} of Secret ${e.valueFrom.secretKeyRef.name}, which it lacks`);
        env[e.name] = value;
      } else if (e.valueFrom?.configMapKeyRef) {
        const value = this.named('ConfigMap', e.valueFrom.configMapKeyRef.name).data?.[e.valueFrom.configMapKeyRef.key];
        if (value === undefined) throw new Error(`${this.dir}: ${e.name} names a key its ConfigMap lacks`);
        env[e.name] = value as string;
      } else {
        throw new Error(`${this.dir}: ${e.name} has neither a value nor a Secret or ConfigMap key`);
      }
    }
    return env;
  }

  containerPort(nameOrNumber: string | number): number | undefined {
    return this.container.ports.find((p: Yaml) => p.name === nameOrNumber || p.containerPort === nameOrNumber)?.containerPort;
  }

  /** The volume mounted above `target` in the container, and the mount. */
  mountAbove(target: string): { mount: Yaml; volume: Yaml } {
    const mount = (this.container.volumeMounts as Yaml[]).find((m) => target.startsWith(`${m.mountPath as string}/`));
    if (mount === undefined) throw new Error(`${this.dir}: nothing is mounted above ${target}`);
    const volume = (this.pod.volumes as Yaml[]).find((v) => v.name === mount.name);
    return { mount, volume };
  }

  /** The generator of the ConfigMap `name` (the layout's configMapGenerator). */
  generatedConfigMap(name: string): { file: string; key: string } {
    const generator = this.rendering.generators.find((g) => g.name === name);
    if (generator === undefined) throw new Error(`${this.dir}: no kustomization generates a ConfigMap ${name}`);
    if (generator.files.length !== 1) throw new Error(`${this.dir}: ${name} is generated from ${generator.files.length} files`);
    const { file, key } = generator.files[0]!;
    return { file: path.join(REPO_ROOT, file), key };
  }

  /** The repository file the container sees at `target`: a mounted generated ConfigMap's key. */
  mountedFile(target: string): string {
    const { mount, volume } = this.mountAbove(target);
    if (mount.readOnly !== true) throw new Error(`${this.dir}: ${mount.mountPath as string} is not read-only`);
    if (volume?.configMap === undefined) throw new Error(`${this.dir}: ${mount.mountPath as string} is not a ConfigMap`);
    const { file, key } = this.generatedConfigMap(volume.configMap.name as string);
    if (path.posix.relative(mount.mountPath as string, target) !== key) throw new Error(`${this.dir}: ${target} is not the key ${key}`);
    return file;
  }
}

/** SHUTDOWN_GRACE_MS of a layout's ConfigMap, or the value planned there in a comment. */
export function shutdownGraceMs(env: Record<string, string>): number {
  const planned = /^\s*#?\s*-?\s*(?:graceful shutdown:\s*)?SHUTDOWN_GRACE_MS:\s*"(\d+)"/m.exec(readRepoFile('k8s/base/configmap.yaml'));
  return Number(env.SHUTDOWN_GRACE_MS ?? planned?.[1]);
}

export function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
}
