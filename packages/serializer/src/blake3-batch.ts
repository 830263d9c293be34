/**
 * Merkle roots through the four-lane WebAssembly SIMD BLAKE3 of wasm/blake3x4.wat: every leaf
 * of a frame and every node of every level in two calls, instead of one JS compression run
 * per record and per pair.
 *
 * Why: a frame of n records hashes n leaves and n − 1 nodes, each a few blocks; in JS each
 * block is one compression (~170 ns), in the kernel four blocks share one. The frame is
 * copied into the module's memory once; leaves are grouped by block count so the four lanes
 * of a group mostly finish together (a lane that finishes early is masked, so any mix is
 * still correct). A leaf longer than one BLAKE3 chunk (1024 bytes: a payload chunk record or a
 * big manifest page) goes in as its chunks, lanes among the other leaves with their chunk
 * counters, then BLAKE3's parent nodes over them (`reduce`), straight into the level.
 * {@link batchHash} hashes one input of any length in the kernel too (payload hashes).
 *
 * When the runtime cannot validate the module (no SIMD), {@link batchMerkle} answers
 * undefined and callers keep the JS path; both give the same digests (tests compare).
 */
import { countReserved } from './alloc-meter.ts';
import { BLAKE3X4_WASM_BASE64 } from './blake3x4-wasm.ts';
import { NATIVE_CRC32C, recordChecksum } from './checksum.ts';
import { CASTAGNOLI, IEEE, sliceBy8Tables } from './crc-tables.ts';

/** The parts of the WebAssembly JS API used here (the package's type libraries do not declare it). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object) => { readonly exports: unknown };
}
const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

interface Kernel {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  readonly leaves: (desc: number, groups: number) => void;
  readonly merkle: (level: number, count: number) => void;
  readonly parents: (from: number, to: number, pairs: number) => void;
  readonly tree: (start: number, len: number, out: number, scratch: number) => void;
  readonly reduce: (cvs: number, n: number, out: number) => void;
  readonly crcs: (desc: number, count: number, out: number, id: 0 | 1, init: number, xorout: number) => void;
}

/** Bytes [0, 1024) of the module's memory are its own (zero block, padding, spare output). */
const KERNEL_OWN = 1024;
/** Slice-by-8 tables for the kernel's `crcs`, written at instantiation: CRC-32 (id 0), then CRC32C (id 1), 8 KiB each (the kernel reads them at these fixed addresses). */
const CRC_TABLES = KERNEL_OWN;
const CRC_TABLE_BYTES = 8 * 256 * 4;
/** Where callers' data starts: everything below is the module's own or the CRC tables. */
const RESERVED = CRC_TABLES + 2 * CRC_TABLE_BYTES;
/** Where a padding descriptor sends its digest (inside the reserved bytes). */
const SPARE_OUT = 512;
/** The longest leaf the kernel takes: one BLAKE3 chunk. */
const LEAF_MAX = 1024;
/** Room the kernel's merkle needs past the level: an odd node's twin and the last group's reads. */
const LEVEL_SLACK = 32 + 256;
/** A memory grown past this by one big frame is dropped after it, so it is not kept for good. */
const RETAIN_MAX = 32 * 1024 * 1024;
const PAGE = 65536;

const WASM_BYTES = Uint8Array.from(atob(BLAKE3X4_WASM_BASE64), (c) => c.charCodeAt(0));

let compiled: object | undefined;
let kernel: Kernel | undefined;
let u8 = new Uint8Array(0);
let u32 = new Uint32Array(0);

/**
 * Compiles `bytes` as the kernel (internal: tests pass bytes that fail validation to force
 * the JS path, then the real ones back). Returns whether a kernel is in use.
 */
export function loadBatchKernel(bytes: Uint8Array = WASM_BYTES): boolean {
  compiled = undefined;
  kernel = undefined;
  if (wasm === undefined || !wasm.validate(bytes)) return false;
  try {
    compiled = new wasm.Module(bytes);
    instantiate();
  } catch {
    compiled = undefined;
    kernel = undefined;
  }
  return kernel !== undefined;
}

