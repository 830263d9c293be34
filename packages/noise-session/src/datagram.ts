import type { Duplex } from 'node:stream';
import { noiseError } from './errors.ts';
import { runInitiator, runResponder, type AuthenticatedPeer, type HandshakeResult } from './handshake.ts';
import type { InitiatorOptions, ResponderOptions } from './options.ts';
import { nonceBytes, open, seal, TAG_BYTES, type CipherName } from './primitives.ts';
import { ReplayWindow } from './replay-window.ts';
import { MAX_COUNTER } from './transport-cipher.ts';

/** Bytes a sealed datagram adds to its message: the 8-byte counter and the 16-byte tag. */
export const DATAGRAM_OVERHEAD = 8 + TAG_BYTES;
/** Largest message one sealed datagram carries by default: a UDP payload (65507) minus the overhead. */
export const DEFAULT_MAX_DATAGRAM_MESSAGE = 65_507 - DATAGRAM_OVERHEAD;

const EMPTY = new Uint8Array(0);

/**
 * Encrypted datagrams after a Noise handshake:
 *
 *   u64 counter | AEAD(message) + 16-byte tag        (the counter is the nonce; the AEAD is the handshake version's)
 *
 * Each datagram stands alone, so loss and reordering are normal: a counter is accepted
 * once, in any order, within a window of 2048 behind the highest seen; an older or
 * repeated one is `NOISE_REPLAY`. Unlike the stream session nothing here is fatal — the
 * caller drops the bad datagram and goes on. There is no in-session rekey (a lost
 * datagram cannot carry an epoch change reliably): a session ends at the counter limit
 * and the caller runs a new handshake.
 */
export class DatagramSession {
  private sendCounter = 0;
  private readonly window = new ReplayWindow();

  constructor(
    /** The authenticated remote. */
    readonly peer: AuthenticatedPeer,
    private readonly sendKey: Uint8Array,
    private readonly receiveKey: Uint8Array,
    private readonly maxMessageBytes = DEFAULT_MAX_DATAGRAM_MESSAGE,
    private readonly cipher: CipherName = 'ChaChaPoly',
  ) {}

  /** Encrypts one message into one datagram. */
  seal(message: Uint8Array): Uint8Array {
    if (message.length > this.maxMessageBytes) {
      throw noiseError('NOISE_RECORD_TOO_LARGE', `a datagram message of ${message.length} bytes is above ${this.maxMessageBytes}`, { bytes: message.length });
    }
    if (this.sendCounter > MAX_COUNTER) throw noiseError('NOISE_NONCE_EXHAUSTED', 'the datagram counter reached its limit; run a new handshake');
    const counter = this.sendCounter++;
    const head = Buffer.allocUnsafe(8);
    head.writeUInt32BE(Math.floor(counter / 0x1_0000_0000), 0);
    head.writeUInt32BE(counter >>> 0, 4);
    return Buffer.concat([head, ...seal(this.cipher, this.sendKey, nonceBytes(this.cipher, counter), EMPTY, [message])]);
  }

  /**
   * Decrypts one datagram. Throws `NOISE_PROTOCOL_ERROR` (too short), `NOISE_REPLAY`
   * (already seen, or too old to tell) or `NOISE_AUTH_FAILED`; the window only moves for
   * authentic datagrams, so forged ones cannot push real ones out.
   */
  open(datagram: Uint8Array): Uint8Array {
    if (datagram.length < DATAGRAM_OVERHEAD)
      throw noiseError('NOISE_PROTOCOL_ERROR', `a datagram of ${datagram.length} bytes is shorter than its header and tag`);
    const view = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.length);
    const counter = view.readUInt32BE(0) * 0x1_0000_0000 + view.readUInt32BE(4);
    if (counter > MAX_COUNTER || !this.window.fresh(counter)) {
      throw noiseError('NOISE_REPLAY', `datagram ${counter} from "${this.peer.name}" was seen already or is too old`, { counter });
    }
    const plain = open(this.cipher, this.receiveKey, nonceBytes(this.cipher, counter), EMPTY, view.subarray(8));
    if (plain === null) throw noiseError('NOISE_AUTH_FAILED', `datagram ${counter} from "${this.peer.name}" did not decrypt`, { counter });
    this.window.accept(counter);
    return plain;
  }
}

function fromHandshake(stream: Duplex, result: HandshakeResult, maxMessageBytes?: number): DatagramSession {
  // The handshake channel's job is done (the datagrams travel elsewhere); end, not destroy, so the ACCEPT still leaves.
  stream.end();
  if (result.rest.length > 0) throw noiseError('NOISE_PROTOCOL_ERROR', 'bytes followed the handshake on a datagram handshake channel');
  return new DatagramSession(result.peer, result.keys.sendKey, result.keys.receiveKey, maxMessageBytes, result.cipher);
}

/**
 * The dialling side of a datagram session: runs the same handshake as `secureInitiator`
 * over `stream` — any reliable, ordered byte channel, e.g. a small stop-and-wait
 * adapter that carries handshake bytes in datagrams and resends them until answered —
 * then ends it and returns the per-datagram sealer.
 */
export async function datagramInitiator(stream: Duplex, options: InitiatorOptions & { maxMessageBytes?: number }): Promise<DatagramSession> {
  return fromHandshake(stream, await runInitiator(stream, options), options.maxMessageBytes);
}

/** The accepting side of {@link datagramInitiator}. */
export async function datagramResponder(stream: Duplex, options: ResponderOptions & { maxMessageBytes?: number }): Promise<DatagramSession> {
  return fromHandshake(stream, await runResponder(stream, options), options.maxMessageBytes);
}
