import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * One authenticated datagram:
 *
 *   "CEPU" | u8 version | u8 type | u8+sender | u8+target | u8+mode | u8+mount | u64 seq | payload | 16-byte tag
 *
 * The tag is HMAC-SHA256 (truncated to 128 bits) under the pre-shared key of the
 * sender–target pair, over everything before it. The sender and target names are
 * inside the MAC, so a datagram cannot be reflected back to its sender or redirected
 * to another mount.
 */
const MAGIC = 0x43455055; // "CEPU"
const VERSION = 1;
export const TAG_BYTES = 16;
export const MAX_NAME_BYTES = 64;
/** Fixed bytes of a datagram besides names and payload. */
export const FIXED_BYTES = 4 + 1 + 1 + 4 + 8 + TAG_BYTES;
/** Largest UDP payload over IPv4. */
export const MAX_DATAGRAM_BYTES = 65_507;

export const DATA = 1;
export const HELLO = 2;
export const BYE = 3;

/** The routing part of a datagram: who sent it, to whom, for which mount. */
export interface Route {
  readonly sender: string;
  readonly target: string;
  readonly mode: string;
  readonly mount: string;
}

/** A parsed, not yet authenticated datagram. */
export interface Parsed extends Route {
  readonly type: number;
  readonly seq: number;
  readonly payload: Buffer;
  readonly signed: Buffer;
  readonly tag: Buffer;
}

function mac(key: Uint8Array, signed: Uint8Array): Buffer {
  return createHmac('sha256', key).update(signed).digest().subarray(0, TAG_BYTES);
}

/** Bytes a datagram adds around a payload for this route. */
export function overhead(route: Route): number {
  return FIXED_BYTES + [route.sender, route.target, route.mode, route.mount].reduce((n, s) => n + Buffer.byteLength(s), 0);
}

export function encode(key: Uint8Array, route: Route, type: number, seq: number, payload: Uint8Array): Buffer {
  const names = [route.sender, route.target, route.mode, route.mount].map((s) => Buffer.from(s, 'utf8'));
  const head = 6 + names.reduce((n, b) => n + 1 + b.length, 0) + 8;
  const out = Buffer.allocUnsafe(head + payload.length + TAG_BYTES);
  out.writeUInt32BE(MAGIC, 0);
  out[4] = VERSION;
  out[5] = type;
  let at = 6;
  for (const name of names) {
    out[at++] = name.length;
    name.copy(out, at);
    at += name.length;
  }
  out.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), at);
  out.writeUInt32BE(seq >>> 0, at + 4);
  at += 8;
  out.set(payload, at);
  at += payload.length;
  mac(key, out.subarray(0, at)).copy(out, at);
  return out;
}

/** Parses the envelope; `undefined` for anything malformed (it is then dropped). */
export function parse(buf: Buffer): Parsed | undefined {
  if (buf.length < FIXED_BYTES || buf.readUInt32BE(0) !== MAGIC || buf[4] !== VERSION) return undefined;
  const type = buf[5]!;
  if (type !== DATA && type !== HELLO && type !== BYE) return undefined;
  let at = 6;
  const names: string[] = [];
  for (let i = 0; i < 4; i++) {
    const n = buf[at++];
    if (n === undefined || n === 0 || n > MAX_NAME_BYTES || at + n > buf.length) return undefined;
    names.push(buf.toString('utf8', at, at + n));
    at += n;
  }
  if (at + 8 + TAG_BYTES > buf.length) return undefined;
  const seq = buf.readUInt32BE(at) * 0x1_0000_0000 + buf.readUInt32BE(at + 4);
  at += 8;
  const end = buf.length - TAG_BYTES;
  return {
    type,
    sender: names[0]!,
    target: names[1]!,
    mode: names[2]!,
    mount: names[3]!,
    seq,
    payload: buf.subarray(at, end),
    signed: buf.subarray(0, end),
    tag: buf.subarray(end),
  };
}

export function authentic(key: Uint8Array, parsed: Parsed): boolean {
  return timingSafeEqual(mac(key, parsed.signed), parsed.tag);
}

/**
 * A sliding replay window over 64-bit sequence numbers (RFC 4303 style): accepts a
 * number above the highest seen, or one of the `size` below it not seen yet.
 */
export class ReplayWindow {
  private highest = -1;
  private seen = 0n;
  constructor(private readonly size = 64) {}

  accept(seq: number): boolean {
    if (seq > this.highest) {
      const shift = this.highest < 0 ? this.size : seq - this.highest;
      this.seen = shift >= this.size ? 1n : ((this.seen << BigInt(shift)) | 1n) & ((1n << BigInt(this.size)) - 1n);
      this.highest = seq;
      return true;
    }
    const back = this.highest - seq;
    if (back >= this.size) return false;
    const bit = 1n << BigInt(back);
    if ((this.seen & bit) !== 0n) return false;
    this.seen |= bit;
    return true;
  }
}