const CRC_WORDS = [sliceBy8Tables(IEEE), sliceBy8Tables(CASTAGNOLI)] as const;

function instantiate(): void {
  const exports = new wasm!.Instance(compiled!).exports as Kernel;
  kernel = exports;
  views();
  u32.set(CRC_WORDS[0], CRC_TABLES >> 2);
  u32.set(CRC_WORDS[1], (CRC_TABLES + CRC_TABLE_BYTES) >> 2);
}

function views(): void {
  u8 = new Uint8Array(kernel!.memory.buffer);
  u32 = new Uint32Array(kernel!.memory.buffer);
}

/** Bytes of the module's memory now, 0 without a kernel (internal: tests). */
export function batchMemoryBytes(): number {
  return kernel === undefined ? 0 : kernel.memory.buffer.byteLength;
}

/** Grows the module's memory to at least `bytes`; false if it cannot. */
function ensure(bytes: number): boolean {
  // The view's length is the memory's (views are renewed whenever it grows): reading the memory's
  // `buffer` instead costs a call into the engine, ~50 ns, three times per small frame.
  const have = u8.length;
  if (have >= bytes) return true;
  const pages = Math.ceil((bytes - have) / PAGE);
  try {
    kernel!.memory.grow(pages);
  } catch {
    return false;
  }
  countReserved(pages * PAGE);
  views();
  return true;
}

/** Descriptors per block count (1..16) and the cursor of each while they are written. */
const bucketCount = new Int32Array(17);
const bucketAt = new Int32Array(17);

/** Scratch bytes the kernel's `tree` needs for an input of `len` bytes: 32 per chunk and 256 more. */
const treeScratch = (len: number): number => ((len + 1023) >> 10) * 32 + 256;

const blocksOf = (len: number): number => (len === 0 ? 1 : (len + 63) >> 6);

/** A descriptor's counter word with this bit: a chunk of a leaf longer than one chunk (no ROOT flag). */
const CHUNK_OF_LONGER = 0x80000000;

/**
 * Writes the descriptors of the leaves [starts[r], ends[r]) of a frame for r = order[i] (its bytes
 * already copied to `dataAt` of the module's memory; digest i goes to `levelAt + 32i`) and
 * hashes them. Leaves are grouped by block count (`byBlocks`; tests turn it off to mix lengths
 * within a lane group). A leaf longer than a chunk goes in as its chunks, each a lane with its
 * counter among the other leaves (a 16-block chunk rides in a group that costs 16 steps anyway),
 * their chaining values after the descriptors, and then the kernel's `reduce` gives its root.
 * Grows the memory to hold all that and `extra` bytes more; returns where those extra bytes
 * start, or −1, having hashed nothing, when the memory cannot grow.
 */
