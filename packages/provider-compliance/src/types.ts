import type { ProviderV1 } from '@cep/transport/provider';

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
}
