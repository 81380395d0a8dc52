import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { LocalObjectStore, parseByteRange } from '../../src/adapters/local-objects/local-object-store';
import { TamsError } from '../../src/domain/errors';
import { localBackend } from '../fixtures/local-backend';

const backend = localBackend();

let rootDir: string;
let store: LocalObjectStore;

beforeEach(async () => {
  rootDir = path.join(await mkdtemp(path.join(tmpdir(), 'tams-local-objects-')), 'media');
  store = new LocalObjectStore({ rootDir, secret: Buffer.alloc(32, 3), backend, maxObjectBytes: 64 * 1024 });
});

afterEach(async () => {
  await rm(path.dirname(rootDir), { recursive: true, force: true });
});

/** Every file below a directory, relative, including dot files. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

function bytes(n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + 7) % 256));
}

/** Yields `total` bytes in `chunk`-sized pieces, counting how many were pulled. */
function counted(total: number, chunk: number): { body: AsyncIterable<Buffer>; pulled: () => number } {
  let pulled = 0;
  const source = bytes(total);
  async function* gen(): AsyncGenerator<Buffer> {
    for (let off = 0; off < total; off += chunk) {
      const piece = source.subarray(off, Math.min(total, off + chunk));
      pulled += piece.length;
      yield piece;
    }
  }
  return { body: gen(), pulled: () => pulled };
}

