/**
 * Renders the kustomizations of k8s/ offline, without a cluster or the kustomize binary: the
 * subset of kustomize the layouts use (resources, directories of other kustomizations,
 * namespace, configMapGenerator from files, images by tag, strategic-merge patches of maps), and
 * a refusal of anything else, so that a feature it does not know cannot be rendered wrongly.
 * Generated ConfigMaps keep their plain names (kustomize appends a hash of the content and
 * rewrites the references); the cross-check against kubectl (deploy-k8s-scale-out.test.ts)
 * strips those hashes before comparing.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { readRepoFile, readYaml, readYamlDocuments, Yaml } from './deploy-files';
import { REPO_ROOT } from './nginx';

export interface RenderedResource {
  /** The repository file the resource comes from (for a generated ConfigMap, its generator's kustomization). */
  file: string;
  doc: Yaml;
}

export interface Rendering {
  resources: RenderedResource[];
  /** Every kustomization.yaml read, and every file they name (resources, patches, generator files). */
  kustomizations: string[];
  files: string[];
  /** Names of the ConfigMaps generated from files, and their files. */
  generators: { name: string; files: { key: string; file: string }[] }[];
}

const KUSTOMIZATION_KEYS = ['apiVersion', 'kind', 'namespace', 'resources', 'configMapGenerator', 'images', 'patches'];
const CLUSTER_SCOPED = new Set(['Namespace']);
const POD_TEMPLATE_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'ReplicaSet']);

function unsupported(where: string, what: string): never {
  throw new Error(`${where}: ${what} is not supported by test/ops/support/kustomize.ts (extend it, or check the layout with kubectl kustomize)`);
}

const resourceId = (doc: Yaml): string => `${String(doc.apiVersion).split('/').slice(0, -1).join('/') || 'core'}/${String(doc.kind)}/${String(doc.metadata?.name)}`;

/** A strategic merge of `patch` into `target` for maps only: null removes a field; lists and $patch directives are refused. */
function mergeMap(target: Yaml, patch: Yaml, where: string, at: string): void {
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    if (key.startsWith('$')) unsupported(where, `the directive ${key} (at ${at})`);
    if (value === null) {
      delete target[key];
    } else if (Array.isArray(value)) {
      unsupported(where, `a list in a patch (at ${at}.${key})`);
    } else if (typeof value === 'object') {
      if (typeof target[key] !== 'object' || target[key] === null || Array.isArray(target[key])) target[key] = {};
      mergeMap(target[key], value, where, `${at}.${key}`);
    } else {
      target[key] = value;
    }
  }
}

function podTemplateContainers(doc: Yaml): Yaml[] {
  if (!POD_TEMPLATE_KINDS.has(doc.kind as string)) return [];
  const spec = doc.spec?.template?.spec;
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
}

function imageName(image: string): string {
  const at = image.indexOf('@');
  const withoutDigest = at === -1 ? image : image.slice(0, at);
  const colon = withoutDigest.lastIndexOf(':');
  return colon > withoutDigest.lastIndexOf('/') ? withoutDigest.slice(0, colon) : withoutDigest;
}