function hashLeaves(
  starts: ArrayLike<number>,
  ends: ArrayLike<number>,
  order: ArrayLike<number>,
  dataAt: number,
  levelAt: number,
  descAt: number,
  byBlocks: boolean,
  extra: number,
): number {
  const count = order.length;
  if (count <= FEW_LEAVES && byBlocks) {
    let fits = true;
    for (let i = 0; i < count; i++) {
      const r = order[i]!;
      const len = ends[r]! - starts[r]!;
      if (len > LEAF_MAX) {
        fits = false;
        break;
      }
      fewBlocks[i] = blocksOf(len);
    }
    if (fits) return hashFewLeaves(starts, ends, order, dataAt, levelAt, descAt, extra, count);
  }
  bucketCount.fill(0);
  if (leafStarts.length < count) {
    leafStarts = new Int32Array(Math.max(count, leafStarts.length * 2));
    leafLengths = new Int32Array(leafStarts.length);
  }
  // Each leaf's range read once through the order (the second pass reads these columns in turn),
  // and the leaves over a chunk listed: going through the order twice more cost ~25% of this setup.
  let bigChunks = 0;
  let bigLeaves = 0;
  for (let i = 0; i < count; i++) {
    const r = order[i]!;
    const start = starts[r]!;
    const len = ends[r]! - start;
    leafStarts[i] = start;
    leafLengths[i] = len;
    if (len <= LEAF_MAX) bucketCount[byBlocks ? blocksOf(len) : 1]! += 1;
    else {
      const n = (len + LEAF_MAX - 1) >> 10;
      bigChunks += n;
      bigLeaves++;
      bucketCount[byBlocks ? 16 : 1]! += n - 1;
      bucketCount[byBlocks ? blocksOf(len - (n - 1) * LEAF_MAX) : 1]! += 1;
    }
  }
  // Leaves go in descending block count, four to a group, and only the last group is padded
  // (padding descriptors hash nothing into SPARE_OUT): a group costs its longest lane, and taking
  // the four longest, then the next four, … gives the fewest group steps. Padding every bucket to
  // whole groups instead cost a small frame two of its ~ten compressions (five leaves of 4, 2, 2,
  // 2 and 1 blocks: 5 group steps now, 7 then).
  const first = descAt >> 2;
  let total = 0;
  for (let b = 16; b >= 1; b--) {
    bucketAt[b] = first + total * 4;
    total += bucketCount[b]!;
  }
  const cvAt = descAt + descBytes(total);
  // `reduce` reads up to 256 bytes past a leaf's chaining values; the big leaves' indices follow.
  const bigAt = bigChunks > 0 ? cvAt + bigChunks * 32 + 256 : cvAt;
  const after = bigAt + bigLeaves * 4;
  if (!ensure(after + extra)) return -1; // growing keeps the bytes already copied in; only the views are renewed
  const groups = padToGroups(first, total);
  const mem = u32;
  const big = bigAt >> 2;
  let cv = cvAt;
  for (let i = 0, k = big; i < count; i++) {
    const start = leafStarts[i]!;
    const len = leafLengths[i]!;
    if (len <= LEAF_MAX) {
      const b = byBlocks ? blocksOf(len) : 1;
      const d = bucketAt[b]!;
      mem[d] = dataAt + start;
      mem[d + 1] = len;
      mem[d + 2] = levelAt + i * 32;
      mem[d + 3] = 0;
      bucketAt[b] = d + 4;
      continue;
    }
    mem[k++] = i;
    const n = (len + LEAF_MAX - 1) >> 10;
    for (let c = 0; c < n; c++) {
      const chunkLen = c < n - 1 ? LEAF_MAX : len - c * LEAF_MAX;
      const b = byBlocks ? blocksOf(chunkLen) : 1;
      const d = bucketAt[b]!;
      mem[d] = dataAt + start + c * LEAF_MAX;
      mem[d + 1] = chunkLen;
      mem[d + 2] = cv + c * 32;
      mem[d + 3] = CHUNK_OF_LONGER | c;
      bucketAt[b] = d + 4;
    }
    cv += n * 32;
  }
  if (groups > 0) kernel!.leaves(descAt, groups);
  cv = cvAt;
  for (let k = big; k < big + bigLeaves; k++) {
    const i = mem[k]!;
    const n = (leafLengths[i]! + LEAF_MAX - 1) >> 10;
    kernel!.reduce(cv, n, levelAt + i * 32);
    cv += n * 32;
  }
  if (leafStarts.length > LEAF_COLUMNS_KEEP) {
    // One very large frame's columns are not kept.
    leafStarts = new Int32Array(0);
    leafLengths = new Int32Array(0);
  }
  return after;
}

/** Each leaf's start and length in leaf order (grown, kept up to {@link LEAF_COLUMNS_KEEP} leaves). */
let leafStarts = new Int32Array(0);
let leafLengths = new Int32Array(0);
const LEAF_COLUMNS_KEEP = 64 * 1024;

/**
 * Pads the descriptors from `first` (u32 index) past `count` to whole groups of four with
 * descriptors that hash nothing into SPARE_OUT; returns the number of groups.
 */
