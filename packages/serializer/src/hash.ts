/**
 * BLAKE3 (the reference's hash algorithm 1), the 64-bit fingerprint, and the Merkle root.
 *
 * Paths with identical output, by input: up to 192 bytes (and keyed hashes of one chunk) a JS
 * single-chunk BLAKE3 that allocates nothing (blake3-chunk.ts; tiny inputs are most calls in a
 * frame, and there a call into WebAssembly is the whole cost); from 193 to 1536 bytes
 * hash-wasm's WebAssembly BLAKE3; above that the package's four-lane WebAssembly SIMD kernel
 * (blake3-batch.ts `batchHash`: chunks four to a compression, then BLAKE3's parent nodes);
 * @noble/hashes for longer keyed or extended output, and as the portable path tests compare
 * against. Merkle roots over a frame's records go through the same kernel (all leaves, also
 * those over one chunk, and nodes in two calls) where the runtime has it.
 */
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js';
import { createBLAKE3 } from 'hash-wasm';
import { batchCombine, batchDigests, batchHash, batchMerkle, type RangeChecksums } from './blake3-batch.ts';
import { blake3Chunk, CHUNK_LEN, hashPairWords } from './blake3-chunk.ts';
import { compareRanges, latin1 } from './bytes.ts';

// WebAssembly instantiation is asynchronous once, at load; hashing is synchronous after that.
const wasmHasher = await createBLAKE3(256);

/**
 * Inputs up to this size (three blocks) take the JS path. Measured on 13,000 inputs: JS is
 * 1.8× faster at 64 bytes, 1.3× at 128, even at 187, and allocates nothing; WASM wins from 256.
 */
const SMALL_MAX = 192;

/**
 * Inputs longer than this go to the SIMD kernel's `tree` (chunks four to a compression, then
 * BLAKE3's parent nodes). From one to two chunks the kernel costs about the same whatever the
 * length (one 16-block lane sets the pace) while hash-wasm grows with it (bench/hash-sizes.ts,
 * load 4: 1025 bytes 9.2 µs against 6.8, 2048 bytes 8.4 against 10.6); they cross near one and
 * a half chunks. From three chunks the kernel is ~2.2× faster (64 KiB 113 µs against 274).
 */
const KERNEL_MIN = 1536;

/** BLAKE3-256 (or `outLen` bytes of extended output). */
export function blake3(data: Uint8Array, outLen = 32): Uint8Array {
  if (outLen !== 32) return nobleBlake3(data, { dkLen: outLen });
  const out = new Uint8Array(32);
  blake3Into(data, 0, data.length, out, 0);
  return out;
}

/** BLAKE3-256 of `data[start, end)` into `out[at, at + 32)` (no allocation for small inputs). */
export function blake3Into(data: Uint8Array, start: number, end: number, out: Uint8Array, at: number): void {
  const len = end - start;
  if (len <= SMALL_MAX) return blake3Chunk(data, start, end, out, at);
  if (len > KERNEL_MIN && batchHash(data, start, end, out, at)) return;
  wasmHasher.init();
  wasmHasher.update(data.subarray(start, end));
  out.set(wasmHasher.digest('binary'), at);
}

/** Up to this many inputs {@link blake3Many} hashes in JS (a 2-cell frame's one value). */
const BATCH_MIN = 2;

/**
 * BLAKE3-256 of each `data[starts[i], ends[i])` for i < `count` (an input over one chunk
 * goes in as its chunks, lanes among the others), digest i into `out[outAt + 32i, outAt + 32i + 32)`: all in one call to the SIMD
 * kernel where the runtime has it, else one by one on the paths of {@link blake3Into} (the same digests).
 * Every range ends by `dataEnd`: only `data[0, dataEnd)` is copied into the kernel.
 */
