/**
 * Payload-chunk encryption as the reference frames it: mode 3 XChaCha20-Poly1305 (IETF,
 * 24-byte nonce), mode 2 ChaCha20-Poly1305 (RFC 8439, 12-byte nonce); output is
 * ciphertext ‖ 16-byte tag; the associated data is the chunk's record key; the nonce is
 * keyed BLAKE3 over chunkKey ‖ LE64(fp) ‖ LE64(offset) ‖ LE64(size) ‖ LE64(total).
 *
 * Two paths with identical bytes. The fast one: an allocation-free JS ChaCha20-Poly1305 for
 * small data (chacha-small.ts: most chunks of a frame of small values) and node:crypto's
 * chacha20-poly1305 above that, both with noble's HChaCha20 for the XChaCha subkey.
 * @noble/ciphers is the portable one.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { chacha20poly1305, hchacha, xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { openSmall, sealSmall, sealSmallInto, SMALL_AEAD_MAX } from './chacha-small.ts';
import type { ByteWriter } from './bytes.ts';
import { serializerError } from './errors.ts';
import { blake3Keyed } from './hash.ts';

/** AEAD mode ids on the wire (1, AES-GCM, is reserved by the reference and never produced). */
export const AEAD_MODE = { none: 0, chacha20poly1305: 2, xchacha20poly1305: 3 } as const;
export type AeadModeName = 'chacha20poly1305' | 'xchacha20poly1305';
export const TAG_BYTES = 16;

export function nonceLength(mode: number): number {
  return mode === AEAD_MODE.xchacha20poly1305 ? 24 : mode === AEAD_MODE.chacha20poly1305 ? 12 : 0;
}

function le64(view: DataView, at: number, value: bigint | number): void {
  view.setBigUint64(at, BigInt(value), true);
}

/** The reference's deterministic chunk nonce. */
export function chunkNonce(key: Uint8Array, mode: number, chunkKey: Uint8Array, fp: bigint, offset: number, size: number, total: number): Uint8Array {
  const input = new Uint8Array(chunkKey.length + 32);
  input.set(chunkKey);
  const view = new DataView(input.buffer);
  le64(view, chunkKey.length, fp);
  le64(view, chunkKey.length + 8, offset);
  le64(view, chunkKey.length + 16, size);
  le64(view, chunkKey.length + 24, total);
  return blake3Keyed(key, input, 24).subarray(0, nonceLength(mode));
}

const SIGMA = Uint32Array.of(0x61707865, 0x3320646e, 0x79622d32, 0x6b206574);

// Scratch for the XChaCha subkey (derivation is synchronous): no typed arrays or views per call.
const keyWords = new Uint32Array(8);
const nonceWords = new Uint32Array(4);
const subkeyWords = new Uint32Array(8);

function loadWords(bytes: Uint8Array, out: Uint32Array): void {
  for (let i = 0; i < out.length; i++) {
    out[i] = bytes[4 * i]! | (bytes[4 * i + 1]! << 8) | (bytes[4 * i + 2]! << 16) | (bytes[4 * i + 3]! << 24);
  }
}

// The XChaCha subkey and ChaCha nonce of the current call (both paths copy them before returning).
const subkey = new Uint8Array(32);
const chachaNonce = new Uint8Array(12);

/** XChaCha20 → (subkey, 12-byte ChaCha nonce), into module scratch. */
function xchachaToChacha(key: Uint8Array, nonce: Uint8Array): { key: Uint8Array; nonce: Uint8Array } {
  loadWords(key, keyWords);
  loadWords(nonce, nonceWords);
  hchacha(SIGMA, keyWords, nonceWords, subkeyWords);
  for (let i = 0; i < 8; i++) {
    const w = subkeyWords[i]!;
    subkey[4 * i] = w;
    subkey[4 * i + 1] = w >>> 8;
    subkey[4 * i + 2] = w >>> 16;
    subkey[4 * i + 3] = w >>> 24;
  }
  chachaNonce.fill(0, 0, 4);
  chachaNonce.set(nonce.subarray(16, 24), 4);
  return XCHACHA_PARAMS;
}

const XCHACHA_PARAMS = { key: subkey, nonce: chachaNonce };

/**
 * Whether the allocation-free JS path takes this call: small data (chacha-small.ts) and a
 * nonce of its mode's length (anything else goes to node:crypto, which refuses it as before).
 */