function padToGroups(first: number, count: number): number {
  const padded = (count + 3) & ~3;
  for (let k = count; k < padded; k++) {
    const d = first + k * 4;
    u32[d] = 0;
    u32[d + 1] = 0;
    u32[d + 2] = SPARE_OUT;
    u32[d + 3] = 0;
  }
  return padded >> 2;
}

/** Up to this many leaves of a chunk or less (a small frame's) are placed by counting, without buckets. */
const FEW_LEAVES = 8;
/** The block counts of those leaves, by leaf. */
const fewBlocks = new Int32Array(FEW_LEAVES);

/**
 * {@link hashLeaves} for `count` ≤ {@link FEW_LEAVES} leaves of a chunk or less, their block
 * counts in {@link fewBlocks}: each descriptor goes where the buckets would put it (after the
 * leaves of more blocks and the earlier ones of as many), found by counting. Zeroing and walking
 * sixteen buckets was a third of the setup of a 2-cell frame's leaves.
 */
function hashFewLeaves(
  starts: ArrayLike<number>,
  ends: ArrayLike<number>,
  order: ArrayLike<number>,
  dataAt: number,
  levelAt: number,
  descAt: number,
  extra: number,
  count: number,
): number {
  const after = descAt + descBytes(count);
  if (!ensure(after + extra)) return -1;
  const first = descAt >> 2;
  const groups = padToGroups(first, count);
  for (let i = 0; i < count; i++) {
    const blocks = fewBlocks[i]!;
    let place = 0;
    for (let j = 0; j < count; j++) {
      const other = fewBlocks[j]!;
      if (other > blocks || (other === blocks && j < i)) place++;
    }
    const r = order[i]!;
    const start = starts[r]!;
    const d = first + place * 4;
    u32[d] = dataAt + start;
    u32[d + 1] = ends[r]! - start;
    u32[d + 2] = levelAt + i * 32;
    u32[d + 3] = 0;
  }
  if (groups > 0) kernel!.leaves(descAt, groups);
  return after;
}

/** Bytes of `count` descriptors (16 each) and the last group's padding ones (at most 3). */
const descBytes = (count: number): number => (count + 3) * 16;

/** Hands back `view` (or a copy, and a fresh small memory, after one big frame grew it past RETAIN_MAX). */
function release(view: Uint8Array): Uint8Array {
  if (u8.length <= RETAIN_MAX) return view;
  const copy = view.slice();
  instantiate();
  return copy;
}

/**
 * The Merkle root over the records `frame[starts[r], ends[r])`, leaves in `order` (at least
 * one), or undefined without a kernel (or when its memory cannot hold the frame). The root
 * is a view of the module's memory, valid until the next call: copy or compare it at once.
 * With `crc`, the checksums of its ranges of the same frame (the records, and the trailer on
 * decode) are computed from the same copy into `crc.out`, and `crc.done` is set; without a
 * kernel nothing is written and the caller checksums range by range (the same values).
 * With `rootOut` (32 bytes), the root is copied there and `rootOut` returned instead of a view.
 */
export function batchMerkle(
  frame: Uint8Array,
  starts: ArrayLike<number>,
  ends: ArrayLike<number>,
  order: ArrayLike<number>,
  crc?: RangeChecksums,
  rootOut?: Uint8Array,
): Uint8Array | undefined {
  if (kernel === undefined) return undefined;
  const count = order.length;
  const levelAt = (RESERVED + frame.length + 15) & ~15;
  const descAt = levelAt + count * 32 + LEVEL_SLACK;
  if (!ensure(descAt)) return undefined;
  u8.set(frame, RESERVED);
  // The checksums' descriptors and results go past everything the leaves laid out.
  const crcAt = hashLeaves(starts, ends, order, RESERVED, levelAt, descAt, true, crc === undefined ? 0 : checksumBytes(crc.count));
  if (crcAt < 0) return undefined;
  if (count > 1) kernel.merkle(levelAt, count);
  if (crc !== undefined) {
    const rootAt = crc.rootAt;
    if (rootAt >= 0) u8.copyWithin(RESERVED + rootAt, levelAt, levelAt + 32);
    checksums(crc, crcAt, frame);
  }
  if (rootOut === undefined) return release(u8.subarray(levelAt, levelAt + 32));
  // Copied out byte by byte: a view to copy from cost more than the copy, on a small frame.
  for (let i = 0; i < 32; i++) rootOut[i] = u8[levelAt + i]!;
  if (u8.length > RETAIN_MAX) instantiate();
  return rootOut;
}

