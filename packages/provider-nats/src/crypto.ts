import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/** Bytes of the authentication tag on every record. */
export const TAG_BYTES = 16;
/** Bytes of each handshake nonce. */
export const NONCE_BYTES = 32;
/** Bytes of a pre-shared peer key. */
export const KEY_BYTES = 32;

/** Per-direction keys of one authenticated session. */
export interface SessionKeys {
  readonly send: Buffer;
  readonly recv: Buffer;
}

/** Records of the two sequence spaces never share a nonce: data records and control records. */
export const DATA_SPACE = 1;
export const CONTROL_SPACE = 2;

export function randomNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

/** Hash of what both sides said before the proofs (hello, listener nonce and instance): proofs and keys bind to it. */
export function transcript(hello: Uint8Array, listenerNonce: Uint8Array, listenerInstance: Uint8Array): Buffer {
  return createHash('sha256').update(hello).update(listenerNonce).update(listenerInstance).digest();
}

/** A role-labelled proof of key possession; distinct labels stop a proof being reflected. */
export function proof(key: Uint8Array, label: 'listener' | 'dialer' | 'accept', hash: Uint8Array): Buffer {
  return createHmac('sha256', key).update(`cep-nats-v1/${label}`).update(hash).digest();
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The dialer sends with the d2l key and the listener with l2d. */
export function sessionKeys(key: Uint8Array, hash: Uint8Array, dialer: boolean): SessionKeys {
  const d2l = Buffer.from(hkdfSync('sha256', key, hash, 'cep-nats-v1/d2l', 32));
  const l2d = Buffer.from(hkdfSync('sha256', key, hash, 'cep-nats-v1/l2d', 32));
  return dialer ? { send: d2l, recv: l2d } : { send: l2d, recv: d2l };
}

function iv(space: number, seq: number): Buffer {
  const out = Buffer.alloc(12);
  out[0] = space;
  out.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), 4);
  out.writeUInt32BE(seq >>> 0, 8);
  return out;
}

/**
 * AES-256-GCM over an empty plaintext (GMAC) with header and body as associated data.
 * The nonce is (space, seq): a data record resent after a loss is byte-identical, so
 * its nonce only ever covers one message.
 */
export function tag(key: Buffer, space: number, seq: number, header: Uint8Array, body: Uint8Array): Buffer {
  const cipher = createCipheriv('aes-256-gcm', key, iv(space, seq), { authTagLength: TAG_BYTES });
  cipher.setAAD(header);
  if (body.length > 0) cipher.setAAD(body);
  cipher.final();
  return cipher.getAuthTag();
}

export function verifyTag(key: Buffer, space: number, seq: number, header: Uint8Array, body: Uint8Array, received: Uint8Array): boolean {
  const decipher = createDecipheriv('aes-256-gcm', key, iv(space, seq), { authTagLength: TAG_BYTES });
  decipher.setAAD(header);
  if (body.length > 0) decipher.setAAD(body);
  decipher.setAuthTag(received);
  try {
    decipher.final();
    return true;
  } catch {
    return false;
  }
}
