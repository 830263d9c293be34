import { providerError, type ChannelV1 } from './v1.ts';

/**
 * Waits for `channel` to accept frames again after `send` answered `backpressure`.
 *
 * Resolves at the channel's next `ready` event. Rejects with the channel's error when it
 * fails (`fatal`), with `CHANNEL_CLOSED` when it closes first, and with `signal.reason` when
 * `signal` aborts (an `AbortError` unless the caller gave a reason). Call it in the same tick
 * as the `send` that answered `backpressure`: events are not replayed, so a `ready` that came
 * before the call is not seen.
 *
 * ```ts
 * for (const frame of frames) {
 *   if (channel.send(frame) === 'backpressure') await whenReady(channel, signal);
 * }
 * ```
 */
export function whenReady(channel: ChannelV1, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const settle = (outcome: () => void): void => {
      stopListening();
      signal?.removeEventListener('abort', onAbort);
      outcome();
    };
    const onAbort = (): void => settle(() => reject(signal?.reason));
    const stopListening = channel.onEvent((event) => {
      if (event.type === 'ready') settle(resolve);
      else if (event.type === 'fatal') settle(() => reject(event.error));
      else if (event.type === 'closed') {
        settle(() =>
          reject(providerError('CHANNEL_CLOSED', `the channel closed while waiting for it to accept frames: ${event.reason}`, { reason: event.reason })),
        );
      }
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
