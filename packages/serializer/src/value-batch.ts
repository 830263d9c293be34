/**
 * The payloads of a branch's values, gathered before anything is written: their bytes in one
 * arena, their BLAKE3 digests and fingerprints hashed many to a call.
 *
 * Why: a branch of small values hashes each value and then its 32-byte fingerprint input, one
 * BLAKE3 compression each; one at a time in JS that was a fifth of encoding, and turning each
 * value into bytes made two arrays per value. Here a value's bytes are written straight into
 * the arena (texts as UTF-8 with the reference's NUL, numbers little-endian) and the whole
 * branch goes to the four-lane SIMD kernel in one call for the payloads and one for the
 * fingerprints (hash.ts {@link blake3Many}), with the same digests as the one-by-one path.
 *
 * Each store takes one entry per child (`begin`), in the order the branch writer meets the
 * stores. The arrays are kept for the next frame up to a bound (see {@link takeValueBatch}).
 */
import { DATA_TYPES, valueToData, type Name, type Value } from '@cep/cells';
import { blake3Into, blake3Many } from './hash.ts';

/** Longest value copied into the arena (one BLAKE3 chunk: what the batched kernel takes). */
const ARENA_VALUE_MAX = 1024;
/** Arrays grown past these are dropped after their frame rather than kept. */
const KEEP_ENTRIES = 1 << 14;
const KEEP_BYTES = 1 << 20;

const utf8 = new TextEncoder();

export class ValueBatch {
  /** Bytes of the entries' values, one after another. */
  data = new Uint8Array(4096);
  /** A view of {@link data} (renewed as it grows): the branch writer copies inline values from it a word at a time. */
  view = new DataView(this.data.buffer);
  /** Bytes of {@link data} in use. */
  dataTop = 0;
  /** Entries in use. */
  top = 0;
  /** Entry i's value bytes are data[starts[i], ends[i]) (or {@link external}[i]). */
  starts = new Int32Array(256);
  ends = new Int32Array(256);
  /** A value longer than {@link ARENA_VALUE_MAX} stays in its own array (hashed on its own). */
  external: (Uint8Array | undefined)[] = [];
  /** Entry i's data type (undefined: entry i is no gathered value). */
  types: (Name | undefined)[] = [];
  /** 1 where entry i's fingerprint was taken with the others (its data type holds no reference name). */
  fingerprinted = new Uint8Array(256);
  /** The wire bytes of child i's name, once its manifest entry asked for them (a store's later records reuse them). */
  names: Uint8Array[] = [];
  /** BLAKE3 of entry i's bytes at [32i, 32i + 32). */
  digests = new Uint8Array(256 * 32);
  /** Fingerprint input of entry i at [32i, 32i + 32), then its digest: the fingerprint is its first 8 bytes. */
  fingerprints = new Uint8Array(256 * 32);
  /** {@link digests} and {@link fingerprints} as words (for ByteWriter.words: no view per copy). */
  digestWords = new Int32Array(this.digests.buffer);
  fingerprintWords = new Int32Array(this.fingerprints.buffer);
  /** Ranges of the fingerprint inputs (32i, 32i + 32), for the batched call. */
  private fpStarts = new Int32Array(256);
  private fpEnds = new Int32Array(256);

  /** Takes `count` entries (none gathered yet); returns the first. */
  begin(count: number): number {
    const first = this.top;
    const need = first + count;
    if (need > this.starts.length) this.growEntries(need);
    for (let i = first; i < need; i++) {
      this.types[i] = undefined;
      this.external[i] = undefined;
      this.starts[i] = 0;
      this.ends[i] = 0;
      this.fingerprinted[i] = 0;
    }
    this.top = need;
    return first;
  }

  /** Gives back the entries from `first` on (and the bytes after `dataFrom`): `end(0, 0)` empties the batch. */
  end(first: number, dataFrom: number): void {
    this.top = first;
    this.dataTop = dataFrom;
  }

