/**
 * Offline validation of Kubernetes manifests against the API schemas of the kubernetes-models
 * package (the OpenAPI of Kubernetes 1.27): types, required fields, formats and enums through
 * its compiled validators, and unknown fields (which those schemas let through, but the API
 * server's strict field validation refuses) through the package's TypeScript declarations.
 */
import path from 'node:path';
import ts from 'typescript';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';

interface KindEntry {
  /** `new Model(data).validate()` throws on a schema violation. */
  model: new (data: never) => { validate(): void };
  /** Module and interface of the kind's declaration, for the unknown-field check. */
  module: string;
  interfaceName: string;
}

const KINDS: Record<string, KindEntry> = {
  'v1/Namespace': { model: Namespace, module: 'kubernetes-models/v1/Namespace', interfaceName: 'INamespace' },
  'v1/ConfigMap': { model: ConfigMap, module: 'kubernetes-models/v1/ConfigMap', interfaceName: 'IConfigMap' },
  'v1/Secret': { model: Secret, module: 'kubernetes-models/v1/Secret', interfaceName: 'ISecret' },
  'v1/Service': { model: Service, module: 'kubernetes-models/v1/Service', interfaceName: 'IService' },
  'apps/v1/StatefulSet': { model: StatefulSet, module: 'kubernetes-models/apps/v1/StatefulSet', interfaceName: 'IStatefulSet' },
  'apps/v1/Deployment': { model: Deployment, module: 'kubernetes-models/apps/v1/Deployment', interfaceName: 'IDeployment' },
  'autoscaling/v2/HorizontalPodAutoscaler': {
    model: HorizontalPodAutoscaler,
    module: 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler',
    interfaceName: 'IHorizontalPodAutoscaler',
  },
  'networking.k8s.io/v1/Ingress': { model: Ingress, module: 'kubernetes-models/networking.k8s.io/v1/Ingress', interfaceName: 'IIngress' },
  'networking.k8s.io/v1/NetworkPolicy': {
    model: NetworkPolicy,
    module: 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy',
    interfaceName: 'INetworkPolicy',
  },
  'policy/v1/PodDisruptionBudget': {
    model: PodDisruptionBudget,
    module: 'kubernetes-models/policy/v1/PodDisruptionBudget',
    interfaceName: 'IPodDisruptionBudget',
  },
};

export function kindKey(manifest: { apiVersion?: unknown; kind?: unknown }): string {
  return `${String(manifest.apiVersion)}/${String(manifest.kind)}`;
}

export function supportedKinds(): string[] {
  return Object.keys(KINDS);
}

/** Schema errors of one manifest (empty when valid). */
export function schemaErrors(manifest: Record<string, unknown>): string[] {
  const entry = KINDS[kindKey(manifest)];
  if (!entry) return [`unsupported kind ${kindKey(manifest)}`];
  try {
    new entry.model(manifest as never).validate();
    return [];
  } catch (err) {
    const details = (err as { errors?: { instancePath: string; message?: string }[] }).errors;
    if (details) return details.map((d) => `${d.instancePath || '/'} ${d.message ?? 'invalid'}`);
    return [err instanceof Error ? err.message : String(err)];
  }
}

/** The declared type of every supported kind, from one TypeScript program built on demand. */
class DeclaredTypes {
  private readonly checker: ts.TypeChecker;
  private readonly roots = new Map<string, ts.Type>();
  private readonly anchor: ts.Node;

  constructor() {
    const fileName = path.join(__dirname, '__k8s_kinds__.ts');
    const entries = Object.entries(KINDS);
    const source = [
      ...entries.map(([, e], i) => `import type { ${e.interfaceName} as K${i} } from '${e.module}';`),
      'export interface Kinds {',
      ...entries.map(([key], i) => `  ${JSON.stringify(key)}: K${i};`),
      '}',
    ].join('\n');
    const options: ts.CompilerOptions = { strict: true, noEmit: true, skipLibCheck: true, moduleResolution: ts.ModuleResolutionKind.Node10, types: [] };
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, languageVersion, onError) =>
      name === fileName ? ts.createSourceFile(name, source, languageVersion, true) : getSourceFile(name, languageVersion, onError);
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (name) => name === fileName || fileExists(name);
    const program = ts.createProgram([fileName], options, host);
    this.checker = program.getTypeChecker();
    const file = program.getSourceFile(fileName)!;
    const kinds = file.statements.find(ts.isInterfaceDeclaration)!;
    this.anchor = kinds;
    const kindsType = this.checker.getTypeAtLocation(kinds);
    for (const [key] of entries) {
      const symbol = kindsType.getProperty(key);
      if (!symbol) throw new Error(`no declaration for ${key}`);
      const type = this.checker.getTypeOfSymbolAtLocation(symbol, kinds);
      if (type.flags & ts.TypeFlags.Any) throw new Error(`declaration of ${key} did not resolve (kubernetes-models types missing?)`);
      this.roots.set(key, type);
    }
  }

  /** Paths of fields the kind's declaration does not have. */
  unknownFields(manifest: Record<string, unknown>): string[] {
    const root = this.roots.get(kindKey(manifest));
    if (!root) return [];
    const found: string[] = [];
    this.walk(manifest, root, '', found);
    return found;
  }

  private objectType(type: ts.Type): ts.Type | undefined {
    const t = this.checker.getNonNullableType(type);
    if (!t.isUnion()) return t.flags & ts.TypeFlags.Object ? t : undefined;
    const objects = t.types.filter((member) => member.flags & ts.TypeFlags.Object);
    return objects.length === 1 ? objects[0] : undefined;
  }

  private walk(value: unknown, type: ts.Type, at: string, found: string[]): void {
    const declared = this.objectType(type);
    if (declared === undefined || value === null || typeof value !== 'object') return;
    if (Array.isArray(value)) {
      if (!this.checker.isArrayType(declared)) return;
      const element = this.checker.getTypeArguments(declared as ts.TypeReference)[0];
      if (element) value.forEach((item, i) => this.walk(item, element, `${at}[${i}]`, found));
      return;
    }
    const index = declared.getStringIndexType();
    for (const [key, child] of Object.entries(value)) {
      const property = declared.getProperty(key);
      if (property) this.walk(child, this.checker.getTypeOfSymbolAtLocation(property, this.anchor), `${at}.${key}`, found);
      else if (index) this.walk(child, index, `${at}.${key}`, found);
      else found.push(`${at}.${key}`.replace(/^\./, ''));
    }
  }
}

let declared: DeclaredTypes | undefined;

/** Fields of the manifest that its kind does not declare (typos, misplaced keys). */
export function unknownFields(manifest: Record<string, unknown>): string[] {
  declared ??= new DeclaredTypes();
  return declared.unknownFields(manifest);
}
