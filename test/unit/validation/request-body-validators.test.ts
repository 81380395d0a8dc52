import {
  validateFlowCollectionPut,
  validateFlowPut,
  validateSegmentPost,
  validateServicePost,
  validateStoragePost,
} from '../../../src/validation/validators';
import { REQUEST_LIMITS } from '../../../src/validation/common.schema';
import { describeWithSpec, readSpecJson } from '../../support/tams-spec';
import { VALID_FLOW_PUTS, VALID_SEGMENT_POSTS, VALID_SERVICE_POSTS, VALID_STORAGE_POSTS } from './request-body-fixtures';

const video = VALID_FLOW_PUTS['video h264']!;
const videoParams = video.essence_parameters as Record<string, unknown>;
const audio = VALID_FLOW_PUTS['audio pcm']!;
const image = VALID_FLOW_PUTS['image jpeg']!;

function withVideoParams(params: Record<string, unknown>): Record<string, unknown> {
  return { ...video, essence_parameters: params };
}

function without<T extends Record<string, unknown>>(body: T, key: string): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...body };
  delete copy[key];
  return copy;
}

describeWithSpec('request body validators accept the official request examples', () => {
  it.each([
    ['flow-put.json', validateFlowPut],
    ['flow-put-multi.json', validateFlowPut],
    ['flow-put-profile.json', validateFlowPut],
    ['flow-segment-post.json', validateSegmentPost],
    ['flow-storage-post.json', validateStoragePost],
    ['flow-storage-post-object_ids.json', validateStoragePost],
    ['service-post.json', validateServicePost],
    ['flow-collection-put.json', validateFlowCollectionPut],
  ] as const)('%s', (file, validate) => {
    expect(validate(readSpecJson(`examples/${file}`))).toBeUndefined();
  });
});

describe('request body validators accept hand-written bodies', () => {
  it.each(Object.entries(VALID_FLOW_PUTS))('flow PUT: %s', (_name, body) => {
    expect(validateFlowPut(body)).toBeUndefined();
  });
  it.each(Object.entries(VALID_SEGMENT_POSTS))('segment POST: %s', (_name, body) => {
    expect(validateSegmentPost(body)).toBeUndefined();
  });
  it.each(Object.entries(VALID_STORAGE_POSTS))('storage POST: %s', (_name, body) => {
    expect(validateStoragePost(body)).toBeUndefined();
  });
  it.each(Object.entries(VALID_SERVICE_POSTS))('service POST: %s', (_name, body) => {
    expect(validateServicePost(body)).toBeUndefined();
  });

  it('accepts bodies exactly at the documented limits', () => {
    const segments = Array.from({ length: REQUEST_LIMITS.segmentsPerPost }, (_, i) => ({ object_id: `o${i}`, timerange: `[${i}:0_${i + 1}:0)` }));
    expect(validateSegmentPost(segments)).toBeUndefined();
    expect(validateStoragePost({ limit: REQUEST_LIMITS.storageLimitMax })).toBeUndefined();
    expect(validateStoragePost({ object_ids: Array.from({ length: REQUEST_LIMITS.objectIdsPerStoragePost }, (_, i) => `o${i}`) })).toBeUndefined();
    expect(validateFlowPut({ ...video, label: 'x'.repeat(REQUEST_LIMITS.labelLength) })).toBeUndefined();
  });
});