export function blake3Many(
  data: Uint8Array,
  starts: ArrayLike<number>,
  ends: ArrayLike<number>,
  count: number,
  out: Uint8Array,
  outAt: number,
  dataEnd = data.length,
): void {
  // A few inputs cost less in JS than the kernel's call (copying in, descriptors, copying out).
  if (count > BATCH_MIN && batchDigests(dataEnd === data.length ? data : data.subarray(0, dataEnd), starts, ends, count, out, outAt)) return;
  for (let i = 0; i < count; i++) blake3Into(data, starts[i]!, ends[i]!, out, outAt + i * 32);
}

/** BLAKE3 through @noble/hashes only (the portable path). */
export function blake3Portable(data: Uint8Array, outLen = 32): Uint8Array {
  return nobleBlake3(data, { dkLen: outLen });
}

/**
 * Keyed BLAKE3 (32-byte key). Up to 32 bytes of output from up to one chunk of input (every
 * chunk nonce: ~0.5 µs in JS, against ~6 µs through @noble/hashes) take the JS path.
 */
export function blake3Keyed(key: Uint8Array, data: Uint8Array, outLen = 32): Uint8Array {
  if (outLen > 32 || data.length > CHUNK_LEN || key.length !== 32) return nobleBlake3(data, { key, dkLen: outLen });
  const out = new Uint8Array(outLen);
  blake3Chunk(data, 0, data.length, out, 0, key, outLen);
  return out;
}

/** The reference's H64: the first 8 bytes of BLAKE3 as a little-endian u64; 0 for empty input. */
export function h64(data: Uint8Array): bigint {
  if (data.length === 0) return 0n;
  return h64OfDigest(blake3(data));
}

/** H64 from a BLAKE3-256 digest already computed. */
export function h64OfDigest(digest: Uint8Array): bigint {
  return new DataView(digest.buffer, digest.byteOffset, 8).getBigUint64(0, true);
}

/**
 * Merkle root over records: leaves are BLAKE3 of each record's covered bytes, sorted by
 * key (stable: ties keep emission order), combined pairwise with BLAKE3(L ‖ R), an odd
 * last node paired with itself; no records → 32 zero bytes.
 */
export function merkleRoot(leaves: readonly { key: Uint8Array; covered: Uint8Array }[]): Uint8Array {
  const order = leafOrder(leaves.map((leaf) => latin1(leaf.key)));
  const level = new Uint8Array(order.length * 32 + 32);
  order.forEach((leaf, i) => blake3Into(leaves[leaf]!.covered, 0, leaves[leaf]!.covered.length, level, i * 32));
  return merkleCombine(level, order.length);
}

/**
 * Leaf indices sorted by key, ties in emission order. Keys are latin1 strings of the key
 * bytes ({@link latin1}): native string comparison orders them like the bytes, several
 * times faster than comparing byte arrays in JS.
 */
export function leafOrder(keys: readonly string[]): number[] {
  const order: number[] = new Array<number>(keys.length);
  for (let i = 0; i < keys.length; i++) order[i] = i;
  return order.sort((a, b) => {
    const ka = keys[a]!;
    const kb = keys[b]!;
    return ka < kb ? -1 : ka > kb ? 1 : a - b;
  });
}

/**
 * Combines `count` leaf hashes, laid out in key order in `level` (32 bytes each, plus 32
 * spare bytes at the end), into the root: in the SIMD kernel where the runtime has one (the
 * level is left as it was), else in place in JS (pair i is read before node i is written at
 * an offset no greater than the pair's own).
 */
export function merkleCombine(level: Uint8Array, count: number): Uint8Array {
  if (count === 0) return new Uint8Array(32);
  const batched = batchCombine(level, count);
  if (batched !== undefined) return batched.slice();
  combineInPlace(level, count);
  return level.slice(0, 32);
}

