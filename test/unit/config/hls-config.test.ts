import { ConfigError, loadConfig } from '../../../src/config';

describe('config: TAMS_HLS_*', () => {
  it('lists 150 segments live (application note 0003) and at most 10000 in any playlist by default', () => {
    expect(loadConfig({}).hls).toEqual({ liveSegments: 150, maxSegments: 10_000 });
    expect(loadConfig({ TAMS_HLS_LIVE_SEGMENTS: '6', TAMS_HLS_MAX_SEGMENTS: '500' }).hls).toEqual({ liveSegments: 6, maxSegments: 500 });
  });

  it('refuses a live window under 3 segments, or larger than the maximum', () => {
    expect(() => loadConfig({ TAMS_HLS_LIVE_SEGMENTS: '2' })).toThrow(ConfigError);
    expect(() => loadConfig({ TAMS_HLS_LIVE_SEGMENTS: 'many' })).toThrow(/TAMS_HLS_LIVE_SEGMENTS/);
    expect(() => loadConfig({ TAMS_HLS_LIVE_SEGMENTS: '200', TAMS_HLS_MAX_SEGMENTS: '100' })).toThrow(/more than TAMS_HLS_MAX_SEGMENTS/);
    expect(() => loadConfig({ TAMS_HLS_MAX_SEGMENTS: '0' })).toThrow(/TAMS_HLS_MAX_SEGMENTS/);
  });
});
