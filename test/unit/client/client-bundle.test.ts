import path from 'node:path';
import { build } from 'esbuild';

const ROOT = path.resolve(__dirname, '../../..');

describe('the client in a browser bundle', () => {
  it('bundles for the browser with nothing from Node (no builtins, no require)', async () => {
    const result = await build({
      entryPoints: [path.join(ROOT, 'client/src/index.ts')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      // Any Node builtin (node:*, fs, net...) fails the build as unresolvable in a browser.
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    const code = result.outputFiles[0]!.text;
    expect(code).not.toMatch(/\brequire\(|from "node:|process\.env/);
    expect(code).toContain('createTamsClient');
    // graphql-ws's client only: graphql-js itself (the printer, the executor) is not pulled in.
    expect(code).not.toContain('GraphQLSchema');
  });
});
