/**
 * Bytes received and not yet parsed, kept as the chunks they came in. A select answer arrives in
 * socket-sized chunks while one Arrow message can be megabytes: joining every new chunk onto the
 * remainder would copy the message over and over, so bytes are joined only when a whole frame is
 * there to take.
 */
export class ByteQueue {
  private chunks: Uint8Array[] = [];
  private head = 0;
  private total = 0;

  get length(): number {
    return this.total;
  }

  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.byteLength;
  }

  /** The first `n` bytes, without consuming them (a view when they lie in one chunk). */
  peek(n: number): Uint8Array {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`peek(${n}): not a byte count`);
    if (n > this.total) throw new RangeError(`peek(${n}) with ${this.total} bytes queued`);
    const first = this.chunks[0];
    if (first !== undefined && first.byteLength - this.head >= n) return first.subarray(this.head, this.head + n);
    const out = new Uint8Array(n);
    let filled = 0;
    let offset = this.head;
    for (const chunk of this.chunks) {
      const part = chunk.subarray(offset, Math.min(chunk.byteLength, offset + n - filled));
      out.set(part, filled);
      filled += part.byteLength;
      offset = 0;
      if (filled === n) break;
    }
    return out;
  }

  /** The first `n` bytes, consumed. */
  take(n: number): Uint8Array {
    const out = this.peek(n);
    this.skip(n);
    return out;
  }

  skip(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`skip(${n}): not a byte count`);
    if (n > this.total) throw new RangeError(`skip(${n}) with ${this.total} bytes queued`);
    this.total -= n;
    let left = n;
    while (left > 0) {
      const first = this.chunks[0]!;
      const inFirst = first.byteLength - this.head;
      if (left < inFirst) {
        this.head += left;
        return;
      }
      left -= inFirst;
      this.chunks.shift();
      this.head = 0;
    }
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.total = 0;
  }

  uint32At(offset: number): number {
    const bytes = this.peek(offset + 4);
    return new DataView(bytes.buffer, bytes.byteOffset + offset, 4).getUint32(0, true);
  }

  int32At(offset: number): number {
    const bytes = this.peek(offset + 4);
    return new DataView(bytes.buffer, bytes.byteOffset + offset, 4).getInt32(0, true);
  }

  uint64At(offset: number): bigint {
    const bytes = this.peek(offset + 8);
    return new DataView(bytes.buffer, bytes.byteOffset + offset, 8).getBigUint64(0, true);
  }
}
