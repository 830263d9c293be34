import type { ChannelEventV1, ChannelInfoV1, ChannelV1, CepError, SendResultV1 } from '@cep/provider-spec';
import type { Conn } from './conn.ts';
import { TAG_BYTES, type SessionKeys, tag, verifyTag } from './crypto.ts';
import { streamError } from './errors.ts';
import type { ResolvedOptions } from './options.ts';
import { BATCH, DATA, GOODBYE, HEADER_BYTES, MAX_BATCH_BYTES, MAX_GOODBYE_BYTES, readSeq, writeHeader } from './record.ts';

/** Frames up to this size are batched (copied into one record per tick); larger ones are written in place. */
const SMALL_FRAME = 8 * 1024;
const STAGING_BYTES = HEADER_BYTES + MAX_BATCH_BYTES + TAG_BYTES;

/** How a dialled channel gets a fresh, authenticated connection after a break. */
export type Redial = (signal: AbortSignal) => Promise<{ conn: Conn; keys: SessionKeys; session: string }>;

type State = 'open' | 'reconnecting' | 'closing' | 'closed';

/**
 * One authenticated channel over one stream socket.
 *
 * Outbound: small frames are batched into one record per tick (or per 64 KiB), so one
 * MAC and one write cover many frames; large frames are written in place with
 * cork/uncork so header, payload and tag leave in one writev. Backpressure is the socket's own: its writable high-water mark is set to
 * `highWaterMark`, so `write() === false` means `backpressure` and `drain` means `ready`.
 *
 * Inbound: records are verified and queued; when the queue holds `highWaterMark` bytes
 * the socket is paused, so a consumer that stops pulling `frames()` stops the sender.
 */
