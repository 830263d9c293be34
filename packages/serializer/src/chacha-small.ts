/**
 * ChaCha20-Poly1305 (RFC 8439) for small messages, in plain JS that allocates nothing but
 * its result.
 *
 * Why it exists: with AEAD on, every value travels in its own sealed chunk, so a frame of
 * small values seals thousands of 8–100-byte plaintexts. node:crypto has no one-shot AEAD
 * call: each seal or open builds a cipher object (createCipheriv, setAAD, update, final,
 * getAuthTag), ~7–13 µs and several short-lived buffers per value, plus the garbage they
 * leave. For a message of a few blocks the whole construction is three or four ChaCha
 * blocks and a handful of Poly1305 blocks, which costs less here than that object.
 * Larger messages stay on node:crypto, which runs the stream far faster per byte.
 *
 * The bytes are RFC 8439's: the Poly1305 key is the first 32 bytes of block 0, the message is
 * XORed with blocks 1, 2, …, and the tag is Poly1305 over aad ‖ pad16 ‖ ciphertext ‖ pad16 ‖
 * LE64(|aad|) ‖ LE64(|ciphertext|). Poly1305 uses 13-bit limbs (the radix of poly1305-donna's
 * 16-bit variant), so every product stays exact in a double. Tests compare this path with
 * node:crypto (OpenSSL) and @noble/ciphers on random inputs of every small length.
 */

/** Largest plaintext the JS path takes: opening 512 bytes, node:crypto was already faster (bench/aead.ts; sealing crosses over later). */
export const SMALL_AEAD_MAX = 256;

const SIGMA0 = 0x61707865,
  SIGMA1 = 0x3320646e,
  SIGMA2 = 0x79622d32,
  SIGMA3 = 0x6b206574;

// Module scratch: sealing is synchronous and nothing keeps these past one call.
const key32 = new Uint32Array(8);
const nonce32 = new Uint32Array(3);
const block = new Uint8Array(64);
const r = new Uint16Array(10);
const h = new Uint16Array(10);
const pad = new Uint16Array(8);
const g = new Uint16Array(10);
const padded = new Uint8Array(16);
const tag = new Uint8Array(16);
const words = new Uint16Array(8);

const word = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