/** Renders the kustomization in `dir` (relative to the repository root). */
export function renderKustomization(dir: string): Rendering {
  const file = path.posix.join(dir, 'kustomization.yaml');
  const k = readYaml(file);
  const where = file;
  for (const key of Object.keys(k)) if (!KUSTOMIZATION_KEYS.includes(key)) unsupported(where, `the field ${key}`);
  if (k.apiVersion !== 'kustomize.config.k8s.io/v1beta1' || k.kind !== 'Kustomization') unsupported(where, `${String(k.apiVersion)} ${String(k.kind)}`);
  const inside = (relative: string): string => path.posix.normalize(path.posix.join(dir, relative));
  const rendering: Rendering = { resources: [], kustomizations: [file], files: [], generators: [] };

  for (const entry of (k.resources ?? []) as string[]) {
    const target = inside(entry);
    const full = path.join(REPO_ROOT, target);
    if (!fs.existsSync(full)) throw new Error(`${where}: resource ${entry} does not exist`);
    if (fs.statSync(full).isDirectory()) {
      // kustomize refuses a base that contains the kustomization using it (a cycle).
      if (path.posix.relative(target, dir).split('/')[0] !== '..') throw new Error(`${where}: ${entry} contains ${dir} (kustomize: cycle detected)`);
      const sub = renderKustomization(target);
      rendering.resources.push(...sub.resources);
      rendering.kustomizations.push(...sub.kustomizations);
      rendering.files.push(...sub.files);
      rendering.generators.push(...sub.generators);
    } else {
      if (path.posix.relative(dir, target).startsWith('..')) throw new Error(`${where}: ${entry} is outside ${dir} (kustomize's load restrictions refuse it)`);
      rendering.files.push(target);
      for (const doc of readYamlDocuments(target)) if (doc !== null) rendering.resources.push({ file: target, doc });
    }
  }

  for (const generator of (k.configMapGenerator ?? []) as Yaml[]) {
    for (const key of Object.keys(generator)) if (!['name', 'files'].includes(key)) unsupported(where, `configMapGenerator.${key}`);
    const files = (generator.files as string[]).map((entry) => {
      if (entry.includes('=')) unsupported(where, `a configMapGenerator file with a key (${entry})`);
      const target = inside(entry);
      if (path.posix.relative(dir, target).startsWith('..')) throw new Error(`${where}: ${entry} is outside ${dir}`);
      return { key: path.posix.basename(entry), file: target };
    });
    rendering.files.push(...files.map((f) => f.file));
    rendering.generators.push({ name: generator.name as string, files });
    rendering.resources.push({
      file,
      doc: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: generator.name }, data: Object.fromEntries(files.map((f) => [f.key, readRepoFile(f.file)])) },
    });
  }

  for (const patch of (k.patches ?? []) as Yaml[]) {
    for (const key of Object.keys(patch)) if (key !== 'path') unsupported(where, `patches.${key}`);
    const patchFile = inside(patch.path as string);
    rendering.files.push(patchFile);
    const docs = parseAllDocuments(readRepoFile(patchFile)).map((d) => d.toJS()).filter((d) => d !== null);
    if (docs.length !== 1) unsupported(patchFile, `${docs.length} documents in one patch`);
    const body = docs[0];
    const targets = rendering.resources.filter((r) => resourceId(r.doc) === resourceId(body));
    if (targets.length !== 1) throw new Error(`${patchFile}: no single resource ${resourceId(body)} to patch (found ${targets.length})`);
    mergeMap(targets[0]!.doc, body, patchFile, '');
  }

  if (k.namespace !== undefined) {
    for (const { doc } of rendering.resources) {
      if (!CLUSTER_SCOPED.has(doc.kind as string)) doc.metadata.namespace = k.namespace;
    }
  }

  for (const image of (k.images ?? []) as Yaml[]) {
    for (const key of Object.keys(image)) if (!['name', 'newTag'].includes(key)) unsupported(where, `images.${key}`);
    for (const { doc } of rendering.resources) {
      for (const container of podTemplateContainers(doc)) {
        if (imageName(container.image as string) === image.name) container.image = `${image.name as string}:${String(image.newTag)}`;
      }
    }
  }
  return rendering;
}

/** kubectl (`kubectl kustomize`) or kustomize (`kustomize build`), when either is installed. */
export function kustomizeCommand(find: (name: string) => string | undefined): { binary: string; args: string[] } | undefined {
  const kubectl = find('kubectl');
  if (kubectl !== undefined) return { binary: kubectl, args: ['kustomize'] };
  const kustomize = find('kustomize');
  if (kustomize !== undefined) return { binary: kustomize, args: ['build'] };
  return undefined;
}

/**
 * What the real kustomize renders for `dir`, with the hash suffixes of generated ConfigMaps
 * (`name-<10 characters>`) removed wherever the names appear.
 */
export function renderWithKustomize(command: { binary: string; args: string[] }, dir: string, generated: string[]): Yaml[] {
  const output = execFileSync(command.binary, [...command.args, path.join(REPO_ROOT, dir)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  let docs = parseAllDocuments(output).map((d) => d.toJS()).filter((d) => d !== null);
  let text = JSON.stringify(docs);
  for (const name of generated) {
    const hashed = docs.find((d) => d.kind === 'ConfigMap' && new RegExp(`^${name}-[a-z0-9]{10}$`).test(d.metadata.name as string));
    if (hashed === undefined) throw new Error(`kustomize generated no ConfigMap ${name}-<hash> for ${dir}`);
    text = text.split(JSON.stringify(hashed.metadata.name)).join(JSON.stringify(name));
  }
  docs = JSON.parse(text) as Yaml[];
  return docs;
}

/** Resources keyed `group/Kind/name`, for comparisons that ignore order. */
export function byId(docs: Yaml[]): Record<string, Yaml> {
  const out: Record<string, Yaml> = {};
  for (const doc of docs) {
    const id = resourceId(doc);
    if (id in out) throw new Error(`two resources ${id}`);
    out[id] = doc;
  }
  return out;
}
