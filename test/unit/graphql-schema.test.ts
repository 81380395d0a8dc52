import fs from 'node:fs';
import path from 'node:path';
import { printTamsSchema } from '../../src/graphql/print-schema';

describe('schema/schema.graphql', () => {
  it('is what the resolvers produce', async () => {
    const committed = fs.readFileSync(path.join(__dirname, '../../schema/schema.graphql'), 'utf8');
    const current = await printTamsSchema();
    if (committed !== current) {
      throw new Error('schema/schema.graphql is out of date with the resolvers: run `npm run build` and commit it');
    }
  });
});
