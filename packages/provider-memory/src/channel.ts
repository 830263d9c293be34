import {
  createFrameQueue,
  type CepError,
  type ChannelEventV1,
  type ChannelInfoV1,
  type ChannelV1,
  type ProviderV1,
  type SendResultV1,
} from '@cep/provider-spec';
import { memoryError } from './errors.ts';
import { QUEUED_FRAME_OVERHEAD, type ResolvedMemoryOptions } from './options.ts';
import { FrameCopier } from './copy.ts';
import type { FateStream } from './schedule.ts';

/** What a queued frame counts for against the water marks. */
function cost(frame: Uint8Array): number {
  return frame.length + QUEUED_FRAME_OVERHEAD;
}

/** An event a test may raise on a channel with `memoryHooks(provider).raise`. */
export type RaisableEvent =
  | { readonly type: 'ready' }
  /** `bufferedBytes` defaults to the channel's real unpulled bytes. */
  | { readonly type: 'backpressure'; readonly bufferedBytes?: number }
  | { readonly type: 'reconnecting'; readonly attempt: number; readonly delayMs: number; readonly reason: string }
  /** `error` defaults to a `CONNECTION_LOST` error saying a hook raised it. */
  | { readonly type: 'fatal'; readonly error?: CepError }
  /** As a reconnect to the far peer would tell it: the same id (a plain reconnect) or another (the peer restarted). */
  | { readonly type: 'session'; readonly id: string };

/**
 * One end of an in-process channel.
 *
 * A send copies the frame and appends it to the far end's inbound queue at once (after
 * the unreliable schedule, if any, had its say). "Buffered" for a sender means the bytes
 * it sent that the far end's `frames()` has not pulled yet, plus frames the schedule
 * holds back, plus captured frames no test has taken: that is what drives `backpressure`,
 * `ready` and `CHANNEL_OVERFLOW`, so a consumer that stops pulling really stops its
 * sender. Events are delivered synchronously, after the channel's state is updated.
 */
export class MemoryChannel implements ChannelV1 {
  /** The other end; null for a capture channel opened with no remote side. */
  far: MemoryChannel | null = null;
  /**
   * Frames the far end sent and this end's reader has not pulled. Never paused by bytes: the
   * sender measures what it left here (its `bufferedBytes`), so the byte mark is unused.
   */
  private readonly inbound = createFrameQueue({ highWaterMark: Number.MAX_SAFE_INTEGER });
  /** Frames a capturing send kept for a test (only pushed, and taken all at once). */
  private captured: Uint8Array[] = [];
  private capturedBytes = 0;
  private readonly copier = new FrameCopier();
  private capturing: boolean;
  private held: Uint8Array[] = [];
  private heldBytes = 0;
  private backpressured = false;
  private forced = false;
  private state: 'open' | 'closed' = 'open';
  private readonly listeners = new Set<(event: ChannelEventV1) => void>();
  private readonly log;

  constructor(
    readonly info: ChannelInfoV1,
    /** The provider that made this end (hooks refuse channels of other providers). */
    readonly owner: ProviderV1,
    private readonly options: ResolvedMemoryOptions,
    private readonly fates: FateStream | null,
    capture: boolean,
    private readonly onFinished: (channel: MemoryChannel) => void,
  ) {
    this.capturing = capture;
    this.log = options.logger.child({ provider: info.provider, peer: info.peer, mount: info.mount });
  }

