/**
 * A queue of received socket chunks that hands out exact byte ranges, copying only
 * when a range spans chunks. It never allocates more than the caller asks for, and the
 * caller checks every length against its limit before asking.
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  private offset = 0;
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The first `n` bytes, without consuming them. Caller ensures `n <= length`. */
  peek(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    if (first.length - this.offset >= n) return first.subarray(this.offset, this.offset + n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let off = this.offset;
    for (const chunk of this.chunks) {
      const take = Math.min(n - filled, chunk.length - off);
      chunk.copy(out, filled, off, off + take);
      filled += take;
      off = 0;
      if (filled === n) break;
    }
    return out;
  }

  /** Removes and returns the first `n` bytes. Caller ensures `n <= length`. */
  take(n: number): Buffer {
    const out = this.peek(n);
    this.skip(n);
    return out;
  }

  skip(n: number): void {
    this.length -= n;
    while (n > 0) {
      const first = this.chunks[0]!;
      const left = first.length - this.offset;
      if (left > n) {
        this.offset += n;
        return;
      }
      n -= left;
      this.chunks.shift();
      this.offset = 0;
    }
  }

  clear(): void {
    this.chunks = [];
    this.offset = 0;
    this.length = 0;
  }
}
