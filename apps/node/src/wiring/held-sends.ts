/**
 * Outbound frames wait for their beat to be durable. A frame an organ sends in beat N (an
 * invoke reply, a mirror acknowledgement, a bundle) tells the remote peer what beat N did; if
 * the peer then crashed before beat N reached the disk, it would come back without what it
 * had already told. So every channel is wrapped: `send` keeps the frame with the beat it
 * belongs to (the running beat, or the next one between beats — whose journal entry takes
 * writes made between beats), and the gate lets it go once the store says that beat is durable
 * (at the end of the beat's commit with `durability: beat`; at the group's sync otherwise).
 *
 * Edge only: nothing here touches the tree, so a replay decides exactly as the live peer did.
 */
import { CepError } from '@cep/errors';
import type { ChannelEventV1, ChannelV1, ListenOptionsV1, ListenerV1, OpenRequestV1, ProviderV1, SendResultV1 } from '@cep/transport/provider';

/** Frame bytes a channel holds before `send` answers `backpressure` (a group of beats can be large). */
export const HELD_BYTES_HIGH_WATER = 4 * 1024 * 1024;

/** What the gate needs to know. */
export interface SendGateSource {
  /** The beat a frame sent now belongs to. */
  beatOfSend(): number;
  /** The last durable beat (undefined: none yet). */
  durableBeat(): number | undefined;
}

/** Holds channels' frames until their beat is durable. */
export interface SendGate {
  /** The provider with every channel it opens or accepts held by this gate. */
  wrap(provider: ProviderV1): ProviderV1;
  /** Sends what has become durable (call after every commit and after a flush). */
  release(): void;
  /** Frames held now, over all channels (tests, metrics). */
  readonly heldFrames: number;
}

/** Creates a gate over `source`. */
export function createSendGate(source: SendGateSource): SendGate {
  const channels = new Set<HeldChannel>();
  const release = (): void => {
    const durable = source.durableBeat();
    if (durable === undefined) return;
    for (const channel of channels) channel.release(durable);
  };
  const track = (inner: ChannelV1): ChannelV1 => {
    const held = new HeldChannel(inner, source, () => channels.delete(held));
    channels.add(held);
    return held;
  };
  return {
    wrap(provider) {
      const wrapped: ProviderV1 = {
        specificationVersion: provider.specificationVersion,
        id: provider.id,
        caps: provider.caps,
        open: async (request: OpenRequestV1) => track(await provider.open(request)),
        close: () => provider.close(),
      };
      if (provider.listen !== undefined) {
        const listen = provider.listen.bind(provider);
        (wrapped as { listen?: ProviderV1['listen'] }).listen = (options: ListenOptionsV1, onChannel: (channel: ChannelV1) => void): Promise<ListenerV1> =>
          listen(options, (channel) => onChannel(track(channel)));
      }
      return wrapped;
    },
    release,
    get heldFrames() {
      let n = 0;
      for (const channel of channels) n += channel.heldFrames;
      return n;
    },
  };
}

interface HeldFrame {
  readonly frame: Uint8Array;
  readonly beat: number;
}

class HeldChannel implements ChannelV1 {
  private readonly held: HeldFrame[] = [];
  private heldBytes = 0;
  /** The inner channel answered `backpressure` and has not said `ready` since. */
  private innerBlocked = false;
  /** We answered `backpressure`: a `ready` is owed once the held frames drain. */
  private owesReady = false;
  private closed = false;
  private readonly listeners = new Set<(event: ChannelEventV1) => void>();
  private removeInner: (() => void) | undefined;

  constructor(
    private readonly inner: ChannelV1,
    private readonly source: SendGateSource,
    private readonly forget: () => void,
  ) {}

  get info() {
    return this.inner.info;
  }

  get heldFrames(): number {
    return this.held.length;
  }

  send(frame: Uint8Array): SendResultV1 {
    // The same refusals the provider would make now, not later when nobody can hear them.
    if (this.closed) return this.inner.send(frame);
    if (frame.length > this.inner.info.maxFrameBytes) {
      throw new CepError('FRAME_TOO_LARGE', `frame of ${frame.length} bytes exceeds ${this.inner.info.maxFrameBytes}`, {
        bytes: frame.length,
        max: this.inner.info.maxFrameBytes,
      });
    }
    this.held.push({ frame, beat: this.source.beatOfSend() });
    this.heldBytes += frame.length;
    if (this.innerBlocked || this.heldBytes > HELD_BYTES_HIGH_WATER) {
      this.owesReady = true;
      return 'backpressure';
    }
    return 'ready';
  }

  /** Hands the frames of durable beats to the inner channel, in order, while it takes them. */
  release(durable: number): void {
    while (this.held.length > 0 && !this.innerBlocked && this.held[0]!.beat <= durable) {
      const next = this.held.shift()!;
      this.heldBytes -= next.frame.length;
      try {
        this.innerBlocked = this.inner.send(next.frame) === 'backpressure';
      } catch {
        // The channel is gone or refused the frame; its own fatal/closed event tells the manager.
        this.dropHeld();
        return;
      }
    }
    this.readyIfOwed();
  }

  /** Tells the manager it may send again, once, if it heard `backpressure` and the way is clear now. */
  private readyIfOwed(): void {
    if (this.owesReady && !this.innerBlocked && this.heldBytes <= HELD_BYTES_HIGH_WATER) {
      this.owesReady = false;
      this.emit({ type: 'ready' });
    }
  }

  private dropHeld(): void {
    this.held.length = 0;
    this.heldBytes = 0;
  }

  frames(): AsyncIterable<Uint8Array> {
    return this.inner.frames();
  }

  onEvent(listener: (event: ChannelEventV1) => void): () => void {
    this.listeners.add(listener);
    this.removeInner ??= this.inner.onEvent((event) => this.onInner(event));
    return () => void this.listeners.delete(listener);
  }

  private onInner(event: ChannelEventV1): void {
    if (event.type === 'ready') {
      // Passed on once the held frames the inner channel can take have gone (maybe not yet).
      this.innerBlocked = false;
      this.owesReady = true;
      const durable = this.source.durableBeat();
      if (durable !== undefined) this.release(durable);
      else this.readyIfOwed();
      return;
    }
    if (event.type === 'closed') {
      this.closed = true;
      this.dropHeld();
      this.forget();
    }
    this.emit(event);
  }

  private emit(event: ChannelEventV1): void {
    for (const listener of [...this.listeners]) listener(event);
  }

  /** Sends what is durable, drops the rest (its beat never became durable, so it was never said), and closes. */
  close(reason: string): Promise<void> {
    if (!this.closed) {
      const durable = this.source.durableBeat();
      if (durable !== undefined) this.release(durable);
      this.closed = true;
      this.dropHeld();
      this.forget();
    }
    return this.inner.close(reason);
  }
}
