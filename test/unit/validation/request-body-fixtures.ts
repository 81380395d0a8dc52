/**
 * Hand-written valid request bodies that exercise what the official examples do not (every
 * content format, VFR, uncompressed parameters, container mappings, full segments). Each is
 * valid under both our schemas and the official ones; the agreement test mutates them.
 */
export const VALID_FLOW_PUTS: Readonly<Record<string, Record<string, unknown>>> = {
  'video h264': {
    id: 'a1b2c3d4-0001-4a5b-8c9d-0123456789ab',
    source_id: 'a1b2c3d4-0002-4a5b-8c9d-0123456789ab',
    label: 'camera 1',
    description: 'main camera',
    tags: { genre: ['news', 'live'], input_quality: 'broadcast' },
    format: 'urn:x-nmos:format:video',
    codec: 'video/h264',
    container: 'video/mp2t',
    generation: 0,
    max_bit_rate: 8000,
    avg_bit_rate: 6000,
    read_only: false,
    segment_duration: { numerator: 2 },
    essence_parameters: {
      frame_width: 1920,
      frame_height: 1080,
      bit_depth: 8,
      interlace_mode: 'progressive',
      colorspace: 'BT709',
      transfer_characteristic: 'SDR',
      aspect_ratio: { numerator: 16, denominator: 9 },
      pixel_aspect_ratio: { numerator: 1, denominator: 1 },
      component_type: 'YCbCr',
      horiz_chroma_subs: 2,
      vert_chroma_subs: 2,
      avc_parameters: { profile: 100, level: 40, flags: 0 },
      frame_rate: { numerator: 25, denominator: 1 },
    },
  },
  'video vfr raw': {
    id: 'a1b2c3d4-0003-4a5b-8c9d-0123456789ab',
    source_id: 'a1b2c3d4-0004-4a5b-8c9d-0123456789ab',
    format: 'urn:x-nmos:format:video',
    codec: 'video/raw',
    container: 'video/quicktime',
    essence_parameters: {
      frame_width: 3840,
      frame_height: 2160,
      vfr: true,
      unc_parameters: { unc_type: 'v210' },
      init_segments: false,
    },
    container_mapping: { track_index: 0, isobmff_container: { track_id: 1 } },
  },
  'audio pcm': {
    id: 'a1b2c3d4-0005-4a5b-8c9d-0123456789ab',
    source_id: 'a1b2c3d4-0006-4a5b-8c9d-0123456789ab',
    format: 'urn:x-nmos:format:audio',
    codec: 'audio/L24',
    container: 'audio/wav',
    essence_parameters: { sample_rate: 48000, channels: 2, bit_depth: 24, unc_parameters: { unc_type: 'interleaved' } },
    container_mapping: { audio_track: { channel_numbers: [0, 1] }, mp2ts_container: { pid: 257 } },
    status: 'ingesting',
  },
  'image jpeg': {
    id: 'a1b2c3d4-0007-4a5b-8c9d-0123456789ab',
    source_id: 'a1b2c3d4-0008-4a5b-8c9d-0123456789ab',
    format: 'urn:x-tam:format:image',
    codec: 'image/jpeg',
    essence_parameters: { frame_width: 640, frame_height: 360, aspect_ratio: { numerator: 16, denominator: 9 } },
  },
  'data ttml': {
    id: 'a1b2c3d4-0009-4a5b-8c9d-0123456789ab',
    source_id: 'a1b2c3d4-000a-4a5b-8c9d-0123456789ab',
    format: 'urn:x-nmos:format:data',
    codec: 'application/ttml+xml',
    essence_parameters: { data_type: 'subtitles' },
  },
  'multi with collection': {
    id: 'a1b2c3d4-000b-4a5b-8c9d-0123456789ab',
    source_id: 'a1b2c3d4-000c-4a5b-8c9d-0123456789ab',
    format: 'urn:x-nmos:format:multi',
    container: 'video/mp2t',
    essence_parameters: { init_segments: true },
    flow_collection: [
      { id: 'a1b2c3d4-0001-4a5b-8c9d-0123456789ab', role: 'video', container_mapping: { format_track_index: 0 } },
      { id: 'a1b2c3d4-0005-4a5b-8c9d-0123456789ab', role: 'audio', container_mapping: { mxf_container: { track_id: 2 } } },
    ],
  },
  'unlinked from profile': {
    id: 'a1b2c3d4-000d-4a5b-8c9d-0123456789ab',
    source_id: 'a1b2c3d4-000e-4a5b-8c9d-0123456789ab',
    profile_id: '',
    format: 'urn:x-tam:format:image',
    codec: 'image/png',
    essence_parameters: { frame_width: 100, frame_height: 100 },
  },
};

export const VALID_SEGMENT_POSTS: Readonly<Record<string, unknown>> = {
  'full segment': {
    object_id: 'objects/2024/05/01/seg-0001.ts',
    init_object_id: 'objects/init.mp4',
    timerange: '[1714564800:0_1714564802:0)',
    object_timerange: '[0:0_2:0)',
    ts_offset: '-1714564800:0',
    last_duration: '0:40000000',
    key_frame_count: 1,
    sample_offset: 0,
    sample_count: 50,
    get_urls: [{ url: 'https://cdn.example.com/seg-0001.ts', label: 'cdn' }],
  },
  'array of segments': [
    { object_id: 'seg-1', timerange: '[0:0_2:0)' },
    { object_id: 'seg-2', timerange: '[2:0_4:0)', ts_offset: '0:0' },
  ],
};

export const VALID_STORAGE_POSTS: Readonly<Record<string, unknown>> = {
  'neither limit nor object_ids': { storage_id: 'a1b2c3d4-00ff-4a5b-8c9d-0123456789ab', content_type: 'video/mp2t', presigned: true },
  'limit 1': { limit: 1 },
};

export const VALID_SERVICE_POSTS: Readonly<Record<string, unknown>> = {
  'name only': { name: 'Media store' },
  empty: {},
};
