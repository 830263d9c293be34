/**
 * The mutual pre-shared-key handshake, as request/reply messages instead of a byte stream.
 *
 *   dialer → listener  HELLO     dialer, listener, mode, mount, session id, dialer nonce, dialer instance
 *   listener → dialer  CHALLENGE listener nonce, listener instance, HMAC(key, "listener", transcript)
 *   dialer → listener  PROOF     session id, HMAC(key, "dialer", transcript)
 *   listener → dialer  ACCEPT    HMAC(key, "accept", transcript)
 *
 * The transcript hash covers HELLO, the listener's nonce and its instance, so the session id
 * (and with it the channel's subjects), the mount, both nonces and both instances are bound to
 * every proof and to the HKDF-derived session keys. Either side may answer REJECT with a reason
 * code. An *instance* is random per provider (per process start): each side reports the other's
 * as the channel's `remoteSession`, so a peer that restarted is told apart from one that did not.
 */
import { CepError } from '@cep/provider-spec';
import { NONCE_BYTES, type SessionKeys, proof, randomNonce, sameBytes, sessionKeys, transcript } from './crypto.ts';
import { natsError } from './errors.ts';
import { MAX_NAME_BYTES } from './options.ts';

const MAGIC = 0x4345504e; // "CEPN"
/** 2: HELLO and CHALLENGE carry the sender's instance (v1 had none). */
const VERSION = 2;
const HELLO = 1;
const CHALLENGE = 2;
const PROOF = 3;
const ACCEPT = 4;
const REJECT = 5;
/** Bytes of a session id (hex in subjects). */
export const SESSION_BYTES = 16;
/** Bytes of a provider instance id (random per start; hex in `remoteSession`). */
export const INSTANCE_BYTES = 16;
/** Largest handshake message accepted. */
export const MAX_HANDSHAKE_BYTES = 6 + 4 * (1 + MAX_NAME_BYTES) + SESSION_BYTES + NONCE_BYTES + INSTANCE_BYTES;

/** What a listener learns from HELLO. */
export interface Hello {
  readonly raw: Uint8Array;
  readonly peer: string;
  readonly target: string;
  readonly mode: string;
  readonly mount: string;
  readonly session: string;
  /** The dialer's provider instance (hex). */
  readonly instance: string;
}

