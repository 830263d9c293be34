/**
 * A frame builder for tests, independent of the package's writer: every trailer field, the
 * trailer's envelope, the TOC and the container header are the caller's to set, and the
 * checksums and Merkle root are always computed correctly, so a frame that breaks one rule
 * breaks only that rule.
 */
import { deflateSync } from 'node:zlib';
import { CAP, crc32, crc32cRaw, merkleRoot, RECORD_TYPE, type RawRecord } from '@cep/serializer';

export interface BuildOptions {
  readonly checksum?: 0 | 1;
  /** Exact capability bits (default: what the records and options imply). */
  readonly caps?: number;
  readonly compression?: number;
  /** 'full' (default), 'empty', or explicit entries. */
  readonly toc?: 'full' | 'empty' | readonly { type: number; key: Uint8Array; offset: number }[];
  readonly trailer?: { readonly version?: number; readonly flags?: number; readonly key?: Uint8Array };
  readonly beat?: number;
}

class Out {
  bytes: number[] = [];
  u8(v: number): void {
    this.bytes.push(v & 0xff);
  }
  u16(v: number): void {
    this.u8(v);
    this.u8(v >>> 8);
  }
  u32(v: number): void {
    this.u16(v & 0xffff);
    this.u16(v >>> 16);
  }
  varint(v: number): void {
    while (v >= 0x80) {
      this.u8((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    this.u8(v);
  }
  raw(b: Uint8Array): void {
    for (const x of b) this.bytes.push(x);
  }
  get length(): number {
    return this.bytes.length;
  }
  result(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

const TYPE_CAPS: Record<number, number> = {
  [RECORD_TYPE.MANIFEST_DELTA]: CAP.PAGED_CHILDSET,
  [RECORD_TYPE.ORDER_DELTA]: CAP.PAGED_ORDER,
  [RECORD_TYPE.NAMEPOOL_DELTA]: CAP.NAMEPOOL_MAP,
  [RECORD_TYPE.PAYLOAD_HISTORY]: CAP.PAYLOAD_HISTORY,
  [RECORD_TYPE.MANIFEST_HISTORY]: CAP.MANIFEST_HISTORY,
};

/** The capability bits a consistent frame of `records` carries. */
export function impliedCaps(records: readonly RawRecord[], compression = 0): number {
  let caps = records.length > 0 ? CAP.FRAME_TOC : 0;
  for (const r of records) caps |= TYPE_CAPS[r.type] ?? 0;
  if (compression === 1) caps |= CAP.FRAME_COMPRESSION;
  return caps;
}

/** Records and a trailer, with correct checksums and Merkle root. */
export function buildFrame(records: readonly RawRecord[], o: BuildOptions = {}): Uint8Array {
  const checksum = o.checksum ?? 0;
  const sum = (b: Uint8Array): number => (checksum === 1 ? crc32cRaw(b) : crc32(b));
  const out = new Out();
  const offsets: number[] = [];
  const leaves: { key: Uint8Array; covered: Uint8Array }[] = [];
  for (const r of records) {
    const start = out.length;
    offsets.push(start);
    out.u8(r.type);
    out.u8(r.version);
    out.u16(r.flags);
    out.varint(r.key.length);
    out.varint(r.body.length);
    out.raw(r.key);
    out.raw(r.body);
    const covered = Uint8Array.from(out.bytes.slice(start));
    leaves.push({ key: r.key, covered });
    out.u32(sum(covered));
  }
  const body = new Out();
  body.raw(Uint8Array.of(0x46, 0x50, 0x45, 0x43));
  body.u8(1);
  body.varint(o.beat ?? 0);
  body.varint(records.length);
  body.u8(0);
  body.u8(1);
  body.u8(o.compression ?? 0);
  body.u8(checksum);
  body.varint(32);
  body.raw(merkleRoot(leaves));
  const toc =
    o.toc === 'empty' ? [] : o.toc === undefined || o.toc === 'full' ? records.map((r, i) => ({ type: r.type, key: r.key, offset: offsets[i]! })) : o.toc;
  body.varint(toc.length);
  for (const e of toc) {
    body.u8(e.type);
    body.varint(e.key.length);
    body.raw(e.key);
    body.varint(e.offset);
  }
  body.varint(0);
  body.varint(0);
  body.u32(o.caps ?? impliedCaps(records, o.compression ?? 0));
  const start = out.length;
  const key = o.trailer?.key ?? new Uint8Array(0);
  out.u8(0xff);
  out.u8(o.trailer?.version ?? 1);
  out.u16(o.trailer?.flags ?? 0);
  out.varint(key.length);
  out.varint(body.length);
  out.raw(key);
  out.raw(body.result());
  out.u32(sum(Uint8Array.from(out.bytes.slice(start))));
  return out.result();
}

export interface WrapOptions {
  readonly checksum?: number;
  readonly reserved?: number;
  readonly trailing?: Uint8Array;
  /** Declared raw size (default: the frame's length). */
  readonly raw?: bigint;
}

/** A TLFC container around `frame`, header fields as given. */
export function wrap(frame: Uint8Array, o: WrapOptions = {}): Uint8Array {
  const z = new Uint8Array(deflateSync(frame, { level: 1 }));
  const trailing = o.trailing ?? new Uint8Array(0);
  const out = new Uint8Array(24 + z.length + trailing.length);
  const view = new DataView(out.buffer);
  out.set([0x54, 0x4c, 0x46, 0x43, 1, 1, o.checksum ?? 0, o.reserved ?? 0]);
  view.setBigUint64(8, o.raw ?? BigInt(frame.length), true);
  view.setBigUint64(16, BigInt(z.length), true);
  out.set(z, 24);
  out.set(trailing, 24 + z.length);
  return out;
}

/** A record with defaults (version 1, flags 0). */
export function record(type: number, key: Uint8Array, body: Uint8Array, version = 1, flags = 0): RawRecord {
  return { type, version, flags, key, body };
}
