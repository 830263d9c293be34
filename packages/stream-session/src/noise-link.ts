import type { Socket } from 'node:net';
import type { SecureSession } from '@cep/noise-session';
import { toStreamError } from './identity.ts';
import type { Link, LinkSink } from './link.ts';

/**
 * Frames inside a Noise session (`@cep/noise-session`): each frame is one session message,
 * encrypted and authenticated with a counter nonce; the session's goodbye is the channel's.
 * Frames sent in one tick are written under one cork, so the session packs small ones into
 * shared records (one cipher call, one tag for many).
 */
export class NoiseLink implements Link {
  private corked = false;

  constructor(
    private readonly session: SecureSession,
    private readonly socket: Socket,
  ) {}

  get gone(): boolean {
    return this.session.destroyed || this.socket.destroyed;
  }

  start(sink: LinkSink): void {
    const session = this.session;
    session.on('data', (frame: Uint8Array) => sink.frame(frame));
    session.on('end', () => sink.goodbye(''));
    session.on('error', (error: Error) => {
      const mapped = toStreamError(error, session.peer.name);
      if (mapped.code === 'CONNECTION_LOST') sink.gone(error);
      else sink.fatal(mapped);
    });
    // After 'end' or 'error' the channel has let go of this link and ignores this.
    session.on('close', () => sink.gone(undefined));
    session.on('drain', () => sink.drain());
    session.resume();
    if (this.gone) sink.gone(undefined);
  }

  write(frame: Uint8Array): void {
    const session = this.session;
    if (session.destroyed || session.writableEnded) return;
    if (!this.corked) {
      this.corked = true;
      session.cork();
      process.nextTick(() => {
        this.corked = false;
        session.uncork();
      });
    }
    session.write(frame);
  }

  bufferedBytes(): number {
    return this.session.writableLength + this.socket.writableLength;
  }

  needsDrain(): boolean {
    return this.session.writableNeedDrain;
  }

  pause(): void {
    this.session.pause();
  }

  resume(): void {
    this.session.resume();
  }

  goodbye(_reason: string, ms: number): Promise<void> {
    // The session's goodbye carries no reason: the remote channel closes with "remote closed".
    return this.endAndWait(ms);
  }

  release(ms: number): Promise<void> {
    return this.endAndWait(ms);
  }

  destroy(): void {
    this.session.destroy();
  }

  /** Says goodbye after everything queued and waits for the remote's, destroying after `ms`. */
  private endAndWait(ms: number): Promise<void> {
    const session = this.session;
    if (session.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => session.destroy(), ms);
      session.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      // The remote's goodbye must be read to be seen: a stalled reader no longer holds it back.
      if (session.isPaused()) session.resume();
      session.on('error', () => {});
      session.end();
    });
  }
}
