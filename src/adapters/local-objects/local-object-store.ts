import { randomUUID } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import type { ReadStream } from 'node:fs';
import { access, link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { StorageBackend } from '../../domain/entities';
import { TamsError } from '../../domain/errors';
import type { ObjectBytes, ObjectStore, SignedRequest } from '../../ports/object-store';
import type { ByteRange } from './byte-range';
import { isMediaType } from './media-type';
import { hasObjectKeyLayout, isObjectKey, newObjectKey } from './object-key';
import { UrlSigner, type SignedMethod } from './url-signer';

// Routes need range parsing together with the store; one import serves both.
export { parseByteRange, type ByteRange } from './byte-range';

/**
 * The query parameter of a PUT URL naming the type given at allocation: the type an upload
 * without `Content-Type` is stored with.
 */
export const ALLOCATED_TYPE_PARAM = 'ct';

/**
 * Suffix of the file beside an object holding its media type. A key never ends with it, so
 * no media URL reaches the file.
 */
const TYPE_SUFFIX = '.content-type';

export interface LocalObjectStoreOptions {
  /** Directory holding the objects; created on first write or ping. */
  rootDir: string;
  /** HMAC key for media URLs (at least 32 bytes); share it across replicas serving one dir. */
  secret: Buffer;
  backend: StorageBackend;
  /** Path under the public base URL where the gateway serves media. Default `/media`. */
  mediaPath?: string;
  /** Largest object accepted by `writeStream` when no smaller limit is passed. */
  maxObjectBytes: number;
  /** Seconds expiries are rounded up to (see UrlSigner). Default 60. */
  expiryBucketSec?: number;
}

/** What `openRead` hands a route: the body stream and the numbers for its headers. */
export interface ObjectRead {
  /** Owns the open file: it closes when consumed, errored or destroyed. */
  stream: ReadStream;
  /** Whole object size, for `Content-Range: bytes start-end/size`. */
  size: number;
  /** Inclusive byte range being sent; `end` is -1 for an empty object. */
  start: number;
  end: number;
  /** Bytes the stream will yield, for `Content-Length`. */
  length: number;
}

/**
 * Media bytes in a local directory, served by the gateway itself at
 * `<baseUrl><mediaPath>/<key>?exp=<unix seconds>&sig=<base64url HMAC>`.
 *
 * A `/media/*` route is expected to: `verify` the query, then `writeStream` (PUT, with the
 * upload's media type) or `stat` + `contentType` + `parseByteRange` + `openRead` (GET/HEAD).
 * An object's media type lives in a file beside it (`<key>.content-type`). Every method
 * taking a key rejects keys this store did not mint, so a forged or hand-written key never
 * reaches the file system.
 */
export class LocalObjectStore implements ObjectStore {
  readonly backend: StorageBackend;
  readonly mediaPath: string;
  /** mediaPath is checked below, keys by layout, exp is digits and sig base64url. */
  readonly getUrlsArePlainAfterBase = true;
  readonly maxObjectBytes: number;
  readonly rootDir: string;
  private readonly signer: UrlSigner;

  constructor(options: LocalObjectStoreOptions) {
    const mediaPath = options.mediaPath ?? '/media';
    if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(mediaPath)) {
      throw new Error(`LocalObjectStore: mediaPath must look like "/media", got ${JSON.stringify(mediaPath)}`);
    }
    if (!Number.isSafeInteger(options.maxObjectBytes) || options.maxObjectBytes < 0) {
      throw new Error('LocalObjectStore: maxObjectBytes must be a non-negative integer');
    }
    this.rootDir = path.resolve(options.rootDir);
    this.backend = options.backend;
    this.mediaPath = mediaPath;
    this.maxObjectBytes = options.maxObjectBytes;
    this.signer = new UrlSigner(
      options.expiryBucketSec === undefined
        ? { secret: options.secret }
        : { secret: options.secret, expiryBucketSec: options.expiryBucketSec },
    );
  }

  /** The object id is deliberately unused: ids are client text and must not shape paths. */
  keyFor(_objectId: string): string {
    return newObjectKey();
  }

  /**
   * The header is returned so clients send it; the URL also carries the type (well-formed
   * ones only) in `ct=`, stored when the upload brings no `Content-Type`. The signature does
   * not cover it: whoever holds the URL chooses the bytes and may send any Content-Type
   * anyway, so the parameter grants nothing the header does not.
   */
  signPut(key: string, baseUrl: string, expiresAtSec: number, contentType?: string): SignedRequest {
    let url = this.signedUrl('PUT', key, baseUrl, expiresAtSec);
    if (contentType === undefined) return { url, method: 'PUT' };
    if (isMediaType(contentType)) url += `&${ALLOCATED_TYPE_PARAM}=${encodeURIComponent(contentType)}`;
    return { url, method: 'PUT', headers: { 'Content-Type': contentType } };
  }

  signGet(key: string, baseUrl: string, expiresAtSec: number): string {
    return this.signedUrl('GET', key, baseUrl, expiresAtSec);
  }

  /** A page of GET URLs signed in one cipher call (the segments hot path). */
  signGets(keys: readonly string[], baseUrl: string, expiresAtSec: number): string[] {
    // The layout here, the hex digits in the signer (a RangeError for a page holding any other
    // character): a signed URL can only carry [0-9a-fA-F/-] from a key.
    for (const key of keys) {
      if (!hasObjectKeyLayout(key)) throw new TamsError('internal', 'Not a local object store key');
    }
    const { exp, sigs } = this.signer.signMany('GET', keys, expiresAtSec);
    const prefix = `${baseUrl.replace(/\/+$/, '')}${this.mediaPath}/`;
    return keys.map((key, i) => `${prefix}${key}?exp=${exp}&sig=${sigs[i] as string}`);
  }

  /**
   * Checks a media request. Takes the request method and the raw `exp`/`sig` query values
   * (possibly missing or repeated) so the route need not validate them first. HEAD is
   * allowed by a GET URL, as with S3 presigned URLs; anything else by no URL.
   */
  verify(method: string, key: string, exp: unknown, sig: unknown, nowSec: number): boolean {
    const signed: SignedMethod | undefined = method === 'PUT' ? 'PUT' : method === 'GET' || method === 'HEAD' ? 'GET' : undefined;
    if (signed === undefined || !isObjectKey(key) || typeof sig !== 'string') return false;
    const expSec = typeof exp === 'string' && /^[0-9]{1,15}$/.test(exp) ? Number(exp) : exp;
    if (typeof expSec !== 'number') return false;
    return this.signer.verify(signed, key, expSec, sig, nowSec);
  }

  /**
   * The absolute file for a key. Throws not_found for anything that is not one of our keys:
   * the strict format already excludes `..`, separators and encodings; the containment check
   * guards against that format ever being loosened.
   */
  resolveKey(key: string): string {
    if (!isObjectKey(key)) throw new TamsError('not_found', 'No such media object');
    const file = path.resolve(this.rootDir, ...key.split('/'));
    if (!file.startsWith(this.rootDir + path.sep)) throw new TamsError('not_found', 'No such media object');
    return file;
  }

  /**
   * Streams a body into the object: to a temp file beside it, then an atomic rename, so
   * readers see the old object or the whole new one, never a part. Over `maxBytes` the
   * temp file is removed and payload_too_large thrown; the body iterator is then closed,
   * which destroys an HTTP request stream, so routes should also check Content-Length first
   * to answer 413 politely.
   *
   * Media objects are write-once: a key that already holds bytes refuses another write
   * (`media_exists`), checked before the body is read and again atomically when the temp file
   * is linked into place, so two racing uploads cannot both land. Segments re-use objects
   * across flows and tenants, and a PUT URL outlives the upload it was made for: replacing
   * bytes would change media that other flows already serve.
   *
   * A `contentType` (a well-formed media type, else bad_request before anything is read) is
   * kept beside the object for `contentType(key)`; see writeFile for when it is durable.
   */
  async writeStream(
    key: string,
    body: NodeJS.ReadableStream | AsyncIterable<Buffer | string>,
    maxBytes: number = this.maxObjectBytes,
    contentType?: string,
  ): Promise<{ size: number }> {
    const file = this.resolveKey(key);
    if (contentType !== undefined && !isMediaType(contentType)) {
      throw new TamsError('bad_request', 'Content-Type must be a media type such as video/mp2t');
    }
    return this.writeOnce(key, file, body, maxBytes, contentType);
  }

  /** The whole object and its stored type (a copy to another backend). */
  async read(key: string): Promise<ObjectBytes> {
    const { stream, size } = await this.openRead(key);
    try {
      const contentType = await this.contentType(key);
      return contentType === undefined ? { body: stream, size } : { body: stream, size, contentType };
    } catch (err) {
      stream.destroy();
      throw err;
    }
  }

  /**
   * A copy from another backend, through the upload path (write-once, durable, atomic). The
   * source announced `bytes.size`: a body longer or shorter than that is refused before the
   * object becomes visible, so a source that breaks off never leaves a truncated object. A
   * type this store cannot keep (not a well-formed media type) is dropped rather than failing
   * the copy. The body is destroyed whenever the write fails.
   */
  async write(key: string, bytes: ObjectBytes): Promise<void> {
    try {
      if (!Number.isSafeInteger(bytes.size) || bytes.size < 0) throw new TamsError('internal', `Object size ${bytes.size} is not a byte count`);
      if (bytes.size > this.maxObjectBytes) throw new TamsError('payload_too_large', `Media object larger than ${this.maxObjectBytes} bytes`);
      const contentType = bytes.contentType !== undefined && isMediaType(bytes.contentType) ? bytes.contentType : undefined;
      await this.writeOnce(key, this.resolveKey(key), bytes.body, bytes.size, contentType, bytes.size);
    } catch (err) {
      bytes.body.destroy();
      throw err;
    }
  }

  /** The write-once check, then writeFile; `exactBytes`: the body must be exactly that long. */
  private async writeOnce(
    key: string,
    file: string,
    body: NodeJS.ReadableStream | AsyncIterable<Buffer | string>,
    maxBytes: number,
    contentType: string | undefined,
    exactBytes?: number,
  ): Promise<{ size: number }> {
    // Until iteration starts nothing listens for the body's 'error', so a client abort during
    // mkdir/open would be an unhandled 'error' event; the iterator then rethrows the error.
    const emitter = isEventEmitter(body) ? body : undefined;
    emitter?.on('error', ignoreError);
    try {
      if ((await this.stat(key)) !== undefined) throw mediaExists();
      return await this.writeFile(file, body, maxBytes, contentType, exactBytes);
    } finally {
      emitter?.removeListener('error', ignoreError);
    }
  }

  /**
   * The type goes to a temp file too, made durable with the bytes, and is renamed into place
   * only once the object's link has succeeded: a racing upload that loses the link never
   * touches the winner's type. The answer waits for the directory to be synced, so an
   * acknowledged upload keeps its type across a crash; a crash between the link and the
   * rename leaves the object without one (served as application/octet-stream).
   */
  private async writeFile(
    file: string,
    body: NodeJS.ReadableStream | AsyncIterable<Buffer | string>,
    maxBytes: number,
    contentType: string | undefined,
    exactBytes?: number,
  ): Promise<{ size: number }> {
    const dir = path.dirname(file);
    await mkdir(dir, { recursive: true });
    // Dot-prefixed and never matching the key format, so a temp file is never served.
    const temp = path.join(dir, `.${path.basename(file)}.${randomUUID()}.tmp`);
    const typeTemp = `${temp}${TYPE_SUFFIX}`;
    const handle = await open(temp, 'wx', 0o644);
    let size = 0;
    try {
      for await (const chunk of body as AsyncIterable<Buffer | string>) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        size += buf.length;
        if (size > maxBytes) throw exactBytes === undefined ? new TamsError('payload_too_large', `Media object larger than ${maxBytes} bytes`) : sizeMismatch(exactBytes);
        await writeAll(handle, buf);
      }
      if (exactBytes !== undefined && size !== exactBytes) throw sizeMismatch(exactBytes);
      // Durable before visible: after a crash the key holds a whole object or none.
      await handle.sync();
      await handle.close();
      if (contentType !== undefined) await writeDurably(typeTemp, contentType);
      // link() fails when the key exists (rename() would replace it): the first upload wins.
      try {
        await link(temp, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw mediaExists();
        throw err;
      }
      await unlink(temp);
    } catch (err) {
      await handle.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      await unlink(typeTemp).catch(() => undefined);
      throw err;
    }
    try {
      // A type left by an object deleted from this key must not label the new bytes.
      if (contentType === undefined) await unlinkIfPresent(`${file}${TYPE_SUFFIX}`);
      else await rename(typeTemp, `${file}${TYPE_SUFFIX}`);
      await syncDirectory(dir);
    } catch (err) {
      await unlink(typeTemp).catch(() => undefined);
      throw err;
    }
    return { size };
  }

  /**
   * The media type stored with the object, or undefined: none was given, the object was
   * uploaded before types were kept, or there is no object.
   */
  async contentType(key: string): Promise<string | undefined> {
    const file = `${this.resolveKey(key)}${TYPE_SUFFIX}`;
    let text: string;
    try {
      text = await readFile(file, 'latin1');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    // Only this store writes the file; anything else found there is not served as a header.
    return isMediaType(text) ? text : undefined;
  }

  /** Size for HEAD, Content-Length and range checks; undefined when there is no object. */
  async stat(key: string): Promise<{ size: number } | undefined> {
    const file = this.resolveKey(key);
    try {
      const st = await stat(file);
      return st.isFile() ? { size: st.size } : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * Opens the object for a GET body; throws not_found when there is none (a route checks
   * `stat` first, so this only happens when a delete races the read). The size is taken
   * from the opened file, so headers and bytes agree even if the key is replaced meanwhile.
   * A `range` (from `parseByteRange`) is clamped to that size; if it now starts past the end
   * this throws range_not_satisfiable. The caller must consume or destroy the stream.
   */
  async openRead(key: string, range?: ByteRange): Promise<ObjectRead> {
    const file = this.resolveKey(key);
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (err) {
      if (isNotFound(err)) throw new TamsError('not_found', 'No such media object');
      throw err;
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new TamsError('not_found', 'No such media object');
      const size = st.size;
      let start = 0;
      let end = size - 1;
      if (range !== undefined) {
        if (!Number.isSafeInteger(range.start) || range.start < 0 || range.start >= size || range.end < range.start) {
          throw new TamsError('range_not_satisfiable', 'Requested range not satisfiable');
        }
        start = range.start;
        end = Math.min(range.end, size - 1);
      }
      const stream = size === 0 ? handle.createReadStream() : handle.createReadStream({ start, end });
      return { stream, size, start, end, length: end - start + 1 };
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    if (!isObjectKey(key)) return false;
    return (await this.stat(key)) !== undefined;
  }

  /**
   * Idempotent: deleting a missing object succeeds, so retried deletions converge. The bytes
   * go first: a crash in between leaves a type without an object, never an object without
   * its type.
   */
  async delete(key: string): Promise<void> {
    if (!isObjectKey(key)) return;
    const file = this.resolveKey(key);
    await unlinkIfPresent(file);
    await unlinkIfPresent(`${file}${TYPE_SUFFIX}`);
  }

  /** Ready when the root exists (created if missing) and is writable, e.g. not a read-only mount. */
  async ping(): Promise<boolean> {
    try {
      await mkdir(this.rootDir, { recursive: true });
      await access(this.rootDir, fsConstants.W_OK);
      return true;
    } catch {
      return false;
    }
  }

  private signedUrl(method: SignedMethod, key: string, baseUrl: string, expiresAtSec: number): string {
    if (!isObjectKey(key)) throw new TamsError('internal', 'Not a local object store key');
    const { exp, sig } = this.signer.sign(method, key, expiresAtSec);
    // Key characters are [0-9a-f/-] and sig is base64url: nothing needs percent-encoding.
    return `${baseUrl.replace(/\/+$/, '')}${this.mediaPath}/${key}?exp=${exp}&sig=${sig}`;
  }
}

async function writeAll(handle: FileHandle, buf: Buffer): Promise<void> {
  let offset = 0;
  while (offset < buf.length) {
    const { bytesWritten } = await handle.write(buf, offset, buf.length - offset);
    offset += bytesWritten;
  }
}

async function writeDurably(file: string, text: string): Promise<void> {
  const handle = await open(file, 'wx', 0o644);
  try {
    await writeAll(handle, Buffer.from(text, 'latin1'));
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes the names linked, renamed or removed in `dir` durable. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function unlinkIfPresent(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

function ignoreError(): void {}

function isEventEmitter(body: unknown): body is NodeJS.EventEmitter {
  return typeof (body as Partial<NodeJS.EventEmitter>).on === 'function' && typeof (body as Partial<NodeJS.EventEmitter>).removeListener === 'function';
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** A copy's source sent more or fewer bytes than it announced (it broke off, or changed meanwhile). */
function sizeMismatch(announced: number): TamsError {
  return new TamsError('unavailable', `The object's source did not give the ${announced} bytes it announced; nothing was stored`);
}

function mediaExists(): TamsError {
  return new TamsError('media_exists', 'This media object has been uploaded already: media objects are write-once (allocate a new object to upload other bytes)');
}