/** One ChaCha20 block for (key32, counter, nonce32) into `block`, little-endian. */
function chachaBlock(counter: number): void {
  const k0 = key32[0]!,
    k1 = key32[1]!,
    k2 = key32[2]!,
    k3 = key32[3]!,
    k4 = key32[4]!,
    k5 = key32[5]!,
    k6 = key32[6]!,
    k7 = key32[7]!;
  const n0 = nonce32[0]!,
    n1 = nonce32[1]!,
    n2 = nonce32[2]!;
  let x0 = SIGMA0,
    x1 = SIGMA1,
    x2 = SIGMA2,
    x3 = SIGMA3;
  let x4 = k0,
    x5 = k1,
    x6 = k2,
    x7 = k3,
    x8 = k4,
    x9 = k5,
    x10 = k6,
    x11 = k7;
  let x12 = counter,
    x13 = n0,
    x14 = n1,
    x15 = n2;
  for (let i = 0; i < 10; i++) {
    // Columns.
    x0 = (x0 + x4) | 0;
    x12 ^= x0;
    x12 = (x12 << 16) | (x12 >>> 16);
    x8 = (x8 + x12) | 0;
    x4 ^= x8;
    x4 = (x4 << 12) | (x4 >>> 20);
    x0 = (x0 + x4) | 0;
    x12 ^= x0;
    x12 = (x12 << 8) | (x12 >>> 24);
    x8 = (x8 + x12) | 0;
    x4 ^= x8;
    x4 = (x4 << 7) | (x4 >>> 25);
    x1 = (x1 + x5) | 0;
    x13 ^= x1;
    x13 = (x13 << 16) | (x13 >>> 16);
    x9 = (x9 + x13) | 0;
    x5 ^= x9;
    x5 = (x5 << 12) | (x5 >>> 20);
    x1 = (x1 + x5) | 0;
    x13 ^= x1;
    x13 = (x13 << 8) | (x13 >>> 24);
    x9 = (x9 + x13) | 0;
    x5 ^= x9;
    x5 = (x5 << 7) | (x5 >>> 25);
    x2 = (x2 + x6) | 0;
    x14 ^= x2;
    x14 = (x14 << 16) | (x14 >>> 16);
    x10 = (x10 + x14) | 0;
    x6 ^= x10;
    x6 = (x6 << 12) | (x6 >>> 20);
    x2 = (x2 + x6) | 0;
    x14 ^= x2;
    x14 = (x14 << 8) | (x14 >>> 24);
    x10 = (x10 + x14) | 0;
    x6 ^= x10;
    x6 = (x6 << 7) | (x6 >>> 25);
    x3 = (x3 + x7) | 0;
    x15 ^= x3;
    x15 = (x15 << 16) | (x15 >>> 16);
    x11 = (x11 + x15) | 0;
    x7 ^= x11;
    x7 = (x7 << 12) | (x7 >>> 20);
    x3 = (x3 + x7) | 0;
    x15 ^= x3;
    x15 = (x15 << 8) | (x15 >>> 24);
    x11 = (x11 + x15) | 0;
    x7 ^= x11;
    x7 = (x7 << 7) | (x7 >>> 25);
    // Diagonals.
    x0 = (x0 + x5) | 0;
    x15 ^= x0;
    x15 = (x15 << 16) | (x15 >>> 16);
    x10 = (x10 + x15) | 0;
    x5 ^= x10;
    x5 = (x5 << 12) | (x5 >>> 20);
    x0 = (x0 + x5) | 0;
    x15 ^= x0;
    x15 = (x15 << 8) | (x15 >>> 24);
    x10 = (x10 + x15) | 0;
    x5 ^= x10;
    x5 = (x5 << 7) | (x5 >>> 25);
    x1 = (x1 + x6) | 0;
    x12 ^= x1;
    x12 = (x12 << 16) | (x12 >>> 16);
    x11 = (x11 + x12) | 0;
    x6 ^= x11;
    x6 = (x6 << 12) | (x6 >>> 20);
    x1 = (x1 + x6) | 0;
    x12 ^= x1;
    x12 = (x12 << 8) | (x12 >>> 24);
    x11 = (x11 + x12) | 0;
    x6 ^= x11;
    x6 = (x6 << 7) | (x6 >>> 25);
    x2 = (x2 + x7) | 0;
    x13 ^= x2;
    x13 = (x13 << 16) | (x13 >>> 16);
    x8 = (x8 + x13) | 0;
    x7 ^= x8;
    x7 = (x7 << 12) | (x7 >>> 20);
    x2 = (x2 + x7) | 0;
    x13 ^= x2;
    x13 = (x13 << 8) | (x13 >>> 24);
    x8 = (x8 + x13) | 0;
    x7 ^= x8;
    x7 = (x7 << 7) | (x7 >>> 25);
    x3 = (x3 + x4) | 0;
    x14 ^= x3;
    x14 = (x14 << 16) | (x14 >>> 16);
    x9 = (x9 + x14) | 0;
    x4 ^= x9;
    x4 = (x4 << 12) | (x4 >>> 20);
    x3 = (x3 + x4) | 0;
    x14 ^= x3;
    x14 = (x14 << 8) | (x14 >>> 24);
    x9 = (x9 + x14) | 0;
    x4 ^= x9;
    x4 = (x4 << 7) | (x4 >>> 25);
  }
  put(0, x0 + SIGMA0);
  put(1, x1 + SIGMA1);
  put(2, x2 + SIGMA2);
  put(3, x3 + SIGMA3);
  put(4, x4 + k0);
  put(5, x5 + k1);
  put(6, x6 + k2);
  put(7, x7 + k3);
  put(8, x8 + k4);
  put(9, x9 + k5);
  put(10, x10 + k6);
  put(11, x11 + k7);
  put(12, x12 + counter);
  put(13, x13 + n0);
  put(14, x14 + n1);
  put(15, x15 + n2);
}

function put(i: number, value: number): void {
  const at = 4 * i;
  block[at] = value;
  block[at + 1] = value >>> 8;
  block[at + 2] = value >>> 16;
  block[at + 3] = value >>> 24;
}