function small(mode: number, nonce: Uint8Array, length: number): boolean {
  return length <= SMALL_AEAD_MAX && nonce.length === (mode === AEAD_MODE.xchacha20poly1305 ? 24 : 12);
}

function checkKey(key: Uint8Array | undefined): Uint8Array {
  if (key === undefined) throw serializerError('AEAD_KEY_MISSING', 'this frame needs an AEAD key and none was given (keys come from the mount config)');
  if (key.length !== 32) throw serializerError('AEAD_KEY_INVALID', `an AEAD key is 32 bytes, got ${key.length}`);
  return key;
}

/** Encrypts (fast path: the JS small-message construction up to {@link SMALL_AEAD_MAX} bytes, node:crypto above). */
export function aeadSeal(mode: number, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  checkKey(key);
  const params = mode === AEAD_MODE.xchacha20poly1305 ? xchachaToChacha(key, nonce) : { key, nonce };
  if (small(mode, nonce, plaintext.length)) return sealSmall(params.key, params.nonce, plaintext, aad);
  const cipher = createCipheriv('chacha20-poly1305', params.key, params.nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  const head = cipher.update(plaintext);
  const tail = cipher.final();
  const out = new Uint8Array(head.length + tail.length + TAG_BYTES);
  out.set(head, 0);
  out.set(tail, head.length);
  out.set(cipher.getAuthTag(), head.length + tail.length);
  return out;
}

/** {@link aeadSeal} appended to `out` (sealed in place on the small-data path: no intermediate array). */
export function aeadSealTo(out: ByteWriter, mode: number, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): void {
  checkKey(key);
  if (!small(mode, nonce, plaintext.length)) {
    out.bytes(aeadSeal(mode, key, nonce, plaintext, aad));
    return;
  }
  const params = mode === AEAD_MODE.xchacha20poly1305 ? xchachaToChacha(key, nonce) : { key, nonce };
  const at = out.length;
  out.skip(plaintext.length + TAG_BYTES);
  sealSmallInto(params.key, params.nonce, plaintext, aad, out.window(0, out.length), at);
}

/** Decrypts (same paths as {@link aeadSeal}); a wrong tag throws `AEAD_TAG_FAILED`. */
export function aeadOpen(mode: number, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  checkKey(key);
  if (sealed.length < TAG_BYTES) throw serializerError('AEAD_TAG_FAILED', 'sealed chunk is shorter than its tag');
  const params = mode === AEAD_MODE.xchacha20poly1305 ? xchachaToChacha(key, nonce) : { key, nonce };
  if (small(mode, nonce, sealed.length - TAG_BYTES)) {
    const opened = openSmall(params.key, params.nonce, sealed, aad);
    if (opened === undefined) throw serializerError('AEAD_TAG_FAILED', 'a payload chunk failed its AEAD tag check (wrong key, or the frame was altered)');
    return opened;
  }
  const decipher = createDecipheriv('chacha20-poly1305', params.key, params.nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad, { plaintextLength: sealed.length - TAG_BYTES });
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  const head = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
  try {
    const tail = decipher.final();
    const out = new Uint8Array(head.length + tail.length);
    out.set(head, 0);
    out.set(tail, head.length);
    return out;
  } catch {
    throw serializerError('AEAD_TAG_FAILED', 'a payload chunk failed its AEAD tag check (wrong key, or the frame was altered)');
  }
}

/** The same operations through @noble/ciphers (portable path, and the cross-check in tests). */
export const portableAead = {
  seal(mode: number, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
    const cipher = mode === AEAD_MODE.xchacha20poly1305 ? xchacha20poly1305(checkKey(key), nonce, aad) : chacha20poly1305(checkKey(key), nonce, aad);
    return cipher.encrypt(plaintext);
  },
  open(mode: number, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
    const cipher = mode === AEAD_MODE.xchacha20poly1305 ? xchacha20poly1305(checkKey(key), nonce, aad) : chacha20poly1305(checkKey(key), nonce, aad);
    try {
      return cipher.decrypt(sealed);
    } catch {
      throw serializerError('AEAD_TAG_FAILED', 'a payload chunk failed its AEAD tag check (wrong key, or the frame was altered)');
    }
  },
};