/**
 * BLAKE3-256 of each `data[starts[i], ends[i])` (internal: tests), digest i at [32i, 32i + 32)
 * of the result; undefined without a kernel. `byBlocks: false` leaves lengths mixed in a group.
 */
export function batchLeaves(data: Uint8Array, starts: ArrayLike<number>, ends: ArrayLike<number>, byBlocks = true): Uint8Array | undefined {
  if (kernel === undefined) return undefined;
  const count = starts.length;
  const order = Array.from({ length: count }, (_, i) => i);
  const levelAt = (RESERVED + data.length + 15) & ~15;
  const descAt = levelAt + count * 32;
  if (!ensure(descAt)) return undefined;
  u8.set(data, RESERVED);
  if (hashLeaves(starts, ends, order, RESERVED, levelAt, descAt, byBlocks, 0) < 0) return undefined;
  return u8.slice(levelAt, levelAt + count * 32);
}

/** 0, 1, 2, …: the leaf order of {@link batchDigests} (inputs hashed in the order given), grown on demand. */
let identity = new Int32Array(0);

/**
 * BLAKE3-256 of each `data[starts[i], ends[i])` for i < `count` (a range over one chunk goes
 * in as its chunks, as a frame's big leaves do), digest i into `out[outAt + 32i, outAt + 32i + 32)`: many small inputs in one call
 * to the kernel (the branch writer's payloads and their fingerprint inputs). Returns false,
 * having written nothing, without a kernel or when its memory cannot hold the inputs; the
 * caller then hashes them one by one (same digests).
 */
export function batchDigests(data: Uint8Array, starts: ArrayLike<number>, ends: ArrayLike<number>, count: number, out: Uint8Array, outAt: number): boolean {
  if (kernel === undefined) return false;
  if (identity.length < count) {
    identity = new Int32Array(Math.max(count, identity.length * 2, 64));
    for (let i = 0; i < identity.length; i++) identity[i] = i;
  }
  const levelAt = (RESERVED + data.length + 15) & ~15;
  const descAt = levelAt + count * 32;
  if (!ensure(descAt)) return false;
  u8.set(data, RESERVED);
  if (hashLeaves(starts, ends, identity.subarray(0, count), RESERVED, levelAt, descAt, true, 0) < 0) return false;
  out.set(u8.subarray(levelAt, levelAt + count * 32), outAt);
  if (u8.length > RETAIN_MAX) instantiate(); // one big batch does not keep its memory
  return true;
}

/**
 * BLAKE3-256 of `data[start, end)`, any length, into `out[at, at + 32)` in the kernel's `tree`
 * (an input over one chunk: its chunks four to a compression, then BLAKE3's parent nodes).
 * False, having written nothing, without a kernel or when its memory cannot hold the input;
 * the caller then hashes it on its own path (the same digest).
 */
export function batchHash(data: Uint8Array, start: number, end: number, out: Uint8Array, at: number): boolean {
  if (kernel === undefined) return false;
  const len = end - start;
  const scratchAt = (RESERVED + len + 15) & ~15;
  if (!ensure(scratchAt + treeScratch(len))) return false;
  u8.set(start === 0 && end === data.length ? data : data.subarray(start, end), RESERVED);
  kernel.tree(RESERVED, len, scratchAt, scratchAt);
  for (let i = 0; i < 32; i++) out[at + i] = u8[scratchAt + i]!;
  if (u8.length > RETAIN_MAX) instantiate(); // one big input does not keep its memory
  return true;
}

