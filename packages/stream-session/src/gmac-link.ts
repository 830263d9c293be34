import type { CepError } from '@cep/provider-spec';
import type { Conn } from './conn.ts';
import { TAG_BYTES, type SessionKeys } from './crypto.ts';
import { Gmac } from './gmac.ts';
import { streamError } from './errors.ts';
import type { Link, LinkSink } from './link.ts';
import { BATCH, DATA, GOODBYE, HEADER_BYTES, MAX_BATCH_BYTES, MAX_GOODBYE_BYTES, readSeq, writeHeader } from './record.ts';

/** Frames up to this size are batched (copied into one record per tick); larger ones are written in place. */
const SMALL_FRAME = 8 * 1024;
const STAGING_BYTES = HEADER_BYTES + MAX_BATCH_BYTES + TAG_BYTES;

/**
 * The pre-shared-key record layer (see `record.ts`): every record carries a sequence number
 * and a GMAC tag, frames travel in clear.
 *
 * Outbound: small frames are batched into one record per tick (or per 64 KiB), so one MAC
 * and one write cover many frames; large frames are written in place with cork/uncork so
 * header, payload and tag leave in one writev. The socket's writable high-water mark is the
 * channel's, so `write() === false` is backpressure and `drain` is ready.
 */
export class GmacLink implements Link {
  private sendSeq = 0;
  private recvSeq = 0;
  private staging = Buffer.allocUnsafe(STAGING_BYTES);
  private stagingLen = 0;
  private flushScheduled = false;
  private sink: LinkSink | null = null;
  /** One tagger per direction key: its tables and AES object are made once per connection, not per record. */
  private readonly sendMac: Gmac;
  private readonly recvMac: Gmac;

  constructor(
    private readonly conn: Conn,
    keys: SessionKeys,
    private readonly peer: string,
    private readonly maxFrameBytes: number,
    tableGhash = true,
  ) {
    this.sendMac = new Gmac(keys.send, { tables: tableGhash });
    this.recvMac = new Gmac(keys.recv, { tables: tableGhash });
  }

  get gone(): boolean {
    return this.conn.gone;
  }

  start(sink: LinkSink): void {
    this.sink = sink;
    const conn = this.conn;
    conn.setHandlers(
      () => this.pump(),
      (error) => {
        this.stagingLen = 0;
        sink.gone(error);
      },
    );
    conn.socket.on('drain', () => sink.drain());
    this.pump();
    if (conn.gone) sink.gone(conn.goneError);
  }

  write(frame: Uint8Array): void {
    this.writeRecord(DATA, frame);
  }

  bufferedBytes(): number {
    return this.conn.socket.writableLength + this.stagingLen;
  }

  needsDrain(): boolean {
    return this.conn.socket.writableNeedDrain;
  }

  pause(): void {
    this.conn.socket.pause();
  }

  resume(): void {
    this.conn.socket.resume();
  }

  async goodbye(reason: string, ms: number): Promise<void> {
    if (this.conn.gone) return;
    this.writeRecord(GOODBYE, Buffer.from(reason, 'utf8').subarray(0, MAX_GOODBYE_BYTES));
    this.flushStaging();
    await endGracefully(this.conn, ms);
  }

  release(ms: number): Promise<void> {
    this.conn.setHandlers(null, null);
    return endGracefully(this.conn, ms);
  }

  destroy(): void {
    this.stagingLen = 0;
    this.conn.destroy();
  }

  private pump(): void {
    const sink = this.sink;
    if (sink === null) return;
    const queue = this.conn.queue;
    while (queue.length >= HEADER_BYTES && !this.conn.gone) {
      const header = queue.peek(HEADER_BYTES);
      const length = header.readUInt32BE(0);
      const type = header[4];
      const limit = type === DATA ? this.maxFrameBytes : type === BATCH ? MAX_BATCH_BYTES : type === GOODBYE ? MAX_GOODBYE_BYTES : -1;
      if (limit < 0) return this.fail(streamError('PROTOCOL_ERROR', `unknown record type ${String(type)}`, { type }));
      if (length > limit) {
        return this.fail(
          streamError('FRAME_TOO_LARGE', `peer "${this.peer}" announced a ${length}-byte frame; the limit is ${limit}`, { size: length, max: limit }),
        );
      }
      if (queue.length < HEADER_BYTES + length + TAG_BYTES) break;
      // The peeked header is a view into a received chunk (or its own copy): chunks are never
      // written again, so it stays valid after the queue moves past it.
      const head = header;
      queue.skip(HEADER_BYTES);
      const payload = queue.take(length);
      const received = queue.take(TAG_BYTES);
      const seq = readSeq(head);
      if (!this.recvMac.verify(seq, head, payload, received)) {
        return this.fail(streamError('AUTH_FAILED', `a frame from "${this.peer}" failed authentication (injected or corrupted)`, { seq }));
      }
      if (seq !== this.recvSeq) {
        return this.fail(
          streamError('REPLAYED_FRAME', `frame ${seq} from "${this.peer}" arrived where ${this.recvSeq} was expected (replayed, duplicated or reordered)`, {
            seq,
            expected: this.recvSeq,
          }),
        );
      }
      this.recvSeq++;
      if (type === GOODBYE) {
        this.sink = null;
        return sink.goodbye(payload.toString('utf8'));
      }
      if (type === BATCH) {
        const error = this.unbatch(payload, sink);
        if (error !== undefined) return this.fail(error);
      } else {
        sink.frame(new Uint8Array(payload.buffer, payload.byteOffset, payload.length));
      }
    }
  }

  private fail(error: CepError): void {
    const sink = this.sink;
    this.sink = null;
    sink?.fatal(error);
  }

  /** Splits an authenticated batch into frames; a malformed batch delivers none of them. */
  private unbatch(body: Buffer, sink: LinkSink): CepError | undefined {
    const frames: Uint8Array[] = [];
    let at = 0;
    while (at < body.length) {
      if (at + 4 > body.length) return streamError('PROTOCOL_ERROR', 'a batch record ends inside a frame length');
      const n = body.readUInt32BE(at);
      at += 4;
      if (n > this.maxFrameBytes || at + n > body.length) {
        return streamError('PROTOCOL_ERROR', `a batched frame of ${n} bytes overruns its batch or maxFrameBytes`, { size: n });
      }
      frames.push(new Uint8Array(body.buffer, body.byteOffset + at, n));
      at += n;
    }
    for (const frame of frames) sink.frame(frame);
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
    const seq = this.sendSeq++;
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    writeHeader(header, 0, length, type, seq);
    const mac = this.sendMac.tag(seq, header, payload);
    const socket = this.conn.socket;
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
    if (this.stagingLen === 0 || this.conn.gone) return;
    const staging = this.staging;
    const end = this.stagingLen;
    const seq = this.sendSeq++;
    writeHeader(staging, 0, end - HEADER_BYTES, BATCH, seq);
    this.sendMac.tagInto(seq, staging.subarray(0, HEADER_BYTES), staging.subarray(HEADER_BYTES, end), staging, end);
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
