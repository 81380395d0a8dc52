import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');

describe('client/src/generated', () => {
  it('is what GraphQL Code Generator makes of schema/schema.graphql and client/operations', () => {
    // What `npm run client:generate` would write, printed instead of written.
    const printed = execFileSync(process.execPath, ['scripts/generate-client.js', '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    const outputs = JSON.parse(printed) as { filename: string; content: string }[];
    expect(outputs.map((o) => o.filename)).toEqual(['client/src/generated/graphql.ts']);
    for (const output of outputs) {
      const committed = fs.readFileSync(path.join(ROOT, output.filename), 'utf8');
      if (committed !== output.content) {
        throw new Error(`${output.filename} is out of date with schema/schema.graphql or client/operations: run \`npm run client:generate\` and commit it`);
      }
    }
  });
});
