/**
 * Merkle roots through the four-lane WebAssembly SIMD BLAKE3 of wasm/blake3x4.wat: every leaf
 * of a frame and every node of every level in two calls, instead of one JS compression run
 * per record and per pair.
 *
 * Why: a frame of n records hashes n leaves and n − 1 nodes, each a few blocks; in JS each
 * block is one compression (~170 ns), in the kernel four blocks share one. The frame is
 * copied into the module's memory once; leaves are grouped by block count so the four lanes
 * of a group mostly finish together (a lane that finishes early is masked, so any mix is
 * still correct). A leaf longer than one BLAKE3 chunk (1024 bytes, rare: a big manifest
 * page) is hashed on the JS/hash-wasm path straight into the level.
 *
 * When the runtime cannot validate the module (no SIMD), {@link batchMerkle} answers
 * undefined and callers keep the JS path; both give the same digests (tests compare).
 */
import { countReserved } from './alloc-meter.ts';
import { BLAKE3X4_WASM_BASE64 } from './blake3x4-wasm.ts';

interface Kernel {
  readonly memory: WebAssembly.Memory;
  readonly leaves: (desc: number, groups: number) => void;
  readonly merkle: (level: number, count: number) => void;
}

/** Bytes [0, RESERVED) of the module's memory are its own (zero block, padding, spare output). */
const RESERVED = 1024;
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

let compiled: WebAssembly.Module | undefined;
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
  if (typeof WebAssembly !== 'object' || !WebAssembly.validate(bytes)) return false;
  try {
    compiled = new WebAssembly.Module(bytes);
    instantiate();
  } catch {
    compiled = undefined;
    kernel = undefined;
  }
  return kernel !== undefined;
}

function instantiate(): void {
  const exports = new WebAssembly.Instance(compiled!).exports as unknown as Kernel;
  kernel = exports;
  views();
}

function views(): void {
  u8 = new Uint8Array(kernel!.memory.buffer);
  u32 = new Uint32Array(kernel!.memory.buffer);
}

/** Grows the module's memory to at least `bytes`; false if it cannot. */
function ensure(bytes: number): boolean {
  const have = kernel!.memory.buffer.byteLength;
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

/**
 * The Merkle root over the records `frame[starts[r], ends[r])`, leaves in `order`, or
 * undefined without a kernel (or when its memory cannot hold the frame). The root is a view
 * of the module's memory, valid until the next call: copy or compare it at once. `bigLeaf`
 * hashes a leaf longer than one chunk into `out[at, at + 32)`.
 */
export function batchMerkle(
  frame: Uint8Array,
  starts: ArrayLike<number>,
  ends: ArrayLike<number>,
  order: ArrayLike<number>,
  bigLeaf: (data: Uint8Array, start: number, end: number, out: Uint8Array, at: number) => void,
): Uint8Array | undefined {
  if (kernel === undefined) return undefined;
  const count = order.length;
  const levelAt = (RESERVED + frame.length + 15) & ~15;
  const descAt = levelAt + count * 32 + LEVEL_SLACK;
  // Each of the 16 buckets is padded to whole groups of four: at most 3 spare descriptors each.
  if (!ensure(descAt + (count + 48) * 12)) return undefined;
  u8.set(frame, RESERVED);
  bucketCount.fill(0);
  for (let i = 0; i < count; i++) {
    const r = order[i]!;
    const len = ends[r]! - starts[r]!;
    if (len <= LEAF_MAX) bucketCount[len === 0 ? 1 : (len + 63) >> 6]!++;
  }
  let cursor = descAt >> 2;
  for (let b = 1; b <= 16; b++) {
    bucketAt[b] = cursor;
    const padded = (bucketCount[b]! + 3) & ~3;
    for (let k = bucketCount[b]!; k < padded; k++) {
      const d = cursor + k * 3;
      u32[d] = 0;
      u32[d + 1] = 0;
      u32[d + 2] = SPARE_OUT;
    }
    cursor += padded * 3;
  }
  const groups = (cursor - (descAt >> 2)) / 12;
  for (let i = 0; i < count; i++) {
    const r = order[i]!;
    const start = starts[r]!;
    const len = ends[r]! - start;
    if (len > LEAF_MAX) {
      bigLeaf(frame, start, start + len, u8, levelAt + i * 32);
      continue;
    }
    const b = len === 0 ? 1 : (len + 63) >> 6;
    const d = bucketAt[b]!;
    u32[d] = RESERVED + start;
    u32[d + 1] = len;
    u32[d + 2] = levelAt + i * 32;
    bucketAt[b] = d + 3;
  }
  const k = kernel;
  if (groups > 0) k.leaves(descAt, groups);
  if (count > 1) k.merkle(levelAt, count);
  const root = u8.subarray(levelAt, levelAt + 32);
  if (k.memory.buffer.byteLength > RETAIN_MAX) {
    // Hand back a copy and start over with a small memory: one huge frame must not pin its size.
    const copy = root.slice();
    instantiate();
    return copy;
  }
  return root;
}

loadBatchKernel();
