import type { ChannelV1, ProviderV1 } from '@cep/provider-spec';
import { MemoryChannel, type RaisableEvent } from './channel.ts';
import { memoryError } from './errors.ts';
import { channelsOf } from './provider.ts';

/** Test hooks of one memory provider; see {@link memoryHooks}. */
export interface MemoryHooks {
  /** The provider's open channels (dialled and accepted), oldest first. */
  channels(): ChannelV1[];
  /** Queues `frame` (copied) on `channel`'s `frames()` as if the far end had sent it; it counts as unpulled bytes for the far sender. */
  inject(channel: ChannelV1, frame: Uint8Array): void;
  /**
   * Raises an event on `channel` as the medium would. `backpressure` also makes `send`
   * answer `backpressure` until a raised `ready`; `fatal` ends the channel (`fatal`, then
   * `closed`; the far end sees `fatal CONNECTION_LOST`, then `closed`); `reconnecting` and
   * `session` (a reconnect to the same or a restarted peer) are only reported.
   */
  raise(channel: ChannelV1, event: RaisableEvent): void;
  /** Captures `channel`'s sends instead of delivering them (`on` defaults to true); `false` resumes delivery. */
  capture(channel: ChannelV1, on?: boolean): void;
  /** Removes and returns the frames `channel` captured, oldest first; they stop counting as buffered. */
  takeOutbound(channel: ChannelV1): Uint8Array[];
  /** Bytes `channel` sent that nobody took yet (each frame counts its length + `QUEUED_FRAME_OVERHEAD`). */
  bufferedBytes(channel: ChannelV1): number;
}

/**
 * The test hooks of a provider made by `memory()`: list its channels, inject inbound
 * frames, raise events, and capture outbound frames. Hooks only accept this provider's
 * channels (`NOT_MEMORY` otherwise); `inject` and `raise` need an open channel
 * (`CHANNEL_CLOSED`), `takeOutbound` still works after close.
 *
 * @example
 * const hooks = memoryHooks(provider);
 * const [channel] = hooks.channels();
 * hooks.inject(channel, frame);                   // as if the peer sent it
 * hooks.raise(channel, { type: 'backpressure' }); // send now answers 'backpressure'
 * expect(hooks.takeOutbound(channel)).toHaveLength(1);
 */
export function memoryHooks(provider: ProviderV1): MemoryHooks {
  const channels = channelsOf(provider);
  if (channels === undefined)
    throw memoryError('NOT_MEMORY', `provider "${String(provider?.id)}" was not made by memory(); hooks exist only for memory providers`);
  const own = (channel: ChannelV1): MemoryChannel => {
    if (channel instanceof MemoryChannel && channel.owner === provider) return channel;
    throw memoryError('NOT_MEMORY', `channel "${String(channel?.info?.mount)}" does not belong to memory provider "${provider.id}"`);
  };
  return {
    channels: () => [...channels],
    inject: (channel, frame) => own(channel).inject(frame),
    raise: (channel, event) => own(channel).raise(event),
    capture: (channel, on = true) => own(channel).setCapture(on),
    takeOutbound: (channel) => own(channel).takeOutbound(),
    bufferedBytes: (channel) => own(channel).bufferedBytes(),
  };
}
