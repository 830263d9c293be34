import type { ProviderV1 } from '@cep/provider-spec';
import type { Relay } from './relay.ts';
import type { Tap } from './tap.ts';

/**
 * Who an intruder pretends to be:
 * - `wrong-key`: the dialer's own name, with a key or identity the listener does not hold for it;
 * - `unknown-peer`: a name the listener has no key or identity for at all;
 * - `impersonator`: a third peer the listener does know, with that peer's real key or identity,
 *   claiming the dialer's name.
 */
export type IntruderKind = 'wrong-key' | 'unknown-peer' | 'impersonator';

/** A dialler the listener must refuse, made by {@link ComplianceEnv.intruder}. */
export interface Intruder {
  /** A provider holding the intruder's credentials (the suite closes it). */
  readonly dialer: ProviderV1;
  /** The peer name it claims (`localNode` of its `open`): the dialer's name, or an unknown one. */
  readonly claims: string;
}

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
  /**
   * A dialler with credentials the listener must refuse (see {@link IntruderKind}); it opens
   * `listenerPeer` like the real dialer. Required by the authentication checks unless the
   * options declare `authentication: 'none'`; a setup that leaves it out fails those checks.
   * Every kind must be supported: for `impersonator` the listener must also know a third peer.
   */
  intruder?(kind: IntruderKind): Intruder;
  /**
   * A second dialler the listener trusts, under another peer name (a third node): with it the
   * suite checks that two dialers on one listener get separate channels, each with its own
   * frames, and that one closing leaves the other working. Required: a setup that leaves it
   * out fails that check.
   */
  secondDialer?(): SecondDialer;
}

/** Another peer dialling the same listener (see {@link ComplianceEnv.secondDialer}). */
export interface SecondDialer {
  /** A provider holding that peer's credentials (the suite closes it). */
  readonly dialer: ProviderV1;
  /** Its peer name (`localNode` of its `open`), not the env's `dialerPeer`. */
  readonly peer: string;
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
  /**
   * How the provider authenticates a dialler (default `handshake`):
   * - `handshake`: `open` proves both sides before it resolves, so an intruder's `open` rejects;
   * - `per-frame`: no round trip at open (e.g. a datagram provider sealing each datagram with a
   *   pre-shared key), so an intruder's `open` may resolve, but its frames must be refused;
   * - `none`: the provider authenticates nobody. Its authentication checks are then not
   *   registered — the only way they are left out.
   */
  readonly authentication?: 'handshake' | 'per-frame' | 'none';
  /**
   * Optional: a man in the middle in front of `target` (a listener's bound address) that the
   * dialer can go through and that keeps, holds back and re-injects what it sends — `streamTap`
   * for stream providers, `datagramTap` for UDP-like ones, both from this package. With it the
   * suite checks that a tampered, a replayed or a reordered record is refused; without it those three checks
   * are not registered. A medium nothing can get between (in-process memory) leaves it out.
   */
  tap?(target: string): Promise<Tap>;
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
