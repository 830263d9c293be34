import type { Duplex } from 'node:stream';
import { noiseError } from './errors.ts';

/**
 * Pulls exact byte counts out of a Duplex during the handshake. Listens to `data`
 * (the stream flows) and keeps what arrived beyond the last read, which `detach()` hands
 * to the record layer, so no byte is lost between handshake and session.
 */
export class ByteReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private want: { bytes: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  private readonly onData = (chunk: Buffer | string): void => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.chunks.push(bytes);
    this.buffered += bytes.length;
    this.serve();
  };
  private readonly onEnd = (): void => this.fail(noiseError('NOISE_HANDSHAKE_TRUNCATED', 'the stream ended before the handshake finished'));
  private readonly onError = (error: Error): void =>
    this.fail(noiseError('NOISE_HANDSHAKE_TRUNCATED', `the stream failed before the handshake finished: ${error.message}`, { cause: error.message }));

  constructor(private readonly stream: Duplex) {
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('close', this.onEnd);
    stream.on('error', this.onError);
  }

  /** Resolves with exactly `bytes` bytes, or rejects when the stream ends first or `fail` is called. */
  read(bytes: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.want = { bytes, resolve, reject };
      this.serve();
    });
  }

  /** Aborts the pending and every later read with `error`. */
  fail(error: Error): void {
    if (this.failure === null) this.failure = error;
    this.serve();
  }

  /** Stops listening, pauses the stream (its next owner resumes it) and returns the bytes read past the handshake. */
  detach(): Buffer {
    this.stream.pause();
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('close', this.onEnd);
    this.stream.off('error', this.onError);
    const rest = Buffer.concat(this.chunks);
    this.chunks = [];
    this.buffered = 0;
    return rest;
  }

  private serve(): void {
    const want = this.want;
    if (want === null) return;
    if (this.buffered >= want.bytes) {
      this.want = null;
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      const out = all.subarray(0, want.bytes);
      const rest = all.subarray(want.bytes);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
      want.resolve(out);
    } else if (this.failure !== null) {
      this.want = null;
      want.reject(this.failure);
    }
  }
}
