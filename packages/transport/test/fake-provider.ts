/**
 * A scripted provider for the manager's unit tests: the test decides when a dial completes,
 * which events a channel raises and which frames arrive, and reads what was sent.
 * (The in-memory provider for users is @cep/provider-memory; real sockets are tested there and
 * in @cep/integration.)
 */
import {
  PROVIDER_SPEC_V1,
  type ChannelEventV1,
  type ChannelV1,
  type ListenerV1,
  type ListenOptionsV1,
  type GroupSubscriptionV1,
  type OpenRequestV1,
  type PeerIdentityV1,
  type ProviderV1,
} from '@cep/transport/provider';
import { CepError } from '@cep/errors';

export class FakeChannel implements ChannelV1 {
  readonly sent: Uint8Array[] = [];
  readonly listeners = new Set<(e: ChannelEventV1) => void>();
  private readonly inbox: Uint8Array[] = [];
  private wake: (() => void) | undefined;
  closedWith: string | undefined;
  /** What send answers. */
  answer: 'ready' | 'backpressure' = 'ready';
  /** Frames published to groups, as `[group, frame]`. */
  readonly published: Array<[string, Uint8Array]> = [];
  /** Groups joined and not left, with the hook that delivers a frame to each. */
  readonly joined = new Map<string, (frame: Uint8Array) => void>();

  constructor(readonly info: ChannelV1['info']) {}

  send(frame: Uint8Array): 'ready' | 'backpressure' {
    if (this.closedWith !== undefined) throw new CepError('CHANNEL_CLOSED', 'closed');
    this.sent.push(frame);
    return this.answer;
  }

  async *frames(): AsyncIterable<Uint8Array> {
    for (;;) {
      while (this.inbox.length > 0) yield this.inbox.shift()!;
      if (this.closedWith !== undefined) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  onEvent(listener: (e: ChannelEventV1) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(reason: string): Promise<void> {
    if (this.closedWith !== undefined) return;
    this.closedWith = reason;
    this.wake?.();
    this.raise({ type: 'closed', reason });
  }

  publish(group: string, frame: Uint8Array): 'ready' {
    this.published.push([group, frame]);
    return 'ready';
  }

  join(group: string): GroupSubscriptionV1 {
    const inbox: Uint8Array[] = [];
    let wake: (() => void) | undefined;
    let left = false;
    this.joined.set(group, (frame) => {
      inbox.push(frame);
      wake?.();
    });
    return {
      group,
      async *frames() {
        for (;;) {
          while (inbox.length > 0) yield inbox.shift()!;
          if (left) return;
          await new Promise<void>((resolve) => (wake = resolve));
        }
      },
      leave: () => {
        left = true;
        this.joined.delete(group);
        wake?.();
      },
    };
  }

  /** Test hook: a frame arrives from the peer. */
  inject(frame: Uint8Array): void {
    this.inbox.push(frame);
    this.wake?.();
  }

  /** Test hook: the channel raises an event (a fatal one ends `frames()` after what it holds, as a provider does). */
  raise(event: ChannelEventV1): void {
    if (event.type === 'fatal' && this.closedWith === undefined) {
      this.closedWith = event.error.message;
      this.wake?.();
    }
    for (const listener of [...this.listeners]) listener(event);
  }
}

export interface PendingOpen {
  readonly request: OpenRequestV1;
  resolve(): FakeChannel;
  reject(error: Error): void;
}

export class FakeProvider implements ProviderV1 {
  readonly specificationVersion = PROVIDER_SPEC_V1;
  readonly opens: PendingOpen[] = [];
  readonly channels: FakeChannel[] = [];
  private accept: ((channel: ChannelV1) => void) | undefined;
  closed = false;
  /** The remote session id the next channels report in `info.remoteSession` (none when undefined). */
  remoteSession: string | undefined;
  /** The public-key identity the next channels report in `info.remoteIdentity` (none when undefined). */
  remoteIdentity: PeerIdentityV1 | undefined;
  /** Whether the next channels report `info.ownedFrames` (the test then must not change a frame it injected). */
  ownedFrames = false;

  constructor(
    readonly id: string,
    readonly caps: readonly string[],
    private readonly autoOpen = true,
  ) {}

  open(request: OpenRequestV1): Promise<ChannelV1> {
    return new Promise((resolve, reject) => {
      const pending: PendingOpen = {
        request,
        resolve: () => {
          const channel = new FakeChannel({
            provider: this.id,
            peer: request.peer,
            mode: request.mode,
            mount: request.mount,
            initiator: true,
            maxFrameBytes: 1 << 20,
            ...this.session(),
          });
          this.channels.push(channel);
          resolve(channel);
          return channel;
        },
        reject,
      };
      this.opens.push(pending);
      if (this.autoOpen) pending.resolve();
    });
  }

  async listen(_options: ListenOptionsV1, onChannel: (channel: ChannelV1) => void): Promise<ListenerV1> {
    this.accept = onChannel;
    return { address: 'fake', close: async () => undefined };
  }

  /** Test hook: a remote peer opens a channel to us. */
  incoming(peer: string, mode: string, mount: string): FakeChannel {
    const channel = new FakeChannel({
      provider: this.id,
      peer,
      mode,
      mount,
      initiator: false,
      maxFrameBytes: 1 << 20,
      groupScope: 'fake-listener',
      ...this.session(),
    });
    this.channels.push(channel);
    this.accept!(channel);
    return channel;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private session(): { remoteSession?: string; remoteIdentity?: PeerIdentityV1; ownedFrames?: boolean } {
    return {
      ...(this.ownedFrames ? { ownedFrames: true } : {}),
      ...(this.remoteSession === undefined ? {} : { remoteSession: this.remoteSession }),
      ...(this.remoteIdentity === undefined ? {} : { remoteIdentity: this.remoteIdentity }),
    };
  }
}

/** Lets pending promise callbacks (dial completions, frame pumps) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