/** XORs `input[0, len)` with the key stream from block 1 on into `out[at, at + len)`. */
function xorStream(input: Uint8Array, out: Uint8Array, at: number): void {
  const len = input.length;
  for (let pos = 0, counter = 1; pos < len; pos += 64, counter++) {
    chachaBlock(counter);
    const n = Math.min(64, len - pos);
    for (let i = 0; i < n; i++) out[at + pos + i] = input[pos + i]! ^ block[i]!;
  }
}

const u16 = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8);

/** Poly1305 key (r clamped, s) from the first 32 bytes of `block`; h = 0. */
function polyInit(): void {
  const t0 = u16(block, 0),
    t1 = u16(block, 2),
    t2 = u16(block, 4),
    t3 = u16(block, 6);
  const t4 = u16(block, 8),
    t5 = u16(block, 10),
    t6 = u16(block, 12),
    t7 = u16(block, 14);
  // r as ten 13-bit limbs, with RFC 8439's clamp folded into the masks.
  r[0] = t0 & 0x1fff;
  r[1] = ((t0 >>> 13) | (t1 << 3)) & 0x1fff;
  r[2] = ((t1 >>> 10) | (t2 << 6)) & 0x1f03;
  r[3] = ((t2 >>> 7) | (t3 << 9)) & 0x1fff;
  r[4] = ((t3 >>> 4) | (t4 << 12)) & 0x00ff;
  r[5] = (t4 >>> 1) & 0x1ffe;
  r[6] = ((t4 >>> 14) | (t5 << 2)) & 0x1fff;
  r[7] = ((t5 >>> 11) | (t6 << 5)) & 0x1f81;
  r[8] = ((t6 >>> 8) | (t7 << 8)) & 0x1fff;
  r[9] = (t7 >>> 5) & 0x007f;
  for (let i = 0; i < 8; i++) pad[i] = u16(block, 16 + 2 * i);
  h.fill(0);
}

