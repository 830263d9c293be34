/**
 * Records: the payload of every NATS message on a channel's data subjects.
 *
 *   u8 type | u64 seq | body | 16-byte tag
 *
 * The tag (GMAC, see crypto.ts) covers the 9-byte header and the body with the session
 * key of the sending direction, so only the peer holding the pre-shared key can make a
 * record the other side accepts. Data records (FRAMES, PART, PART_END) number one
 * sequence and control records (ACK, GOODBYE) another; the nonce includes which.
 */
import { CONTROL_SPACE, DATA_SPACE, TAG_BYTES, tag, verifyTag } from './crypto.ts';

export const HEADER_BYTES = 9;
/** Small frames, each as u32 length + bytes. */
export const FRAMES = 1;
/** A piece of a frame too large for one message; more pieces follow. */
export const PART = 2;
/** The last piece of a split frame. */
export const PART_END = 3;
/** Cumulative acknowledgement and receive window: u64 received seq | u64 window end | u8 flags. */
export const ACK = 8;
/** The sender closed the channel: the reason as UTF-8. */
export const GOODBYE = 9;

/** ACK flag: a record arrived past a gap, so the sender should resend from the acknowledged point now. */
export const ACK_GAP = 1;
export const ACK_BODY_BYTES = 17;
/** Largest goodbye reason sent, in bytes. */
export const MAX_GOODBYE_BYTES = 256;
/** What one frame costs in window accounting besides its bytes (so empty frames count too). */
export const FRAME_COST = 16;

export function spaceOf(type: number): number {
  return type >= ACK ? CONTROL_SPACE : DATA_SPACE;
}

/** Builds one authenticated record. */
export function seal(key: Buffer, type: number, seq: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length + TAG_BYTES);
  out[0] = type;
  out.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), 1);
  out.writeUInt32BE(seq >>> 0, 5);
  out.set(body, HEADER_BYTES);
  const header = out.subarray(0, HEADER_BYTES);
  out.set(tag(key, spaceOf(type), seq, header, body), HEADER_BYTES + body.length);
  return out;
}

/** An opened record, or why it was refused. */
export type Opened = { readonly ok: true; readonly type: number; readonly seq: number; readonly body: Buffer } | { readonly ok: false; readonly why: string };

/** Checks a message's shape and tag; nothing unauthenticated gets past this. */
export function open(key: Buffer, data: Uint8Array): Opened {
  if (data.length < HEADER_BYTES + TAG_BYTES) return { ok: false, why: `a ${data.length}-byte message is too short for a record` };
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const type = buf[0]!;
  if (![FRAMES, PART, PART_END, ACK, GOODBYE].includes(type)) return { ok: false, why: `unknown record type ${type}` };
  const seq = buf.readUInt32BE(1) * 0x1_0000_0000 + buf.readUInt32BE(5);
  const header = buf.subarray(0, HEADER_BYTES);
  const body = buf.subarray(HEADER_BYTES, buf.length - TAG_BYTES);
  if (!verifyTag(key, spaceOf(type), seq, header, body, buf.subarray(buf.length - TAG_BYTES))) {
    return { ok: false, why: 'the record does not carry the session key’s tag' };
  }
  return { ok: true, type, seq, body };
}

export function ackBody(received: number, windowEnd: number, flags: number): Buffer {
  const out = Buffer.allocUnsafe(ACK_BODY_BYTES);
  out.writeUInt32BE(Math.floor(received / 0x1_0000_0000), 0);
  out.writeUInt32BE(received >>> 0, 4);
  out.writeUInt32BE(Math.floor(windowEnd / 0x1_0000_0000), 8);
  out.writeUInt32BE(windowEnd >>> 0, 12);
  out[16] = flags;
  return out;
}

export function readAck(body: Buffer): { received: number; windowEnd: number; flags: number } | undefined {
  if (body.length !== ACK_BODY_BYTES) return undefined;
  return {
    received: body.readUInt32BE(0) * 0x1_0000_0000 + body.readUInt32BE(4),
    windowEnd: body.readUInt32BE(8) * 0x1_0000_0000 + body.readUInt32BE(12),
    flags: body[16]!,
  };
}

/** Packs frames as u32 length + bytes each. */
export function packFrames(frames: readonly Uint8Array[], bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes + 4 * frames.length);
  let at = 0;
  for (const frame of frames) {
    out.writeUInt32BE(frame.length, at);
    out.set(frame, at + 4);
    at += 4 + frame.length;
  }
  return out;
}

/** Splits a FRAMES body; undefined when the lengths do not add up (a peer bug: the tag was good). */
export function unpackFrames(body: Buffer): Buffer[] | undefined {
  const out: Buffer[] = [];
  let at = 0;
  while (at < body.length) {
    if (at + 4 > body.length) return undefined;
    const len = body.readUInt32BE(at);
    if (at + 4 + len > body.length) return undefined;
    out.push(body.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return out;
}