/**
 * The root over `count` ≥ 1 digests laid out in `level` (32 bytes each, in key order), or
 * undefined without a kernel; a view valid until the next call. `pairsOnly` runs one level of
 * parents instead (internal: tests), leaving ⌈count / 2⌉ nodes in the view.
 */
export function batchCombine(level: Uint8Array, count: number, pairsOnly = false): Uint8Array | undefined {
  if (kernel === undefined) return undefined;
  const levelAt = RESERVED;
  if (!ensure(levelAt + count * 32 + LEVEL_SLACK)) return undefined;
  u8.set(level.subarray(0, count * 32), levelAt);
  if (!pairsOnly) {
    if (count > 1) kernel.merkle(levelAt, count);
    return release(u8.subarray(levelAt, levelAt + 32));
  }
  const pairs = count >> 1;
  kernel.parents(levelAt, levelAt, pairs);
  return u8.slice(levelAt, levelAt + pairs * 32);
}

/**
 * Checksums wanted along with a Merkle root ({@link batchMerkle}): of `frame[starts[i], ends[i])`
 * for i < `count`, by checksum id 0 (CRC-32) or 1 (the reference's raw CRC32C), into `out[i]`.
 */
export interface RangeChecksums {
  readonly id: 0 | 1;
  readonly starts: ArrayLike<number>;
  readonly ends: ArrayLike<number>;
  readonly count: number;
  /** One more range after the `count` (the trailer; −1: none), its checksum at `out[count]`. */
  readonly lastStart: number;
  readonly lastEnd: number;
  /**
   * Where in the frame the Merkle root goes before the checksums are taken (an encoder's
   * trailer, written before its root was known; −1: nowhere). Only the kernel's copy gets it:
   * the caller writes the root into its own frame. Every caller sets it, so all these objects
   * have one shape (the kernel path stays monomorphic for encoder, reader and bench alike).
   */
  readonly rootAt: number;
  readonly out: Uint32Array;
  /** Set once `out` holds them (false: no kernel, checksum range by range). */
  done: boolean;
}

/** Checksum results of frames up to this many ranges (and one more) land in one reused array, read before the next frame's. */
const SCRATCH_CHECKSUMS = 1024;
const scratchChecksums = new Uint32Array(SCRATCH_CHECKSUMS + 1);

/**
 * A checksum request for `count` ranges and one more at `[lastStart, lastEnd)` (−1: none; its
 * root place `rootAt`, −1: none), as the encoder and the reader make one per frame (see
 * {@link RangeChecksums}). Results land in a shared scratch array up to {@link SCRATCH_CHECKSUMS}
 * ranges; a larger frame gets its own (or the one of `into`, when large enough), and `onAllocate`
 * hears of a new one's bytes (the reader counts them). With `into` (an earlier request), that
 * object is filled in and returned instead of a new one.
 */
export function rangeChecksums(
  id: 0 | 1,
  starts: ArrayLike<number>,
  ends: ArrayLike<number>,
  count: number,
  lastStart: number,
  lastEnd: number,
  rootAt: number,
  onAllocate?: (bytes: number) => void,
  into?: RangeChecksums,
): RangeChecksums {
  let out: Uint32Array = scratchChecksums;
  if (count > SCRATCH_CHECKSUMS) {
    // A request handed back keeps its own array for a frame of as many ranges or fewer (a kept
    // frame writer's, frame after frame): a new one was 52 KB to zero per 10k-value frame.
    const kept = into?.out;
    if (kept !== undefined && kept !== scratchChecksums && kept.length > count) out = kept;
    else {
      out = new Uint32Array(count + 1);
      onAllocate?.(count * 4 + 4);
    }
  }
  if (into === undefined) return { id, starts, ends, count, lastStart, lastEnd, rootAt, out, done: false };
  const reused = into as { -readonly [K in keyof RangeChecksums]: RangeChecksums[K] };
  reused.id = id;
  reused.starts = starts;
  reused.ends = ends;
  reused.count = count;
  reused.lastStart = lastStart;
  reused.lastEnd = lastEnd;
  reused.rootAt = rootAt;
  reused.out = out;
  reused.done = false;
  return into;
}

