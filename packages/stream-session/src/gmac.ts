import { type Cipher, createCipheriv } from 'node:crypto';
import { TAG_BYTES, tag, verifyTag } from './crypto.ts';
import { type GhashKernel, INPUT_AT, TABLE_BYTES, ghashKernel } from './ghash-kernel.ts';

/**
 * Records whose authenticated bytes (header + payload) are at most this long are tagged here;
 * longer ones by `node:crypto`'s AES-GCM. A GCM cipher object costs ~7–10 µs to make whatever the
 * length (then ~0.2 µs per KiB on CLMUL); the WebAssembly GHASH ~3 ns per byte, the JavaScript
 * one (no WebAssembly) ~7: they cross near 2 KiB and 1 KiB on this machine (bench/gmac.ts). Inside
 * a running peer a GCM object costs more than on its own (the probe: 17 µs for the ~1 KiB
 * records of an invoke, against 5–6 µs here), so the bound leans to this side.
 */
export const WASM_GHASH_MAX_BYTES = 2048;
/** The same bound for the JavaScript GHASH (used where WebAssembly is missing). */
export const JS_GHASH_MAX_BYTES = 1024;

/** Gives a collected Gmac's table slot back to the shared kernel. */
const pages = new FinalizationRegistry<{ kernel: GhashKernel; table: number }>(({ kernel, table }) => kernel.release(table));

/** J0 blocks encrypted per refill: one `update` call covers the next 64 sequence numbers. */
const PADS = 64;

/**
 * GMAC — AES-256-GCM with an empty plaintext — for one session key, tag for tag the same as
 * `createCipheriv('aes-256-gcm', key, iv)` with the header and payload as AAD (crypto.ts), where
 * the IV is 4 zero bytes and the 64-bit sequence number.
 *
 * Why not one GCM object per record: making it (key schedule, GHASH key, JS option checks) is
 * most of a small record's tag. The tag is `GHASH_H(AAD ‖ pad ‖ lengths) ⊕ AES_K(J0)` with
 * `H = AES_K(0¹²⁸)` and `J0 = IV ‖ 0x00000001`; so per key this keeps H's multiplication tables
 * — in the shared WebAssembly kernel (ghash-kernel.ts) 32 × 16 entries of 16 bytes (8 KiB, one
 * per nibble position: a block is 32 lookups, and the tables stay in the L1 cache between
 * records, which measured faster inside a peer than 16 × 256 entries of 64 KiB), or, without
 * WebAssembly, 16 × 256 entries in JavaScript — and one AES-ECB object, which stays usable across
 * `update` calls and encrypts the J0 of 64 sequence numbers at a time. Long records (over {@link WASM_GHASH_MAX_BYTES}, or {@link JS_GHASH_MAX_BYTES}
 * in JavaScript) go to OpenSSL, which is faster there.
 */
export class Gmac {
  /**
   * Without the WebAssembly kernel: T[i][b] = (byte b at position i) · H, as four big-endian
   * 32-bit words, 16 × 256 × 4. With it, the key's nibble tables live in the kernel at `tableAt`.
   */
  private table: Int32Array | undefined;
  private readonly kernel: GhashKernel | undefined;
  private readonly tableAt: number = -1;
  /** Longest header + payload tagged here, not by OpenSSL. */
  private readonly maxBytes: number;
  private readonly ecb: Cipher;
  /** AES_K(J0) for sequence numbers padBase … padBase + PADS − 1 (padBase −1: none yet). */
  private pads: Buffer = Buffer.alloc(0);
  private padBase = -1;
  private readonly j0 = Buffer.alloc(16 * PADS);
  /** GHASH state between block runs. */
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  /** A zero-padded partial block (header and payload share the first block). */
  private readonly scratch = new Uint8Array(16);
  private readonly scratchView = new DataView(this.scratch.buffer);
  private readonly expected = Buffer.alloc(TAG_BYTES);
  /** The four words of X ⊕ block in the JavaScript GHASH. */
  private readonly words = new Int32Array(4);

  /**
   * `tables: false` keeps every tag on OpenSSL's AES-GCM (constant-time where the CPU has
   * carry-less multiply): no tables are made, and each record pays for a GCM object.
   */
  constructor(
    private readonly key: Buffer,
    options: { readonly tables?: boolean } = {},
  ) {
    this.ecb = createCipheriv('aes-256-ecb', key, null);
    this.ecb.setAutoPadding(false);
    const tables = options.tables ?? true;
    this.kernel = tables ? ghashKernel() : undefined;
    this.maxBytes = !tables ? -1 : this.kernel === undefined ? JS_GHASH_MAX_BYTES : WASM_GHASH_MAX_BYTES;
    // Without tables every record goes to OpenSSL (`maxBytes` −1): nothing to prepare.
    if (tables) {
      const h = this.ecb.update(Buffer.alloc(16));
      if (this.kernel !== undefined) {
        // The kernel's nibble tables, as bytes in GCM order, into the key's slot; no JavaScript tables.
        this.tableAt = this.kernel.allocate();
        const slot = new DataView(this.kernel.heap.buffer, this.tableAt, TABLE_BYTES);
        const words = windowTables(h, 4);
        for (let i = 0; i < words.length; i++) slot.setInt32(i * 4, words[i]!);
        pages.register(this, { kernel: this.kernel, table: this.tableAt }, this);
      } else this.table = windowTables(h, 8);
    }
    // The J0 blocks: 4 zero bytes, the sequence number (filled per refill), 0x00000001.
    for (let i = 0; i < PADS; i++) this.j0.writeUInt32BE(1, i * 16 + 12);
  }