describe('LocalObjectStore on a real directory', () => {
  it('ping creates the root and reports it writable', async () => {
    await expect(stat(rootDir)).rejects.toThrow();
    await expect(store.ping()).resolves.toBe(true);
    expect((await stat(rootDir)).isDirectory()).toBe(true);
  });

  it('ping is false when the root cannot be created', async () => {
    const blocker = path.join(path.dirname(rootDir), 'a-file');
    await writeFile(blocker, 'x');
    const broken = new LocalObjectStore({ rootDir: path.join(blocker, 'media'), secret: Buffer.alloc(32), backend, maxObjectBytes: 1 });
    await expect(broken.ping()).resolves.toBe(false);
  });

  it('streams a body in, atomically, and reads it back', async () => {
    const key = store.keyFor('flow/object:1');
    const data = bytes(50_000);
    const result = await store.writeStream(key, Readable.from([data.subarray(0, 1), data.subarray(1, 30_000), data.subarray(30_000)]));
    expect(result).toEqual({ size: 50_000 });
    await expect(store.exists(key)).resolves.toBe(true);
    await expect(store.stat(key)).resolves.toEqual({ size: 50_000 });
    expect((await readFile(store.resolveKey(key))).equals(data)).toBe(true);
    // Only the object itself: the temp file was renamed, not copied.
    await expect(listFiles(rootDir)).resolves.toEqual([path.join(...key.split('/'))]);

    const whole = await store.openRead(key);
    expect(whole).toMatchObject({ size: 50_000, start: 0, end: 49_999, length: 50_000 });
    expect((await readAll(whole.stream)).equals(data)).toBe(true);
  });

  it('accepts string chunks and plain async iterables', async () => {
    const key = store.keyFor('x');
    async function* gen(): AsyncGenerator<Buffer> {
      yield Buffer.from('hello ');
      yield Buffer.from('world');
    }
    await store.writeStream(key, gen());
    expect(await readFile(store.resolveKey(key), 'utf8')).toBe('hello world');
    const other = store.keyFor('y');
    await store.writeStream(other, Readable.from(['strings ', 'too']));
    expect(await readFile(store.resolveKey(other), 'utf8')).toBe('strings too');
  });

  it('is write-once: a second write to a key is refused (409) and the first bytes stay', async () => {
    const key = store.keyFor('x');
    await store.writeStream(key, Readable.from([Buffer.from('first')]));
    const { body, pulled } = counted(1_000_000, 1000);
    await expect(store.writeStream(key, body)).rejects.toMatchObject({ code: 'media_exists', status: 409 });
    // Refused before the body was read.
    expect(pulled()).toBe(0);
    expect(await readFile(store.resolveKey(key), 'utf8')).toBe('first');
    await expect(listFiles(rootDir)).resolves.toHaveLength(1);
  });

  it('stores an empty object and reads it back', async () => {
    const key = store.keyFor('x');
    await expect(store.writeStream(key, Readable.from([]))).resolves.toEqual({ size: 0 });
    await expect(store.stat(key)).resolves.toEqual({ size: 0 });
    const read = await store.openRead(key);
    expect(read).toMatchObject({ size: 0, length: 0 });
    expect((await readAll(read.stream)).length).toBe(0);
    expect(parseByteRange('bytes=0-', 0)).toBe('unsatisfiable');
  });

  it('a body exactly at the limit is accepted', async () => {
    const key = store.keyFor('x');
    await expect(store.writeStream(key, Readable.from([bytes(100)]), 100)).resolves.toEqual({ size: 100 });
  });

  it('over the limit: payload_too_large, stops reading, and leaves no file', async () => {
    const key = store.keyFor('x');
    const { body, pulled } = counted(1_000_000, 1000);
    const err = await store.writeStream(key, body, 10_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TamsError);
    expect((err as TamsError).code).toBe('payload_too_large');
    expect((err as TamsError).status).toBe(413);
    expect(pulled()).toBeLessThanOrEqual(11_000);
    await expect(store.exists(key)).resolves.toBe(false);
    await expect(listFiles(rootDir)).resolves.toEqual([]);
  });

  it('uses maxObjectBytes when no limit is passed', async () => {
    const key = store.keyFor('x');
    const err = await store.writeStream(key, Readable.from([bytes(64 * 1024), Buffer.from([1])])).catch((e: unknown) => e);
    expect((err as TamsError).code).toBe('payload_too_large');
    await expect(listFiles(rootDir)).resolves.toEqual([]);
  });

  it('an over-limit rewrite keeps the previous object intact', async () => {
    const key = store.keyFor('x');
    await store.writeStream(key, Readable.from([Buffer.from('original')]));
    await expect(store.writeStream(key, Readable.from([bytes(200)]), 100)).rejects.toThrow(TamsError);
    expect(await readFile(store.resolveKey(key), 'utf8')).toBe('original');
    await expect(listFiles(rootDir)).resolves.toHaveLength(1);
  });

  it('a failing body leaves no temp file and no object', async () => {
    const key = store.keyFor('x');
    async function* broken(): AsyncGenerator<Buffer> {
      yield bytes(10);
      throw new Error('client went away');
    }
    await expect(store.writeStream(key, broken())).rejects.toThrow('client went away');
    await expect(listFiles(rootDir)).resolves.toEqual([]);
  });

  it('a destroyed request stream leaves no temp file', async () => {
    const key = store.keyFor('x');
    const body = new Readable({ read() {} });
    body.push(bytes(100));
    const writing = store.writeStream(key, body);
    setImmediate(() => body.destroy(new Error('aborted')));
    await expect(writing).rejects.toThrow('aborted');
    await expect(listFiles(rootDir)).resolves.toEqual([]);
  });

  it('concurrent writes to one key: one lands whole, the other is refused', async () => {
    const key = store.keyFor('x');
    const a = Buffer.alloc(20_000, 0x61);
    const b = Buffer.alloc(20_000, 0x62);
    const outcomes = await Promise.allSettled([
      store.writeStream(key, Readable.from([a.subarray(0, 10_000), a.subarray(10_000)])),
      store.writeStream(key, Readable.from([b.subarray(0, 10_000), b.subarray(10_000)])),
    ]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(refused?.reason).toMatchObject({ code: 'media_exists' });
    const stored = await readFile(store.resolveKey(key));
    expect(stored.equals(outcomes[0]?.status === 'fulfilled' ? a : b)).toBe(true);
    await expect(listFiles(rootDir)).resolves.toHaveLength(1);
  });

  describe('ranged reads', () => {
    const data = bytes(1000);
    let key: string;

    beforeEach(async () => {
      key = store.keyFor('x');
      await store.writeStream(key, Readable.from([data]));
    });

    it.each([
      ['bytes=0-0', 0, 0],
      ['bytes=10-19', 10, 19],
      ['bytes=990-5000', 990, 999],
      ['bytes=500-', 500, 999],
      ['bytes=-100', 900, 999],
      ['bytes=-5000', 0, 999],
    ])('%s', async (header, start, end) => {
      const size = (await store.stat(key))?.size ?? -1;
      const range = parseByteRange(header, size);
      expect(range).toEqual({ start, end });
      const read = await store.openRead(key, range as { start: number; end: number });
      expect(read).toMatchObject({ size: 1000, start, end, length: end - start + 1 });
      expect((await readAll(read.stream)).equals(data.subarray(start, end + 1))).toBe(true);
    });

    it('an unsatisfiable range is reported by the parser and refused by openRead', async () => {
      expect(parseByteRange('bytes=1000-', 1000)).toBe('unsatisfiable');
      const err = await store.openRead(key, { start: 1000, end: 1000 }).catch((e: unknown) => e);
      expect((err as TamsError).code).toBe('range_not_satisfiable');
    });

    it('a range end past the object is clamped by openRead', async () => {
      const read = await store.openRead(key, { start: 998, end: 10_000 });
      expect(read).toMatchObject({ start: 998, end: 999, length: 2 });
      expect((await readAll(read.stream)).equals(data.subarray(998))).toBe(true);
    });

    it('a stream destroyed early releases the file (delete still works)', async () => {
      const read = await store.openRead(key, { start: 0, end: 999 });
      read.stream.destroy();
      await new Promise<void>((resolve) => read.stream.once('close', () => resolve()));
      await store.delete(key);
      await expect(store.exists(key)).resolves.toBe(false);
    });
  });

  it('missing objects: stat undefined, exists false, openRead not_found', async () => {
    const key = store.keyFor('never-written');
    await expect(store.stat(key)).resolves.toBeUndefined();
    await expect(store.exists(key)).resolves.toBe(false);
    const err = await store.openRead(key).catch((e: unknown) => e);
    expect((err as TamsError).code).toBe('not_found');
  });

  it('delete removes the object and is idempotent', async () => {
    const key = store.keyFor('x');
    await store.writeStream(key, Readable.from([Buffer.from('bye')]));
    await store.delete(key);
    await expect(store.exists(key)).resolves.toBe(false);
    await expect(store.delete(key)).resolves.toBeUndefined();
    await expect(store.delete(store.keyFor('never'))).resolves.toBeUndefined();
  });

  it('foreign keys never touch the file system', async () => {
    const outside = path.join(path.dirname(rootDir), 'outside.txt');
    await writeFile(outside, 'secret');
    const sneaky = ['../outside.txt', outside, '3f/a2/../../../outside.txt', '..%2foutside.txt'];
    for (const key of sneaky) {
      await expect(store.exists(key)).resolves.toBe(false);
      await expect(store.delete(key)).resolves.toBeUndefined();
      await expect(store.stat(key)).rejects.toThrow(TamsError);
      await expect(store.openRead(key)).rejects.toThrow(TamsError);
      await expect(store.writeStream(key, Readable.from([Buffer.from('pwned')]))).rejects.toThrow(TamsError);
    }
    expect(await readFile(outside, 'utf8')).toBe('secret');
    await expect(listFiles(rootDir)).resolves.toEqual([]);
  });

  it('signed URLs round-trip through verify as a media route would see them', async () => {
    const key = store.keyFor('x');
    const nowSec = 1_700_000_000;
    const put = new URL(store.signPut(key, 'http://127.0.0.1:8000', nowSec + 3600, 'video/mp2t').url);
    const get = new URL(store.signGet(key, 'http://127.0.0.1:8000', nowSec + 3600));
    const routeKey = (u: URL): string => u.pathname.slice(`${store.mediaPath}/`.length);
    expect(routeKey(put)).toBe(key);
    expect(store.verify('PUT', routeKey(put), put.searchParams.get('exp'), put.searchParams.get('sig'), nowSec)).toBe(true);
    expect(store.verify('GET', routeKey(get), get.searchParams.get('exp'), get.searchParams.get('sig'), nowSec)).toBe(true);
    expect(store.verify('PUT', routeKey(get), get.searchParams.get('exp'), get.searchParams.get('sig'), nowSec)).toBe(false);
    expect(store.verify('GET', routeKey(get), get.searchParams.get('exp'), get.searchParams.get('sig'), nowSec + 3661)).toBe(false);
  });

  (process.getuid?.() === 0 ? it.skip : it)('ping is false for a read-only root', async () => {
    await store.ping();
    await chmod(rootDir, 0o500);
    try {
      await expect(store.ping()).resolves.toBe(false);
    } finally {
      await chmod(rootDir, 0o700);
    }
  });
});
