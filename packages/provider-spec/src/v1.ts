/**
 * The CEP transport provider interface, version 1.
 *
 * This module is the whole contract between the transport manager and a provider
 * (TCP, Unix socket, UDP, in-memory, or a third party's). It imports nothing but
 * `@cep/errors` (one small class, no dependencies), so a provider package depends on
 * nothing else at run time: not on the transport manager, not on the serializer.
 *
 * Like `@ai-sdk/provider`, every provider states the specification version it
 * implements. A later version lives beside this one (`v2.ts`) and the manager keeps
 * accepting v1 providers, so a published provider keeps working across releases.
 *
 * Shape of the conversation:
 * - the manager calls `provider.open(request)` to dial a peer for a mount, or the
 *   provider's listener hands it channels that remote peers opened;
 * - `channel.send(frame)` accepts one whole frame and answers `ready` (send more)
 *   or `backpressure` (stop until a `ready` event);
 * - inbound frames are *pulled* with `channel.frames()`, so a manager that stops
 *   pulling makes the provider stop reading its socket: backpressure propagates
 *   both ways and no buffer grows without bound;
 * - events (`ready`, `backpressure`, `reconnecting`, `fatal`, `closed`) are pushed
 *   to the listeners registered with `channel.onEvent`.
 *
 * Providers never decide anything that must be deterministic (they see wall-clock
 * time, sockets, the OS). Everything they report is turned into beat-stamped cells
 * by the manager.
 */
import { CepError } from '@cep/errors';

/** The literal every v1 provider carries in `specificationVersion`. */
export const PROVIDER_SPEC_V1 = 'cep-provider-v1' as const;

/**
 * Capabilities a provider may advertise. The named ones are those the manager and
 * organs negotiate on; a third party may add its own strings (kept verbatim in the
 * catalog under `/net/transports/<id>/caps`).
 */
export type KnownCapability =
  | 'reliable'
  | 'ordered'
  | 'streaming'
  | 'datagram'
  | 'multicast'
  | 'low_latency'
  | 'local_ipc'
  | 'remote_net'
  | 'unreliable'
  | 'crc32c'
  | 'deflate'
  | 'aead';
/** A known capability, or a provider-specific one (lowercase word, `[a-z_]{1,11}`). */
export type Capability = KnownCapability | (string & {});

/** What the manager asks a provider to open for one mount. */
export interface OpenRequestV1 {
  /** The remote peer's name (a CEP word). The channel must end up authenticated as this peer. */
  readonly peer: string;
  /** The mode of the mount: `link`, `mirror`, `invoke`, or an organ's own. */
  readonly mode: string;
  /** The mount's name under the peer and mode. */
  readonly mount: string;
  /** The local node the mount belongs to. */
  readonly localNode: string;
  /**
   * Where to reach the peer, in the provider's own address syntax (`127.0.0.1:7000`,
   * `/run/cep/saturn.sock`, a memory-network address). Taken from the peer's config.
   */
  readonly address: string;
  /** Aborts a dial in progress; the promise from `open` then rejects with `OPEN_ABORTED`. */
  readonly signal?: AbortSignal;
}

/** Facts about an open channel, for the catalog, telemetry and logs. */
export interface ChannelInfoV1 {
  /** The provider that made the channel. */
  readonly provider: string;
  /** The authenticated remote peer (equal to `OpenRequestV1.peer` for a dialled channel). */
  readonly peer: string;
  /** The mount the remote side asked for (for accepted channels), or the one opened. */
  readonly mode: string;
  readonly mount: string;
  /** True for a channel this side dialled, false for one a listener accepted. */
  readonly initiator: boolean;
  /** Human-readable remote address, for logs only. */
  readonly remoteAddress?: string;
  /** The largest frame this channel will carry, in bytes. */
  readonly maxFrameBytes: number;
  /**
   * True when every frame `frames()` yields is the consumer's to keep: the provider never writes
   * those bytes again (each frame is its own buffer, or a view into a read buffer that is never
   * reused). The manager then logs the frame as it is instead of copying it. Optional: without
   * it a frame may be a view that changes after the next pull, and the manager copies.
   */
  readonly ownedFrames?: boolean;
  /**
   * Optional id of the underlying session. After a reconnect the accepting side sees a
   * new accepted channel; a provider that can tell it is the same peer session again
   * may give both the same `sessionId` so the manager can link them.
   */
  readonly sessionId?: string;
  /**
   * The remote peer's session id as the handshake that made this channel told it: random per
   * start of the remote peer's provider (per process, or per listener), so a restarted peer has
   * a new one. Optional: a provider that cannot know omits it, and the manager then behaves as
   * before (a reconnect is not told apart from a restart). After a reconnect the channel reports
   * the id again with a `session` event.
   */
  readonly remoteSession?: string;
  /**
   * Who the remote peer proved to be, for a provider that authenticates peers by public key
   * (a Noise session): its static key and that key's fingerprint. Optional: a provider with
   * pre-shared keys only, or none, omits it. The transport records it under
   * `/net/peers/<peer>/identity`.
   */
  readonly remoteIdentity?: PeerIdentityV1;
  /**
   * Optional, for channels that can {@link ChannelV1.publish}: channels of one provider with the
   * same scope publish to the same group subscribers (for a listener, its address), so a frame
   * published once on any of them reaches every member that joined through any of them.
   */
  readonly groupScope?: string;
}

