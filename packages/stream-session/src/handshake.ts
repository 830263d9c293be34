import { CepError } from '@cep/provider-spec';
import type { Conn } from './conn.ts';
import { NONCE_BYTES, type SessionKeys, nonce, proof, sameBytes, sessionKeys, transcript } from './crypto.ts';
import { streamError } from './errors.ts';
import { MAX_NAME_BYTES } from './options.ts';

/**
 * The mutual challenge–response that opens every connection (see README, "Security").
 *
 *   dialer  → HELLO     dialer name, listener name, mode, mount, nonce A, session A
 *   listener→ CHALLENGE nonce B, session B, HMAC(K, "listener" ‖ H)   H = SHA-256(HELLO ‖ nonce B ‖ session B)
 *   dialer  → PROOF     HMAC(K, "dialer" ‖ H)
 *   listener→ ACCEPT    HMAC(K, "accept" ‖ H)    (or REJECT with a code)
 *
 * Each message is a 16-bit length and a body of at most MAX_HANDSHAKE_BYTES. A session is
 * SESSION_BYTES random bytes per provider instance (a process start): both proofs cover both
 * sessions, so a peer cannot be made to believe the other restarted. A HELLO without a session
 * (an older dialer) gets a CHALLENGE without one, hashed as before.
 */
const MAGIC = 0x43455053; // "CEPS"
const VERSION = 1;
const HELLO = 1;
const CHALLENGE = 2;
const PROOF = 3;
const ACCEPT = 4;
const REJECT = 5;
/** Bytes of a session id on the wire (shown as hex). */
export const SESSION_BYTES = 16;
/** Largest handshake message a peer may send before it is authenticated. */
export const MAX_HANDSHAKE_BYTES = 512;

/** What the listener learns from a successful handshake. */
export interface Accepted {
  readonly peer: string;
  readonly mode: string;
  readonly mount: string;
  readonly keys: SessionKeys;
  /** The dialer's session id (hex), absent for an older dialer that sends none. */
  readonly session: string | undefined;
}

/** What the dialer learns from a successful handshake. */
export interface Dialled {
  readonly keys: SessionKeys;
  /** The listener's session id (hex). */
  readonly session: string;
}

class Builder {
  private parts: Buffer[] = [];
  u8(v: number): this {
    this.parts.push(Buffer.from([v]));
    return this;
  }
  bytes(b: Uint8Array): this {
    this.parts.push(Buffer.from(b));
    return this;
  }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    return this.u8(b.length).bytes(b);
  }
  head(type: number): this {
    const b = Buffer.alloc(6);
    b.writeUInt32BE(MAGIC, 0);
    b[4] = VERSION;
    b[5] = type;
    this.parts.push(b);
    return this;
  }
  body(): Buffer {
    return Buffer.concat(this.parts);
  }
}

class Parser {
  private off = 0;
  constructor(private readonly buf: Buffer) {}
  private need(n: number): void {
    if (this.off + n > this.buf.length) throw protocol('handshake message is truncated');
  }
  u8(): number {
    this.need(1);
    return this.buf[this.off++]!;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const out = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return out;
  }
  str(): string {
    const n = this.u8();
    if (n === 0 || n > MAX_NAME_BYTES) throw protocol(`handshake name length ${n} is outside 1..${MAX_NAME_BYTES}`);
    return this.bytes(n).toString('utf8');
  }
  head(expected: number): void {
    this.need(6);
    if (this.buf.readUInt32BE(0) !== MAGIC || this.buf[4] !== VERSION) throw protocol('not a cep-stream-v1 handshake');
    this.off = 6;
    const type = this.buf[5]!;
    if (type === REJECT && expected !== REJECT) {
      const code = this.str();
      throw new CepError(code === 'PEER_MISMATCH' ? 'PEER_MISMATCH' : 'AUTH_FAILED', `the remote peer refused the handshake (${code})`, { code });
    }
    if (type !== expected) throw protocol(`expected handshake message ${expected}, got ${type}`);
  }
  /** Bytes not read yet. */
  get left(): number {
    return this.buf.length - this.off;
  }
  end(): void {
    if (this.off !== this.buf.length) throw protocol('handshake message has trailing bytes');
  }
}

function protocol(message: string): CepError {
  return streamError('PROTOCOL_ERROR', message);
}

function send(conn: Conn, body: Buffer): void {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(body.length, 0);
  conn.socket.write(Buffer.concat([len, body]));
}

function nextMessage(conn: Conn): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (conn.queue.length < 2) return;
      const len = conn.queue.peek(2).readUInt16BE(0);
      if (len > MAX_HANDSHAKE_BYTES) {
        conn.setHandlers(null, null);
        reject(protocol(`handshake message of ${len} bytes exceeds ${MAX_HANDSHAKE_BYTES}`));
        return;
      }
      if (conn.queue.length < 2 + len) return;
      conn.setHandlers(null, null);
      conn.queue.skip(2);
      resolve(Buffer.from(conn.queue.take(len)));
    };
    const gone = (error: Error | undefined): void =>
      reject(streamError('CONNECTION_LOST', `the connection closed during the handshake${error ? `: ${error.message}` : ''}`));
    conn.setHandlers(check, gone);
    if (conn.gone) gone(conn.goneError);
    else check();
  });
}

