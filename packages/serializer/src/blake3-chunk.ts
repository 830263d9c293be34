/**
 * BLAKE3-256 of an input that fits one chunk (≤ 1024 bytes), in plain JS, reading from
 * any offset of a byte array and writing the digest into a caller's buffer.
 *
 * Why it exists: a frame hashes tens of thousands of tiny inputs (Merkle pairs, 64 bytes;
 * small values; fingerprint inputs, 32 bytes). Through hash-wasm each call pays ~250 ns of
 * wrapper overhead and three short-lived typed arrays; one compression here costs less
 * than that and allocates nothing. Larger inputs stay on WebAssembly, which compresses a
 * block faster. Tests check this path against @noble/hashes on random inputs.
 *
 * Reference: the BLAKE3 paper and its reference implementation (one chunk, chunk counter
 * 0, flags CHUNK_START on the first block, CHUNK_END | ROOT on the last; keyed hashing
 * starts from the key's words instead of the IV and adds KEYED_HASH to every block).
 */

/** Largest input this path hashes: one BLAKE3 chunk. */
export const CHUNK_LEN = 1024;

const IV = Int32Array.of(0x6a09e667, 0xbb67ae85 | 0, 0x3c6ef372, 0xa54ff53a | 0, 0x510e527f, 0x9b05688c | 0, 0x1f83d9ab, 0x5be0cd19);
const CHUNK_START = 1;
const CHUNK_END = 2;
const ROOT = 8;
const KEYED_HASH = 16;

// One block's message words and the chaining value; module scratch (hashing is synchronous).
const m = new Int32Array(16);
const cv = new Int32Array(8);

/**
 * BLAKE3 of `data[start, end)` (at most {@link CHUNK_LEN} bytes) into `out[at, at + outLen)`
 * (`outLen` ≤ 32: a shorter BLAKE3 output is a prefix of the longer one), keyed with a
 * 32-byte `key` when one is given.
 */
export function blake3Chunk(data: Uint8Array, start: number, end: number, out: Uint8Array, at: number, key?: Uint8Array, outLen = 32): void {
  const mode = key === undefined ? 0 : KEYED_HASH;
  if (key === undefined) {
    // Eight stores rather than a typed-array copy: this runs once per leaf, tens of thousands of times a frame.
    cv[0] = IV[0]!;
    cv[1] = IV[1]!;
    cv[2] = IV[2]!;
    cv[3] = IV[3]!;
    cv[4] = IV[4]!;
    cv[5] = IV[5]!;
    cv[6] = IV[6]!;
    cv[7] = IV[7]!;
  } else for (let i = 0; i < 8; i++) cv[i] = key[4 * i]! | (key[4 * i + 1]! << 8) | (key[4 * i + 2]! << 16) | (key[4 * i + 3]! << 24);
  let flags = CHUNK_START | mode;
  let pos = start;
  while (end - pos > 64) {
    loadBlock(data, pos, 64);
    compress(64, flags);
    flags = mode;
    pos += 64;
  }
  loadBlock(data, pos, end - pos);
  compress(end - pos, flags | CHUNK_END | ROOT);
  if (outLen === 32) {
    for (let i = 0; i < 8; i++) {
      const word = cv[i]!;
      const o = at + 4 * i;
      out[o] = word;
      out[o + 1] = word >>> 8;
      out[o + 2] = word >>> 16;
      out[o + 3] = word >>> 24;
    }
  } else for (let i = 0; i < outLen; i++) out[at + i] = cv[i >> 2]! >>> ((i & 3) * 8);
}

/**
 * Merkle nodes in place, on a little-endian level of 32-byte digests seen as words: for each
 * i < `pairs`, BLAKE3 of the 64 bytes at words [16i, 16i + 16) into words [8i, 8i + 8). A node
 * is one block: its message words are loaded and its digest stored as words, with none of the
 * byte packing a general call pays (a frame of n records combines n − 1 nodes). Node i is
 * written at or before where pair i was read, and after reading it.
 */