  /** Writes `value`'s bytes as entry `i` (the bytes valueToData gives, straight into the arena). */
  gather(i: number, value: Value): void {
    let at = this.dataTop;
    switch (value.type) {
      case 'text': {
        const s = value.value;
        const n = s.length;
        this.room(3 * n + 1);
        const d = this.data;
        let k = 0;
        // ASCII byte by byte (most texts); anything else through the encoder, into place.
        for (; k < n; k++) {
          const c = s.charCodeAt(k);
          if (c >= 0x80) break;
          d[at + k] = c;
        }
        if (k < n) k = utf8.encodeInto(s, d.subarray(at, at + 3 * n)).written;
        d[at + k] = 0; // the reference stores texts with a terminating NUL
        this.types[i] = DATA_TYPES.text;
        if (k + 1 > ARENA_VALUE_MAX) {
          // Longer than the kernel takes: its own array, hashed on its own (the arena gives the bytes back).
          this.external[i] = d.slice(at, at + k + 1);
          this.starts[i] = 0;
          this.ends[i] = 0;
          return;
        }
        this.starts[i] = at;
        this.ends[i] = at + k + 1;
        this.dataTop = at + k + 1;
        return;
      }
      case 'u64':
      case 'i64':
        this.room(8);
        // setBigUint64 takes the value modulo 2^64 itself (ToBigUint64), as BigInt.asUintN did: an i64's two's complement.
        this.view.setBigUint64(at, value.value, true);
        this.types[i] = DATA_TYPES[value.type];
        this.starts[i] = at;
        this.ends[i] = at + 8;
        this.dataTop = at + 8;
        return;
      case 'bool':
        this.room(1);
        this.data[at] = value.value ? 1 : 0;
        this.types[i] = DATA_TYPES.bool;
        this.starts[i] = at;
        this.ends[i] = at + 1;
        this.dataTop = at + 1;
        return;
    }
    // Bytes go in as they are: what valueToData answers for them, without its object per value.
    let dataType: Name;
    let bytes: Uint8Array;
    if (value.type === 'bytes') {
      dataType = DATA_TYPES.bytes;
      bytes = value.value;
    } else ({ dataType, bytes } = valueToData(value));
    this.types[i] = dataType;
    if (bytes.length > ARENA_VALUE_MAX) {
      this.external[i] = bytes;
      this.starts[i] = 0;
      this.ends[i] = 0;
      return;
    }
    this.room(bytes.length);
    this.data.set(bytes, at);
    this.starts[i] = at;
    at += bytes.length;
    this.ends[i] = at;
    this.dataTop = at;
  }

  /** Bytes of entry `i`'s value. */
  size(i: number): number {
    return this.external[i]?.length ?? this.ends[i]! - this.starts[i]!;
  }

  /** Entry `i`'s value bytes as an array and the range in it: [0, size) of external ones. */
  source(i: number): Uint8Array {
    return this.external[i] ?? this.data;
  }

  /** Hashes the bytes of entries [first, first + count) (every entry, gathered or not: ungathered ones are empty). */
  hash(first: number, count: number): void {
    if (count === 0) return;
    // Views only for a later run of entries: a frame hashes from entry 0, and a small frame's three views cost more than its value's hash.
    const starts = first === 0 ? this.starts : this.starts.subarray(first, first + count);
    const ends = first === 0 ? this.ends : this.ends.subarray(first, first + count);
    blake3Many(this.data, starts, ends, count, this.digests, first * 32, this.dataTop);
    for (let i = first; i < first + count; i++) {
      const big = this.external[i];
      if (big !== undefined) blake3Into(big, 0, big.length, this.digests, i * 32);
    }
  }

  /**
   * Where entry `i`'s fingerprint input goes: `codes` (the 16 code bytes of its data type's
   * wire name), its size, the first 8 bytes of its digest. Fingerprint it with {@link fingerprint}.
   */
  fingerprintInput(i: number, codes: Uint8Array): void {
    const f = this.fingerprints;
    const at = i * 32;
    // The code bytes as four words, copied once per data type: a branch's values share a few
    // types, and a 16-byte loop per value was ~0.5% of encoding the 10,000-value branch.
    if (codes !== this.codesIn) {
      this.codesIn = codes;
      this.codeBytes.set(codes.subarray(0, 16));
    }
    const words = this.fingerprintWords;
    const w = at >> 2;
    words[w] = this.codeWords[0]!;
    words[w + 1] = this.codeWords[1]!;
    words[w + 2] = this.codeWords[2]!;
    words[w + 3] = this.codeWords[3]!;
    const size = this.size(i);
    // LE64 of the size: below 2^53, as two 32-bit halves.
    const low = size >>> 0;
    const high = Math.floor(size / 0x100000000);
    for (let k = 0; k < 4; k++) {
      f[at + 16 + k] = low >>> (8 * k);
      f[at + 20 + k] = high >>> (8 * k);
    }
    // The digest's first 8 bytes as two words (same bytes in the same order).
    words[w + 6] = this.digestWords[w]!;
    words[w + 7] = this.digestWords[w + 1]!;
  }

  /** The code bytes {@link fingerprintInput} copied last, as bytes and as the words it writes. */
  private codesIn: Uint8Array | undefined;
  private readonly codeBytes = new Uint8Array(16);
  private readonly codeWords = new Int32Array(this.codeBytes.buffer);

