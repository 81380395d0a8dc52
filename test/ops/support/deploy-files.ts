/**
 * Readers for the deployment files, enough to compare them with each other and with the
 * gateway: nginx configuration, Dockerfile, docker-compose.yml and the k8s/ manifests.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { REPO_ROOT } from './nginx';

export interface NginxDirective {
  name: string;
  args: string[];
  block?: NginxDirective[];
}

/** nginx's configuration syntax: directives, quoted arguments, blocks, `#` comments. */
export function parseNginxConf(text: string): NginxDirective[] {
  const tokens: string[] = [];
  const re = /#[^\n]*|"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([{};])|([^\s{};"'#]+(?:[^\s{};]*))/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[0].startsWith('#')) continue;
    tokens.push(m[1] ?? m[2] ?? m[3] ?? m[4]!);
  }
  let i = 0;
  const block = (): NginxDirective[] => {
    const out: NginxDirective[] = [];
    while (i < tokens.length && tokens[i] !== '}') {
      const name = tokens[i++]!;
      const args: string[] = [];
      while (i < tokens.length && tokens[i] !== ';' && tokens[i] !== '{') args.push(tokens[i++]!);
      if (tokens[i] === '{') {
        i++;
        out.push({ name, args, block: block() });
        if (tokens[i++] !== '}') throw new Error(`unclosed block ${name}`);
      } else {
        if (tokens[i++] !== ';') throw new Error(`directive ${name} not terminated`);
        out.push({ name, args });
      }
    }
    return out;
  };
  const parsed = block();
  if (i !== tokens.length) throw new Error('unbalanced }');
  return parsed;
}

/** Every directive named `name`, at any depth, with the chain of blocks it sits in. */
export function findDirectives(tree: NginxDirective[], name: string, within: NginxDirective[] = []): { directive: NginxDirective; within: NginxDirective[] }[] {
  const found: { directive: NginxDirective; within: NginxDirective[] }[] = [];
  for (const d of tree) {
    if (d.name === name) found.push({ directive: d, within });
    if (d.block) found.push(...findDirectives(d.block, name, [...within, d]));
  }
  return found;
}

export interface DockerInstruction {
  instruction: string;
  args: string;
}

export interface DockerStage {
  from: string;
  name: string | undefined;
  instructions: DockerInstruction[];
}

/** A Dockerfile as build args and stages (continuation lines joined, comments dropped). */
export function parseDockerfile(text: string): { args: Record<string, string>; stages: DockerStage[] } {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: DockerStage[] = [];
  for (const line of lines) {
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const instruction = m[1]!.toUpperCase();
    const rest = m[2]!.replace(/\s+/g, ' ');
    if (instruction === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest)!;
      stages.push({ from: from[1]!.replace(/^\$\{?(\w+)\}?$/, (_, v: string) => args[v] ?? `$${v}`), name: from[2], instructions: [] });
    } else if (instruction === 'ARG' && stages.length === 0) {
      const [name, value] = rest.split('=', 2) as [string, string | undefined];
      args[name] = value ?? '';
    } else {
      stages[stages.length - 1]?.instructions.push({ instruction, args: rest });
    }
  }
  return { args, stages };
}

/** `ENV A=1 B=2` of a stage as a record. */
export function dockerEnv(stage: DockerStage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { args } of stage.instructions.filter((i) => i.instruction === 'ENV')) {
    for (const m of args.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S+)/g)) env[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
  }
  return env;
}

export function readRepoFile(relative: string): string {
  return fs.readFileSync(path.join(REPO_ROOT, relative), 'utf8');
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- YAML documents are checked field by field
export type Yaml = any;

export function readYaml(relative: string): Yaml {
  return parseYaml(readRepoFile(relative));
}

/** Every document of a YAML file (manifests may hold several). */
export function readYamlDocuments(relative: string): Yaml[] {
  return parseAllDocuments(readRepoFile(relative)).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${relative}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS();
  });
}

/** `${NAME:-default}` and `${NAME}` of a compose value, as compose resolves them with NAME unset. */
export function composeDefault(value: string): string {
  return value.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_, _name: string, fallback: string | undefined) => fallback ?? '');
}