/** A remote peer's authenticated public-key identity (see `ChannelInfoV1.remoteIdentity`). */
export interface PeerIdentityV1 {
  /** The peer's static public key, base64 (as written in config). */
  readonly publicKey: string;
  /** `SHA256:<base64>` of the public key (the OpenSSH form), for logs and operators. */
  readonly fingerprint: string;
  /** The authentication protocol that proved it, e.g. `Noise_XXpsk3_25519_ChaChaPoly_SHA256`. */
  readonly protocol?: string;
  /** That protocol's handshake version number, as the provider negotiated it. */
  readonly version?: number;
}

/** The answer to `send`: keep sending, or wait for a `ready` event. */
export type SendResultV1 = 'ready' | 'backpressure';

/** Events a channel pushes to the manager. */
export type ChannelEventV1 =
  | { readonly type: 'ready' }
  | { readonly type: 'backpressure'; readonly bufferedBytes: number }
  /** The connection broke and the provider will try again after `delayMs` (bounded exponential backoff). */
  | { readonly type: 'reconnecting'; readonly attempt: number; readonly delayMs: number; readonly reason: string }
  /** Unrecoverable: the channel is unusable. Always followed by `closed`. */
  | { readonly type: 'fatal'; readonly error: CepError }
  /** The channel is closed (locally or remotely); no more events or frames follow. */
  | { readonly type: 'closed'; readonly reason: string }
  /**
   * A dialled channel re-established its connection and the new handshake named the remote
   * side's session `id` (emitted before the reconnect's `ready`). The same id as before: the
   * same remote process, nothing was lost on its side. Another id: the peer restarted, and any
   * state it held for this channel (subscriptions, calls in flight) is gone. Optional: a
   * provider that cannot know never emits it (see `ChannelInfoV1.remoteSession`).
   */
  | { readonly type: 'session'; readonly id: string };

/**
 * What a dialled channel receives from a group the remote side publishes to
 * ({@link ChannelV1.join}).
 */
export interface GroupSubscriptionV1 {
  /** The group joined. */
  readonly group: string;
  /**
   * Frames published to the group since `join`, each exactly as passed to `publish`, in arrival
   * order; the iteration ends after `leave` or when the channel closes. Single consumer. Delivery
   * is at most once: a frame may be missing, so the layer above detects gaps and repairs them.
   */
  frames(): AsyncIterable<Uint8Array>;
  /** Stops receiving (idempotent). */
  leave(): void;
}

