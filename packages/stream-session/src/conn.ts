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

  constructor(readonly socket: Socket) {
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => {
      this.queue.push(chunk);
      this.onData?.();
    });
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

  destroy(): void {
    this.onData = null;
    this.queue.clear();
    this.socket.destroy();
  }
}