export class StreamChannel implements ChannelV1 {
  private conn: Conn | null = null;
  private keys: SessionKeys | null = null;
  private sendSeq = 0;
  private recvSeq = 0;
  private staging = Buffer.allocUnsafe(STAGING_BYTES);
  private stagingLen = 0;
  private flushScheduled = false;
  private parked: Uint8Array[] = [];
  private parkedBytes = 0;
  private backpressured = false;
  private inbound: Uint8Array[] = [];
  private inboundBytes = 0;
  private readPaused = false;
  private waiter: (() => void) | null = null;
  private framesTaken = false;
  private state: State = 'open';
  private readonly listeners = new Set<(event: ChannelEventV1) => void>();
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private redialAbort: AbortController | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    readonly info: ChannelInfoV1,
    private readonly options: ResolvedOptions,
    private readonly redial: Redial | undefined,
    private readonly onFinished: (channel: StreamChannel) => void,
  ) {}

  /** Binds a freshly authenticated connection (the first, or one made by a reconnect). */
  attach(conn: Conn, keys: SessionKeys): void {
    this.conn = conn;
    this.keys = keys;
    this.sendSeq = 0;
    this.recvSeq = 0;
    this.readPaused = false;
    conn.setHandlers(
      () => this.pump(),
      (error) => this.connectionGone(conn, error),
    );
    conn.socket.on('drain', () => {
      if (conn === this.conn) this.maybeReady();
    });
    const parked = this.parked;
    this.parked = [];
    this.parkedBytes = 0;
    for (const frame of parked) this.writeRecord(DATA, frame);
    this.pump();
    if (conn.gone) this.connectionGone(conn, conn.goneError);
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
    if (this.conn !== null && this.state === 'open') this.writeRecord(DATA, frame);
    else {
      this.parked.push(frame);
      this.parkedBytes += frame.length;
    }
    const pressed = this.conn === null || this.parkedBytes > 0 || this.conn.socket.writableNeedDrain;
    if (!pressed) return 'ready';
    if (!this.backpressured) {
      this.backpressured = true;
      this.emit({ type: 'backpressure', bufferedBytes: this.bufferedBytes() });
    }
    return 'backpressure';
  }

  frames(): AsyncIterable<Uint8Array> {
    if (this.framesTaken) throw streamError('FRAMES_TAKEN', 'frames() has a single consumer and was already called on this channel');
    this.framesTaken = true;
    return this.pull();
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
    return (this.conn?.socket.writableLength ?? 0) + this.stagingLen + this.parkedBytes;
  }

  private async closeNow(reason: string): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closing';
    this.stopReconnecting();
    const conn = this.conn;
    if (conn !== null && !conn.gone) {
      const bytes = Buffer.from(reason, 'utf8').subarray(0, MAX_GOODBYE_BYTES);
      this.writeRecord(GOODBYE, bytes);
      this.flushStaging();
      await endGracefully(conn, this.options.closeTimeoutMs);
    }
    this.finish(reason);
  }

  private async *pull(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const frame = this.inbound.shift();
      if (frame !== undefined) {
        this.inboundBytes -= frame.length;
        if (this.readPaused && this.inboundBytes <= this.options.highWaterMark / 2 && this.conn !== null) {
          this.readPaused = false;
          this.conn.socket.resume();
        }
        yield frame;
        continue;
      }
      if (this.state === 'closed') return;
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  private pump(): void {
    const conn = this.conn;
    const keys = this.keys;
    if (conn === null || keys === null) return;
    const queue = conn.queue;
    let delivered = false;
    while (queue.length >= HEADER_BYTES && this.conn === conn) {
      const header = queue.peek(HEADER_BYTES);
      const length = header.readUInt32BE(0);
      const type = header[4];
      const limit = type === DATA ? this.options.maxFrameBytes : type === BATCH ? MAX_BATCH_BYTES : type === GOODBYE ? MAX_GOODBYE_BYTES : -1;
      if (limit < 0) return this.fatal(streamError('PROTOCOL_ERROR', `unknown record type ${String(type)}`, { type }));
      if (length > limit) {
        return this.fatal(
          streamError('FRAME_TOO_LARGE', `peer "${this.info.peer}" announced a ${length}-byte frame; the limit is ${limit}`, { size: length, max: limit }),
        );
      }
      if (queue.length < HEADER_BYTES + length + TAG_BYTES) break;
      const head = Buffer.from(queue.take(HEADER_BYTES));
      const payload = queue.take(length);
      const received = queue.take(TAG_BYTES);
      const seq = readSeq(head);
      if (!verifyTag(keys.recv, seq, head, payload, received)) {
        return this.fatal(streamError('AUTH_FAILED', `a frame from "${this.info.peer}" failed authentication (injected or corrupted)`, { seq }));
      }
      if (seq !== this.recvSeq) {
        return this.fatal(
          streamError('REPLAYED_FRAME', `frame ${seq} from "${this.info.peer}" arrived where ${this.recvSeq} was expected (replayed, duplicated or reordered)`, {
            seq,
            expected: this.recvSeq,
          }),
        );
      }
      this.recvSeq++;
      if (type === GOODBYE) return this.remoteGoodbye(conn, payload.toString('utf8'));
      if (type === BATCH) {
        const error = this.unbatch(payload);
        if (error !== undefined) return this.fatal(error);
      } else {
        this.inbound.push(new Uint8Array(payload.buffer, payload.byteOffset, payload.length));
        this.inboundBytes += length;
      }
      delivered = true;
    }
    if (delivered) this.wake();
    if (this.inboundBytes >= this.options.highWaterMark && !this.readPaused && this.conn === conn) {
      this.readPaused = true;
      conn.socket.pause();
    }
  }

  /** Splits an authenticated batch into frames; a malformed batch delivers none of them. */
  private unbatch(body: Buffer): CepError | undefined {
    const frames: Uint8Array[] = [];
    let bytes = 0;
    let at = 0;
    while (at < body.length) {
      if (at + 4 > body.length) return streamError('PROTOCOL_ERROR', 'a batch record ends inside a frame length');
      const n = body.readUInt32BE(at);
      at += 4;
      if (n > this.options.maxFrameBytes || at + n > body.length) {
        return streamError('PROTOCOL_ERROR', `a batched frame of ${n} bytes overruns its batch or maxFrameBytes`, { size: n });
      }
      frames.push(new Uint8Array(body.buffer, body.byteOffset + at, n));
      bytes += n;
      at += n;
    }
    for (const frame of frames) this.inbound.push(frame);
    this.inboundBytes += bytes;
    return undefined;
  }

  private writeRecord(type: number, payload: Uint8Array): void {
    const length = payload.length;
    if (type === DATA && length <= SMALL_FRAME) {
      // Batch body: u32 length + bytes per frame, after a header slot filled at flush.
      if (this.stagingLen > 0 && this.stagingLen + 4 + length + TAG_BYTES > STAGING_BYTES) this.flushStaging();
      if (this.stagingLen === 0) this.stagingLen = HEADER_BYTES;
      this.staging.writeUInt32BE(length, this.stagingLen);
      this.staging.set(payload, this.stagingLen + 4);
      this.stagingLen += 4 + length;
      this.scheduleFlush();
      return;
    }
    this.flushStaging();
    const conn = this.conn!;
    const keys = this.keys!;
    const seq = this.sendSeq++;
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    writeHeader(header, 0, length, type, seq);
    const mac = tag(keys.send, seq, header, payload);
    const socket = conn.socket;
    socket.cork();
    socket.write(header);
    socket.write(payload);
    socket.write(mac);
    socket.uncork();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(() => {
      this.flushScheduled = false;
      this.flushStaging();
    });
  }

  private flushStaging(): void {
    if (this.stagingLen === 0 || this.conn === null || this.keys === null) return;
    const staging = this.staging;
    const end = this.stagingLen;
    const seq = this.sendSeq++;
    writeHeader(staging, 0, end - HEADER_BYTES, BATCH, seq);
    tag(this.keys.send, seq, staging.subarray(0, HEADER_BYTES), staging.subarray(HEADER_BYTES, end)).copy(staging, end);
    const total = end + TAG_BYTES;
    let out: Buffer;
    if (total < 4096) {
      out = Buffer.from(staging.subarray(0, total));
    } else {
      out = staging.subarray(0, total);
      this.staging = Buffer.allocUnsafe(STAGING_BYTES);
    }
    this.stagingLen = 0;
    this.conn.socket.write(out);
  }

  private maybeReady(): void {
    const conn = this.conn;
    if (!this.backpressured || this.state !== 'open' || conn === null) return;
    if (this.parkedBytes > 0 || conn.socket.writableNeedDrain) return;
    this.backpressured = false;
    this.emit({ type: 'ready' });
  }

  private connectionGone(conn: Conn, error: Error | undefined): void {
    if (conn !== this.conn) return;
    this.conn = null;
    this.keys = null;
    this.stagingLen = 0;
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
    const { initialMs, maxMs, maxAttempts } = this.options.backoff;
    this.attempt++;
    if (this.attempt > maxAttempts) {
      this.fatal(streamError('CONNECTION_LOST', `gave up reconnecting to "${this.info.peer}" after ${maxAttempts} attempts: ${reason}`, { attempts: maxAttempts }));
      return;
    }
    const delayMs = Math.min(maxMs, initialMs * 2 ** (this.attempt - 1));
    this.emit({ type: 'reconnecting', attempt: this.attempt, delayMs, reason });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      const abort = new AbortController();
      this.redialAbort = abort;
      this.redial!(abort.signal).then(
        ({ conn, keys, session }) => {
          this.redialAbort = undefined;
          if (this.state !== 'reconnecting') {
            conn.destroy();
            return;
          }
          this.state = 'open';
          this.attempt = 0;
          this.backpressured = false;
          // Told before anything of the new connection (its frames, `ready`): a new id means the
          // peer restarted, and whoever reads our events must know that before the new traffic.
          this.emit({ type: 'session', id: session });
          this.attach(conn, keys);
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

  private remoteGoodbye(conn: Conn, reason: string): void {
    this.conn = null;
    conn.setHandlers(null, null);
    this.finish(`remote closed: ${reason}`);
    void endGracefully(conn, this.options.closeTimeoutMs);
  }

  private fatal(error: CepError): void {
    if (this.state === 'closed') return;
    this.conn?.destroy();
    this.conn = null;
    this.emit({ type: 'fatal', error });
    this.finish(error.message);
  }

  private finish(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stopReconnecting();
    this.conn?.destroy();
    this.conn = null;
    this.parked = [];
    this.parkedBytes = 0;
    this.stagingLen = 0;
    this.emit({ type: 'closed', reason });
    this.wake();
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

/** Half-closes, then waits for the remote to close its half, destroying the socket after `ms`. */
function endGracefully(conn: Conn, ms: number): Promise<void> {
  if (conn.gone) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => conn.destroy(), ms);
    conn.socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    if (conn.socket.readableFlowing === false) conn.socket.resume();
    conn.socket.end();
  });
}
