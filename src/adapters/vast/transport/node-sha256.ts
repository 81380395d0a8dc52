/**
 * SHA-256, or HMAC-SHA-256 when constructed with a key, in the shape @smithy/signature-v4 asks
 * of its `sha256` constructor, over node:crypto: no hashing package is needed for it.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';

type KeyData = string | ArrayBuffer | ArrayBufferView;

function binary(data: KeyData): string | Buffer {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

export class NodeSha256 {
  // A true private field: the signer passes the secret key (and keys derived from it) here, and
  // util.inspect, JSON and error reporters never see #fields.
  readonly #key: string | Buffer | undefined;
  #hash: Hash | Hmac;

  constructor(key?: KeyData) {
    this.#key = key === undefined ? undefined : binary(key);
    this.#hash = this.start();
  }

  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#hash.digest()));
  }

  reset(): void {
    this.#hash = this.start();
  }

  private start(): Hash | Hmac {
    return this.#key === undefined ? createHash('sha256') : createHmac('sha256', this.#key);
  }
}

/** The lowercase hex SHA-256 of a request body (of nothing, when there is none). */
export function sha256Hex(body: Uint8Array | undefined): string {
  return createHash('sha256')
    .update(body ?? new Uint8Array(0))
    .digest('hex');
}
