/** Little-endian integers and unsigned LEB128 varints, bounds-checked on read. */
import { serializerError } from './errors.ts';

/** A growable output buffer. */
export class ByteWriter {
  private buffer: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(initial = 256) {
    this.buffer = new Uint8Array(initial);
    this.view = new DataView(this.buffer.buffer);
  }

  private room(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
    this.view = new DataView(next.buffer);
  }

  u8(value: number): void {
    this.room(1);
    this.buffer[this.length++] = value;
  }

  u16(value: number): void {
    this.room(2);
    this.view.setUint16(this.length, value, true);
    this.length += 2;
  }

  u32(value: number): void {
    this.room(4);
    this.view.setUint32(this.length, value >>> 0, true);
    this.length += 4;
  }

  u64(value: bigint): void {
    this.room(8);
    this.view.setBigUint64(this.length, value, true);
    this.length += 8;
  }

  /** Unsigned LEB128, shortest form. */
  varint(value: number | bigint): void {
    if (typeof value === 'number' && value < 0x80) {
      this.u8(value);
      return;
    }
    let v = BigInt(value);
    this.room(10);
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      this.buffer[this.length++] = byte;
    } while (v !== 0n);
  }

  bytes(data: Uint8Array): void {
    this.room(data.length);
    this.buffer.set(data, this.length);
    this.length += data.length;
  }

  /** Length-prefixed bytes. */
  lengthPrefixed(data: Uint8Array): void {
    this.varint(data.length);
    this.bytes(data);
  }

  /** Overwrites 4 bytes at `at` (for CRCs written after the covered bytes). */
  patchU32(at: number, value: number): void {
    this.view.setUint32(at, value >>> 0, true);
  }

  /** The bytes written so far (a view; copy it if the writer is reused). */
  result(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

/** A cursor over untrusted bytes: every read checks bounds and throws a typed error. */
export class ByteReader {
  offset: number;
  private readonly view: DataView;

  constructor(
    readonly data: Uint8Array,
    offset = 0,
    readonly end = data.length,
    private readonly what = 'frame',
  ) {
    this.offset = offset;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(n: number): void {
    if (n > this.end - this.offset) {
      throw serializerError('FRAME_TRUNCATED', `${this.what} ends ${n - (this.end - this.offset)} byte(s) early at offset ${this.offset}`, { offset: this.offset, need: n });
    }
  }

  u8(): number {
    this.need(1);
    return this.data[this.offset++]!;
  }

  u16(): number {
    this.need(2);
    const value = this.view.getUint16(this.offset, true);
    this.offset += 2;
    return value;
  }

  u32(): number {
    this.need(4);
    const value = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return value;
  }

  u64(): bigint {
    this.need(8);
    const value = this.view.getBigUint64(this.offset, true);
    this.offset += 8;
    return value;
  }

  /** Unsigned LEB128 of at most 10 bytes whose value fits 64 bits. */
  varintBig(): bigint {
    let result = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.offset >= this.end) throw serializerError('FRAME_BAD_VARINT', `${this.what} ends inside a varint at offset ${this.offset}`, { offset: this.offset });
      const byte = this.data[this.offset++]!;
      result |= BigInt(byte & 0x7f) << BigInt(7 * i);
      if ((byte & 0x80) === 0) {
        if (result >> 64n !== 0n) break;
        return result;
      }
    }
    throw serializerError('FRAME_BAD_VARINT', `${this.what} has a varint longer than 10 bytes or over 64 bits at offset ${this.offset}`, { offset: this.offset });
  }

  /** A varint that must be ≤ `max` (a length or count the caller will act on). */
  varint(max = Number.MAX_SAFE_INTEGER, field = 'length'): number {
    const value = this.varintBig();
    if (value > BigInt(max)) {
      throw serializerError('FRAME_BAD_RECORD', `${field} ${value} is over its limit ${max} at offset ${this.offset}`, { field, value, limit: max });
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

/** Byte-wise unsigned comparison, shorter first on a common prefix. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compareBytes(a, b) === 0;
}

export function toHex(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex');
}