/** Resolves with the first byte the remote sent, without consuming it (it tells the two handshakes apart). */
export function firstByte(conn: Conn): Promise<number> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (conn.queue.length === 0) return;
      conn.setHandlers(null, null);
      resolve(conn.queue.peek(1)[0]!);
    };
    const gone = (error: Error | undefined): void =>
      reject(streamError('CONNECTION_LOST', `the connection closed before the handshake${error ? `: ${error.message}` : ''}`));
    conn.setHandlers(check, gone);
    if (conn.gone) gone(conn.goneError);
    else check();
  });
}

/** Runs `work` with a deadline; on expiry HANDSHAKE_TIMEOUT is thrown (the caller ends the socket). */
export async function withDeadline<T>(conn: Conn, ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(streamError('HANDSHAKE_TIMEOUT', `the handshake did not finish within ${ms} ms`, { ms }));
    }, ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } catch (error) {
    // The caller decides how the socket ends: a listener lets its REJECT leave first.
    conn.setHandlers(null, null);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** The dialer's half: proves it holds `key` and checks that the listener does too. */
export async function dialHandshake(
  conn: Conn,
  args: { localPeer: string; peer: string; mode: string; mount: string; key: Uint8Array; session: Uint8Array },
): Promise<Dialled> {
  const hello = new Builder().head(HELLO).str(args.localPeer).str(args.peer).str(args.mode).str(args.mount).bytes(nonce()).bytes(args.session).body();
  send(conn, hello);
  const p = new Parser(await nextMessage(conn));
  p.head(CHALLENGE);
  const listenerNonce = p.bytes(NONCE_BYTES);
  const listenerSession = p.bytes(SESSION_BYTES);
  const listenerProof = p.bytes(32);
  p.end();
  const hash = transcript(hello, Buffer.concat([listenerNonce, listenerSession]));
  if (!sameBytes(listenerProof, proof(args.key, 'listener', hash))) {
    throw streamError('AUTH_FAILED', `peer "${args.peer}" did not prove it holds the configured key`, { peer: args.peer });
  }
  send(
    conn,
    new Builder()
      .head(PROOF)
      .bytes(proof(args.key, 'dialer', hash))
      .body(),
  );
  const a = new Parser(await nextMessage(conn));
  a.head(ACCEPT);
  const accept = a.bytes(32);
  a.end();
  if (!sameBytes(accept, proof(args.key, 'accept', hash))) {
    throw streamError('AUTH_FAILED', `peer "${args.peer}" sent a forged acceptance`, { peer: args.peer });
  }
  return { keys: sessionKeys(args.key, hash, true), session: listenerSession.toString('hex') };
}

function reject(conn: Conn, code: 'AUTH_FAILED' | 'PEER_MISMATCH'): void {
  send(conn, new Builder().head(REJECT).str(code).body());
}

/** The listener's half: identifies the dialer by name, then both prove the key for that name. */
export async function acceptHandshake(
  conn: Conn,
  args: {
    localPeer: string;
    keys: ReadonlyMap<string, Uint8Array>;
    session: Uint8Array;
    onHello?: () => void;
    /** True for a peer configured with a public key: the pre-shared-key handshake is refused for it. */
    identityPeer?: (peer: string) => boolean;
  },
): Promise<Accepted> {
  const hello = await nextMessage(conn);
  const p = new Parser(hello);
  p.head(HELLO);
  const peer = p.str();
  const target = p.str();
  const mode = p.str();
  const mount = p.str();
  p.bytes(NONCE_BYTES);
  // An older dialer sends no session and expects a CHALLENGE without one.
  const dialerSession = p.left === SESSION_BYTES ? p.bytes(SESSION_BYTES) : undefined;
  p.end();
  // A well-formed HELLO: the connection is mid-handshake now, no longer a silent one.
  args.onHello?.();
  if (target !== args.localPeer) {
    reject(conn, 'PEER_MISMATCH');
    throw streamError('PEER_MISMATCH', `a dialer asked for peer "${target}" but this node is "${args.localPeer}"`, { peer, target });
  }
  if (args.identityPeer?.(peer) === true) {
    reject(conn, 'AUTH_FAILED');
    throw streamError('AUTH_FAILED', `peer "${peer}" is configured with a public key; its pre-shared-key handshake is refused (no downgrade)`, { peer });
  }
  const key = args.keys.get(peer);
  if (key === undefined) {
    reject(conn, 'AUTH_FAILED');
    throw streamError('AUTH_FAILED', `no key is configured for peer "${peer}"; add one to keys to accept it`, { peer });
  }
  const listenerNonce = nonce();
  const said = dialerSession === undefined ? listenerNonce : Buffer.concat([listenerNonce, args.session]);
  const hash = transcript(hello, said);
  send(
    conn,
    new Builder()
      .head(CHALLENGE)
      .bytes(said)
      .bytes(proof(key, 'listener', hash))
      .body(),
  );
  const q = new Parser(await nextMessage(conn));
  q.head(PROOF);
  const dialerProof = q.bytes(32);
  q.end();
  if (!sameBytes(dialerProof, proof(key, 'dialer', hash))) {
    reject(conn, 'AUTH_FAILED');
    throw streamError('AUTH_FAILED', `peer "${peer}" did not prove it holds the configured key`, { peer });
  }
  send(
    conn,
    new Builder()
      .head(ACCEPT)
      .bytes(proof(key, 'accept', hash))
      .body(),
  );
  return { peer, mode, mount, keys: sessionKeys(key, hash, false), session: dialerSession?.toString('hex') };
}