/** One open channel to one peer for one mount. */
export interface ChannelV1 {
  readonly info: ChannelInfoV1;
  /**
   * Queues one whole frame. Returns `backpressure` once the provider's buffer is past
   * its high-water mark; a caller that keeps sending anyway gets `CHANNEL_OVERFLOW`
   * past the hard limit. Throws `CHANNEL_CLOSED` after close, `FRAME_TOO_LARGE` for a
   * frame over `info.maxFrameBytes`. The frame's bytes must not be changed afterwards.
   */
  send(frame: Uint8Array): SendResultV1;
  /**
   * Inbound frames, in arrival order, each exactly as the remote side passed it to
   * `send`. Single consumer (a second call throws `FRAMES_TAKEN`). The provider reads
   * from its socket only as fast as this is pulled. Frames that arrived before the
   * channel closed are still yielded; then the iteration ends. A frame may be a view
   * into a larger buffer: copy it if you keep it past the next pull (unless
   * `info.ownedFrames` says the provider never writes it again).
   */
  frames(): AsyncIterable<Uint8Array>;
  /** Registers an event listener; returns the function that removes it. */
  onEvent(listener: (event: ChannelEventV1) => void): () => void;
  /** Closes the channel; frames already accepted by `send` are flushed first where the medium allows. */
  close(reason: string): Promise<void>;
  /**
   * Optional (providers with the `multicast` cap), on channels a listener accepted: publishes
   * `frame` once to every channel that joined `group` in this channel's `info.groupScope`, however
   * many there are. The provider neither authenticates nor encrypts it (the same bytes reach every
   * member, so no key of one channel can seal it): the layer above must (the transport seals it
   * with a group key and refuses it otherwise). At most once; throws `FRAME_TOO_LARGE` past
   * `info.maxFrameBytes`, `CHANNEL_CLOSED` after close.
   */
  publish?(group: string, frame: Uint8Array): SendResultV1;
  /**
   * Optional (`multicast`), on dialled channels: receives what the remote side publishes to
   * `group`. Ordering promise: the subscription is in place before any frame this channel `send`s
   * after `join` returns reaches the remote side, so a remote that starts publishing when it hears
   * from us misses nothing on our side. Throws `CHANNEL_CLOSED` after close.
   */
  join?(group: string): GroupSubscriptionV1;
}

/** Where a provider listens for channels that remote peers open. */
export interface ListenOptionsV1 {
  /** The local address in the provider's syntax (`127.0.0.1:0` asks the OS for a port). */
  readonly address: string;
  /**
   * Told of every inbound attempt refused before it became a channel (wrong key, unknown
   * peer, garbage, handshake timeout), so the manager can record it as CEI and telemetry.
   */
  readonly onReject?: (rejection: RejectionV1) => void;
}

/** An inbound attempt a listener refused before any channel existed. */
export interface RejectionV1 {
  readonly code: ProviderErrorCode | (string & {});
  readonly reason: string;
  /** The peer name the remote side claimed, if it got that far. */
  readonly claimedPeer?: string;
  /** For logs only. */
  readonly remoteAddress?: string;
}

/** A running listener. */
export interface ListenerV1 {
  /** The address actually bound (with the OS-chosen port filled in). */
  readonly address: string;
  close(): Promise<void>;
}

/** A transport provider, version 1. Made by a package's factory, e.g. `tcp(options)`. */
export interface ProviderV1 {
  readonly specificationVersion: typeof PROVIDER_SPEC_V1;
  /** Catalog id, a CEP word (`tcp`, `pipe`, `udp`, `memory`, `tcp_main`). */
  readonly id: string;
  /** What the provider can do; fixed for its lifetime. */
  readonly caps: readonly Capability[];
  /** Dials `request.peer` at `request.address` and authenticates it. */
  open(request: OpenRequestV1): Promise<ChannelV1>;
  /**
   * Starts accepting channels; each authenticated inbound channel is handed to
   * `onChannel`. Providers that cannot accept (dial-only) omit this.
   */
  listen?(options: ListenOptionsV1, onChannel: (channel: ChannelV1) => void): Promise<ListenerV1>;
  /** Closes every listener and channel the provider owns. */
  close(): Promise<void>;
}

/** Error codes any provider may raise (providers add their own on top). */
export type ProviderErrorCode =
  | 'CHANNEL_CLOSED'
  | 'CHANNEL_OVERFLOW'
  | 'FRAME_TOO_LARGE'
  | 'OPEN_ABORTED'
  | 'OPEN_FAILED'
  | 'AUTH_FAILED'
  | 'PEER_MISMATCH'
  | 'REPLAYED_FRAME'
  | 'PROTOCOL_ERROR'
  | 'ADDRESS_INVALID'
  /** The connection broke without a goodbye. */
  | 'CONNECTION_LOST'
  /** `frames()` was called a second time. */
  | 'FRAMES_TAKEN'
  /** The remote side did not finish the authentication handshake in time. */
  | 'HANDSHAKE_TIMEOUT'
  /** The provider's factory was given options it cannot use. */
  | 'INVALID_OPTIONS';

/** Convenience for provider authors: a {@link CepError} with one of the shared codes. */
export function providerError(code: ProviderErrorCode, message: string, details: Record<string, unknown> = {}): CepError<ProviderErrorCode> {
  return new CepError(code, message, details);
}
