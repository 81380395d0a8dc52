/** The media types the local object store keeps, and the allocated type its PUT URLs carry. */
import { ALLOCATED_TYPE_PARAM, LocalObjectStore } from '../../../src/adapters/local-objects/local-object-store';
import { isMediaType } from '../../../src/adapters/local-objects/media-type';
import { localBackend } from '../../fixtures/local-backend';

const backend = localBackend();

describe('isMediaType', () => {
  it.each([
    'video/mp2t',
    'image/jpeg',
    'application/octet-stream',
    'video/mp4; codecs="avc1.64001f, mp4a.40.2"',
    'video/mp4;codecs=avc1',
    'text/plain; charset=utf-8; format=flowed',
    'application/vnd.apple.mpegurl',
    'x-custom/thing+json',
    'video/mp4; name="a \\"quoted\\" value"',
  ])('accepts %j', (type) => {
    expect(isMediaType(type)).toBe(true);
  });

  it.each([
    '',
    'video',
    'video/',
    '/mp2t',
    'video/mp2t/x',
    ' video/mp2t',
    'video/mp2t ',
    'video /mp2t',
    'video/mp2t, text/html',
    'video/mp2t;',
    'video/mp2t; codecs',
    'video/mp2t; codecs=',
    'video/mp2t; codecs="open',
    'video/mp2t; a=b c',
    'video/mp2t\r\nSet-Cookie: x=1',
    'video/mp2t\u0000',
    'vidéo/mp2t',
    'video/mp2t; name="é"',
    `video/${'x'.repeat(250)}`,
  ])('refuses %j', (type) => {
    expect(isMediaType(type)).toBe(false);
  });

  it('allows 255 characters, not 256', () => {
    expect(isMediaType(`video/${'x'.repeat(249)}`)).toBe(true);
    expect(isMediaType(`video/${'x'.repeat(250)}`)).toBe(false);
  });
});

describe('signPut carries the allocated type', () => {
  const store = new LocalObjectStore({ rootDir: '/srv/tams-media', secret: Buffer.alloc(32, 1), backend, maxObjectBytes: 1024 });
  const key = store.keyFor('x');

  it('in ct=, percent-encoded, after exp and sig', () => {
    const put = store.signPut(key, 'http://h', 600, 'video/mp4; codecs="avc1"');
    const url = new URL(put.url);
    expect(url.searchParams.get(ALLOCATED_TYPE_PARAM)).toBe('video/mp4; codecs="avc1"');
    expect(put.url).toMatch(/\?exp=600&sig=[A-Za-z0-9_-]{22}&ct=video%2Fmp4%3B%20codecs%3D%22avc1%22$/);
    expect(put.headers).toEqual({ 'Content-Type': 'video/mp4; codecs="avc1"' });
  });

  it('not at all without a type, or for a malformed one (the header is still returned as given)', () => {
    expect(new URL(store.signPut(key, 'http://h', 600).url).searchParams.has(ALLOCATED_TYPE_PARAM)).toBe(false);
    const odd = store.signPut(key, 'http://h', 600, 'video/<odd>');
    expect(new URL(odd.url).searchParams.has(ALLOCATED_TYPE_PARAM)).toBe(false);
    expect(odd.headers).toEqual({ 'Content-Type': 'video/<odd>' });
  });

  it('outside the signature: the URL verifies the same with or without it', () => {
    const url = new URL(store.signPut(key, 'http://h', 600, 'image/jpeg').url);
    expect(store.verify('PUT', key, url.searchParams.get('exp'), url.searchParams.get('sig'), 1)).toBe(true);
    expect(url.searchParams.get('sig')).toBe(new URL(store.signPut(key, 'http://h', 600).url).searchParams.get('sig'));
  });
});