export function hashPairWords(words: Int32Array, pairs: number): void {
  for (let i = 0; i < pairs; i++) {
    const from = i * 16;
    for (let w = 0; w < 16; w++) m[w] = words[from + w]!;
    cv[0] = IV[0]!;
    cv[1] = IV[1]!;
    cv[2] = IV[2]!;
    cv[3] = IV[3]!;
    cv[4] = IV[4]!;
    cv[5] = IV[5]!;
    cv[6] = IV[6]!;
    cv[7] = IV[7]!;
    compress(64, CHUNK_START | CHUNK_END | ROOT);
    const to = i * 8;
    for (let w = 0; w < 8; w++) words[to + w] = cv[w]!;
  }
}

// A little-endian view of the last array hashed from: leaves of one frame all come from the
// frame, and a word read through it is one load instead of four byte loads and shifts.
let viewData: Uint8Array | undefined;
let view: DataView | undefined;

/** Little-endian message words of one block, zero-padded past `len`. */
function loadBlock(data: Uint8Array, at: number, len: number): void {
  if (len === 64 && data.length >= 1024) {
    if (data !== viewData) {
      viewData = data;
      view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    }
    const v = view!;
    for (let w = 0; w < 16; w++) m[w] = v.getInt32(at + 4 * w, true);
    return;
  }
  let i = 0;
  for (; i + 4 <= len; i += 4) m[i >> 2] = data[at + i]! | (data[at + i + 1]! << 8) | (data[at + i + 2]! << 16) | (data[at + i + 3]! << 24);
  if (i === 64) return;
  for (let w = i >> 2; w < 16; w++) m[w] = 0;
  for (; i < len; i++) m[i >> 2]! |= data[at + i]! << ((i & 3) * 8);
}

