import { noiseError, NOISE_ERROR_CODES, type NoiseErrorCode } from './errors.ts';

/**
 * Bytes exchanged before the session's records start.
 *
 *   initiator → OFFER   "CEPN" | u8 n (1..8) | n × u8 version, most preferred first
 *                       then, optimistically, a MESSAGE for the first version
 *   responder → CHOICE  "CEPN" | u8 version (0 = none shared)
 *                       then a MESSAGE when it chose the first offered version; otherwise the
 *                       initiator drops its first message and sends a new one for the choice
 *   then     frames     u16 length | u8 kind | body      (length counts kind + body, ≤ 1024)
 *                       kind 1 MESSAGE (a Noise handshake message), 2 REJECT (an error code
 *                       in ASCII), 3 ACCEPT (empty: the responder admitted the initiator)
 *
 * The OFFER and CHOICE bytes are the Noise prologue, so a man in the middle who edits the
 * offer to force an older version makes the handshake fail.
 */
export const MAGIC = Buffer.from('CEPN', 'ascii');
/** Largest handshake frame body; real ones are under 200 bytes plus the initiator's hello. */
export const MAX_HANDSHAKE_FRAME = 1024;
/** Most versions one offer may list. */
export const MAX_OFFERED_VERSIONS = 8;

export const MESSAGE = 1;
export const REJECT = 2;
export const ACCEPT = 3;

export function encodeOffer(versions: readonly number[]): Buffer {
  return Buffer.concat([MAGIC, Uint8Array.of(versions.length, ...versions)]);
}

export function encodeChoice(version: number): Buffer {
  return Buffer.concat([MAGIC, Uint8Array.of(version)]);
}

export function checkMagic(bytes: Uint8Array): void {
  if (!MAGIC.equals(bytes.subarray(0, MAGIC.length))) {
    throw noiseError('NOISE_PROTOCOL_ERROR', 'the remote does not speak this protocol (no CEPN preamble)');
  }
}

export function encodeFrame(kind: number, body: Uint8Array): Buffer {
  if (body.length + 1 > MAX_HANDSHAKE_FRAME)
    throw noiseError('NOISE_INVALID_OPTIONS', `a handshake message may carry at most ${MAX_HANDSHAKE_FRAME - 1} bytes`, { bytes: body.length });
  const head = Buffer.alloc(3);
  head.writeUInt16BE(body.length + 1, 0);
  head[2] = kind;
  return Buffer.concat([head, body]);
}

export function encodeReject(code: NoiseErrorCode): Buffer {
  return encodeFrame(REJECT, Buffer.from(code, 'ascii'));
}

/** The error a REJECT frame stands for (its code must be one of ours). */
export function rejection(body: Uint8Array): Error {
  const code = Buffer.from(body).toString('ascii') as NoiseErrorCode;
  if (!NOISE_ERROR_CODES.includes(code)) return noiseError('NOISE_PROTOCOL_ERROR', 'the remote refused the handshake with an unknown code');
  return noiseError(code, `the remote refused the handshake: ${code}`, { remote: true });
}

/** Handshake payloads: a list of byte strings, each u16 length + bytes. */
export function encodeFields(fields: readonly Uint8Array[]): Buffer {
  const parts: Uint8Array[] = [];
  for (const field of fields) {
    const length = Buffer.alloc(2);
    length.writeUInt16BE(field.length, 0);
    parts.push(length, field);
  }
  return Buffer.concat(parts);
}

export function decodeFields(bytes: Uint8Array, count: number): Buffer[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const out: Buffer[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 2 > buf.length) throw noiseError('NOISE_PROTOCOL_ERROR', 'a handshake payload is truncated');
    const length = buf.readUInt16BE(at);
    if (at + 2 + length > buf.length) throw noiseError('NOISE_PROTOCOL_ERROR', 'a handshake payload is truncated');
    out.push(buf.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  if (at !== buf.length) throw noiseError('NOISE_PROTOCOL_ERROR', 'a handshake payload has trailing bytes');
  return out;
}
