import type { ProviderV1 } from '@cep/provider-spec';
import type { Relay } from './relay.ts';

/** What `setup()` hands the suite: two providers that trust each other, and where to listen. */
export interface ComplianceEnv {
  /** The provider whose `open` dials. */
  readonly dialer: ProviderV1;
  /** The provider whose `listen` accepts; it must implement `listen`. */
  readonly listener: ProviderV1;
  /** The address `listener.listen` binds, letting the OS choose (`127.0.0.1:0`, a fresh socket path). */
  readonly address: string;
  /** The dialer's peer name, as the listener authenticates it. */
  readonly dialerPeer: string;
  /** The listener's peer name, passed to `open` as `peer`. */
  readonly listenerPeer: string;
  /** Releases anything setup made besides the two providers (temp dirs). Providers are closed by the suite. */
  teardown?(): Promise<void>;
}

/** Options of {@link providerComplianceTests}. */
export interface ComplianceOptions {
  /** Shown in the `describe` title. */
  readonly name: string;
  /** `reliable` checks delivery, order and backpressure; `unreliable` checks integrity and limits only. */
  readonly profile: 'reliable' | 'unreliable';
  /** Makes a fresh pair of providers for each test. */
  setup(): Promise<ComplianceEnv>;
  /** Bound on every wait in the suite, in ms (default 5000). */
  readonly timeoutMs?: number;
  /** Largest frame the suite sends; defaults to the channel's `maxFrameBytes`, capped at 4 MiB. */
  readonly largeFrameBytes?: number;
  /**
   * Optional capability: the provider tells the remote peer's session (`ChannelInfoV1.remoteSession`
   * and, after a dialled channel reconnects, a `session` event). When given, the suite checks that
   * a plain reconnect keeps the id and a restarted listener shows a new one. A provider that
   * cannot know a peer's session leaves it out (its users then cannot tell a restart from a
   * reconnect).
   */
  readonly sessions?: SessionCompliance;
}

/** What the session checks need besides a normal pair. */
export interface SessionCompliance {
  /** A pair whose dialler reconnects after a broken connection (setup's pair may not). */
  setup(): Promise<ComplianceEnv>;
  /**
   * A new instance of the listening provider with the same peer name and keys: what a restarted
   * process makes. It must have a new session.
   */
  restartedListener(): ProviderV1;
  /** Where the restarted listener listens (default: the env's `address`; a socket path needs another one while the old file exists). */
  restartAddress?(): string;
  /** Something the dialler goes through that can cut connections without a goodbye (`streamRelay`). */
  relay(target: string): Promise<Relay>;
}
