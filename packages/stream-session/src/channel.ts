import {
  createFrameQueue,
  type ChannelEventV1,
  type ChannelInfoV1,
  type ChannelV1,
  type CepError,
  type PeerIdentityV1,
  type SendResultV1,
} from '@cep/provider-spec';
import { streamError } from './errors.ts';
import type { Link, LinkSink } from './link.ts';
import type { ResolvedOptions } from './options.ts';

/** A freshly authenticated connection: its record layer, the remote's session id and, with an identity, who it proved to be. */
export interface Established {
  readonly link: Link;
  readonly session: string;
  readonly identity?: PeerIdentityV1;
}

/** How a dialled channel gets a fresh, authenticated connection after a break. */
export type Redial = (signal: AbortSignal) => Promise<Established>;

type State = 'open' | 'reconnecting' | 'closing' | 'closed';

/**
 * One authenticated channel over one stream connection at a time (a {@link Link}: the
 * legacy GMAC records or a Noise session).
 *
 * Outbound: backpressure is the link's own: its buffer is bounded by `highWaterMark`, so a
 * full buffer means `backpressure` and its `drain` means `ready`. Frames sent while no
 * link is up (reconnecting) are parked and written first on the next link.
 *
 * Inbound: frames wait in the toolkit's frame queue; when it holds `highWaterMark` bytes the
 * link stops reading until the reader pulled it down to half, so a consumer that stops pulling
 * `frames()` stops the sender.
 */
export class StreamChannel implements ChannelV1 {
  private link: Link | null = null;
  private parked: Uint8Array[] = [];
  private parkedBytes = 0;
  private backpressured = false;
  private readonly inbound;
  private state: State = 'open';
  private readonly listeners = new Set<(event: ChannelEventV1) => void>();
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private redialAbort: AbortController | undefined;
  private closing: Promise<void> | undefined;
  private current: ChannelInfoV1;
  private readonly log;

  constructor(
    info: ChannelInfoV1,
    private readonly options: ResolvedOptions,
    private readonly redial: Redial | undefined,
    private readonly onFinished: (channel: StreamChannel) => void,
  ) {
    // Both links hand out frames nobody writes again: the legacy records are views into socket
    // read chunks (Node gives each read its own buffer) or a fresh copy when a record spans two
    // reads; a Noise message is a view into its record's freshly decrypted plaintext.
    this.current = { ...info, ownedFrames: true };
    this.log = options.logger.child({ provider: info.provider, peer: info.peer, mount: info.mount });
    this.inbound = createFrameQueue({
      highWaterMark: options.highWaterMark,
      // Whichever link is up now reads again (a reconnect may have replaced the one paused).
      onDrain: () => this.link?.resume(),
    });
  }

  /** What the channel is; `remoteIdentity` follows the key the latest connection proved (a roll-over may change it). */
  get info(): ChannelInfoV1 {
    return this.current;
  }

  /** Binds a freshly authenticated link (the first, or one made by a reconnect). */
  attach(link: Link, identity?: PeerIdentityV1): void {
    this.link = link;
    this.adopt(identity);
    const parked = this.parked;
    this.parked = [];
    this.parkedBytes = 0;
    for (const frame of parked) link.write(frame);
    link.start(this.sinkFor(link));
  }

