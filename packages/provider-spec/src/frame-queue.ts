import { providerError } from './v1.ts';

/** Options of {@link createFrameQueue}. */
export interface FrameQueueOptions {
  /**
   * Buffered bytes at which `push` starts answering `pause`: the provider should stop reading
   * its medium until `onDrain`. A positive integer. Frames pushed past it are still kept (a
   * provider may hold a few already-parsed frames); the mark bounds the buffer, it never
   * drops a frame.
   */
  readonly highWaterMark: number;
  /**
   * Buffered bytes at or under which a paused queue calls `onDrain`. Defaults to half of
   * `highWaterMark`, so a reader pulling one frame at a time does not toggle the medium on
   * every frame.
   */
  readonly lowWaterMark?: number;
  /** Called once per pause, when the reader has pulled the buffer down to `lowWaterMark`: read the medium again. */
  readonly onDrain?: () => void;
  /**
   * Called once if the reader leaves before the queue ended (it broke out of its `for await`,
   * threw inside it, or called `return()`). Buffered frames are dropped and later pushes are
   * ignored; the provider typically stops reading and closes the channel.
   */
  readonly onReaderLeft?: () => void;
  /**
   * Keep at most this many frames: a push beyond it drops the oldest buffered frame. For a
   * lossy medium (datagrams) where a newer frame is worth more than an older one. Unset (the
   * default), nothing is ever dropped. A positive integer.
   */
  readonly maxFrames?: number;
}

/** The answer to {@link FrameQueue.push}: keep reading the medium, or pause until `onDrain`. */
export type FrameQueuePushResult = 'more' | 'pause';

/**
 * The inbound side of a channel: the provider pushes whole frames as its medium delivers them,
 * the manager pulls them with `frames()`. Backpressure in bytes: past the high-water mark `push`
 * answers `pause`, and `onDrain` says when to read again. Made by {@link createFrameQueue}.
 */
export interface FrameQueue {
  /** Adds one whole frame (kept as given, not copied). Ignored after `end()` or after the reader left. */
  push(frame: Uint8Array): FrameQueuePushResult;
  /** No more frames: the reader gets those already buffered, then its iteration ends. Idempotent. */
  end(): void;
  /**
   * The frames in push order, for `ChannelV1.frames()`. Single reader: a second call throws
   * `FRAMES_TAKEN`.
   */
  frames(): AsyncIterable<Uint8Array>;
  /** Bytes pushed and not yet pulled. */
  readonly bufferedBytes: number;
  /** Frames pushed and not yet pulled. */
  readonly bufferedFrames: number;
  /** True once the reader left before the end (see `FrameQueueOptions.onReaderLeft`). */
  readonly readerLeft: boolean;
}

/**
 * Makes a {@link FrameQueue}: the pull-based `frames()` a v1 channel must offer, with a bound
 * in bytes and an iterator that notices its reader left.
 *
 * ```ts
 * const inbound = createFrameQueue({
 *   highWaterMark: 1 << 20,
 *   onDrain: () => socket.resume(),
 *   onReaderLeft: () => void channel.close('reader left'),
 * });
 * parser.on('frame', (frame) => {
 *   if (inbound.push(frame) === 'pause') socket.pause();
 * });
 * socket.on('close', () => inbound.end());
 * // in the ChannelV1: frames: () => inbound.frames()
 * ```
 */
export function createFrameQueue(options: FrameQueueOptions): FrameQueue {
  const { highWaterMark, onDrain, onReaderLeft, maxFrames } = options;
  if (!Number.isSafeInteger(highWaterMark) || highWaterMark < 1) {
    throw providerError('INVALID_OPTIONS', `highWaterMark must be a positive integer (bytes), got ${String(highWaterMark)}`, {
      option: 'highWaterMark',
      value: highWaterMark,
    });
  }
  const lowWaterMark = options.lowWaterMark ?? Math.floor(highWaterMark / 2);
  if (!Number.isSafeInteger(lowWaterMark) || lowWaterMark < 0 || lowWaterMark >= highWaterMark) {
    throw providerError('INVALID_OPTIONS', `lowWaterMark must be an integer from 0 to under highWaterMark (${highWaterMark}), got ${String(lowWaterMark)}`, {
      option: 'lowWaterMark',
      value: lowWaterMark,
    });
  }

  if (maxFrames !== undefined && (!Number.isSafeInteger(maxFrames) || maxFrames < 1)) {
    throw providerError('INVALID_OPTIONS', `maxFrames must be a positive integer, got ${String(maxFrames)}`, { option: 'maxFrames', value: maxFrames });
  }

  return new Queue(highWaterMark, lowWaterMark, onDrain, onReaderLeft, maxFrames);
}

