import { Duplex } from 'node:stream';

/** Resend period of unacknowledged handshake bytes, in ms (loopback answers in well under it). */
export const RESEND_MS = 100;
/** The dialler's resends of one handshake chunk before it is given up (the handshake timeout usually ends it first). */
export const MAX_RESENDS = 50;
/**
 * The listener's resends of one chunk. Few on purpose: its first chunk answers a datagram
 * whose source address nobody has verified yet, so every resend would multiply what a forged
 * source can make it send to a victim (the listener's answer is about twice the dialler's
 * first datagram). A dialler that lost all of them times out and opens again.
 */
export const LISTENER_MAX_RESENDS = 2;
/** Chunks that arrived ahead of a missing one and are kept until it comes. */
const MAX_AHEAD = 16;

/** How a link puts its chunks and acknowledgements on the wire. */
export interface LinkWire {
  /** Sends handshake chunk `seq`. */
  chunk(seq: number, bytes: Buffer): void;
  /** Acknowledges chunk `seq`. */
  ack(seq: number): void;
}

/**
 * The reliable, ordered byte channel a Noise handshake needs, carried in datagrams: each write
 * is one numbered chunk, resent every {@link RESEND_MS} until the far side acknowledges it, and
 * chunks are handed on in order, once. Only handshake bytes travel here (a few hundred bytes
 * each way); after it the session seals each datagram on its own.
 *
 * Resending outlives the stream on purpose: the handshake's last word (ACCEPT, or a REJECT
 * naming the reason) is written just before the handshake ends the stream, and must still
 * reach the far side if the first copy is lost. It stops once acknowledged, after
 * `maxResends` ({@link MAX_RESENDS} for a dialler, {@link LISTENER_MAX_RESENDS} for a
 * listener), or at {@link HandshakeLink.dispose}.
 */
export class HandshakeLink extends Duplex {
  private nextSend = 0;
  private nextReceive = 0;
  private readonly unacked = new Map<number, { bytes: Buffer; resends: number; fresh: boolean }>();
  private readonly ahead = new Map<number, Buffer>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly wire: LinkWire,
    private readonly maxResends = MAX_RESENDS,
  ) {
    super();
  }

  /** A chunk from the far side: acknowledge it (again, if it was a resend) and pass it on in order. */
  receive(seq: number, bytes: Buffer): void {
    this.wire.ack(seq);
    if (seq < this.nextReceive || this.ahead.has(seq) || this.destroyed) return;
    if (seq > this.nextReceive) {
      if (this.ahead.size < MAX_AHEAD) this.ahead.set(seq, bytes);
      return;
    }
    this.push(bytes);
    this.nextReceive++;
    for (let next = this.ahead.get(this.nextReceive); next !== undefined; next = this.ahead.get(this.nextReceive)) {
      this.ahead.delete(this.nextReceive);
      this.push(next);
      this.nextReceive++;
    }
  }

  /** The far side acknowledged chunk `seq`. */
  acknowledged(seq: number): void {
    this.unacked.delete(seq);
    if (this.unacked.size === 0) this.stopResending();
  }

  /** Stops resending and releases the stream (the provider closed, or the channel is gone). */
  dispose(): void {
    this.unacked.clear();
    this.stopResending();
    this.destroy();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const seq = this.nextSend++;
    this.unacked.set(seq, { bytes: chunk, resends: 0, fresh: true });
    this.wire.chunk(seq, chunk);
    this.timer ??= setInterval(() => this.resend(), RESEND_MS).unref();
    callback();
  }

  override _read(): void {
    // Chunks are pushed as they arrive; a handshake is too small to need flow control.
  }

  override _final(callback: (error?: Error | null) => void): void {
    callback();
  }

  private resend(): void {
    for (const [seq, entry] of this.unacked) {
      // A chunk written since the last tick has not had a whole period to be acknowledged yet.
      if (entry.fresh) {
        entry.fresh = false;
        continue;
      }
      if (++entry.resends > this.maxResends) this.unacked.delete(seq);
      else this.wire.chunk(seq, entry.bytes);
    }
    if (this.unacked.size === 0) this.stopResending();
  }

  private stopResending(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
