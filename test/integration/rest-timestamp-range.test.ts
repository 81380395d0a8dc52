import { startHarness, Harness } from '../support/gateway-harness';
import { videoFlow } from '../fixtures/flows';
import { allocateObjects } from '../support/allocate-objects';

/** Timestamps beyond signed 64-bit nanoseconds are a clean 400, never an overflow (found by the fuzz suite). */
describe('timestamps beyond the 64-bit nanosecond range', () => {
  let h: Harness;
  const flow = videoFlow();
  beforeAll(async () => {
    h = await startHarness();
    await h.request('PUT', `/flows/${flow.id as string}`, flow);
  });
  afterAll(async () => {
    await h.close();
  });

  it.each([
    ['/flows?timerange=', '[99999999999999999999999999:0_)'],
    ['/flows?timerange=', '[9223372036:0_9223372037:0)'],
    [`/flows/${flow.id as string}/segments?timerange=`, '[-9223372036:0_0:0)'],
    [`/flows/${flow.id as string}?include_timerange=true&timerange=`, '_99999999999999999999:0'],
  ])('GET %s%s answers 400', async (prefix, tr) => {
    const res = await h.request('GET', `${prefix}${encodeURIComponent(tr)}`);
    expect(res.status).toBe(400);
    expect(res.body.type).toBe('BadRequest');
  });

  it('refuses such a segment with 400 and stores nothing, while the largest representable one is kept', async () => {
    let res = await h.request('POST', `/flows/${flow.id as string}/segments`, { object_id: 'far', timerange: '[9223372036:0_9223372037:0)' });
    expect(res.status).toBe(400);
    await allocateObjects(h, flow.id as string, ['edge']);
    res = await h.request('POST', `/flows/${flow.id as string}/segments`, { object_id: 'edge', timerange: '[9223372034:0_9223372035:999999999]' });
    expect(res.status).toBe(201);
    res = await h.request('GET', `/flows/${flow.id as string}/segments`);
    expect(res.body.map((s: { object_id: string }) => s.object_id)).toEqual(['edge']);
    expect(res.headers.get('x-paging-timerange')).toBe('[9223372034:0_9223372036:0)');
  });
});
