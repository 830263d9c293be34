/**
 * Datagrams of identity (Noise) channels:
 *
 *   "CEPV" | u8 version | u8 type | 8-byte channel id | body
 *     type 1 handshake chunk:  u32 seq | handshake bytes      (resent until acknowledged)
 *     type 2 acknowledgement:  u32 seq
 *     type 3 sealed:           noise-session datagram: u64 counter | AEAD(u8 kind | payload) + tag
 *
 * The channel id is random per `open` and in clear (like a record header): it only routes a
 * datagram to its session; everything that matters is inside the AEAD. The kind inside is
 * the same DATA / HELLO / BYE as the pre-shared-key envelope's type.
 */
const MAGIC = 0x43455056; // "CEPV"
const VERSION = 1;
export const CHUNK = 1;
export const ACK = 2;
export const SEALED = 3;
/** Bytes before a sealed datagram's noise-session part. */
export const SEALED_HEAD_BYTES = 4 + 1 + 1 + 8;
/** Bytes of a channel id. */
export const CHANNEL_ID_BYTES = 8;

/** A parsed identity datagram (not yet authenticated). */
export interface SealedParsed {
  readonly type: number;
  /** The channel id, hex. */
  readonly channel: string;
  /** Handshake chunk / acknowledgement number. */
  readonly seq: number;
  /** Handshake bytes, or the noise-session datagram. */
  readonly body: Buffer;
}

/** True when `buf` starts like an identity datagram (rather than a pre-shared-key one). */
export function isSealed(buf: Buffer): boolean {
  return buf.length >= SEALED_HEAD_BYTES && buf.readUInt32BE(0) === MAGIC;
}

function head(type: number, channel: Buffer, extra: number): Buffer {
  const out = Buffer.allocUnsafe(SEALED_HEAD_BYTES + extra);
  out.writeUInt32BE(MAGIC, 0);
  out[4] = VERSION;
  out[5] = type;
  channel.copy(out, 6);
  return out;
}

export function encodeChunk(channel: Buffer, seq: number, bytes: Uint8Array): Buffer {
  const out = head(CHUNK, channel, 4 + bytes.length);
  out.writeUInt32BE(seq, SEALED_HEAD_BYTES);
  out.set(bytes, SEALED_HEAD_BYTES + 4);
  return out;
}

export function encodeAck(channel: Buffer, seq: number): Buffer {
  const out = head(ACK, channel, 4);
  out.writeUInt32BE(seq, SEALED_HEAD_BYTES);
  return out;
}

export function encodeSealed(channel: Buffer, datagram: Uint8Array): Buffer {
  const out = head(SEALED, channel, datagram.length);
  out.set(datagram, SEALED_HEAD_BYTES);
  return out;
}

/** Parses an identity datagram; `undefined` for anything malformed. */
export function parseSealed(buf: Buffer): SealedParsed | undefined {
  if (!isSealed(buf) || buf[4] !== VERSION) return undefined;
  const type = buf[5]!;
  const channel = buf.toString('hex', 6, SEALED_HEAD_BYTES);
  if (type === SEALED) return { type, channel, seq: 0, body: buf.subarray(SEALED_HEAD_BYTES) };
  if ((type !== CHUNK && type !== ACK) || buf.length < SEALED_HEAD_BYTES + 4) return undefined;
  if (type === ACK && buf.length !== SEALED_HEAD_BYTES + 4) return undefined;
  return { type, channel, seq: buf.readUInt32BE(SEALED_HEAD_BYTES), body: buf.subarray(SEALED_HEAD_BYTES + 4) };
}

/** The plaintext of a sealed datagram: the kind byte, then the payload. */
export function inner(kind: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(1 + payload.length);
  out[0] = kind;
  out.set(payload, 1);
  return out;
}