describe('flow PUT rejects', () => {
  it.each<[string, unknown, RegExp]>([
    ['a non-object body', [video], /^body must be object/],
    ['null', null, /^body must be object/],
    ['a missing id', without(video, 'id'), /^body must have required property 'id'/],
    ['a missing source_id', without(video, 'source_id'), /required property 'source_id'/],
    ['an upper-case uuid', { ...video, id: 'A1B2C3D4-0001-4A5B-8C9D-0123456789AB' }, /^body\/id must be a lowercase UUID/],
    ['a malformed uuid', { ...video, source_id: 'not-a-uuid' }, /^body\/source_id must be a lowercase UUID/],
    ['neither format nor profile_id', without(video, 'format'), /'format' or 'profile_id'/],
    ['an unknown format', { ...video, format: 'urn:x-nmos:format:smell' }, /^body\/format must be one of/],
    ['a non-string format', { ...video, format: 7 }, /^body\/format must be one of/],
    ['a missing codec', without(video, 'codec'), /required property 'codec'/],
    ['a codec that is not a MIME type', { ...video, codec: 'h264' }, /^body\/codec must match pattern/],
    ['missing essence_parameters', without(video, 'essence_parameters'), /required property 'essence_parameters'/],
    ['a zero frame_width', withVideoParams({ ...videoParams, frame_width: 0 }), /^body\/essence_parameters\/frame_width must be > 0/],
    ['a string frame_height', withVideoParams({ ...videoParams, frame_height: '1080' }), /^body\/essence_parameters\/frame_height must be integer/],
    ['an unknown essence parameter', withVideoParams({ ...videoParams, sample_rate: 48000 }), /must NOT have additional property 'sample_rate'/],
    ['a fixed-rate video without frame_rate', withVideoParams(without(videoParams, 'frame_rate')), /required property 'frame_rate'/],
    ['a VFR video with a frame_rate', withVideoParams({ ...videoParams, vfr: true }), /^body\/essence_parameters must NOT be valid/],
    ['a bad interlace_mode', withVideoParams({ ...videoParams, interlace_mode: 'tff' }), /interlace_mode must be one of 'progressive'/],
    ['a bad aspect ratio', withVideoParams({ ...videoParams, aspect_ratio: { numerator: 16 } }), /aspect_ratio must have required property 'denominator'/],
    ['audio without channels', { ...audio, essence_parameters: { sample_rate: 48000 } }, /required property 'channels'/],
    ['audio with video parameters', { ...audio, essence_parameters: { sample_rate: 48000, channels: 2, frame_width: 1 } }, /additional property 'frame_width'/],
    ['image with a bit_depth', { ...image, essence_parameters: { frame_width: 1, frame_height: 1, bit_depth: 8 } }, /additional property 'bit_depth'/],
    ['a profile_id plus technical metadata', { ...video, profile_id: '329b98d6-adeb-418c-8eaf-eca14edc1706' }, /must not combine profile_id with technical metadata/],
    ['a malformed profile_id alone', { id: video.id, source_id: video.source_id, profile_id: 'p1' }, /^body\/profile_id must be a lowercase UUID/],
    ['a numeric tag value', { ...video, tags: { a: 1 } }, /^body\/tags\/a must be string/],
    ['a tag array of numbers', { ...video, tags: { a: [1] } }, /^body\/tags\/a /],
    ['a negative generation', { ...video, generation: -1 }, /^body\/generation must be >= 0/],
    ['a label over the limit', { ...video, label: 'x'.repeat(REQUEST_LIMITS.labelLength + 1) }, /^body\/label must NOT have more than 4096 characters/],
    ['a bad status', { ...video, status: 'done' }, /^body\/status must be one of/],
    ['a collection item without id', { ...video, flow_collection: [{ role: 'x' }] }, /^body\/flow_collection\/0 must have required property 'id'/],
    ['a non-boolean read_only', { ...video, read_only: 'yes' }, /^body\/read_only must be boolean/],
  ])('%s', (_name, body, message) => {
    expect(validateFlowPut(body)).toMatch(message);
  });
});

describe('flow collection PUT rejects', () => {
  it.each<[string, unknown, RegExp]>([
    ['an object', { id: video.id }, /^body must be array/],
    ['an item with a bad id', [{ id: 'x' }], /^body\/0\/id must be a lowercase UUID/],
    ['an item with a negative track index', [{ id: video.id, container_mapping: { track_index: -1 } }], /track_index must be >= 0/],
  ])('%s', (_name, body, message) => {
    expect(validateFlowCollectionPut(body)).toMatch(message);
  });
});

