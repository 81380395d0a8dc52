/** How the media URLs serve a stored media type (src/http/media-routes.ts servedType). */
import { servedType } from '../../../src/http/media-routes';

describe('servedType', () => {
  it('serves application/octet-stream when no type is known', () => {
    expect(servedType(undefined)).toEqual({ contentType: 'application/octet-stream', attachment: false });
  });

  it.each([
    'video/mp2t',
    'image/jpeg',
    'audio/aac',
    'video/mp4; codecs="avc1.64001f"',
    'application/mxf',
    'application/json',
    'application/vnd.apple.mpegurl',
    'text/plain; charset=utf-8',
    'text/vtt',
    'text/css',
    'application/octet-stream',
    'image/png',
  ])('serves %j as itself', (type) => {
    expect(servedType(type)).toEqual({ contentType: type, attachment: false });
  });

  it.each([
    'text/html',
    'TEXT/HTML; charset=utf-8',
    'application/html',
    'application/xhtml+xml',
    'image/svg+xml',
    'text/xml',
    'application/xml',
    'application/ttml+xml',
    'application/rss+xml',
    'text/javascript',
    'application/javascript',
    'application/x-javascript',
    'application/ecmascript',
    'text/vbscript',
    'multipart/x-mixed-replace; boundary=frame',
  ])('serves active content %j as an application/octet-stream attachment', (type) => {
    expect(servedType(type)).toEqual({ contentType: 'application/octet-stream', attachment: true });
  });
});