/** Whether typed arrays of this host are little-endian (BLAKE3's word order), so a level can be read as words. */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** {@link merkleCombine} leaving the root in `level[0, 32)` (`count` ≥ 1). */
function combineInPlace(level: Uint8Array, count: number): void {
  // Nodes hash as words straight from the level where its bytes line up with words; else byte by byte.
  const words =
    count <= 1 || !LITTLE_ENDIAN || level.byteOffset % 4 !== 0 || level.length % 4 !== 0
      ? undefined
      : level === smallLevel
        ? smallLevelWords
        : new Int32Array(level.buffer, level.byteOffset, level.length >> 2);
  while (count > 1) {
    if (count % 2 === 1) level.copyWithin(count * 32, (count - 1) * 32, count * 32); // odd last node pairs with itself
    const pairs = Math.ceil(count / 2);
    if (words !== undefined) hashPairWords(words, pairs);
    else for (let i = 0; i < pairs; i++) blake3Into(level, i * 64, i * 64 + 64, level, i * 32);
    count = pairs;
  }
}

/** Where a root checked against a trailer's is copied out of the kernel (read at once, never kept). */
const rootScratch = new Uint8Array(32);

/** Leaves of frames up to this many records are combined in one reused level (small frames, both sides). */
const SMALL_LEVEL_LEAVES = 64;
const smallLevel = new Uint8Array(SMALL_LEVEL_LEAVES * 32 + 32);
const smallLevelWords = new Int32Array(smallLevel.buffer);

/**
 * The Merkle root over records given as byte ranges of `frame`, leaves in `order`. With `crc`,
 * the kernel also checksums its ranges of the frame from the same copy (`crc.done` says whether
 * it did: without a kernel, or for no records, the caller checksums them itself). With `rootOut`
 * (32 bytes), the root is written there and `rootOut` returned (the frame writer keeps one).
 */
export function merkleOfRanges(
  frame: Uint8Array,
  starts: ArrayLike<number>,
  ends: ArrayLike<number>,
  order: ArrayLike<number>,
  crc?: RangeChecksums,
  rootOut?: Uint8Array,
): Uint8Array {
  // All leaves and nodes in the four-lane WebAssembly kernel where the runtime has one.
  if (order.length > 0) {
    const root = rootOut ?? new Uint8Array(32);
    if (batchMerkle(frame, starts, ends, order, crc, root) !== undefined) return root;
  }
  // A few leaves combine in the reused level (merkleCombine returns a copy of the root).
  const level = order.length <= SMALL_LEVEL_LEAVES ? smallLevel : new Uint8Array(order.length * 32 + 32);
  for (let i = 0; i < order.length; i++) blake3Into(frame, starts[order[i]!]!, ends[order[i]!]!, level, i * 32);
  const root = merkleCombine(level, order.length);
  if (rootOut === undefined) return root;
  rootOut.set(root);
  return rootOut;
}

/**
 * Whether the Merkle root over the ranges of `frame` (leaves in `order`) is `expected[0, 32)`.
 * Compares in place; a frame of few records combines in a reused scratch level, so checking a
 * small frame's root allocates nothing. `crc` as in {@link merkleOfRanges}.
 */
export function merkleOfRangesIs(
  frame: Uint8Array,
  starts: ArrayLike<number>,
  ends: ArrayLike<number>,
  order: ArrayLike<number>,
  expected: Uint8Array,
  crc?: RangeChecksums,
): boolean {
  const count = order.length;
  if (count === 0) {
    for (let i = 0; i < 32; i++) if (expected[i] !== 0) return false;
    return expected.length === 32;
  }
  // All leaves and nodes in the four-lane WebAssembly kernel where the runtime has one.
  const batched = batchMerkle(frame, starts, ends, order, crc, rootScratch);
  if (expected.length !== 32) return false;
  if (batched !== undefined) {
    for (let i = 0; i < 32; i++) if (batched[i] !== expected[i]) return false;
    return true;
  }
  const level = count <= SMALL_LEVEL_LEAVES ? smallLevel : new Uint8Array(count * 32 + 32);
  for (let i = 0; i < count; i++) blake3Into(frame, starts[order[i]!]!, ends[order[i]!]!, level, i * 32);
  combineInPlace(level, count);
  for (let i = 0; i < 32; i++) if (level[i] !== expected[i]) return false;
  return true;
}

