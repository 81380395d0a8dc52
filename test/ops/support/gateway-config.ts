/**
 * What the gateway really reads: the environment variable names of src/config.ts, found in
 * its syntax tree and confirmed by watching loadConfig() read an environment.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { loadConfig } from '../../../src/config';
import { REPO_ROOT } from './nginx';

const CONFIG_SOURCE = path.join(REPO_ROOT, 'src', 'config.ts');
const VARIABLE = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/;

/**
 * Names read in src/config.ts: `env.NAME`, `env['NAME']`, `helper(env, 'NAME', ...)`, and
 * upper-case string constants listed together for a lookup (`['AUTH_JWKS_URL', ...]`).
 */
export function configVariablesInSource(): Set<string> {
  const file = ts.createSourceFile(CONFIG_SOURCE, fs.readFileSync(CONFIG_SOURCE, 'utf8'), ts.ScriptTarget.ES2022, true);
  const names = new Set<string>();
  const isEnv = (node: ts.Node): boolean => ts.isIdentifier(node) && node.text === 'env';
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAccessExpression(node) && isEnv(node.expression)) names.add(node.name.text);
    if (ts.isElementAccessExpression(node) && isEnv(node.expression) && ts.isStringLiteral(node.argumentExpression)) {
      names.add(node.argumentExpression.text);
    }
    if (ts.isCallExpression(node) && node.arguments.length >= 2 && isEnv(node.arguments[0]!)) {
      const name = node.arguments[1]!;
      if (ts.isStringLiteral(name)) names.add(name.text);
    }
    if (ts.isArrayLiteralExpression(node) && node.elements.length > 0 && node.elements.every((e) => ts.isStringLiteral(e) && VARIABLE.test(e.text))) {
      for (const e of node.elements) names.add((e as ts.StringLiteral).text);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return new Set([...names].filter((n) => VARIABLE.test(n)));
}

/** Names loadConfig() looks up when given `base` (every other variable unset). */
export function configVariablesRead(base: Record<string, string> = {}): Set<string> {
  const seen = new Set<string>();
  const env = new Proxy(base, {
    get(target, key) {
      if (typeof key === 'string') seen.add(key);
      return typeof key === 'string' ? target[key] : undefined;
    },
  });
  loadConfig(env);
  return seen;
}

let cached: Set<string> | undefined;

/** Every variable the gateway reads (source and runtime observation agree, or this throws). */
export function gatewayVariables(): Set<string> {
  if (cached) return cached;
  const inSource = configVariablesInSource();
  const read = new Set([...configVariablesRead(), ...configVariablesRead({ NODE_ENV: 'production', TAMS_AUTH: 'on' })]);
  const missed = [...read].filter((name) => VARIABLE.test(name) && !inSource.has(name));
  if (missed.length > 0) throw new Error(`src/config.ts reads ${missed.join(', ')} in a way configVariablesInSource() does not see`);
  cached = new Set([...inSource, ...read].filter((name) => VARIABLE.test(name)));
  return cached;
}

/** Bytes from an nginx or Kubernetes size: `1g`, `32m`, `512k`, `1024`. */
export function sizeInBytes(size: string): number {
  const m = /^(\d+)([kKmMgG]?)$/.exec(size.trim());
  if (!m) throw new Error(`not a size: ${size}`);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * unit;
}

/** Seconds from an nginx duration (`3600`, `3600s`, `60m`, `1h`). */
export function durationInSeconds(duration: string): number {
  const m = /^(\d+)(s|m|h|d)?$/.exec(duration.trim());
  if (!m) throw new Error(`not a duration: ${duration}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
}