  /** Writes the tag of `header ‖ payload` under sequence number `seq` into `out` at `at`. */
  tagInto(seq: number, header: Uint8Array, payload: Uint8Array, out: Uint8Array, at: number): void {
    if (header.length >= 16 || header.length + payload.length > this.maxBytes) {
      out.set(tag(this.key, seq, header, payload), at);
      return;
    }
    const kernel = this.kernel;
    if (kernel !== undefined) {
      const heap = this.runKernel(kernel, header, payload);
      const pads = this.padsFor(seq);
      const p = (seq - this.padBase) * 16;
      for (let i = 0; i < 16; i++) out[at + i] = heap[i]! ^ pads[p + i]!;
      return;
    }
    this.ghash(header, payload);
    const pads = this.padsFor(seq);
    const p = (seq - this.padBase) * 16;
    writeWord(out, at, this.s0 ^ pads.readInt32BE(p));
    writeWord(out, at + 4, this.s1 ^ pads.readInt32BE(p + 4));
    writeWord(out, at + 8, this.s2 ^ pads.readInt32BE(p + 8));
    writeWord(out, at + 12, this.s3 ^ pads.readInt32BE(p + 12));
  }

  /** The tag of `header ‖ payload` under `seq` (a fresh buffer). */
  tag(seq: number, header: Uint8Array, payload: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(TAG_BYTES);
    this.tagInto(seq, header, payload, out, 0);
    return out;
  }

  /** True when `received` is the tag of `header ‖ payload` under `seq` (compared in constant time). */
  verify(seq: number, header: Uint8Array, payload: Uint8Array, received: Uint8Array): boolean {
    if (received.length !== TAG_BYTES) return false;
    if (header.length >= 16 || header.length + payload.length > this.maxBytes) return verifyTag(this.key, seq, header, payload, received);
    const expected = this.expected;
    this.tagInto(seq, header, payload, expected, 0);
    let diff = 0;
    for (let i = 0; i < TAG_BYTES; i++) diff |= expected[i]! ^ received[i]!;
    return diff === 0;
  }

  /** Whether short records are tagged from GHASH tables here (false: every tag by OpenSSL). */
  get usesTables(): boolean {
    return this.maxBytes >= 0;
  }

  /** Gives this key's table slot back to the kernel now (a closed connection); tagging afterwards throws. */
  dispose(): void {
    if (this.kernel === undefined || this.disposed) return;
    this.disposed = true;
    pages.unregister(this);
    this.kernel.release(this.tableAt);
  }
  private disposed = false;

  /** GHASH of `header ‖ payload` in the kernel: copied into its page 0, zero-padded, with the length block. Returns the heap (result at 0). */
  private runKernel(kernel: GhashKernel, header: Uint8Array, payload: Uint8Array): Uint8Array {
    if (this.disposed) throw new Error('this Gmac was disposed');
    const heap = kernel.heap;
    const length = header.length + payload.length;
    heap.set(header, INPUT_AT);
    heap.set(payload, INPUT_AT + header.length);
    const padded = INPUT_AT + ((length + 15) & ~15);
    heap.fill(0, INPUT_AT + length, padded + 16);
    const bits = length * 8;
    const hi = Math.floor(bits / 0x1_0000_0000);
    heap[padded] = hi >>> 24;
    heap[padded + 1] = hi >>> 16;
    heap[padded + 2] = hi >>> 8;
    heap[padded + 3] = hi;
    heap[padded + 4] = bits >>> 24;
    heap[padded + 5] = bits >>> 16;
    heap[padded + 6] = bits >>> 8;
    heap[padded + 7] = bits;
    kernel.run(this.tableAt, padded + 16);
    return heap;
  }

  /** AES_K(J0) of the window holding `seq`: records go in order, so a window serves 64 of them. */
  private padsFor(seq: number): Buffer {
    if (this.padBase < 0 || seq < this.padBase || seq >= this.padBase + PADS) {
      const j0 = this.j0;
      for (let i = 0; i < PADS; i++) {
        const s = seq + i;
        j0.writeUInt32BE(Math.floor(s / 0x1_0000_0000) >>> 0, i * 16 + 4);
        j0.writeUInt32BE(s >>> 0, i * 16 + 8);
      }
      this.pads = this.ecb.update(j0);
      this.padBase = seq;
    }
    return this.pads;
  }

