/** Little-endian integers and unsigned LEB128 varints, bounds-checked on read. */
import { serializerError } from './errors.ts';

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
/** Whether an Int32Array reads bytes little-endian here (so a word is written back in the host's order). */
const HOST_LITTLE_ENDIAN = new Uint8Array(Int32Array.of(1).buffer)[0] === 1;

/**
 * A growable output buffer. Encoders reuse one writer per frame (see `reset`), so the
 * per-record cost is a few byte stores, not an allocation.
 */
export class ByteWriter {
  private buffer: Uint8Array;
  // Made on the first 64-bit write only: most writers never need one, and a view per
  // writer was a measurable share of encoding a small frame.
  private view: DataView | undefined;
  length = 0;

  constructor(initial = 256) {
    this.buffer = new Uint8Array(initial);
  }

  private room(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
    this.view = undefined;
  }

  /** Forgets what was written, keeping the memory. */
  reset(): void {
    this.length = 0;
  }

  u8(value: number): void {
    this.room(1);
    this.buffer[this.length++] = value;
  }

  u16(value: number): void {
    this.room(2);
    const b = this.buffer;
    b[this.length] = value;
    b[this.length + 1] = value >>> 8;
    this.length += 2;
  }

  u32(value: number): void {
    this.room(4);
    const b = this.buffer;
    const at = this.length;
    b[at] = value;
    b[at + 1] = value >>> 8;
    b[at + 2] = value >>> 16;
    b[at + 3] = value >>> 24;
    this.length += 4;
  }

  /** Overwrites the 4 bytes at `at` (already written) with `value`, little-endian. */
  u32At(at: number, value: number): void {
    const b = this.buffer;
    b[at] = value;
    b[at + 1] = value >>> 8;
    b[at + 2] = value >>> 16;
    b[at + 3] = value >>> 24;
  }

  u64(value: bigint): void {
    this.room(8);
    this.view ??= new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
    this.view.setBigUint64(this.length, value, true);
    this.length += 8;
  }

  /** Unsigned LEB128, shortest form. */
  varint(value: number | bigint): void {
    if (typeof value === 'bigint') {
      if (value < 0n || value > MAX_SAFE_BIG) return this.varintBig(value);
      value = Number(value);
    } else if (!(value >= 0 && Number.isSafeInteger(value))) {
      return this.varintBig(BigInt(value)); // throws for fractions, as BigInt() always did
    }
    // Plain number arithmetic: BigInt shifts cost far more than the whole record otherwise.
    this.room(10);
    this.length = putVarint(this.buffer, this.length, value);
  }