  /** Joins two ends into one channel. */
  static link(a: MemoryChannel, b: MemoryChannel): void {
    a.far = b;
    b.far = a;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  send(frame: Uint8Array): SendResultV1 {
    if (this.state === 'closed') {
      throw memoryError('CHANNEL_CLOSED', `memory channel to "${this.info.peer}" (${this.info.mount}) is closed; open a new one`, { peer: this.info.peer });
    }
    if (frame.length > this.info.maxFrameBytes) {
      throw memoryError('FRAME_TOO_LARGE', `frame of ${frame.length} bytes exceeds maxFrameBytes ${this.info.maxFrameBytes}`, {
        size: frame.length,
        max: this.info.maxFrameBytes,
      });
    }
    const buffered = this.bufferedBytes();
    if (buffered + cost(frame) > this.options.hardLimitBytes) {
      throw memoryError(
        'CHANNEL_OVERFLOW',
        `channel buffer would exceed hardLimitBytes ${this.options.hardLimitBytes}; wait for a 'ready' event after 'backpressure'`,
        { buffered, size: frame.length, limit: this.options.hardLimitBytes },
      );
    }
    // Copied so the sender may reuse its buffer, as it could with a socket.
    const copy = this.copier.copy(frame);
    if (this.capturing || this.far === null) {
      this.captured.push(copy);
      this.capturedBytes += cost(copy);
    } else this.transmit(copy, this.far);
    if (!this.forced && !this.backpressured && this.bufferedBytes() <= this.options.highWaterBytes) return 'ready';
    if (!this.backpressured) {
      this.backpressured = true;
      this.emit({ type: 'backpressure', bufferedBytes: this.bufferedBytes() });
    }
    return 'backpressure';
  }

  frames(): AsyncIterable<Uint8Array> {
    const frames = this.inbound.frames()[Symbol.asyncIterator]();
    const iterator: AsyncIterableIterator<Uint8Array> = {
      next: () => {
        const far = this.far;
        // Only a backpressured sender waits for pulls: otherwise no extra promise per frame.
        // (A pull can only lower what the sender has buffered, so it cannot start backpressure.)
        if (far === null || !far.backpressured) return frames.next();
        if (this.inbound.bufferedFrames > 0) {
          // A frame is waiting: the queue hands it over now, so the sender may be ready now.
          const result = frames.next();
          far.maybeReady();
          return result;
        }
        // The reader will wait: check after the frame is handed over, so a `ready` never fires
        // inside the far end's `send` that woke this reader.
        return frames.next().then((result) => {
          if (result.done !== true) far.maybeReady();
          return result;
        });
      },
      // A reader that leaves is told to the queue, which drops what it buffered.
      return: async () => (await frames.return?.()) ?? { done: true, value: undefined },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  onEvent(listener: (event: ChannelEventV1) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(reason: string): Promise<void> {
    this.end(reason, undefined);
    return Promise.resolve();
  }

  /** Bytes this end sent that nobody has taken yet (far end's queue, held back, captured). */
  bufferedBytes(): number {
    return (this.far?.inboundCost() ?? 0) + this.heldBytes + this.capturedBytes;
  }

  /** What the unpulled inbound frames count for against the far sender's water marks. */
  private inboundCost(): number {
    return this.inbound.bufferedBytes + this.inbound.bufferedFrames * QUEUED_FRAME_OVERHEAD;
  }

  /** Hook: queues `frame` (copied) as if the far end had sent it. */
  inject(frame: Uint8Array): void {
    this.assertOpen();
    this.receive(new Uint8Array(frame));
  }

  /** Hook: raises an event as the medium would (see {@link RaisableEvent}). */
  raise(event: RaisableEvent): void {
    this.assertOpen();
    switch (event.type) {
      case 'ready':
        this.forced = false;
        this.backpressured = false;
        this.emit({ type: 'ready' });
        return;
      case 'backpressure':
        // Held until a raised `ready`, so `send` answers like a congested medium.
        this.forced = true;
        this.backpressured = true;
        this.emit({ type: 'backpressure', bufferedBytes: event.bufferedBytes ?? this.bufferedBytes() });
        return;
      case 'reconnecting':
        this.emit({ type: 'reconnecting', attempt: event.attempt, delayMs: event.delayMs, reason: event.reason });
        return;
      case 'session':
        this.emit({ type: 'session', id: event.id });
        return;
      case 'fatal': {
        const error = event.error ?? memoryError('CONNECTION_LOST', `a test hook raised fatal on "${this.info.mount}"`, { mount: this.info.mount });
        this.end(error.message, error);
        return;
      }
    }
  }

  /** Hook: turns capturing of sends on or off. */
  setCapture(on: boolean): void {
    if (!on && this.far === null) {
      throw memoryError('INVALID_OPTIONS', `channel "${this.info.mount}" has no remote side; its sends can only be captured`);
    }
    this.capturing = on;
  }

  /** Hook: removes and returns the captured frames, oldest first. */
  takeOutbound(): Uint8Array[] {
    const out = this.captured;
    this.captured = [];
    this.capturedBytes = 0;
    this.maybeReady();
    return out;
  }

  /** Applies the schedule (unreliable mode) and hands the frame to the far end. */
  private transmit(frame: Uint8Array, far: MemoryChannel): void {
    if (this.fates === null) {
      far.receive(frame);
      return;
    }
    const fate = this.fates.next();
    if (fate.drop) return;
    const copies = fate.duplicate ? [frame, this.copier.copy(frame)] : [frame];
    if (fate.reorder && this.held.length === 0) {
      this.held = copies;
      this.heldBytes = copies.reduce((n, f) => n + cost(f), 0);
      return;
    }
    for (const copy of copies) far.receive(copy);
    this.release(far);
  }

  /** Delivers the frame(s) the schedule held back, after whatever overtook them. */
  private release(far: MemoryChannel): void {
    if (this.held.length === 0) return;
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    for (const frame of held) far.receive(frame);
  }

  private receive(frame: Uint8Array): void {
    if (this.state === 'closed') return;
    this.inbound.push(frame);
  }

  private maybeReady(): void {
    if (!this.backpressured || this.forced || this.state === 'closed') return;
    if (this.bufferedBytes() > this.options.highWaterBytes / 2) return;
    this.backpressured = false;
    this.emit({ type: 'ready' });
  }

  /**
   * Closes both ends: frames already accepted (including any the schedule held back) stay
   * readable, this end sees `closed` (after `fatal` when `error` is given), and the far
   * end sees `closed` (after `fatal CONNECTION_LOST` when this end failed).
   */
  private end(reason: string, error: CepError | undefined): void {
    if (this.state === 'closed') return;
    const far = this.far !== null && this.far.state === 'open' ? this.far : null;
    if (far !== null) this.release(far);
    this.state = 'closed';
    if (far !== null) far.state = 'closed';
    this.announce(reason, error);
    if (far === null) return;
    const lost =
      error === undefined
        ? undefined
        : memoryError('CONNECTION_LOST', `the far end of "${far.info.mount}" failed: ${error.message}`, { peer: far.info.peer, cause: error.code });
    far.announce(error === undefined ? `remote closed: ${reason}` : lost!.message, lost);
  }

  private announce(reason: string, error: CepError | undefined): void {
    if (error !== undefined) this.log.warn({ code: error.code, reason }, 'channel failed');
    else this.log.debug({ reason }, 'channel closed');
    this.held = [];
    this.heldBytes = 0;
    if (error !== undefined) this.emit({ type: 'fatal', error });
    this.emit({ type: 'closed', reason });
    // The reader gets the frames already accepted, then its loop ends.
    this.inbound.end();
    this.onFinished(this);
  }

  private assertOpen(): void {
    if (this.state === 'closed') {
      throw memoryError('CHANNEL_CLOSED', `memory channel "${this.info.mount}" is closed`, { mount: this.info.mount });
    }
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
