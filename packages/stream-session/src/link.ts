import type { CepError } from '@cep/provider-spec';

/**
 * What a link tells its channel. Calls from a link the channel has already replaced are
 * ignored by the channel, so a link need not unsubscribe before it is dropped.
 */
export interface LinkSink {
  /**
   * One authenticated, in-order frame. A link never writes its bytes again (the channel
   * reports `ownedFrames`, so the manager logs it without a copy): a view into a buffer the
   * link reuses would break replay. The channel wakes its reader at once and pauses the link
   * when its inbound queue is full.
   */
  frame(frame: Uint8Array): void;
  /** The remote side said goodbye (with its reason, when the record format carries one). */
  goodbye(reason: string): void;
  /** The connection broke without a goodbye: a dialled channel may reconnect. */
  gone(error: Error | undefined): void;
  /** The remote side broke the protocol or its authentication: the channel is dead. */
  fatal(error: CepError): void;
  /** The outbound buffer drained below the high-water mark. */
  drain(): void;
}

/**
 * One authenticated connection under a channel: the record layer of one handshake
 * (the legacy GMAC records, or a Noise session). A reconnect replaces the link, never the
 * channel, so backpressure, parking and reconnect live once in `channel.ts`.
 */
export interface Link {
  /** True once the connection closed. */
  readonly gone: boolean;
  /** Installs the sink and delivers whatever arrived during the handshake. */
  start(sink: LinkSink): void;
  /** Queues one frame (copied or referenced until written: callers never change a sent frame). */
  write(frame: Uint8Array): void;
  /** Bytes accepted by `write` not yet handed to the kernel. */
  bufferedBytes(): number;
  /** True while the outbound buffer is above the high-water mark (`drain` follows). */
  needsDrain(): boolean;
  /** Stops reading from the connection (the inbound queue is full). */
  pause(): void;
  /** Reads again. */
  resume(): void;
  /** Sends everything queued, then a goodbye, and resolves once the remote closed too (or after `ms`). */
  goodbye(reason: string, ms: number): Promise<void>;
  /** Answers a goodbye the remote sent and releases the connection (destroyed after `ms`). */
  release(ms: number): Promise<void>;
  /** Drops the connection now. */
  destroy(): void;
}
