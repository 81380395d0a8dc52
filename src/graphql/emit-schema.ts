/** `npm run schema` (part of `npm run build`): writes schema/schema.graphql from the resolvers. */
import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { printTamsSchema } from './print-schema';

export function schemaFile(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'schema', 'schema.graphql');
  }
  throw new Error('package.json not found above ' + __dirname);
}

if (require.main === module) {
  printTamsSchema().then(
    (sdl) => {
      fs.writeFileSync(schemaFile(), sdl);
      process.stdout.write(`wrote ${schemaFile()}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`schema emission failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
