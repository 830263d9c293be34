import { createHash } from 'node:crypto';
import { noiseError } from './errors.ts';
import { DH_BYTES, dhKeyFromPrivate, generateDhKey } from './primitives.ts';

/** A node's long-term X25519 identity. The public half is what peers put on their allow-lists. */
export interface StaticKeyPair {
  /** 32 bytes; share it. */
  readonly publicKey: Uint8Array;
  /** 32 bytes; never leaves this node (see `writeKeyFile` for storage). */
  readonly privateKey: Uint8Array;
}

/** Bytes of a public or private key. */
export const KEY_BYTES = DH_BYTES;

/** A fresh random key pair. */
export function generateKeyPair(): StaticKeyPair {
  const { key, raw } = generateDhKey();
  return { publicKey: key.publicKey, privateKey: raw };
}

/** The key pair of a stored private key (the public half is recomputed, never trusted). */
export function keyPairFromPrivate(privateKey: Uint8Array): StaticKeyPair {
  checkLength(privateKey, 'private key');
  return { publicKey: dhKeyFromPrivate(privateKey).publicKey, privateKey: new Uint8Array(privateKey) };
}

/** A key as text: standard base64 of the 32 bytes (44 characters), as WireGuard prints them. */
export function encodeKey(key: Uint8Array): string {
  checkLength(key, 'key');
  return Buffer.from(key).toString('base64');
}

/** Parses {@link encodeKey}'s text; anything but 32 bytes of canonical base64 → `NOISE_INVALID_OPTIONS`. */
export function decodeKey(text: string, what = 'key'): Uint8Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== KEY_BYTES || bytes.toString('base64') !== text) {
    throw noiseError('NOISE_INVALID_OPTIONS', `${what} must be ${KEY_BYTES} bytes in base64 (44 characters, as cep-node keygen prints it)`, { what });
  }
  return new Uint8Array(bytes);
}

/**
 * A short, stable name for a public key — `SHA256:` and the unpadded base64 of its
 * SHA-256, the form OpenSSH prints — for logs and `/net/peers/<peer>/identity`.
 */
export function fingerprint(publicKey: Uint8Array): string {
  checkLength(publicKey, 'public key');
  return `SHA256:${createHash('sha256').update(publicKey).digest('base64').replace(/=+$/, '')}`;
}

/** Constant-length byte equality for 32-byte keys (public data; no timing concern). */
export function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function checkLength(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    throw noiseError('NOISE_INVALID_OPTIONS', `${what} must be ${KEY_BYTES} bytes`, { what, bytes: key?.length });
  }
}