/**
 * Record indices sorted by their key bytes `data[keyStarts[i], keyEnds[i])`, ties in
 * emission order, compared in place: for a few records this beats making a string per key
 * ({@link leafOrder}); insertion sort, so call it for small counts only.
 */
export function leafOrderInPlace(
  data: Uint8Array,
  keyStarts: ArrayLike<number>,
  keyEnds: ArrayLike<number>,
  count: number,
  firstBytes?: ArrayLike<number>,
): number[] {
  const order: number[] = new Array<number>(count);
  if (count <= LINEAR_SORT_MAX) {
    // A few keys: a linear insertion (ties stay in emission order). With each key's first byte
    // known (its record type, as the writer records it), keys of different types are ordered by
    // it alone and only keys of one type compared, a word at a time: sorting a 2-cell frame's
    // five keys byte by byte was ~2% of its encode. Without, byte by byte (they differ early).
    const view = firstBytes === undefined ? undefined : viewOf(data);
    for (let i = 0; i < count; i++) {
      let j = i;
      for (; j > 0; j--) {
        const o = order[j - 1]!;
        const c =
          view === undefined
            ? compareBytes(data, keyStarts[i]!, keyEnds[i]!, keyStarts[o]!, keyEnds[o]!)
            : firstBytes![i]! - firstBytes![o]! || compareRanges(data, view, keyStarts[i]!, keyEnds[i]!, keyStarts[o]!, keyEnds[o]!);
        if (c >= 0) break;
        order[j] = o;
      }
      order[j] = i;
    }
    return order;
  }
  // Keys of one frame share long prefixes (type byte, then the path's 17-byte names): compared
  // a byte at a time with a linear insertion, sorting an invoke-sized frame's 14 keys cost
  // ~4.7 µs (8% of its encode); word-wise with a binary insertion ~2.1 µs.
  const view = viewOf(data);
  // Binary insertion (the first place whose key is greater, so ties stay in emission order):
  // records come in walk order, far from key order, and a linear scan compared most pairs.
  for (let i = 0; i < count; i++) {
    const start = keyStarts[i]!;
    const end = keyEnds[i]!;
    let lo = 0;
    let hi = i;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = order[mid]!;
      if (compareRanges(data, view, start, end, keyStarts[m]!, keyEnds[m]!) < 0) hi = mid;
      else lo = mid + 1;
    }
    for (let j = i; j > lo; j--) order[j] = order[j - 1]!;
    order[lo] = i;
  }
  return order;
}

/**
 * Up to this many keys {@link leafOrderInPlace} sorts by a linear insertion comparing bytes:
 * for a 2-cell frame's five records the word-wise binary insertion decoded 3-5% slower
 * (bench/ab.ts), for 14 it sorted in half the time.
 */
const LINEAR_SORT_MAX = 8;

/** Byte-wise comparison of two ranges of `data`, shorter first on a common prefix. */
function compareBytes(data: Uint8Array, aStart: number, aEnd: number, bStart: number, bEnd: number): number {
  const n = Math.min(aEnd - aStart, bEnd - bStart);
  for (let i = 0; i < n; i++) {
    const d = data[aStart + i]! - data[bStart + i]!;
    if (d !== 0) return d;
  }
  return aEnd - aStart - (bEnd - bStart);
}

/** The last view {@link viewOf} made: a writer sorts in the same scratch buffer frame after frame. */
let lastView: DataView | undefined;

/** A DataView over the bytes of `data` (the last one again when it is over the same bytes). */
function viewOf(data: Uint8Array): DataView {
  const v = lastView;
  if (v !== undefined && v.buffer === data.buffer && v.byteOffset === data.byteOffset && v.byteLength === data.byteLength) return v;
  return (lastView = new DataView(data.buffer, data.byteOffset, data.byteLength));
}
