import Fastify from 'fastify';
import { flowPutSchema } from '../../../src/validation/flow-put.schema';
import { segmentPostSchema } from '../../../src/validation/segment-post.schema';
import { servicePostSchema } from '../../../src/validation/service-post.schema';
import { storagePostSchema } from '../../../src/validation/storage-post.schema';
import { compileRequestBodySchema } from '../../../src/validation/validators';
import { VALID_FLOW_PUTS } from './request-body-fixtures';

const BODY_SCHEMAS = { flow: flowPutSchema, segments: segmentPostSchema, storage: storagePostSchema, service: servicePostSchema };

describe('request-body schemas as fastify route schemas', () => {
  it("compile under fastify's default (draft-07) Ajv", async () => {
    const app = Fastify();
    for (const [name, body] of Object.entries(BODY_SCHEMAS)) app.post(`/${name}`, { schema: { body } }, () => ({}));
    await expect(app.ready()).resolves.toBeDefined();
    await app.close();
  });

  it('register with compileRequestBodySchema as the validatorCompiler', async () => {
    const app = Fastify();
    app.put('/flows/:flowId', {
      schema: { body: flowPutSchema },
      validatorCompiler: ({ schema }) => compileRequestBodySchema(schema),
    }, () => ({}));
    await expect(app.ready()).resolves.toBeDefined();
    await app.close();
  });

  it('compileRequestBodySchema neither coerces, strips nor fills defaults', () => {
    const validate = compileRequestBodySchema(flowPutSchema);
    const video = VALID_FLOW_PUTS['video h264']!;
    const params = video.essence_parameters as Record<string, unknown>;
    const extra = { ...video, essence_parameters: { ...params, smell: 'roses' } };
    expect(validate(extra)).toBe(false);
    expect((extra.essence_parameters as Record<string, unknown>).smell).toBe('roses');
    const coercible = { ...video, generation: '1' };
    expect(validate(coercible)).toBe(false);
    expect(coercible.generation).toBe('1');
    const withoutDenominator = { ...video, segment_duration: { numerator: 2 } };
    expect(validate(withoutDenominator)).toBe(true);
    expect(withoutDenominator.segment_duration).toEqual({ numerator: 2 });
  });
});