  send(frame: Uint8Array): SendResultV1 {
    if (this.state === 'closing' || this.state === 'closed') {
      throw streamError('CHANNEL_CLOSED', `channel to "${this.info.peer}" is closed; open a new one`, { peer: this.info.peer });
    }
    if (frame.length > this.options.maxFrameBytes) {
      throw streamError('FRAME_TOO_LARGE', `frame of ${frame.length} bytes exceeds maxFrameBytes ${this.options.maxFrameBytes}`, {
        size: frame.length,
        max: this.options.maxFrameBytes,
      });
    }
    const buffered = this.bufferedBytes();
    if (buffered + frame.length > this.options.hardLimitBytes) {
      throw streamError(
        'CHANNEL_OVERFLOW',
        `channel buffer would exceed hardLimitBytes ${this.options.hardLimitBytes}; wait for a 'ready' event after 'backpressure'`,
        { buffered, size: frame.length, limit: this.options.hardLimitBytes },
      );
    }
    if (this.link !== null && this.state === 'open') this.link.write(frame);
    else {
      this.parked.push(frame);
      this.parkedBytes += frame.length;
    }
    const pressed = this.link === null || this.parkedBytes > 0 || this.link.needsDrain();
    if (!pressed) return 'ready';
    if (!this.backpressured) {
      this.backpressured = true;
      this.emit({ type: 'backpressure', bufferedBytes: this.bufferedBytes() });
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

  /** Bytes accepted by `send` that have not reached the kernel yet. */
  bufferedBytes(): number {
    return (this.link?.bufferedBytes() ?? 0) + this.parkedBytes;
  }

  private sinkFor(link: Link): LinkSink {
    const mine = (): boolean => link === this.link;
    return {
      frame: (frame) => {
        // Frames already parsed from this read are kept past the mark; the link stops reading more.
        if (mine() && this.inbound.push(frame) === 'pause') link.pause();
      },
      goodbye: (reason) => {
        if (!mine()) return;
        this.link = null;
        this.finish(reason === '' ? 'remote closed' : `remote closed: ${reason}`);
        void link.release(this.options.closeTimeoutMs);
      },
      gone: (error) => {
        if (mine()) this.connectionGone(error);
      },
      fatal: (error) => {
        if (mine()) this.fatal(error);
      },
      drain: () => {
        if (mine()) this.maybeReady();
      },
    };
  }

  /** Takes the identity the latest handshake proved (a roll-over may bring another key). */
  private adopt(identity: PeerIdentityV1 | undefined): void {
    if (identity !== undefined && identity.publicKey !== this.current.remoteIdentity?.publicKey) {
      this.current = { ...this.current, remoteIdentity: identity };
    }
  }

  private async closeNow(reason: string): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closing';
    this.stopReconnecting();
    const link = this.link;
    if (link !== null && !link.gone) await link.goodbye(reason, this.options.closeTimeoutMs);
    this.finish(reason);
  }

  private maybeReady(): void {
    const link = this.link;
    if (!this.backpressured || this.state !== 'open' || link === null) return;
    if (this.parkedBytes > 0 || link.needsDrain()) return;
    this.backpressured = false;
    this.emit({ type: 'ready' });
  }

  private connectionGone(error: Error | undefined): void {
    this.link = null;
    if (this.state !== 'open') return;
    const reason = error ? `connection lost: ${error.message}` : 'connection lost: the remote end closed without a goodbye';
    if (this.info.initiator && this.redial !== undefined && this.options.backoff.maxAttempts > 0) {
      this.state = 'reconnecting';
      this.attempt = 0;
      this.scheduleReconnect(reason);
      return;
    }
    this.fatal(streamError('CONNECTION_LOST', `${reason} (peer "${this.info.peer}")`, { peer: this.info.peer }));
  }

  private scheduleReconnect(reason: string): void {
    const { maxAttempts, delay } = this.options.backoff;
    this.attempt++;
    if (this.attempt > maxAttempts) {
      this.log.warn({ attempts: maxAttempts, reason }, 'gave up reconnecting');
      this.fatal(
        streamError('CONNECTION_LOST', `gave up reconnecting to "${this.info.peer}" after ${maxAttempts} attempts: ${reason}`, { attempts: maxAttempts }),
      );
      return;
    }
    const delayMs = delay(this.attempt);
    if (!Number.isFinite(delayMs) || delayMs < 0) {
      this.fatal(
        streamError('INVALID_OPTIONS', `backoff.delay(${this.attempt}) gave ${String(delayMs)}; it must be a finite number of ms, at least 0`, {
          attempt: this.attempt,
          delayMs,
        }),
      );
      return;
    }
    this.log.info({ attempt: this.attempt, delayMs, reason }, 'reconnecting');
    this.emit({ type: 'reconnecting', attempt: this.attempt, delayMs, reason });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      const abort = new AbortController();
      this.redialAbort = abort;
      this.redial!(abort.signal).then(
        ({ link, session, identity }) => {
          this.redialAbort = undefined;
          if (this.state !== 'reconnecting') {
            link.destroy();
            return;
          }
          this.state = 'open';
          this.attempt = 0;
          this.backpressured = false;
          // Told before anything of the new connection (its frames, `ready`): a new id means the
          // peer restarted, and whoever reads our events must know that before the new traffic.
          // The identity first too: whoever reads `session` reads `info.remoteIdentity` with it.
          this.adopt(identity);
          this.log.info({ session }, 'reconnected');
          this.emit({ type: 'session', id: session });
          this.attach(link, identity);
          if (this.state === 'open') this.emit({ type: 'ready' });
        },
        (error: CepError) => {
          this.redialAbort = undefined;
          if (this.state !== 'reconnecting') return;
          if (error.code === 'AUTH_FAILED' || error.code === 'PEER_MISMATCH') this.fatal(error);
          else this.scheduleReconnect(error.message);
        },
      );
    }, delayMs);
  }

  private stopReconnecting(): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.redialAbort?.abort();
  }

  private fatal(error: CepError): void {
    if (this.state === 'closed') return;
    this.log.warn({ code: error.code, reason: error.message }, 'channel failed');
    this.link?.destroy();
    this.link = null;
    this.emit({ type: 'fatal', error });
    this.finish(error.message);
  }

  private finish(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.log.debug({ reason }, 'channel closed');
    this.stopReconnecting();
    this.link?.destroy();
    this.link = null;
    this.parked = [];
    this.parkedBytes = 0;
    this.emit({ type: 'closed', reason });
    // The reader gets the frames already buffered, then its loop ends.
    this.inbound.end();
    this.onFinished(this);
  }

  private emit(event: ChannelEventV1): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        // A listener's bug must not corrupt the channel; surface it like any uncaught error.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
