import { noiseError } from './errors.ts';
import {
  DH_BYTES,
  HASH_BYTES,
  TAG_BYTES,
  dh,
  dhKeyFromPrivate,
  generateDhKey,
  hash,
  hkdf,
  nonceBytes,
  open,
  seal,
  type CipherName,
  type DhKey,
} from './primitives.ts';

/**
 * The Noise Protocol Framework's CipherState, SymmetricState and HandshakeState
 * (revision 34, §5), for the XX pattern with and without the `psk3` modifier and the
 * suites 25519_ChaChaPoly_SHA256 and 25519_AESGCM_SHA256. Checked byte for byte against
 * the cacophony test vectors.
 */

type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss' | 'psk';

/** The handshake patterns this package speaks. */
export const PATTERNS = {
  XX: [['e'], ['e', 'ee', 's', 'es'], ['s', 'se']],
  XXpsk3: [['e'], ['e', 'ee', 's', 'es'], ['s', 'se', 'psk']],
} as const satisfies Record<string, readonly (readonly Token[])[]>;

export type PatternName = keyof typeof PATTERNS;

/** Counter-nonce AEAD key of one direction (Noise's CipherState). */
export class CipherState {
  private n = 0n;
  constructor(
    private readonly cipher: CipherName,
    private k: Buffer | null = null,
  ) {}

  get hasKey(): boolean {
    return this.k !== null;
  }

  get key(): Buffer {
    if (this.k === null) throw new Error('cipher state has no key');
    return this.k;
  }

  encrypt(ad: Uint8Array, plaintext: Uint8Array): Buffer {
    if (this.k === null) return Buffer.from(plaintext);
    const out = Buffer.concat(seal(this.cipher, this.k, nonceBytes(this.cipher, this.n), ad, [plaintext]));
    this.n += 1n;
    return out;
  }

  decrypt(ad: Uint8Array, ciphertext: Uint8Array): Buffer {
    if (this.k === null) return Buffer.from(ciphertext);
    const plain = open(this.cipher, this.k, nonceBytes(this.cipher, this.n), ad, ciphertext);
    if (plain === null)
      throw noiseError('NOISE_AUTH_FAILED', 'a handshake message did not decrypt: the peer holds another key or PSK, or the message was altered');
    this.n += 1n;
    return plain;
  }
}

class SymmetricState {
  ck: Buffer;
  h: Buffer;
  cipher: CipherState;

  constructor(
    protocolName: string,
    private readonly cipherName: CipherName,
  ) {
    this.cipher = new CipherState(cipherName);
    const name = Buffer.from(protocolName, 'ascii');
    this.h = name.length <= HASH_BYTES ? Buffer.concat([name, Buffer.alloc(HASH_BYTES - name.length)]) : hash(name);
    this.ck = this.h;
  }

  mixKey(input: Uint8Array): void {
    const [ck, k] = hkdf(this.ck, input, 2);
    this.ck = ck!;
    this.setKey(k!);
  }

  mixHash(data: Uint8Array): void {
    this.h = hash(this.h, data);
  }

  mixKeyAndHash(input: Uint8Array): void {
    const [ck, th, k] = hkdf(this.ck, input, 3);
    this.ck = ck!;
    this.mixHash(th!);
    this.setKey(k!);
  }

  private setKey(k: Buffer): void {
    this.cipher = new CipherState(this.cipherName, k);
  }

  encryptAndHash(plaintext: Uint8Array): Buffer {
    const out = this.cipher.encrypt(this.h, plaintext);
    this.mixHash(out);
    return out;
  }

  decryptAndHash(ciphertext: Uint8Array): Buffer {
    const out = this.cipher.decrypt(this.h, ciphertext);
    this.mixHash(ciphertext);
    return out;
  }

  get keyed(): boolean {
    return this.cipher.hasKey;
  }

  split(): [Buffer, Buffer] {
    const [k1, k2] = hkdf(this.ck, new Uint8Array(0), 2);
    return [k1!, k2!];
  }
}

/** What a {@link HandshakeState} is built from. */
export interface HandshakeParams {
  readonly pattern: PatternName;
  /** The AEAD; ChaChaPoly unless said otherwise. */
  readonly cipher?: CipherName;
  readonly initiator: boolean;
  readonly prologue: Uint8Array;
  /** Raw X25519 private key of this side. */
  readonly staticPrivate: Uint8Array;
  /** Required by patterns with a `psk` token. */
  readonly psk?: Uint8Array;
  /** Test vectors only: a fixed ephemeral private key instead of a fresh random one. */
  readonly _ephemeralPrivate?: Uint8Array;
}

/** The result of a finished handshake: one key per direction, and the channel binding hash. */
export interface SplitKeys {
  readonly sendKey: Buffer;
  readonly receiveKey: Buffer;
  readonly handshakeHash: Buffer;
}

/**
 * Noise's HandshakeState: call `writeMessage` / `readMessage` in pattern order; after the
 * last message `split()` gives the transport keys. The remote static key is available
 * as `remoteStatic` as soon as its message has been read, before the rest of that message
 * (notably a `psk` token) is processed — see `onRemoteStatic`.
 */
