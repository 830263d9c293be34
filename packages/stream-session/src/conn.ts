import type { Socket } from 'node:net';
import { ByteQueue } from './bytes.ts';

/**
 * One socket and the bytes received on it. The handshake and then the channel take
 * turns installing handlers, and bytes that arrive between the two stay queued.
 */
export class Conn {
  readonly queue = new ByteQueue();
  gone = false;
  goneError: Error | undefined;
  private onData: (() => void) | null = null;
  private onGone: ((error: Error | undefined) => void) | null = null;

  private readonly onChunk = (chunk: Buffer): void => {
    this.queue.push(chunk);
    this.onData?.();
  };

  constructor(readonly socket: Socket) {
    socket.setNoDelay?.(true);
    socket.on('data', this.onChunk);
    socket.on('error', (error) => {
      this.goneError ??= error;
    });
    socket.on('close', () => {
      this.gone = true;
      const handler = this.onGone;
      this.onData = null;
      this.onGone = null;
      handler?.(this.goneError);
    });
  }

  get remoteAddress(): string | undefined {
    const { remoteAddress, remotePort } = this.socket;
    if (remoteAddress === undefined) return undefined;
    return remotePort === undefined ? remoteAddress : `${remoteAddress}:${remotePort}`;
  }

  setHandlers(onData: (() => void) | null, onGone: ((error: Error | undefined) => void) | null): void {
    this.onData = onData;
    this.onGone = onGone;
  }

  /**
   * Hands the socket's bytes to another reader (a Noise session): stops queueing, pauses the
   * socket and puts back what was queued, so the next reader sees every byte in order. The
   * close tracking (`gone`) stays.
   */
  release(): Socket {
    this.socket.off('data', this.onChunk);
    this.socket.pause();
    this.onData = null;
    this.onGone = null;
    if (this.queue.length > 0) this.socket.unshift(this.queue.take(this.queue.length));
    this.queue.clear();
    return this.socket;
  }

  destroy(): void {
    this.onData = null;
    this.queue.clear();
    this.socket.destroy();
  }
}