describe('segment POST rejects', () => {
  const segment = { object_id: 'seg-1', timerange: '[0:0_2:0)' };
  it.each<[string, unknown, RegExp]>([
    ['a number', 42, /segment object or an array/],
    ['a missing object_id', { timerange: segment.timerange }, /^body must have required property 'object_id'/],
    ['a missing timerange', { object_id: 'seg-1' }, /required property 'timerange'/],
    ['a non-string object_id', { ...segment, object_id: 5 }, /^body\/object_id must be string/],
    ['a timerange with 10-digit nanoseconds', { ...segment, timerange: '[0:1000000000_2:0)' }, /^body\/timerange must be a TAMS timerange/],
    ['a timerange with a leading zero', { ...segment, timerange: '[01:0_2:0)' }, /must be a TAMS timerange/],
    ['a timerange in the wrong notation', { ...segment, timerange: '0-2' }, /must be a TAMS timerange/],
    ['a decimal ts_offset', { ...segment, ts_offset: '1.5' }, /^body\/ts_offset must be a TAMS timestamp/],
    ['a get_url without label', { ...segment, get_urls: [{ url: 'https://x' }] }, /^body\/get_urls\/0 must have required property 'label'/],
    ['a non-integer key_frame_count', { ...segment, key_frame_count: 1.5 }, /key_frame_count must be integer/],
    ['one bad item in an array', [segment, { ...segment, timerange: 'never' }], /^body\/1\/timerange must be a TAMS timerange/],
    ['a non-object item', [segment, 'seg-2'], /^body\/1 must be object/],
    ['an object_id over the limit', { ...segment, object_id: 'x'.repeat(REQUEST_LIMITS.idLength + 1) }, /must NOT have more than 1024 characters/],
    ['too many segments', Array.from({ length: REQUEST_LIMITS.segmentsPerPost + 1 }, () => segment), /^body must NOT have more than 10000 items/],
  ])('%s', (_name, body, message) => {
    expect(validateSegmentPost(body)).toMatch(message);
  });
});

describe('storage POST rejects', () => {
  it.each<[string, unknown, RegExp]>([
    ['both limit and object_ids', { limit: 2, object_ids: ['a'] }, /must not have both 'limit' and 'object_ids'/],
    ['a zero limit', { limit: 0 }, /^body\/limit must be >= 1/],
    ['a limit over the maximum', { limit: REQUEST_LIMITS.storageLimitMax + 1 }, /^body\/limit must be <= 10000/],
    ['a string limit', { limit: '5' }, /^body\/limit must be integer/],
    ['a fractional limit', { limit: 1.5 }, /^body\/limit must be integer/],
    ['object_ids that is not an array', { object_ids: 'a' }, /^body\/object_ids must be array/],
    ['a numeric object id', { object_ids: ['a', 2] }, /^body\/object_ids\/1 must be string/],
    ['too many object_ids', { object_ids: Array.from({ length: REQUEST_LIMITS.objectIdsPerStoragePost + 1 }, (_, i) => `o${i}`) }, /must NOT have more than 10000 items/],
    ['a bad storage_id', { storage_id: 'x' }, /^body\/storage_id must be a lowercase UUID/],
    ['a content_type that is not a MIME type', { content_type: 'mp2t' }, /^body\/content_type must match pattern/],
    ['a non-boolean presigned', { presigned: 'yes' }, /^body\/presigned must be boolean/],
    ['an array', [], /^body must be object/],
  ])('%s', (_name, body, message) => {
    expect(validateStoragePost(body)).toMatch(message);
  });
});

describe('service POST rejects', () => {
  it.each<[string, unknown, RegExp]>([
    ['a numeric name', { name: 5 }, /^body\/name must be string/],
    ['a name over the limit', { name: 'x'.repeat(REQUEST_LIMITS.labelLength + 1) }, /^body\/name must NOT have more than 4096 characters/],
    ['a non-string description', { description: ['x'] }, /^body\/description must be string/],
    ['an array', [{ name: 'x' }], /^body must be object/],
  ])('%s', (_name, body, message) => {
    expect(validateServicePost(body)).toMatch(message);
  });
});

describe('error messages', () => {
  it('truncate client-supplied names', () => {
    const message = validateFlowPut(withVideoParams({ ...videoParams, ['k'.repeat(10_000)]: 1 }));
    expect(message).toBeDefined();
    expect(message!.length).toBeLessThan(200);
  });
});
