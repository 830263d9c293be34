import type { ChannelEventV1, ChannelInfoV1, ChannelV1, SendResultV1 } from '@cep/provider-spec';
import { CepError, createFrameQueue } from '@cep/provider-spec';
import { BYE, DATA, HELLO, ReplayWindow, type Route, encode } from './datagram.ts';
import type { ResolvedUdpOptions } from './options.ts';

/** Hands one encoded datagram to the socket; `done` runs once the OS took it (or failed). */
export type Transmit = (datagram: Buffer, done: () => void) => void;
/** Turns one message of a kind (DATA, HELLO, BYE) into the datagram that carries it. */
export type Seal = (type: number, payload: Uint8Array) => Buffer;

/**
 * The pre-shared-key sealer: the HMAC envelope with a sequence number that starts from the
 * wall clock (ms × 1024), so it keeps rising across restarts of the sender and a receiver's
 * window still refuses datagrams an attacker recorded from an earlier run (unless the
 * receiver restarted too).
 */
export function keyedSeal(key: Uint8Array, route: Route): Seal {
  let seq = Date.now() * 1024;
  return (type, payload) => encode(key, route, type, seq++, payload);
}

/**
 * One datagram channel: a (local socket, remote address, peer, mount) tuple. Sends are
 * fire-and-forget; backpressure is the bytes the OS has not sent yet. Inbound frames
 * wait in a bounded queue that drops the oldest when nobody pulls (this is the
 * unreliable profile: a newer gauge is worth more than an older one).
 */
export class UdpChannel implements ChannelV1 {
  private inflight = 0;
  private backpressured = false;
  private readonly inbound;
  private state: 'open' | 'closing' | 'closed' = 'open';
  private readonly listeners = new Set<(event: ChannelEventV1) => void>();
  private readonly window: ReplayWindow;
  private closing: Promise<void> | undefined;
  /** The far side's session as its last HELLO told it (a dialled channel reports changes). */
  private remoteSession: string | undefined;
  private readonly log;

  constructor(
    readonly info: ChannelInfoV1,
    private readonly options: ResolvedUdpOptions,
    private readonly seal: Seal,
    private readonly transmit: Transmit,
    private readonly release: () => Promise<void>,
    /** This provider instance's session id, carried in every HELLO this channel sends. */
    private readonly session: string,
  ) {
    this.remoteSession = info.remoteSession;
    this.log = options.logger.child({ provider: info.provider, peer: info.peer, mount: info.mount });
    this.window = new ReplayWindow(options.replayWindow);
    // Bounded in frames, never paused: a datagram socket cannot be told to stop, so the oldest
    // frame makes room. The byte mark is only required by the queue; `push` answers are unused.
    this.inbound = createFrameQueue({ highWaterMark: Number.MAX_SAFE_INTEGER, maxFrames: options.maxQueuedFrames });
  }

  send(frame: Uint8Array): SendResultV1 {
    if (this.state !== 'open') throw new CepError('CHANNEL_CLOSED', `udp channel to "${this.info.peer}" is closed; open a new one`);
    if (frame.length > this.options.maxFrameBytes) {
      throw new CepError('FRAME_TOO_LARGE', `frame of ${frame.length} bytes exceeds the datagram limit maxFrameBytes ${this.options.maxFrameBytes}`, {
        size: frame.length,
        max: this.options.maxFrameBytes,
      });
    }
    if (this.inflight + frame.length > this.options.hardLimitBytes) {
      throw new CepError('CHANNEL_OVERFLOW', `udp send queue would exceed hardLimitBytes ${this.options.hardLimitBytes}; wait for 'ready'`, {
        inflight: this.inflight,
      });
    }
    this.post(DATA, frame);
    if (this.inflight <= this.options.highWaterMark) return 'ready';
    if (!this.backpressured) {
      this.backpressured = true;
      this.emit({ type: 'backpressure', bufferedBytes: this.inflight });
    }
    return 'backpressure';
  }

  frames(): AsyncIterable<Uint8Array> {
    return this.inbound.frames();
  }

  onEvent(listener: (event: ChannelEventV1) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(reason: string): Promise<void> {
    this.closing ??= this.closeNow(reason);
    return this.closing;
  }

  /**
   * Sends a HELLO carrying this provider's session: from the dialler it makes the listener create
   * its side of the channel; from the listener it tells the dialler which process answers (a
   * listener that restarted sends it when a datagram of a channel it does not know arrives).
   */
  announce(): void {
    this.post(HELLO, Buffer.from(this.session, 'utf8'));
  }

  /**
   * A message the provider authenticated for this channel. `seq` is the pre-shared-key
   * envelope's sequence number, checked against this channel's replay window; an identity
   * channel's session has checked its own counter already and passes none.
   */
  deliver(type: number, payload: Buffer, remoteAddress: string, seq?: number): void {
    if (this.state !== 'open') return;
    if (seq !== undefined && !this.window.accept(seq)) {
      this.options.onReject({
        code: 'REPLAYED_FRAME',
        message: `datagram ${seq} from "${this.info.peer}" was replayed or is older than the replay window`,
        remoteAddress,
        claimedPeer: this.info.peer,
      });
      return;
    }
    if (type === BYE) {
      this.finish(`remote closed: ${payload.toString('utf8')}`);
      void this.release();
      return;
    }
    if (type === HELLO) {
      const id = sessionOf(payload);
      // A dialled channel learns (and re-learns, after the listener restarted) the far session.
      if (id !== undefined && this.info.initiator && id !== this.remoteSession) {
        this.remoteSession = id;
        this.emit({ type: 'session', id });
      }
      return;
    }
    if (type !== DATA) return;
    this.inbound.push(new Uint8Array(payload));
  }

  /**
   * The channel may no longer be used though its socket is fine (its key was revoked): `fatal`,
   * then a goodbye to the far side and `closed`.
   */
  revoke(error: CepError): Promise<void> {
    if (this.state !== 'open') return this.closing ?? Promise.resolve();
    this.log.warn({ code: error.code, reason: error.message }, 'channel revoked');
    this.emit({ type: 'fatal', error });
    return this.close(error.message);
  }

  /** The socket under this channel failed for good. */
  fail(error: CepError): void {
    if (this.state === 'closed') return;
    this.log.warn({ code: error.code, reason: error.message }, 'channel failed');
    this.emit({ type: 'fatal', error });
    this.finish(error.message);
    void this.release();
  }

  private post(type: number, payload: Uint8Array, done?: () => void): void {
    const datagram = this.seal(type, payload);
    this.inflight += datagram.length;
    this.transmit(datagram, () => {
      this.inflight -= datagram.length;
      if (this.backpressured && this.inflight <= this.options.highWaterMark / 2 && this.state === 'open') {
        this.backpressured = false;
        this.emit({ type: 'ready' });
      }
      done?.();
    });
  }

  private async closeNow(reason: string): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closing';
    // Best effort: tell the far side, so it sees `closed` instead of silence.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 200);
      this.post(BYE, Buffer.from(reason, 'utf8').subarray(0, 256), () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.finish(reason);
    await this.release();
  }

  private finish(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.log.debug({ reason }, 'channel closed');
    this.emit({ type: 'closed', reason });
    this.inbound.end();
  }

  private emit(event: ChannelEventV1): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

/** A session id as a HELLO carries it (32 hex digits); anything else (an older peer's empty HELLO) is none. */
export function sessionOf(payload: Uint8Array): string | undefined {
  if (payload.length !== 32) return undefined;
  const id = Buffer.from(payload).toString('utf8');
  return /^[0-9a-f]{32}$/.test(id) ? id : undefined;
}
