import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  randomBytes,
  type KeyObject,
} from 'node:crypto';

/**
 * The Noise cipher suites `25519_ChaChaPoly_SHA256` and `25519_AESGCM_SHA256` on
 * node:crypto (OpenSSL): X25519, ChaCha20-Poly1305 (RFC 8439), AES-256-GCM and SHA-256
 * give the bytes the Noise specification defines and run native, so no JavaScript crypto
 * is needed.
 */

/** Bytes of an X25519 key (private or public) and of a DH output. */
export const DH_BYTES = 32;
/** Bytes of a SHA-256 digest (Noise's HASHLEN). */
export const HASH_BYTES = 32;
/** Bytes of a cipher key (both ciphers). */
export const CIPHER_KEY_BYTES = 32;
/** Bytes of the authentication tag on every ciphertext. */
export const TAG_BYTES = 16;

// DER wrappers that let node:crypto import raw 32-byte X25519 keys (RFC 8410).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

/** An X25519 private key as a node KeyObject, with its raw public half. */
export interface DhKey {
  readonly privateKey: KeyObject;
  readonly publicKey: Uint8Array;
}

export function dhKeyFromPrivate(raw: Uint8Array): DhKey {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { privateKey, publicKey: new Uint8Array(spki.subarray(SPKI_PREFIX.length)) };
}

export function generateDhKey(): { key: DhKey; raw: Uint8Array } {
  const raw = new Uint8Array(randomBytes(DH_BYTES));
  return { key: dhKeyFromPrivate(raw), raw };
}

/** X25519(private, remote public). Throws when the result is all zeros (a low-order point). */
export function dh(local: DhKey, remotePublic: Uint8Array): Buffer {
  const publicKey = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, remotePublic]), format: 'der', type: 'spki' });
  return diffieHellman({ privateKey: local.privateKey, publicKey });
}

export function hash(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const part of parts) h.update(part);
  return h.digest();
}

function hmac(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHmac('sha256', key);
  for (const part of parts) h.update(part);
  return h.digest();
}

const ONE = Uint8Array.of(1);
const TWO = Uint8Array.of(2);
const THREE = Uint8Array.of(3);

/** Noise's HKDF (spec §4.3): two or three HMAC-SHA256 outputs chained from `chainingKey`. */
export function hkdf(chainingKey: Uint8Array, input: Uint8Array, outputs: 2 | 3): Buffer[] {
  const temp = hmac(chainingKey, input);
  const first = hmac(temp, ONE);
  const second = hmac(temp, first, TWO);
  if (outputs === 2) return [first, second];
  return [first, second, hmac(temp, second, THREE)];
}

/** The two Noise cipher functions (spec §12.3, §12.4). */
export type CipherName = 'ChaChaPoly' | 'AESGCM';

const ALGORITHM = { ChaChaPoly: 'chacha20-poly1305', AESGCM: 'aes-256-gcm' } as const;

/**
 * The 96-bit nonce of Noise: 32 zero bits, then the counter as 64 bits — little-endian for
 * ChaChaPoly, big-endian for AESGCM.
 */
export function nonceBytes(cipher: CipherName, counter: bigint | number): Buffer {
  const out = Buffer.alloc(12);
  const big = typeof counter === 'bigint' ? counter : null;
  const n = typeof counter === 'number' ? counter : 0;
  if (cipher === 'ChaChaPoly') {
    if (big !== null) out.writeBigUInt64LE(big, 4);
    else {
      out.writeUInt32LE(n >>> 0, 4);
      out.writeUInt32LE(Math.floor(n / 0x1_0000_0000), 8);
    }
  } else if (big !== null) out.writeBigUInt64BE(big, 4);
  else {
    out.writeUInt32BE(Math.floor(n / 0x1_0000_0000), 4);
    out.writeUInt32BE(n >>> 0, 8);
  }
  return out;
}

/** AEAD encryption of `parts` (one plaintext, given in pieces) → ciphertext pieces + tag. */
export function seal(name: CipherName, key: Uint8Array, nonce: Buffer, ad: Uint8Array, parts: readonly Uint8Array[]): Buffer[] {
  const cipher = createCipheriv(ALGORITHM[name] as 'chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });
  if (ad.length > 0) cipher.setAAD(ad, { plaintextLength: 0 });
  const out: Buffer[] = [];
  for (const part of parts) if (part.length > 0) out.push(cipher.update(part));
  cipher.final();
  out.push(cipher.getAuthTag());
  return out;
}

/** Decrypts `ciphertext` (tag last); null when the tag does not verify. */
export function open(name: CipherName, key: Uint8Array, nonce: Buffer, ad: Uint8Array, ciphertext: Uint8Array): Buffer | null {
  if (ciphertext.length < TAG_BYTES) return null;
  const body = ciphertext.subarray(0, ciphertext.length - TAG_BYTES);
  const decipher = createDecipheriv(ALGORITHM[name] as 'chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });
  if (ad.length > 0) decipher.setAAD(ad, { plaintextLength: body.length });
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - TAG_BYTES));
  const plain = body.length > 0 ? decipher.update(body) : Buffer.alloc(0);
  try {
    decipher.final();
    return plain;
  } catch {
    return null;
  }
}

const MAX_NONCE = (1n << 64n) - 1n;
const ZEROS = new Uint8Array(CIPHER_KEY_BYTES);

/** Noise's REKEY (spec §4.2): the first 32 bytes of ENCRYPT(k, 2^64-1, empty, zeros). */
export function rekey(name: CipherName, key: Uint8Array): Buffer {
  return seal(name, key, nonceBytes(name, MAX_NONCE), new Uint8Array(0), [ZEROS])[0]!.subarray(0, CIPHER_KEY_BYTES);
}