class Writer {
  private readonly parts: Buffer[] = [];
  constructor(type: number) {
    const head = Buffer.alloc(6);
    head.writeUInt32BE(MAGIC, 0);
    head[4] = VERSION;
    head[5] = type;
    this.parts.push(head);
  }
  bytes(b: Uint8Array): this {
    this.parts.push(Buffer.from(b));
    return this;
  }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    this.parts.push(Buffer.from([b.length]), b);
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function protocol(message: string): CepError {
  return natsError('PROTOCOL_ERROR', message);
}

class Reader {
  private at = 6;
  private readonly buf: Buffer;
  constructor(data: Uint8Array, expected: number) {
    if (data.length > MAX_HANDSHAKE_BYTES) throw protocol(`handshake message of ${data.length} bytes exceeds ${MAX_HANDSHAKE_BYTES}`);
    this.buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (this.buf.length < 6 || this.buf.readUInt32BE(0) !== MAGIC || this.buf[4] !== VERSION) throw protocol('not a cep-nats-v1 handshake message');
    const type = this.buf[5]!;
    if (type === REJECT && expected !== REJECT) {
      const code = this.str();
      throw new CepError(code === 'PEER_MISMATCH' ? 'PEER_MISMATCH' : 'AUTH_FAILED', `the remote peer refused the handshake (${code})`, { code });
    }
    if (type !== expected) throw protocol(`expected handshake message ${expected}, got ${type}`);
  }
  bytes(n: number): Buffer {
    if (this.at + n > this.buf.length) throw protocol('handshake message is truncated');
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  str(): string {
    const n = this.bytes(1)[0]!;
    if (n === 0 || n > MAX_NAME_BYTES) throw protocol(`handshake name length ${n} is outside 1..${MAX_NAME_BYTES}`);
    return this.bytes(n).toString('utf8');
  }
  end(): void {
    if (this.at !== this.buf.length) throw protocol('handshake message has trailing bytes');
  }
}

/** The dialer's state between HELLO and ACCEPT. */
export interface DialerHandshake {
  readonly hello: Buffer;
  readonly session: string;
  /** Checks CHALLENGE and returns PROOF; throws AUTH_FAILED when the listener lacks the key. */
  answer(challenge: Uint8Array): Buffer;
  /** The listener's instance (hex), known once `answer` accepted its CHALLENGE. */
  readonly remoteInstance: string | undefined;
  /** Checks ACCEPT and returns the session keys. */
  finish(accept: Uint8Array): SessionKeys;
}

/** Starts a handshake from the dialling side. */
export function dialHandshake(args: { localPeer: string; peer: string; mode: string; mount: string; key: Uint8Array; instance: Uint8Array }): DialerHandshake {
  const sessionBytes = randomNonce().subarray(0, SESSION_BYTES);
  const hello = new Writer(HELLO)
    .str(args.localPeer)
    .str(args.peer)
    .str(args.mode)
    .str(args.mount)
    .bytes(sessionBytes)
    .bytes(randomNonce())
    .bytes(args.instance)
    .done();
  let hash: Buffer | undefined;
  let remoteInstance: string | undefined;
  return {
    hello,
    session: sessionBytes.toString('hex'),
    get remoteInstance() {
      return remoteInstance;
    },
    answer(challenge) {
      const r = new Reader(challenge, CHALLENGE);
      const listenerNonce = r.bytes(NONCE_BYTES);
      const listenerInstance = r.bytes(INSTANCE_BYTES);
      const listenerProof = r.bytes(32);
      r.end();
      hash = transcript(hello, listenerNonce, listenerInstance);
      if (!sameBytes(listenerProof, proof(args.key, 'listener', hash))) {
        throw natsError('AUTH_FAILED', `peer "${args.peer}" did not prove it holds the configured key`, { peer: args.peer });
      }
      remoteInstance = listenerInstance.toString('hex');
      return new Writer(PROOF)
        .bytes(sessionBytes)
        .bytes(proof(args.key, 'dialer', hash))
        .done();
    },
    finish(accept) {
      if (hash === undefined) throw protocol('ACCEPT before CHALLENGE');
      const r = new Reader(accept, ACCEPT);
      const acceptProof = r.bytes(32);
      r.end();
      if (!sameBytes(acceptProof, proof(args.key, 'accept', hash))) {
        throw natsError('AUTH_FAILED', `peer "${args.peer}" sent a forged acceptance`, { peer: args.peer });
      }
      return sessionKeys(args.key, hash, true);
    },
  };
}

/** Parses HELLO (the listener's first step). */
export function readHello(data: Uint8Array): Hello {
  const r = new Reader(data, HELLO);
  const peer = r.str();
  const target = r.str();
  const mode = r.str();
  const mount = r.str();
  const session = r.bytes(SESSION_BYTES).toString('hex');
  r.bytes(NONCE_BYTES);
  const instance = r.bytes(INSTANCE_BYTES).toString('hex');
  r.end();
  return { raw: Uint8Array.from(data), peer, target, mode, mount, session, instance };
}

/** The listener's state between CHALLENGE and PROOF. */
export interface ListenerHandshake {
  readonly challenge: Buffer;
  /** Checks PROOF; returns ACCEPT and the session keys, or throws AUTH_FAILED. */
  verify(proofMessage: Uint8Array): { accept: Buffer; keys: SessionKeys };
}

/** Answers a HELLO for which `key` is the dialer's key. */
export function challengeHandshake(hello: Hello, key: Uint8Array, instance: Uint8Array): ListenerHandshake {
  const listenerNonce = randomNonce();
  const hash = transcript(hello.raw, listenerNonce, instance);
  return {
    challenge: new Writer(CHALLENGE)
      .bytes(listenerNonce)
      .bytes(instance)
      .bytes(proof(key, 'listener', hash))
      .done(),
    verify(proofMessage) {
      const r = new Reader(proofMessage, PROOF);
      r.bytes(SESSION_BYTES);
      const dialerProof = r.bytes(32);
      r.end();
      if (!sameBytes(dialerProof, proof(key, 'dialer', hash))) {
        throw natsError('AUTH_FAILED', `peer "${hello.peer}" did not prove it holds the configured key`, { peer: hello.peer });
      }
      return { accept: new Writer(ACCEPT).bytes(proof(key, 'accept', hash)).done(), keys: sessionKeys(key, hash, false) };
    },
  };
}

/** The session id a PROOF names (to find the pending handshake), or undefined for garbage. */
export function proofSession(data: Uint8Array): string | undefined {
  try {
    return new Reader(data, PROOF).bytes(SESSION_BYTES).toString('hex');
  } catch {
    return undefined;
  }
}

/** A refusal message. */
export function rejectMessage(code: 'AUTH_FAILED' | 'PEER_MISMATCH' | 'PROTOCOL_ERROR'): Buffer {
  return new Writer(REJECT).str(code).done();
}
