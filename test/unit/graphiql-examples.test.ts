/**
 * The IDE's example tabs (web/graphiql/example-operations.ts) against the schema the gateway
 * builds (schema/schema.graphql, also the one bundled into the IDE): each parses, validates,
 * and its example variables are accepted, so a schema change that breaks one fails here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { buildSchema, getVariableValues, Kind, parse, validate, type OperationDefinitionNode } from 'graphql';
import { EXAMPLE_TABS } from '../../web/graphiql/example-operations';

const schema = buildSchema(fs.readFileSync(path.resolve(__dirname, '../../schema/schema.graphql'), 'utf8'));

describe('GraphQL IDE example tabs', () => {
  it('are a flow with its segments, registering segments, and a flowSegmentsAdded subscription', () => {
    const operations = EXAMPLE_TABS.map((tab) => parse(tab.query).definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION));
    expect(operations.map((ops) => ops.map((op) => op.operation))).toEqual([['query'], ['mutation'], ['subscription']]);
    expect(EXAMPLE_TABS[0]!.query).toMatch(/flows\([^)]*\)\s*\{[\s\S]*segments\(/);
    expect(EXAMPLE_TABS[1]!.query).toContain('registerSegments(');
    expect(EXAMPLE_TABS[2]!.query).toContain('flowSegmentsAdded');
  });

  it.each(EXAMPLE_TABS.map((tab, i) => [i, tab] as const))('tab %i validates against the schema with its variables', (_i, tab) => {
    const document = parse(tab.query);
    expect(validate(schema, document).map((e) => e.message)).toEqual([]);
    const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
    const variables = tab.variables === undefined ? {} : (JSON.parse(tab.variables) as Record<string, unknown>);
    const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
    expect(coerced.errors?.map((e) => e.message) ?? []).toEqual([]);
  });
});
