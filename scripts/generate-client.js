'use strict';
/**
 * Generates the typed client (client/src/generated/) from schema/schema.graphql and the
 * operations in client/operations/, as client/codegen.json says, with GraphQL Code Generator's
 * core and plugins called directly: no CLI, so it runs the same on every Node version and
 * inside jest (test/unit/client/client-generated.test.ts compares its output with the files).
 *
 *   node scripts/generate-client.js          writes the files (npm run client:generate)
 *   node scripts/generate-client.js --json   prints [{ filename, content }] instead (the drift test:
 *                                            jest cannot load the generator's ESM-only packages)
 */
const fs = require('node:fs');
const path = require('node:path');
const { buildASTSchema, lexicographicSortSchema, parse, printSchema } = require('graphql');

const ROOT = path.resolve(__dirname, '..');
const CONFIG = path.join(ROOT, 'client/codegen.json');

/** `dir/*.graphql` only: the one form of glob client/codegen.json uses. */
function documentFiles(pattern) {
  const dir = path.join(ROOT, path.dirname(pattern));
  const suffix = path.basename(pattern).replace(/^\*/, '');
  if (!path.basename(pattern).startsWith('*') || suffix.includes('*')) throw new Error(`unsupported documents pattern ${pattern}: use dir/*.graphql`);
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith(suffix))
    .sort()
    .map((name) => path.join(dir, name));
}

async function generateClient() {
  // import(), not require(): the generator's packages load ESM-only dependencies, which require()
  // reaches only on Node versions with require(esm) on by default (20.19+, 22.12+).
  const { codegen } = await import('@graphql-codegen/core');
  const config = JSON.parse(fs.readFileSync(CONFIG, 'utf8'));
  // Sorted, as the CLI sorts it: the generated types do not move when the schema's order does.
  const schemaAst = lexicographicSortSchema(buildASTSchema(parse(fs.readFileSync(path.join(ROOT, config.schema), 'utf8'))));
  const schema = parse(printSchema(schemaAst));
  const documents = config.documents.flatMap(documentFiles).map((file) => ({ location: file, document: parse(fs.readFileSync(file, 'utf8')) }));
  return Promise.all(
    Object.entries(config.generates).map(async ([filename, output]) => {
      const pluginMap = Object.fromEntries(await Promise.all(output.plugins.map(async (name) => [name, await import(`@graphql-codegen/${name}`)])));
      const content = await codegen({
        filename,
        schema,
        schemaAst,
        documents,
        config: output.config ?? {},
        plugins: output.plugins.map((name) => ({ [name]: {} })),
        pluginMap,
      });
      return { filename, content };
    }),
  );
}

if (require.main === module) {
  generateClient().then(
    (outputs) => {
      if (process.argv.includes('--json')) {
        process.stdout.write(JSON.stringify(outputs));
        return;
      }
      for (const { filename, content } of outputs) {
        const file = path.join(ROOT, filename);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, content);
        console.log(`wrote ${filename}`);
      }
    },
    (err) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