  /** GHASH of `header ‖ payload` (header shorter than a block) with the length block, into s0…s3. */
  private ghash(header: Uint8Array, payload: Uint8Array): void {
    this.s0 = this.s1 = this.s2 = this.s3 = 0;
    const scratch = this.scratch;
    const h = header.length;
    // The first block: the header and the payload's first bytes.
    const first = Math.min(16 - h, payload.length);
    if (h + first > 0) {
      scratch.fill(0);
      scratch.set(header, 0);
      for (let i = 0; i < first; i++) scratch[h + i] = payload[i]!;
      this.blocks(this.scratchView, 0, 16);
    }
    // Then whole blocks straight from the payload, and its zero-padded tail.
    const rest = payload.length - first;
    const whole = rest - (rest % 16);
    if (whole > 0) this.blocks(new DataView(payload.buffer, payload.byteOffset + first, whole), 0, whole);
    if (rest > whole) {
      scratch.fill(0);
      for (let i = first + whole, j = 0; i < payload.length; i++, j++) scratch[j] = payload[i]!;
      this.blocks(this.scratchView, 0, 16);
    }
    // The length block: AAD bits as u64, ciphertext bits (none) as u64.
    const bits = (h + payload.length) * 8;
    const view = this.scratchView;
    view.setUint32(0, Math.floor(bits / 0x1_0000_0000));
    view.setUint32(4, bits >>> 0);
    view.setUint32(8, 0);
    view.setUint32(12, 0);
    this.blocks(view, 0, 16);
  }

  /** X ← (X ⊕ block) · H for each 16-byte block of `d` in [o, end). */
  private blocks(d: DataView, o: number, end: number): void {
    const T = this.table!;
    let s0 = this.s0;
    let s1 = this.s1;
    let s2 = this.s2;
    let s3 = this.s3;
    const x = this.words;
    for (; o < end; o += 16) {
      x[0] = s0 ^ d.getInt32(o);
      x[1] = s1 ^ d.getInt32(o + 4);
      x[2] = s2 ^ d.getInt32(o + 8);
      x[3] = s3 ^ d.getInt32(o + 12);
      // X · H = XOR over the 16 bytes of X of T[position][byte] (multiplication by H is linear).
      let a = 0;
      let b = 0;
      let c = 0;
      let e = 0;
      for (let p = 0; p < 16; p++) {
        const i = (p << 10) + (((x[p >> 2]! >>> (24 - ((p & 3) << 3))) & 255) << 2);
        a ^= T[i]!;
        b ^= T[i + 1]!;
        c ^= T[i + 2]!;
        e ^= T[i + 3]!;
      }
      s0 = a;
      s1 = b;
      s2 = c;
      s3 = e;
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
  }
}

/**
 * GHASH multiplication tables from H for windows of `bits` bits (8: the JavaScript path's
 * 16 × 256 entries; 4: the kernel's 32 × 16): T[n][v] = (window value v at position n) · H, four
 * big-endian words each. GCM numbers a block's bits from the first byte's top bit as x⁰, so
 * multiplying by x is a right shift by one bit, folding a bit shifted out at the end back in
 * with R = 0xE1 ‖ 0¹²⁰. First H·xᵏ for each of the 128 single bits, then every other window value
 * as the XOR of its bits' entries.
 */
function windowTables(h: Buffer, bits: 4 | 8): Int32Array {
  const size = 1 << bits;
  const positions = 128 / bits;
  const T = new Int32Array(positions * size * 4);
  let v0 = h.readInt32BE(0);
  let v1 = h.readInt32BE(4);
  let v2 = h.readInt32BE(8);
  let v3 = h.readInt32BE(12);
  for (let k = 0; k < 128; k++) {
    // Bit k is in window k / bits; a window's top bit is its first (GCM order).
    const at = (Math.floor(k / bits) * size + ((size >>> 1) >>> (k % bits))) << 2;
    T[at] = v0;
    T[at + 1] = v1;
    T[at + 2] = v2;
    T[at + 3] = v3;
    const carry = v3 & 1;
    v3 = (v3 >>> 1) | (v2 << 31);
    v2 = (v2 >>> 1) | (v1 << 31);
    v1 = (v1 >>> 1) | (v0 << 31);
    v0 = v0 >>> 1;
    if (carry !== 0) v0 ^= 0xe1000000;
  }
  for (let n = 0; n < positions; n++) {
    for (let v = 3; v < size; v++) {
      const low = v & -v;
      if (low === v) continue; // a single bit: set above
      const at = (n * size + v) << 2;
      const p = (n * size + (v ^ low)) << 2;
      const e = (n * size + low) << 2;
      T[at] = T[p]! ^ T[e]!;
      T[at + 1] = T[p + 1]! ^ T[e + 1]!;
      T[at + 2] = T[p + 2]! ^ T[e + 2]!;
      T[at + 3] = T[p + 3]! ^ T[e + 3]!;
    }
  }
  return T;
}

function writeWord(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = v >>> 16;
  out[at + 2] = v >>> 8;
  out[at + 3] = v;
}
