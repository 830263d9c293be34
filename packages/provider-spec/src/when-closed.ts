import type { CepError } from '@cep/errors';
import type { ChannelV1 } from './v1.ts';

/** How a channel ended, as {@link whenClosed} reports it. */
export interface ChannelClosedV1 {
  /** The reason the `closed` event gave. */
  readonly reason: string;
  /** The error of the `fatal` event that preceded `closed`, if the channel failed rather than closed. */
  readonly error?: CepError;
}

/**
 * Resolves when `channel` emits `closed`, with the reason and, if the channel failed, the error
 * of the `fatal` event before it. Never rejects. Call it while the channel is open: a channel
 * that already closed emits nothing more, so the promise would never settle.
 *
 * ```ts
 * const { reason, error } = await whenClosed(channel);
 * log.info({ reason, code: error?.code }, 'channel closed');
 * ```
 */
export function whenClosed(channel: ChannelV1): Promise<ChannelClosedV1> {
  return new Promise((resolve) => {
    let error: CepError | undefined;
    const stopListening = channel.onEvent((event) => {
      if (event.type === 'fatal') error = event.error;
      else if (event.type === 'closed') {
        stopListening();
        resolve(error === undefined ? { reason: event.reason } : { reason: event.reason, error });
      }
    });
  });
}