/** h = (h + block with the 2^128 bit) · r mod 2^130 − 5, for the 16 bytes of `m` at `at`. */
function polyBlock(m: Uint8Array, at: number): void {
  const r0 = r[0]!,
    r1 = r[1]!,
    r2 = r[2]!,
    r3 = r[3]!,
    r4 = r[4]!,
    r5 = r[5]!,
    r6 = r[6]!,
    r7 = r[7]!,
    r8 = r[8]!,
    r9 = r[9]!;
  const t0 = u16(m, at),
    t1 = u16(m, at + 2),
    t2 = u16(m, at + 4),
    t3 = u16(m, at + 6);
  const t4 = u16(m, at + 8),
    t5 = u16(m, at + 10),
    t6 = u16(m, at + 12),
    t7 = u16(m, at + 14);
  const h0 = h[0]! + (t0 & 0x1fff);
  const h1 = h[1]! + (((t0 >>> 13) | (t1 << 3)) & 0x1fff);
  const h2 = h[2]! + (((t1 >>> 10) | (t2 << 6)) & 0x1fff);
  const h3 = h[3]! + (((t2 >>> 7) | (t3 << 9)) & 0x1fff);
  const h4 = h[4]! + (((t3 >>> 4) | (t4 << 12)) & 0x1fff);
  const h5 = h[5]! + ((t4 >>> 1) & 0x1fff);
  const h6 = h[6]! + (((t4 >>> 14) | (t5 << 2)) & 0x1fff);
  const h7 = h[7]! + (((t5 >>> 11) | (t6 << 5)) & 0x1fff);
  const h8 = h[8]! + (((t6 >>> 8) | (t7 << 8)) & 0x1fff);
  const h9 = h[9]! + ((t7 >>> 5) | (1 << 11));
  // Schoolbook product; limbs that wrap past 2^130 come back times 5. Each row is split in two
  // halves with a carry between, so no partial sum leaves the exact range of a double's integer.
  const s1 = 5 * r1,
    s2 = 5 * r2,
    s3 = 5 * r3,
    s4 = 5 * r4,
    s5 = 5 * r5,
    s6 = 5 * r6,
    s7 = 5 * r7,
    s8 = 5 * r8,
    s9 = 5 * r9;
  let c = 0;
  let d0 = c + h0 * r0 + h1 * s9 + h2 * s8 + h3 * s7 + h4 * s6;
  c = d0 >>> 13;
  d0 &= 0x1fff;
  d0 += h5 * s5 + h6 * s4 + h7 * s3 + h8 * s2 + h9 * s1;
  c += d0 >>> 13;
  d0 &= 0x1fff;
  let d1 = c + h0 * r1 + h1 * r0 + h2 * s9 + h3 * s8 + h4 * s7;
  c = d1 >>> 13;
  d1 &= 0x1fff;
  d1 += h5 * s6 + h6 * s5 + h7 * s4 + h8 * s3 + h9 * s2;
  c += d1 >>> 13;
  d1 &= 0x1fff;
  let d2 = c + h0 * r2 + h1 * r1 + h2 * r0 + h3 * s9 + h4 * s8;
  c = d2 >>> 13;
  d2 &= 0x1fff;
  d2 += h5 * s7 + h6 * s6 + h7 * s5 + h8 * s4 + h9 * s3;
  c += d2 >>> 13;
  d2 &= 0x1fff;
  let d3 = c + h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s9;
  c = d3 >>> 13;
  d3 &= 0x1fff;
  d3 += h5 * s8 + h6 * s7 + h7 * s6 + h8 * s5 + h9 * s4;
  c += d3 >>> 13;
  d3 &= 0x1fff;
  let d4 = c + h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0;
  c = d4 >>> 13;
  d4 &= 0x1fff;
  d4 += h5 * s9 + h6 * s8 + h7 * s7 + h8 * s6 + h9 * s5;
  c += d4 >>> 13;
  d4 &= 0x1fff;
  let d5 = c + h0 * r5 + h1 * r4 + h2 * r3 + h3 * r2 + h4 * r1;
  c = d5 >>> 13;
  d5 &= 0x1fff;
  d5 += h5 * r0 + h6 * s9 + h7 * s8 + h8 * s7 + h9 * s6;
  c += d5 >>> 13;
  d5 &= 0x1fff;
  let d6 = c + h0 * r6 + h1 * r5 + h2 * r4 + h3 * r3 + h4 * r2;
  c = d6 >>> 13;
  d6 &= 0x1fff;
  d6 += h5 * r1 + h6 * r0 + h7 * s9 + h8 * s8 + h9 * s7;
  c += d6 >>> 13;
  d6 &= 0x1fff;
  let d7 = c + h0 * r7 + h1 * r6 + h2 * r5 + h3 * r4 + h4 * r3;
  c = d7 >>> 13;
  d7 &= 0x1fff;
  d7 += h5 * r2 + h6 * r1 + h7 * r0 + h8 * s9 + h9 * s8;
  c += d7 >>> 13;
  d7 &= 0x1fff;
  let d8 = c + h0 * r8 + h1 * r7 + h2 * r6 + h3 * r5 + h4 * r4;
  c = d8 >>> 13;
  d8 &= 0x1fff;
  d8 += h5 * r3 + h6 * r2 + h7 * r1 + h8 * r0 + h9 * s9;
  c += d8 >>> 13;
  d8 &= 0x1fff;
  let d9 = c + h0 * r9 + h1 * r8 + h2 * r7 + h3 * r6 + h4 * r5;
  c = d9 >>> 13;
  d9 &= 0x1fff;
  d9 += h5 * r4 + h6 * r3 + h7 * r2 + h8 * r1 + h9 * r0;
  c += d9 >>> 13;
  d9 &= 0x1fff;
  c = ((c << 2) + c) | 0;
  c = (c + d0) | 0;
  d0 = c & 0x1fff;
  c >>>= 13;
  d1 += c;
  h[0] = d0;
  h[1] = d1;
  h[2] = d2;
  h[3] = d3;
  h[4] = d4;
  h[5] = d5;
  h[6] = d6;
  h[7] = d7;
  h[8] = d8;
  h[9] = d9;
}

/** Feeds `data` as 16-byte blocks, the last one zero-padded (RFC 8439's pad16). */
function polyPadded(data: Uint8Array, start: number, end: number): void {
  let at = start;
  for (; at + 16 <= end; at += 16) polyBlock(data, at);
  if (at < end) {
    padded.fill(0);
    padded.set(data.subarray(at, end));
    polyBlock(padded, 0);
  }
}