/** Bytes of descriptors (8 each) and results (4 each) for `count` checksums and one more. */
const checksumBytes = (count: number): number => count * 12 + 12;

/**
 * Ranges at least this long are checksummed natively (SSE4.2 CRC32C through fast-crc32c, zlib's
 * CRC-32) from the caller's frame rather than by the kernel's table: ~10 GB/s against ~1 GB/s,
 * and the native call's ~150 ns is paid back long before. A 64 KiB value's sixteen 4 KiB chunk
 * records spent 7% of encode and decode in the kernel's CRC32C.
 */
const NATIVE_RANGE_MIN = 1024;

/**
 * The checksums of `crc`'s ranges of `frame` (copied at RESERVED): the kernel's, from scratch at
 * `at` (a multiple of 4), but for ranges of {@link NATIVE_RANGE_MIN} bytes or more.
 */
function checksums(crc: RangeChecksums, at: number, frame: Uint8Array): void {
  const { starts, ends } = crc;
  const count = crc.lastStart >= 0 ? crc.count + 1 : crc.count;
  const desc = at >> 2;
  const native = crc.id === 0 || NATIVE_CRC32C;
  let long = 0;
  for (let i = 0; i < crc.count; i++) {
    if (native && ends[i]! - starts[i]! >= NATIVE_RANGE_MIN) {
      // An empty range for the kernel; the native checksum replaces its result below.
      u32[desc + 2 * i] = RESERVED;
      u32[desc + 2 * i + 1] = RESERVED;
      long++;
      continue;
    }
    u32[desc + 2 * i] = RESERVED + starts[i]!;
    u32[desc + 2 * i + 1] = RESERVED + ends[i]!;
  }
  // A long trailer goes native too (the 10,000-value branch's is 917 KB: 0.2 ms in the kernel),
  // from the kernel's copy, which holds the root an encoder's frame does not have yet.
  const nativeLast = native && crc.lastEnd - crc.lastStart >= NATIVE_RANGE_MIN;
  if (count > crc.count) {
    u32[desc + 2 * crc.count] = nativeLast ? RESERVED : RESERVED + crc.lastStart;
    u32[desc + 2 * crc.count + 1] = nativeLast ? RESERVED : RESERVED + crc.lastEnd;
  }
  const outAt = at + count * 8;
  // CRC-32 is the register from all ones, inverted at the end; the reference's CRC32C is the raw register.
  const ieee = crc.id === 0 ? -1 : 0;
  kernel!.crcs(at, count, outAt, crc.id, ieee, ieee);
  // Copied word by word: a view to copy from costs more than a small frame's few words.
  const out = crc.out;
  const from = outAt >> 2;
  for (let i = 0; i < count; i++) out[i] = u32[from + i]!;
  if (long > 0) {
    for (let i = 0; i < crc.count; i++) {
      if (ends[i]! - starts[i]! >= NATIVE_RANGE_MIN) out[i] = recordChecksum(crc.id, frame.subarray(starts[i]!, ends[i]!));
    }
  }
  if (count > crc.count && nativeLast) out[crc.count] = recordChecksum(crc.id, u8.subarray(RESERVED + crc.lastStart, RESERVED + crc.lastEnd));
  crc.done = true;
}

/**
 * {@link RangeChecksums} alone, in one call to the kernel (internal: tests compare it with the
 * native and zlib paths at every length and alignment). False, having written nothing, without
 * a kernel.
 */
export function batchChecksums(data: Uint8Array, crc: RangeChecksums): boolean {
  if (kernel === undefined) return false;
  const at = (RESERVED + data.length + 15) & ~15;
  if (!ensure(at + checksumBytes(crc.count))) return false;
  u8.set(data, RESERVED);
  checksums(crc, at, data);
  return true;
}

loadBatchKernel();
