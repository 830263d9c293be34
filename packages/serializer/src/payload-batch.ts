/**
 * Payload hashes checked in one batch: the branch decoder's fast walk notes each inline
 * payload's range and where its declared BLAKE3 digest is, and checks them all at the end in
 * one call of the four-lane SIMD kernel (blake3-batch.ts) instead of one JS BLAKE3 run per
 * value (a 10,000-value branch spent ~7% of its decode there).
 *
 * Why deferring is safe: the fast walk's result is returned only when every check passed, and
 * any failure hands the frame to the exact walk, which checks each payload where it meets it,
 * so the error a caller sees (code and precedence) is the one it saw before batching.
 */
import { countReserved } from './alloc-meter.ts';
import { rangesEqual, sameBytes } from './bytes.ts';
import { blake3Into, blake3Many } from './hash.ts';

/** Below this many payloads one JS BLAKE3 run each beats the kernel's fixed cost (copies, descriptors). */
const BATCH_MIN = 8;
/** Entries a reused batch keeps between frames (48 KiB of arrays). */
const RETAIN_ENTRIES = 4096;

/** The inline payloads of one frame and where their declared digests are (offsets into the frame). */
export class PayloadBatch {
  count = 0;
  /** Bytes of payload noted so far (the packed copy's size). */
  private bytes = 0;
  private starts = new Uint32Array(16);
  private ends = new Uint32Array(16);
  private digestsAt = new Uint32Array(16);

  /**
   * Empties the batch for another frame (one batch serves every walk); arrays grown past a
   * few thousand entries by a large frame are dropped, so they are not kept for good.
   */
  reset(): this {
    this.count = 0;
    this.bytes = 0;
    if (this.starts.length > RETAIN_ENTRIES) {
      this.starts = new Uint32Array(16);
      this.ends = new Uint32Array(16);
      this.digestsAt = new Uint32Array(16);
    }
    return this;
  }

  /** Notes that `frame[start, end)` must hash to the 32 bytes at `frame[digestAt]`. */
  add(start: number, end: number, digestAt: number): void {
    if (this.count === this.starts.length) this.grow();
    const i = this.count++;
    this.starts[i] = start;
    this.ends[i] = end;
    this.digestsAt[i] = digestAt;
    this.bytes += end - start;
  }

  private grow(): void {
    const size = this.starts.length * 2;
    countReserved(size * 12);
    const starts = new Uint32Array(size);
    const ends = new Uint32Array(size);
    const digestsAt = new Uint32Array(size);
    starts.set(this.starts);
    ends.set(this.ends);
    digestsAt.set(this.digestsAt);
    this.starts = starts;
    this.ends = ends;
    this.digestsAt = digestsAt;
  }

  /**
   * The index (in the order noted) of the first payload of `frame` whose BLAKE3 differs from
   * its declared digest, or -1 when all match.
   */
  firstMismatch(frame: Uint8Array): number {
    const count = this.count;
    if (count >= BATCH_MIN) {
      // The payloads are packed into one small buffer first (inline payloads are at most 64
      // bytes), so the kernel copies their bytes rather than the whole frame.
      countReserved(this.bytes + count * 8);
      const packed = new Uint8Array(this.bytes);
      const starts = new Uint32Array(count);
      const ends = new Uint32Array(count);
      let at = 0;
      for (let i = 0; i < count; i++) {
        const start = this.starts[i]!;
        const end = this.ends[i]!;
        starts[i] = at;
        for (let k = start; k < end; k++) packed[at++] = frame[k]!;
        ends[i] = at;
      }
      // The same batched call as the writer's payload hashes (one by one in JS without a kernel).
      countReserved(count * 32);
      const digests = new Uint8Array(count * 32);
      blake3Many(packed, starts, ends, count, digests, 0);
      for (let i = 0; i < count; i++) {
        const d = this.digestsAt[i]!;
        // One array of digests for the whole batch: rangesEqual's cached view of it serves every compare.
        if (!rangesEqual(frame, d, d + 32, digests, i * 32, i * 32 + 32)) return i;
      }
      return -1;
    }
    // Few payloads: one JS/hash-wasm run each.
    for (let i = 0; i < count; i++) {
      blake3Into(frame, this.starts[i]!, this.ends[i]!, scratch, 0);
      const d = this.digestsAt[i]!;
      if (!sameBytes(frame, d, scratch, 0, 32)) return i;
    }
    return -1;
  }
}

const scratch = new Uint8Array(32);