export class HandshakeState {
  private readonly symmetric: SymmetricState;
  private readonly pattern: readonly (readonly Token[])[];
  private readonly s: DhKey;
  private e: DhKey | null = null;
  private re: Uint8Array | null = null;
  private rs: Uint8Array | null = null;
  private psk: Uint8Array | undefined;
  private index = 0;
  private readonly usesPsk: boolean;

  constructor(private readonly params: HandshakeParams) {
    this.pattern = PATTERNS[params.pattern];
    this.usesPsk = params.pattern.includes('psk');
    const cipher = params.cipher ?? 'ChaChaPoly';
    this.symmetric = new SymmetricState(`Noise_${params.pattern}_25519_${cipher}_SHA256`, cipher);
    this.symmetric.mixHash(params.prologue);
    this.s = dhKeyFromPrivate(params.staticPrivate);
    this.psk = params.psk;
  }

  /** This side's static public key. */
  get localStatic(): Uint8Array {
    return this.s.publicKey;
  }

  /** The remote static public key, once received. */
  get remoteStatic(): Uint8Array | null {
    return this.rs;
  }

  get finished(): boolean {
    return this.index >= this.pattern.length;
  }

  /** True when the next message is written by this side. */
  get myTurn(): boolean {
    return (this.index % 2 === 0) === this.params.initiator;
  }

  /** Sets the PSK late: the responder of XXpsk3 picks it once the initiator's static key is known. */
  setPsk(psk: Uint8Array): void {
    this.psk = psk;
  }

  writeMessage(payload: Uint8Array): Buffer {
    const tokens = this.next(true);
    const out: Uint8Array[] = [];
    for (const token of tokens) {
      switch (token) {
        case 'e': {
          this.e = this.params._ephemeralPrivate ? dhKeyFromPrivate(this.params._ephemeralPrivate) : generateDhKey().key;
          out.push(this.e.publicKey);
          this.symmetric.mixHash(this.e.publicKey);
          if (this.usesPsk) this.symmetric.mixKey(this.e.publicKey);
          break;
        }
        case 's':
          out.push(this.symmetric.encryptAndHash(this.s.publicKey));
          break;
        case 'psk':
          this.symmetric.mixKeyAndHash(this.requirePsk());
          break;
        default:
          this.mixDh(token);
      }
    }
    out.push(this.symmetric.encryptAndHash(payload));
    return Buffer.concat(out);
  }

  /**
   * Reads one handshake message and returns its payload. `onRemoteStatic` runs right after
   * the remote static key is decrypted — the place to look it up and set the PSK, or refuse.
   */
  readMessage(message: Uint8Array, onRemoteStatic?: (key: Uint8Array) => void): Buffer {
    const tokens = this.next(false);
    let at = 0;
    const take = (n: number): Uint8Array => {
      if (message.length - at < n) throw noiseError('NOISE_PROTOCOL_ERROR', `handshake message ${this.index} is too short`, { bytes: message.length });
      const out = message.subarray(at, at + n);
      at += n;
      return out;
    };
    for (const token of tokens) {
      switch (token) {
        case 'e': {
          this.re = new Uint8Array(take(DH_BYTES));
          this.symmetric.mixHash(this.re);
          if (this.usesPsk) this.symmetric.mixKey(this.re);
          break;
        }
        case 's': {
          const sealed = take(this.symmetric.keyed ? DH_BYTES + TAG_BYTES : DH_BYTES);
          this.rs = new Uint8Array(this.symmetric.decryptAndHash(sealed));
          onRemoteStatic?.(this.rs);
          break;
        }
        case 'psk':
          this.symmetric.mixKeyAndHash(this.requirePsk());
          break;
        default:
          this.mixDh(token);
      }
    }
    return this.symmetric.decryptAndHash(message.subarray(at));
  }

  /** The transport keys; only after the last message. */
  split(): SplitKeys {
    if (!this.finished) throw new Error('handshake not finished');
    const [k1, k2] = this.symmetric.split();
    const handshakeHash = this.symmetric.h;
    return this.params.initiator ? { sendKey: k1, receiveKey: k2, handshakeHash } : { sendKey: k2, receiveKey: k1, handshakeHash };
  }

  private next(writing: boolean): readonly Token[] {
    if (this.finished) throw new Error('handshake already finished');
    if (this.myTurn !== writing) throw new Error(writing ? 'not this side’s turn to write' : 'not this side’s turn to read');
    return this.pattern[this.index++]!;
  }

  private requirePsk(): Uint8Array {
    if (this.psk === undefined) throw noiseError('NOISE_INVALID_OPTIONS', 'this handshake pattern needs a PSK and none was set');
    return this.psk;
  }

  private mixDh(token: 'ee' | 'es' | 'se' | 'ss'): void {
    // Tokens name (initiator key, responder key); each side uses its own private half.
    const initiator = this.params.initiator;
    const local = token === 'ee' ? this.e : token === 'ss' ? this.s : (token === 'es') === initiator ? this.e : this.s;
    const remote = token === 'ee' ? this.re : token === 'ss' ? this.rs : (token === 'es') === initiator ? this.rs : this.re;
    if (local === null || remote === null) throw new Error(`token ${token} before its keys`);
    let shared: Buffer;
    try {
      shared = dh(local, remote);
    } catch {
      throw noiseError('NOISE_AUTH_FAILED', 'the peer sent a public key that gives no shared secret (a low-order point)');
    }
    this.symmetric.mixKey(shared);
  }
}