/** The compression function on `cv` and `m`, keeping the first 8 output words in `cv`. */
function compress(blockLen: number, flags: number): void {
  // State and message live in locals so V8 keeps them in registers.
  let m0 = m[0]!,
    m1 = m[1]!,
    m2 = m[2]!,
    m3 = m[3]!,
    m4 = m[4]!,
    m5 = m[5]!,
    m6 = m[6]!,
    m7 = m[7]!;
  let m8 = m[8]!,
    m9 = m[9]!,
    m10 = m[10]!,
    m11 = m[11]!,
    m12 = m[12]!,
    m13 = m[13]!,
    m14 = m[14]!,
    m15 = m[15]!;
  let v0 = cv[0]!,
    v1 = cv[1]!,
    v2 = cv[2]!,
    v3 = cv[3]!,
    v4 = cv[4]!,
    v5 = cv[5]!,
    v6 = cv[6]!,
    v7 = cv[7]!;
  let v8 = IV[0]!,
    v9 = IV[1]!,
    v10 = IV[2]!,
    v11 = IV[3]!,
    v12 = 0,
    v13 = 0,
    v14 = blockLen,
    v15 = flags;
  for (let round = 0; round < 7; round++) {
    // G on the four columns, then on the four diagonals; each G mixes in two message words.
    v0 = (v0 + v4 + m0) | 0;
    v12 ^= v0;
    v12 = (v12 >>> 16) | (v12 << 16);
    v8 = (v8 + v12) | 0;
    v4 ^= v8;
    v4 = (v4 >>> 12) | (v4 << 20);
    v0 = (v0 + v4 + m1) | 0;
    v12 ^= v0;
    v12 = (v12 >>> 8) | (v12 << 24);
    v8 = (v8 + v12) | 0;
    v4 ^= v8;
    v4 = (v4 >>> 7) | (v4 << 25);
    v1 = (v1 + v5 + m2) | 0;
    v13 ^= v1;
    v13 = (v13 >>> 16) | (v13 << 16);
    v9 = (v9 + v13) | 0;
    v5 ^= v9;
    v5 = (v5 >>> 12) | (v5 << 20);
    v1 = (v1 + v5 + m3) | 0;
    v13 ^= v1;
    v13 = (v13 >>> 8) | (v13 << 24);
    v9 = (v9 + v13) | 0;
    v5 ^= v9;
    v5 = (v5 >>> 7) | (v5 << 25);
    v2 = (v2 + v6 + m4) | 0;
    v14 ^= v2;
    v14 = (v14 >>> 16) | (v14 << 16);
    v10 = (v10 + v14) | 0;
    v6 ^= v10;
    v6 = (v6 >>> 12) | (v6 << 20);
    v2 = (v2 + v6 + m5) | 0;
    v14 ^= v2;
    v14 = (v14 >>> 8) | (v14 << 24);
    v10 = (v10 + v14) | 0;
    v6 ^= v10;
    v6 = (v6 >>> 7) | (v6 << 25);
    v3 = (v3 + v7 + m6) | 0;
    v15 ^= v3;
    v15 = (v15 >>> 16) | (v15 << 16);
    v11 = (v11 + v15) | 0;
    v7 ^= v11;
    v7 = (v7 >>> 12) | (v7 << 20);
    v3 = (v3 + v7 + m7) | 0;
    v15 ^= v3;
    v15 = (v15 >>> 8) | (v15 << 24);
    v11 = (v11 + v15) | 0;
    v7 ^= v11;
    v7 = (v7 >>> 7) | (v7 << 25);
    v0 = (v0 + v5 + m8) | 0;
    v15 ^= v0;
    v15 = (v15 >>> 16) | (v15 << 16);
    v10 = (v10 + v15) | 0;
    v5 ^= v10;
    v5 = (v5 >>> 12) | (v5 << 20);
    v0 = (v0 + v5 + m9) | 0;
    v15 ^= v0;
    v15 = (v15 >>> 8) | (v15 << 24);
    v10 = (v10 + v15) | 0;
    v5 ^= v10;
    v5 = (v5 >>> 7) | (v5 << 25);
    v1 = (v1 + v6 + m10) | 0;
    v12 ^= v1;
    v12 = (v12 >>> 16) | (v12 << 16);
    v11 = (v11 + v12) | 0;
    v6 ^= v11;
    v6 = (v6 >>> 12) | (v6 << 20);
    v1 = (v1 + v6 + m11) | 0;
    v12 ^= v1;
    v12 = (v12 >>> 8) | (v12 << 24);
    v11 = (v11 + v12) | 0;
    v6 ^= v11;
    v6 = (v6 >>> 7) | (v6 << 25);
    v2 = (v2 + v7 + m12) | 0;
    v13 ^= v2;
    v13 = (v13 >>> 16) | (v13 << 16);
    v8 = (v8 + v13) | 0;
    v7 ^= v8;
    v7 = (v7 >>> 12) | (v7 << 20);
    v2 = (v2 + v7 + m13) | 0;
    v13 ^= v2;
    v13 = (v13 >>> 8) | (v13 << 24);
    v8 = (v8 + v13) | 0;
    v7 ^= v8;
    v7 = (v7 >>> 7) | (v7 << 25);
    v3 = (v3 + v4 + m14) | 0;
    v14 ^= v3;
    v14 = (v14 >>> 16) | (v14 << 16);
    v9 = (v9 + v14) | 0;
    v4 ^= v9;
    v4 = (v4 >>> 12) | (v4 << 20);
    v3 = (v3 + v4 + m15) | 0;
    v14 ^= v3;
    v14 = (v14 >>> 8) | (v14 << 24);
    v9 = (v9 + v14) | 0;
    v4 ^= v9;
    v4 = (v4 >>> 7) | (v4 << 25);
    // The message permutation (2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8).
    const t0 = m0,
      t1 = m1,
      t2 = m2,
      t3 = m3,
      t4 = m4,
      t5 = m5,
      t6 = m6,
      t7 = m7;
    const t8 = m8,
      t9 = m9,
      t10 = m10,
      t11 = m11,
      t12 = m12,
      t13 = m13,
      t14 = m14,
      t15 = m15;
    m0 = t2;
    m1 = t6;
    m2 = t3;
    m3 = t10;
    m4 = t7;
    m5 = t0;
    m6 = t4;
    m7 = t13;
    m8 = t1;
    m9 = t11;
    m10 = t12;
    m11 = t5;
    m12 = t9;
    m13 = t14;
    m14 = t15;
    m15 = t8;
  }
  cv[0] = v0 ^ v8;
  cv[1] = v1 ^ v9;
  cv[2] = v2 ^ v10;
  cv[3] = v3 ^ v11;
  cv[4] = v4 ^ v12;
  cv[5] = v5 ^ v13;
  cv[6] = v6 ^ v14;
  cv[7] = v7 ^ v15;
}