  /** Hashes the fingerprint inputs of entries [first, first + count) in place (one batched call). */
  fingerprint(first: number, count: number): void {
    if (count === 0) return;
    const starts = this.fpStarts;
    const ends = this.fpEnds;
    if (starts.length < count) {
      this.fpStarts = new Int32Array(Math.max(count, starts.length * 2));
      this.fpEnds = new Int32Array(this.fpStarts.length);
      return this.fingerprint(first, count);
    }
    for (let k = 0; k < count; k++) {
      starts[k] = k * 32;
      ends[k] = k * 32 + 32;
    }
    const inputs = this.fingerprints.subarray(first * 32, (first + count) * 32);
    blake3Many(inputs, starts, ends, count, this.fingerprints, first * 32);
  }

  /** Digests of a scattered set of fingerprint inputs, before their first 8 bytes go back in place. */
  private scatteredOut = new Uint8Array(0);

  /** Hashes the fingerprint inputs of `entries` (any entries, in one batched call); their first 8 bytes land in place. */
  fingerprintScattered(entries: readonly number[]): void {
    const count = entries.length;
    if (count === 1) {
      // One input (a small frame's value) is hashed in place, as fingerprint() hashes a few: no ranges to lay out, no digest to copy back.
      const at = entries[0]! * 32;
      return blake3Into(this.fingerprints, at, at + 32, this.fingerprints, at);
    }
    if (this.fpStarts.length < count) {
      this.fpStarts = new Int32Array(Math.max(count, this.fpStarts.length * 2));
      this.fpEnds = new Int32Array(this.fpStarts.length);
    }
    if (this.scatteredOut.length < count * 32) this.scatteredOut = new Uint8Array(Math.max(count * 32, this.scatteredOut.length * 2));
    let end = 0;
    for (let k = 0; k < count; k++) {
      this.fpStarts[k] = entries[k]! * 32;
      this.fpEnds[k] = entries[k]! * 32 + 32;
      end = Math.max(end, this.fpEnds[k]!);
    }
    const out = this.scatteredOut;
    // Only the inputs' span goes to the kernel, not every entry's fingerprint the batch has room for.
    blake3Many(this.fingerprints, this.fpStarts, this.fpEnds, count, out, 0, end);
    const f = this.fingerprints;
    for (let k = 0; k < count; k++) {
      const at = entries[k]! * 32;
      for (let b = 0; b < 8; b++) f[at + b] = out[k * 32 + b]!;
    }
  }

  /** Whether this batch is small enough to keep for the next frame. */
  get keepable(): boolean {
    return this.starts.length <= KEEP_ENTRIES && this.data.length <= KEEP_BYTES;
  }

  private room(n: number): void {
    if (this.dataTop + n <= this.data.length) return;
    let size = this.data.length * 2;
    while (size < this.dataTop + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.data.subarray(0, this.dataTop));
    this.data = next;
    this.view = new DataView(next.buffer);
  }

  private growEntries(need: number): void {
    let size = this.starts.length * 2;
    while (size < need) size *= 2;
    const grow32 = (a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> => {
      const next = new Int32Array(size);
      next.set(a);
      return next;
    };
    this.starts = grow32(this.starts);
    this.ends = grow32(this.ends);
    const flags = new Uint8Array(size);
    flags.set(this.fingerprinted);
    this.fingerprinted = flags;
    const growBytes = (a: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> => {
      const next = new Uint8Array(size * 32);
      next.set(a);
      return next;
    };
    this.digests = growBytes(this.digests);
    this.fingerprints = growBytes(this.fingerprints);
    this.digestWords = new Int32Array(this.digests.buffer);
    this.fingerprintWords = new Int32Array(this.fingerprints.buffer);
  }
}

let spare: ValueBatch | undefined;

/** The spare batch (a writer made while another is in use gets its own). */
export function takeValueBatch(): ValueBatch {
  const batch = spare ?? new ValueBatch();
  spare = undefined;
  batch.end(0, 0);
  return batch;
}

/** Keeps `batch` for the next frame unless one big frame grew it past the bound. */
export function giveValueBatch(batch: ValueBatch): void {
  if (batch.keepable) {
    // The arrays keep their length (`length = 0` gave their memory back, and every small frame
    // grew them again from nothing): entries are overwritten by the next frame's `begin` and
    // manifest, and only values kept outside the arena are let go of here.
    const external = batch.external;
    for (let i = 0; i < batch.top; i++) external[i] = undefined;
    spare = batch;
  }
}
