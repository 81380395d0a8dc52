import { printSchema } from 'graphql';
import { buildTamsSchema } from './schema';

/** The schema in SDL, as committed in schema/schema.graphql. */
export async function printTamsSchema(): Promise<string> {
  return `${printSchema(await buildTamsSchema())}\n`;
}