/** The lengths block, then h + s mod 2^128 into `tag`. */
function polyFinish(aadLength: number, dataLength: number): void {
  padded.fill(0);
  // Lengths below 2^32 here (a chunk is far smaller), so the high words stay zero.
  padded[0] = aadLength;
  padded[1] = aadLength >>> 8;
  padded[2] = aadLength >>> 16;
  padded[3] = aadLength >>> 24;
  padded[8] = dataLength;
  padded[9] = dataLength >>> 8;
  padded[10] = dataLength >>> 16;
  padded[11] = dataLength >>> 24;
  polyBlock(padded, 0);
  // Full carry, then subtract p = 2^130 − 5 if h ≥ p (selected by mask, not by branch).
  let c = h[1]! >>> 13;
  h[1]! &= 0x1fff;
  for (let i = 2; i < 10; i++) {
    h[i]! += c;
    c = h[i]! >>> 13;
    h[i]! &= 0x1fff;
  }
  h[0]! += c * 5;
  c = h[0]! >>> 13;
  h[0]! &= 0x1fff;
  h[1]! += c;
  c = h[1]! >>> 13;
  h[1]! &= 0x1fff;
  h[2]! += c;
  g[0] = h[0]! + 5;
  c = g[0]! >>> 13;
  g[0]! &= 0x1fff;
  for (let i = 1; i < 10; i++) {
    g[i] = h[i]! + c;
    c = g[i]! >>> 13;
    g[i]! &= 0x1fff;
  }
  g[9]! -= 1 << 13;
  let mask = (c ^ 1) - 1;
  for (let i = 0; i < 10; i++) g[i]! &= mask;
  mask = ~mask;
  for (let i = 0; i < 10; i++) h[i] = (h[i]! & mask) | g[i]!;
  // Back to eight 16-bit words, plus s.
  words[0] = h[0]! | (h[1]! << 13);
  words[1] = (h[1]! >>> 3) | (h[2]! << 10);
  words[2] = (h[2]! >>> 6) | (h[3]! << 7);
  words[3] = (h[3]! >>> 9) | (h[4]! << 4);
  words[4] = (h[4]! >>> 12) | (h[5]! << 1) | (h[6]! << 14);
  words[5] = (h[6]! >>> 2) | (h[7]! << 11);
  words[6] = (h[7]! >>> 5) | (h[8]! << 8);
  words[7] = (h[8]! >>> 8) | (h[9]! << 5);
  let f = 0;
  for (let i = 0; i < 8; i++) {
    f = words[i]! + pad[i]! + (f >>> 16);
    tag[2 * i] = f;
    tag[2 * i + 1] = f >>> 8;
  }
}

function setup(key: Uint8Array, nonce: Uint8Array): void {
  for (let i = 0; i < 8; i++) key32[i] = word(key, 4 * i);
  for (let i = 0; i < 3; i++) nonce32[i] = word(nonce, 4 * i);
  chachaBlock(0);
  polyInit();
}

/** RFC 8439 seal: ciphertext ‖ tag, for a 32-byte key and a 12-byte nonce. */
export function sealSmall(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const out = new Uint8Array(plaintext.length + 16);
  sealSmallInto(key, nonce, plaintext, aad, out, 0);
  return out;
}

/** {@link sealSmall} into `out[at, at + plaintext.length + 16)` (which must not overlap the inputs). */
export function sealSmallInto(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, out: Uint8Array, at: number): void {
  setup(key, nonce);
  xorStream(plaintext, out, at);
  polyPadded(aad, 0, aad.length);
  polyPadded(out, at, at + plaintext.length);
  polyFinish(aad.length, plaintext.length);
  out.set(tag, at + plaintext.length);
}

/**
 * RFC 8439 open of `sealed` (ciphertext ‖ 16-byte tag): the plaintext, or `undefined` when
 * the tag does not match (nothing is decrypted then).
 */
export function openSmall(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | undefined {
  const length = sealed.length - 16;
  setup(key, nonce);
  polyPadded(aad, 0, aad.length);
  polyPadded(sealed, 0, length);
  polyFinish(aad.length, length);
  // Every byte compared, whatever the first difference (no early exit on the tag).
  let diff = 0;
  for (let i = 0; i < 16; i++) diff |= tag[i]! ^ sealed[length + i]!;
  if (diff !== 0) return undefined;
  const out = new Uint8Array(length);
  xorStream(sealed.subarray(0, length), out, 0);
  return out;
}
