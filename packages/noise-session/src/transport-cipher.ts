import { nonceBytes, open, rekey, seal, type CipherName } from './primitives.ts';

/**
 * Largest counter a record may use. Noise allows up to 2^64-2; a JavaScript number counts
 * exactly to 2^53-1, which at a million records a second lasts 285 years — reaching it
 * ends the session (`NOISE_NONCE_EXHAUSTED`) rather than reuse a nonce.
 */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

const EMPTY = new Uint8Array(0);

/**
 * One direction's transport key: the AEAD with the record counter as nonce and an empty
 * associated data, exactly Noise's transport messages (the counter travels in our record
 * header so a replay can be named, but it is the nonce either way).
 */
export class TransportCipher {
  private counter = 0;
  private previous: Uint8Array | null = null;

  constructor(
    private key: Uint8Array,
    private readonly cipher: CipherName = 'ChaChaPoly',
  ) {}

  /** The counter the next sealed record uses. */
  get nextCounter(): number {
    return this.counter;
  }

  /** Encrypts one plaintext given in pieces; returns ciphertext pieces, tag last. */
  sealRaw(parts: readonly Uint8Array[]): Buffer[] {
    const out = seal(this.cipher, this.key, nonceBytes(this.cipher, this.counter), EMPTY, parts);
    this.counter += 1;
    return out;
  }

  /** Decrypts a record sealed under `counter` with the current key; null when not authentic. Does not advance. */
  openRaw(counter: number, body: Uint8Array): Buffer | null {
    return open(this.cipher, this.key, nonceBytes(this.cipher, counter), EMPTY, body);
  }

  /** Same, under the key before the last rekey (only to tell a replay from garbage). */
  openPrevious(counter: number, body: Uint8Array): Buffer | null {
    return this.previous === null ? null : open(this.cipher, this.previous, nonceBytes(this.cipher, counter), EMPTY, body);
  }

  /** Marks `counter` as consumed: the next expected record is `counter + 1`. */
  advance(): void {
    this.counter += 1;
  }

  /** Noise REKEY: the new key is derived from the old one; the counter runs on. */
  rekey(): void {
    this.previous = this.key;
    this.key = rekey(this.cipher, this.key);
  }
}