const DONE: IteratorResult<Uint8Array> = Object.freeze({ done: true, value: undefined });

/**
 * The queue behind {@link createFrameQueue}. A class rather than closures: a channel reads
 * `bufferedBytes` on every send, and plain fields are what V8 reads fastest.
 */
class Queue implements FrameQueue {
  // Frames live in `buffered` from index `head` on: a stalled channel may hold hundreds of
  // thousands of small frames, and `shift()` on such an array is linear, so the dead prefix is
  // kept and dropped in one slice once it is at least half the array.
  private buffered: (Uint8Array | undefined)[] = [];
  private head = 0;
  private bytes = 0;
  private ended = false;
  private left = false;
  private paused = false;
  private taken = false;
  /** The reader's pending `next()` calls, oldest first, when it is waiting for frames. */
  private readonly waiting: ((result: IteratorResult<Uint8Array>) => void)[] = [];
  private readonly iterator: AsyncIterableIterator<Uint8Array>;

  constructor(
    private readonly highWaterMark: number,
    private readonly lowWaterMark: number,
    private readonly onDrain: (() => void) | undefined,
    private readonly onReaderLeft: (() => void) | undefined,
    private readonly maxFrames: number | undefined,
  ) {
    const iterator: AsyncIterableIterator<Uint8Array> = {
      next: () => {
        const ready = this.waiting.length === 0 ? this.pull() : undefined;
        if (ready !== undefined) return Promise.resolve(ready);
        return new Promise((resolve) => {
          this.waiting.push(resolve);
        });
      },
      return: () => {
        this.leave();
        return Promise.resolve(DONE);
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    this.iterator = iterator;
  }

  get bufferedBytes(): number {
    return this.bytes;
  }

  get bufferedFrames(): number {
    return this.buffered.length - this.head;
  }

  get readerLeft(): boolean {
    return this.left;
  }

  push(frame: Uint8Array): FrameQueuePushResult {
    if (this.ended || this.left) return 'pause';
    // Frames wait only while no reader does, so dropping the oldest never skips a waiting reader.
    if (this.maxFrames !== undefined && this.buffered.length - this.head >= this.maxFrames) this.take();
    this.buffered.push(frame);
    this.bytes += frame.byteLength;
    const wake = this.waiting.shift();
    if (wake !== undefined) wake(this.pull() ?? DONE);
    if (this.bytes >= this.highWaterMark) this.paused = true;
    return this.paused ? 'pause' : 'more';
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    // Waiting readers exist only while the buffer is empty.
    for (const wake of this.waiting.splice(0)) wake(DONE);
  }

  frames(): AsyncIterable<Uint8Array> {
    if (this.taken) throw providerError('FRAMES_TAKEN', 'frames() was already called on this channel; it has a single reader');
    this.taken = true;
    return this.iterator;
  }

  /** Takes the oldest buffered frame out of the buffer, if any. */
  private take(): Uint8Array | undefined {
    if (this.head === this.buffered.length) return undefined;
    const frame = this.buffered[this.head] as Uint8Array;
    this.buffered[this.head++] = undefined;
    if (this.head === this.buffered.length) {
      this.buffered = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.buffered.length) {
      this.buffered = this.buffered.slice(this.head);
      this.head = 0;
    }
    this.bytes -= frame.byteLength;
    return frame;
  }

  private pull(): IteratorResult<Uint8Array> | undefined {
    const frame = this.take();
    if (frame === undefined) return this.ended || this.left ? DONE : undefined;
    if (this.paused && this.bytes <= this.lowWaterMark) {
      this.paused = false;
      this.onDrain?.();
    }
    return { done: false, value: frame };
  }

  private leave(): void {
    if (this.left) return;
    this.left = true;
    this.buffered = [];
    this.head = 0;
    this.bytes = 0;
    for (const wake of this.waiting.splice(0)) wake(DONE);
    // A reader that stops after the end left nothing behind worth telling the provider about.
    if (!this.ended) this.onReaderLeft?.();
  }
}