  private varintBig(value: bigint): void {
    let v = value;
    this.room(10);
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      this.buffer[this.length++] = byte;
    } while (v !== 0n);
  }

  bytes(data: Uint8Array): void {
    const n = data.length;
    this.room(n);
    // A whole array is copied natively (no view to make): from 8 bytes on that beat a JS loop
    // here (17-byte names 46 ns against 74–129 ns, 68 bytes 49 ns against 280 ns).
    if (n >= 8) this.buffer.set(data, this.length);
    else {
      const b = this.buffer;
      const at = this.length;
      for (let i = 0; i < n; i++) b[at + i] = data[i]!;
    }
    this.length += n;
  }

  /**
   * Appends the 4-byte words `[wordAt, wordAt + count)` of `words` (little-endian, as a
   * Uint8Array over the same memory reads them): digests kept in a word-aligned scratch array
   * are copied a word at a time, without a view per copy.
   */
  words(words: Int32Array, wordAt: number, count: number): void {
    this.room(count * 4);
    this.view ??= new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
    const view = this.view;
    const at = this.length;
    for (let i = 0; i < count; i++) view.setInt32(at + 4 * i, words[wordAt + i]!, HOST_LITTLE_ENDIAN);
    this.length += count * 4;
  }

  /**
   * Appends bytes `[start, end)` of `data`. Runs several times per record: below a few
   * hundred bytes a plain loop beats allocating a view for `set`.
   */
  bytesFrom(data: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.room(n);
    const b = this.buffer;
    const at = this.length;
    if (n <= 256) for (let i = 0; i < n; i++) b[at + i] = data[start + i]!;
    else b.set(data.subarray(start, end), at);
    this.length += n;
  }

  /** Appends a copy of bytes `[start, end)` already written to this writer. */
  copyWithin(start: number, end: number): void {
    const n = end - start;
    this.room(n);
    const b = this.buffer;
    const at = this.length;
    // A native move costs ~60 ns whatever the size up to a few hundred bytes; a JS loop ~4 ns a byte.
    if (n <= 16) for (let i = 0; i < n; i++) b[at + i] = b[start + i]!;
    else b.copyWithin(at, start, end);
    this.length += n;
  }

  /**
   * Makes room for `n` more bytes and returns the buffer (valid until the next write): a
   * record whose size is known is written into it with a local index, then `length` is set
   * past it, instead of one call per field.
   */
  reserve(n: number): Uint8Array {
    this.room(n);
    return this.buffer;
  }

  /** A view of the buffer {@link reserve} returned (valid until the next write that grows it). */
  dataView(): DataView {
    return (this.view ??= new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength));
  }

  /** Reserves `n` bytes without writing them (the caller fills them in later). */
  skip(n: number): void {
    this.room(n);
    this.length += n;
  }

  /** Appends `n` zero bytes. */
  zeros(n: number): void {
    this.room(n);
    this.buffer.fill(0, this.length, this.length + n);
    this.length += n;
  }

  /** Appends everything another writer holds. */
  append(other: ByteWriter): void {
    this.bytesFrom(other.buffer, 0, other.length);
  }

  /** Length-prefixed bytes. */
  lengthPrefixed(data: Uint8Array): void {
    this.varint(data.length);
    this.bytes(data);
  }

  /**
   * Moves the bytes from `from` to the end by `by` positions towards the start (a negative
   * `by` moves them towards the end, growing the buffer): closes or widens a gap left for a
   * field whose size was not known when the bytes after it were written.
   */
  shift(from: number, by: number): void {
    if (by < 0) this.room(-by);
    this.buffer.copyWithin(from - by, from, this.length);
    this.length -= by;
  }

  /** Writes `value` (a whole number below 2^53) as a shortest varint at `at`, over what is there. */
  varintAt(at: number, value: number): void {
    const b = this.buffer;
    while (value >= 0x80) {
      b[at++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    b[at] = value;
  }

  /** Bytes the buffer holds before it must grow. */
  get capacity(): number {
    return this.buffer.length;
  }

  /** Overwrites 4 bytes at `at` (for CRCs written after the covered bytes). */
  patchU32(at: number, value: number): void {
    this.view ??= new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
    this.view.setUint32(at, value >>> 0, true);
  }

  /** Drops everything after the first `length` bytes (to rewrite a tail, e.g. a trailer). */
  truncate(length: number): void {
    this.length = Math.min(this.length, length);
  }

  /** The whole buffer, written bytes first (valid until the next write; no view made). */
  get buffered(): Uint8Array {
    return this.buffer;
  }

  /** Bytes `[start, end)` written so far (a view, valid until the next write). */
  window(start: number, end: number): Uint8Array {
    return this.buffer.subarray(start, end);
  }

  /** The bytes written so far (a view; copy it if the writer is reused). */
  result(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

/**
 * Writes `value` (a whole number, 0 ≤ value < 2^53) as a shortest varint at `at` of `b`
 * (room already made) and returns where it ends: the one-pass record writers' varint.
 */
export function putVarint(b: Uint8Array, at: number, value: number): number {
  while (value > 0x7fffffff) {
    b[at++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  while (value >= 0x80) {
    b[at++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  b[at++] = value;
  return at;
}

/**
 * Writes the 4-byte words `[wordAt, wordAt + count)` of `words` at `at` of the bytes `view`
 * covers (room made) in the host's order, as ByteWriter.words does, and returns where they end:
 * digests kept as words are copied without a byte loop or a view per copy.
 */
export function putWords(view: DataView, at: number, words: Int32Array, wordAt: number, count: number): number {
  for (let i = 0; i < count; i++) view.setInt32(at + 4 * i, words[wordAt + i]!, HOST_LITTLE_ENDIAN);
  return at + 4 * count;
}

/**
 * Copies bytes `[start, start + n)` of the bytes `from` covers to `at` of the bytes `to` covers
 * (room made), four at a time, and returns where they end: an inline value (up to 64 bytes) or a
 * TOC key in a quarter of a byte loop's stores, and no view to make as a native copy needs.
 */
export function putWordsFrom(to: DataView, at: number, from: DataView, start: number, n: number): number {
  let i = 0;
  for (; i + 4 <= n; i += 4) to.setInt32(at + i, from.getInt32(start + i));
  for (; i < n; i++) to.setUint8(at + i, from.getUint8(start + i));
  return at + n;
}

/** Copies all of `from` to `at` of `b` (room made) natively, and returns where it ends (names: 17 bytes and up). */
export function putAll(b: Uint8Array, at: number, from: Uint8Array): number {
  b.set(from, at);
  return at + from.length;
}

/** Copies bytes `[start, start + n)` of `from` to `at` of `b` (room already made) and returns where they end. */
export function putBytes(b: Uint8Array, at: number, from: Uint8Array, start: number, n: number): number {
  // Names, digests and small values: a loop beats making a view for `set` (see ByteWriter.bytesFrom).
  if (n <= 256) for (let i = 0; i < n; i++) b[at + i] = from[start + i]!;
  else b.set(from.subarray(start, start + n), at);
  return at + n;
}

/** A cursor over untrusted bytes: every read checks bounds and throws a typed error. */
export class ByteReader {
  offset: number;
  // Created on the first 64-bit read only: most readers never need one.
  private view: DataView | undefined;

  data: Uint8Array;
  end: number;
  private what: string;
  private base: number;

  /**
   * `base` is where offsets in error messages count from: a reader over part of a larger
   * array reports offsets as if it had been given that part alone (no view needed).
   */
  constructor(data: Uint8Array, offset = 0, end = data.length, what = 'frame', base = 0) {
    this.data = data;
    this.offset = offset;
    this.end = end;
    this.what = what;
    this.base = base;
  }

  /** Points this reader at new bytes, as the constructor would (scanners reuse one per record kind). */
  reset(data: Uint8Array, offset: number, end: number, what: string, base: number): this {
    if (data !== this.data) this.view = undefined;
    this.data = data;
    this.offset = offset;
    this.end = end;
    this.what = what;
    this.base = base;
    return this;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(n: number): void {
    if (n > this.end - this.offset) {
      const offset = this.offset - this.base;
      throw serializerError('FRAME_TRUNCATED', `${this.what} ends ${n - (this.end - this.offset)} byte(s) early at offset ${offset}`, { offset, need: n });
    }
  }

  u8(): number {
    this.need(1);
    return this.data[this.offset++]!;
  }

  u16(): number {
    this.need(2);
    const d = this.data;
    const at = this.offset;
    this.offset += 2;
    return d[at]! | (d[at + 1]! << 8);
  }

  u32(): number {
    this.need(4);
    const d = this.data;
    const at = this.offset;
    this.offset += 4;
    return (d[at]! | (d[at + 1]! << 8) | (d[at + 2]! << 16) | (d[at + 3]! << 24)) >>> 0;
  }

  u64(): bigint {
    this.need(8);
    this.view ??= new DataView(this.data.buffer, this.data.byteOffset, this.data.byteLength);
    const value = this.view.getBigUint64(this.offset, true);
    this.offset += 8;
    return value;
  }

  /** Skips `n` bytes. */
  skip(n: number): void {
    this.need(n);
    this.offset += n;
  }

  /**
   * A varint of at most 7 bytes (value < 2^49) read with number arithmetic, or -1 when it
   * is longer or runs past the end: the caller then takes the exact BigInt path, which
   * also produces the errors.
   */
  private varintShort(): number {
    const d = this.data;
    // One byte is most varints of a frame (lengths, counts, small beats): no loop for it.
    if (this.offset < this.end && d[this.offset]! < 0x80) return d[this.offset++]!;
    const stop = Math.min(this.end, this.offset + 7);
    let value = 0;
    let scale = 1;
    for (let at = this.offset; at < stop; at++) {
      const byte = d[at]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        this.offset = at + 1;
        return value;
      }
      scale *= 128;
    }
    return -1;
  }

  /** Unsigned LEB128 of at most 10 bytes whose value fits 64 bits. */
  varintBig(): bigint {
    const short = this.varintShort();
    if (short >= 0) return BigInt(short);
    let result = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.offset >= this.end) {
        const offset = this.offset - this.base;
        throw serializerError('FRAME_BAD_VARINT', `${this.what} ends inside a varint at offset ${offset}`, { offset });
      }
      const byte = this.data[this.offset++]!;
      result |= BigInt(byte & 0x7f) << BigInt(7 * i);
      if ((byte & 0x80) === 0) {
        if (result >> 64n !== 0n) break;
        return result;
      }
    }
    const offset = this.offset - this.base;
    throw serializerError('FRAME_BAD_VARINT', `${this.what} has a varint longer than 10 bytes or over 64 bits at offset ${offset}`, { offset });
  }

  /** Checks and skips a varint as {@link varintBig} would read it (no BigInt for short ones). */
  skipVarint64(): void {
    if (this.varintShort() < 0) this.varintBig();
  }

  /** A varint that must be ≤ `max` (a length or count the caller will act on). */
  varint(max = Number.MAX_SAFE_INTEGER, field = 'length'): number {
    const short = this.varintShort();
    if (short >= 0 && short <= max) return short;
    const value = short >= 0 ? BigInt(short) : this.varintBig();
    if (value > BigInt(max)) {
      throw serializerError('FRAME_BAD_RECORD', `${field} ${value} is over its limit ${max} at offset ${this.offset - this.base}`, {
        field,
        value,
        limit: max,
      });
    }
    return Number(value);
  }

  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.data.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** Length-prefixed bytes (the length is checked against what is left before anything is sliced). */
  lengthPrefixed(max: number, field: string): Uint8Array {
    const n = this.varint(max, field);
    return this.bytes(n);
  }
}

/** Bytes of `n` (a whole number ≥ 0) as an unsigned LEB128 varint. */
export function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

/** Byte-wise unsigned comparison, shorter first on a common prefix. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Whether `a[aStart, aEnd)` equals `b[bStart, bEnd)`. Ranges of 8 bytes or more compare eight
 * bytes a step through a DataView kept for the last array seen on each side (a reader compares
 * record keys of one frame, ~50 bytes each, tens of thousands of times); shorter ones, and any
 * tail, byte by byte. Allocates nothing in the steady state.
 *
 * Eight bytes are read as one float64, the widest load JS has without a BigInt: 0.68× the time
 * of four-byte words on the keys of the 10,000-value branch. Float equality is bit equality
 * except for two cases, both handled: +0 equals −0 (so a zero's sign byte is compared too), and
 * NaN equals nothing, itself included (so two NaNs are compared as words).
 */
export function rangesEqual(a: Uint8Array, aStart: number, aEnd: number, b: Uint8Array, bStart: number, bEnd: number): boolean {
  const length = aEnd - aStart;
  if (length !== bEnd - bStart) return false;
  let i = 0;
  // In-bounds ranges only (a length-tracking view may have outgrown its DataView): others take the byte loop, as before.
  if (length >= 8 && aStart >= 0 && bStart >= 0 && aEnd <= a.length && bEnd <= b.length) {
    const va = viewA.data === a && aEnd <= viewA.view.byteLength ? viewA.view : viewOf(viewA, a);
    const vb = a === b ? va : viewB.data === b && bEnd <= viewB.view.byteLength ? viewB.view : viewOf(viewB, b);
    for (; i + 8 <= length; i += 8) {
      const x = va.getFloat64(aStart + i, true);
      const y = vb.getFloat64(bStart + i, true);
      if (x !== y) {
        if (!Number.isNaN(x) || !Number.isNaN(y)) return false; // not both NaN: the bits differ
        if (va.getInt32(aStart + i, true) !== vb.getInt32(bStart + i, true) || va.getInt32(aStart + i + 4, true) !== vb.getInt32(bStart + i + 4, true))
          return false;
      } else if (x === 0 && a[aStart + i + 7] !== b[bStart + i + 7]) return false; // +0 and −0: the sign is in the last byte
    }
  }
  for (; i < length; i++) if (a[aStart + i] !== b[bStart + i]) return false;
  return true;
}

/**
 * Whether `a[aStart, aStart + n)` equals `b[bStart, bStart + n)`, byte by byte (both in
 * bounds). For comparisons with a scratch or kept array (digests, a kept name table): going
 * through {@link rangesEqual} would swap its cached view to that array and back, a new
 * DataView each way, which on a small frame cost more than the bytes compared.
 */
export function sameBytes(a: Uint8Array, aStart: number, b: Uint8Array, bStart: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[aStart + i] !== b[bStart + i]) return false;
  return true;
}

/** The last array each side of {@link rangesEqual} compared, and a DataView over it. */
interface CachedView {
  data: Uint8Array;
  view: DataView;
}
const viewA: CachedView = { data: new Uint8Array(0), view: new DataView(new ArrayBuffer(0)) };
const viewB: CachedView = { data: new Uint8Array(0), view: new DataView(new ArrayBuffer(0)) };

function viewOf(cache: CachedView, data: Uint8Array): DataView {
  cache.data = data;
  cache.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return cache.view;
}

export function toHex(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex');
}

/**
 * Slices of `data` as one-byte-per-character strings. Such strings compare with `<`
 * exactly like {@link compareBytes} and hash natively, so they serve as map and sort keys
 * for record keys (cheaper than hex, which doubles them). One Buffer view serves many slices.
 */
export function latin1Slicer(data: Uint8Array): (start: number, end: number) => string {
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength) as Buffer & Partial<Latin1Slice>;
  // Node's own latin1 slicer, called directly where the Buffer has it: `toString('latin1', …)`
  // spends more on its argument checks than on the copy.
  const native = view.latin1Slice;
  if (typeof native === 'function') return (start, end) => native.call(view, start, end);
  return (start, end) => view.toString('latin1', start, end);
}

/** The latin1 slicer every Node Buffer has (undocumented, hence optional; see {@link latin1Slicer}). */
interface Latin1Slice {
  latin1Slice(start: number, end: number): string;
}

/** All of `data` as a one-byte-per-character string (see {@link latin1Slicer}). */
export function latin1(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1');
}

/**
 * Byte-wise comparison of two ranges of `data` (`view` over the same bytes), shorter first on a
 * common prefix: four bytes at a time while both have them (big-endian words order as their
 * bytes do), then byte by byte.
 */
export function compareRanges(data: Uint8Array, view: DataView, aStart: number, aEnd: number, bStart: number, bEnd: number): number {
  const n = Math.min(aEnd - aStart, bEnd - bStart);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const x = view.getUint32(aStart + i);
    const y = view.getUint32(bStart + i);
    if (x !== y) return x < y ? -1 : 1;
  }
  for (; i < n; i++) {
    const d = data[aStart + i]! - data[bStart + i]!;
    if (d !== 0) return d;
  }
  return aEnd - aStart - (bEnd - bStart);
}

/**
 * {@link compareRanges}, first skipping the eight-byte blocks both ranges share two words at a
 * time: for keys that agree on a long prefix, as neighbours in a frame's leaf order do (a
 * cell's path). Equal doubles have equal bits but for +0 and −0, which differ in the sign
 * (the last byte, little-endian, compared); unequal doubles (or NaNs) hand the rest to the
 * word-wise comparison.
 */
export function compareRangesSkipping(data: Uint8Array, view: DataView, aStart: number, aEnd: number, bStart: number, bEnd: number): number {
  const n = Math.min(aEnd - aStart, bEnd - bStart);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const x = view.getFloat64(aStart + i, true);
    if (x !== view.getFloat64(bStart + i, true) || (x === 0 && data[aStart + i + 7] !== data[bStart + i + 7])) break;
  }
  return compareRanges(data, view, aStart + i, aEnd, bStart + i, bEnd);
}
