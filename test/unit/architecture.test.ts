/**
 * The dependency rules of ../shared/ARCHITECTURE.md, read from the import statements of every
 * file under src/ (type-only imports counted): the arrows point inward, the two API edges
 * never import each other, and no file reaches itself again through its imports.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const SRC = path.resolve(__dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

function resolveImport(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), specifier);
  return [`${base}.ts`, `${base}.d.ts`, path.join(base, 'index.ts')].find((candidate) => fs.existsSync(candidate));
}

/** Every file under src/ and the src/ files it imports (import, import type, export from, import()). */
export function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const info = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    const targets = info.importedFiles
      .map((imported) => resolveImport(file, imported.fileName))
      .filter((target): target is string => target !== undefined);
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** The import cycles of a graph, each as the list of files around it (Tarjan's strongly connected components). */
export function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    indexOf.set(node, index);
    low.set(node, index);
    index += 1;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!indexOf.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, indexOf.get(next)!));
      }
    }
    if (low.get(node) === indexOf.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(component);
    }
  };
  for (const node of graph.keys()) if (!indexOf.has(node)) visit(node);
  return found;
}

const relative = (file: string): string => path.relative(SRC, file).split(path.sep).join('/');
const area = (file: string): string => relative(file).split('/')[0]!;

/** Imports from one area of src/ into another that the architecture forbids. */
function forbiddenImports(graph: Map<string, string[]>, from: string, to: readonly string[]): string[] {
  const found: string[] = [];
  for (const [file, targets] of graph) {
    if (area(file) !== from) continue;
    for (const target of targets) if (to.includes(area(target))) found.push(`${relative(file)} -> ${relative(target)}`);
  }
  return found;
}

describe('source architecture (imports read from src/)', () => {
  const graph = importGraph();

  it('reads a real graph (the checks below are not vacuous)', () => {
    expect(graph.size).toBeGreaterThan(150);
    const edges = [...graph.values()].reduce((sum, targets) => sum + targets.length, 0);
    expect(edges).toBeGreaterThan(400);
    expect(graph.get(path.join(SRC, 'main.ts'))!.length).toBeGreaterThan(5);
  });

  it('finds a cycle when there is one (the detector itself can fail)', () => {
    const sample = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]);
    expect(cycles(sample)).toEqual([['c', 'b', 'a']]);
    expect(cycles(new Map([['a', ['b']], ['b', []]]))).toEqual([]);
  });

  it('has no import cycle, type-only imports counted', () => {
    expect(cycles(graph).map((component) => component.map(relative).sort())).toEqual([]);
  });

  it('keeps the two API edges apart: graphql/ never imports rest/, nor rest/ graphql/', () => {
    expect(forbiddenImports(graph, 'graphql', ['rest'])).toEqual([]);
    expect(forbiddenImports(graph, 'rest', ['graphql'])).toEqual([]);
  });

  it('points inward: domain/ and services/ know no edge, adapter or framework', () => {
    const outer = ['rest', 'graphql', 'http', 'adapters', 'auth', 'telemetry', 'config.ts', 'main.ts', 'cli.ts'];
    expect(forbiddenImports(graph, 'domain', [...outer, 'services', 'ports', 'validation'])).toEqual([]);
    expect(forbiddenImports(graph, 'services', outer)).toEqual([]);
    expect(forbiddenImports(graph, 'ports', outer)).toEqual([]);
    expect(forbiddenImports(graph, 'validation', ['rest', 'graphql', 'http', 'adapters', 'services'])).toEqual([]);
  });

  it('keeps the API edges off the adapters: rest/ and graphql/ reach stores through services and ports', () => {
    expect(forbiddenImports(graph, 'rest', ['adapters'])).toEqual([]);
    expect(forbiddenImports(graph, 'graphql', ['adapters'])).toEqual([]);
  });
});
