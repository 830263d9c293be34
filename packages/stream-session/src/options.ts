import { jitteredBackoff, silentLogger, type ProviderLogger, type ReconnectDelay } from '@cep/provider-spec';
import { KEY_BYTES } from './crypto.ts';
import { streamError } from './errors.ts';
import { checkIdentity, type StreamIdentity } from './identity.ts';

/**
 * Bounded exponential backoff, with jitter, for re-dialling a channel whose connection broke:
 * attempt `n` waits between half and all of `min(maxMs, initialMs × 2^(n−1))` ms, so dialers
 * that lost the same listener do not all come back at once.
 */
export interface BackoffOptions {
  /** First base delay in ms (default 100). */
  readonly initialMs?: number;
  /** Largest base delay in ms (default 5000). */
  readonly maxMs?: number;
  /** Attempts before giving up with `fatal` (default 8; 0 turns reconnecting off). */
  readonly maxAttempts?: number;
  /**
   * Replaces the jittered delay: the ms to wait before attempt `attempt` (1 for the first), a
   * finite number ≥ 0. `initialMs` and `maxMs` are then unused. A delay that is not one fails
   * the channel with `INVALID_OPTIONS`.
   */
  readonly delay?: ReconnectDelay;
}

/** Something the listener refused before any channel existed (for logs and telemetry). */
export interface RejectInfo {
  readonly code: string;
  readonly message: string;
  readonly remoteAddress?: string;
  /** The peer name the remote side claimed, when it got that far. */
  readonly claimedPeer?: string;
}

/** Options shared by every stream-session provider (tcp, pipe). */
export interface StreamOptions {
  /** Catalog id of the provider. */
  readonly id?: string;
  /** This node's peer name, proven to remote peers with their key. */
  readonly localPeer: string;
  /**
   * Legacy: one 32-byte pre-shared key per remote peer name, for the challenge–response
   * handshake with GMAC-authenticated (not encrypted) records. A peer with neither a key
   * here nor a public key in `identity` is refused.
   */
  readonly keys?: Readonly<Record<string, Uint8Array>>;
  /**
   * This node's public-key identity: channels to the peers on `identity.allowList` run an
   * encrypted Noise_XXpsk3 session (see README, "Identities"). A peer is either here or in
   * `keys`, never both (its old key becomes `identity.psks[peer]`).
   */
  readonly identity?: StreamIdentity;
  /** Largest frame accepted or sent, in bytes (default 4 MiB). */
  readonly maxFrameBytes?: number;
  /**
   * Pre-shared-key channels: tag records of up to 2 KiB from per-key GHASH tables (default
   * true; several times cheaper than a GCM object per record). Table lookups read memory at
   * addresses that depend on the key, so a process sharing this CPU's caches could in principle
   * learn timing about it; `false` keeps every tag on OpenSSL's AES-GCM (constant-time with
   * carry-less multiply) at ~5–17 µs more per record. Same bytes on the wire either way.
   */
  readonly tableGhash?: boolean;
  /** Buffered bytes past which `send` answers `backpressure`; also the inbound queue bound (default 1 MiB). */
  readonly highWaterMark?: number;
  /** Buffered bytes past which `send` throws `CHANNEL_OVERFLOW` (default 16 MiB). */
  readonly hardLimitBytes?: number;
  /** Time a dialled connection allows for the whole handshake, in ms (default 5000). */
  readonly handshakeTimeoutMs?: number;
  /**
   * Time an inbound connection gets to finish the handshake, in ms (default the smaller of
   * 2000 and `handshakeTimeoutMs`): short, since a real peer needs two round trips.
   */
  readonly acceptTimeoutMs?: number;
  /** Time `close` waits for the remote side before destroying the socket (default 2000). */
  readonly closeTimeoutMs?: number;
  /**
   * Inbound connections allowed to be mid-handshake at once (default 1024; a silent one costs
   * a socket and a few KiB). When full, a new connection takes the slot of an older one
   * (silent ones first) from the source holding the most; 0 refuses every inbound connection.
   */
  readonly maxPendingHandshakes?: number;
  /**
   * Of those, connections from one remote address (default 512, above the default accept
   * backlog of 511). A source at its share displaces its own oldest connection, never
   * another's. A Unix socket's clients cannot be told apart: only `maxPendingHandshakes`
   * bounds them.
   */
  readonly maxPendingPerSource?: number;
  /** Reconnect policy for dialled channels. */
  readonly backoff?: BackoffOptions;
  /** Called when the listener refuses a connection (bad key, unknown peer, garbage). */
  readonly onReject?: (info: RejectInfo) => void;
  /**
   * Where the provider logs reconnects, refusals and closes (default: nowhere). Each channel
   * logs through `logger.child({ provider, peer, mount })`. A pino logger fits as it is.
   */
  readonly logger?: ProviderLogger;
}

/** Options with every default filled in and checked. */
export interface ResolvedOptions {
  readonly id: string;
  readonly localPeer: string;
  readonly keys: ReadonlyMap<string, Uint8Array>;
  readonly identity: StreamIdentity | undefined;
  readonly maxFrameBytes: number;
  readonly tableGhash: boolean;
  readonly highWaterMark: number;
  readonly hardLimitBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly acceptTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly maxPendingHandshakes: number;
  readonly maxPendingPerSource: number;
  readonly backoff: { readonly maxAttempts: number; readonly delay: ReconnectDelay };
  readonly onReject: (info: RejectInfo) => void;
  readonly logger: ProviderLogger;
}

/** Longest peer, mode or mount name carried in the handshake, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 64;
/** Largest frame the 32-bit length prefix can express while staying below any real limit. */
const FRAME_CEILING = 1 << 30;

function positiveInt(name: string, value: number | undefined, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 0 || v > max) {
    throw streamError('INVALID_OPTIONS', `${name} must be an integer between 0 and ${max}, got ${String(value)}`, { option: name });
  }
  return v;
}

export function checkName(kind: string, name: string): void {
  const bytes = Buffer.byteLength(name);
  if (bytes === 0 || bytes > MAX_NAME_BYTES) {
    throw streamError('INVALID_OPTIONS', `${kind} "${name}" must be 1..${MAX_NAME_BYTES} bytes of UTF-8`, { kind, name });
  }
}

/** Fills defaults and refuses options that cannot work (wrong key sizes, limits that contradict). */
export function resolveOptions(defaultId: string, options: StreamOptions): ResolvedOptions {
  checkName('localPeer', options.localPeer);
  const keys = new Map<string, Uint8Array>();
  for (const [peer, key] of Object.entries(options.keys ?? {})) {
    checkName('peer', peer);
    if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
      throw streamError('INVALID_OPTIONS', `the key for peer "${peer}" must be a ${KEY_BYTES}-byte Uint8Array`, { peer });
    }
    keys.set(peer, Uint8Array.from(key));
  }
  const identity = options.identity === undefined ? undefined : checkIdentity(options.identity, keys.keys());
  const maxFrameBytes = positiveInt('maxFrameBytes', options.maxFrameBytes, 4 << 20, FRAME_CEILING);
  const highWaterMark = positiveInt('highWaterMark', options.highWaterMark, 1 << 20);
  const hardLimitBytes = positiveInt('hardLimitBytes', options.hardLimitBytes, Math.max(16 << 20, highWaterMark + 2 * maxFrameBytes));
  if (hardLimitBytes < highWaterMark + maxFrameBytes + 64) {
    throw streamError('INVALID_OPTIONS', 'hardLimitBytes must leave room for one largest frame above highWaterMark', {
      hardLimitBytes,
      highWaterMark,
      maxFrameBytes,
    });
  }
  if (options.tableGhash !== undefined && typeof options.tableGhash !== 'boolean') {
    throw streamError('INVALID_OPTIONS', `tableGhash must be true or false, got ${String(options.tableGhash)}`, { option: 'tableGhash' });
  }
  const backoff = options.backoff ?? {};
  const handshakeTimeoutMs = positiveInt('handshakeTimeoutMs', options.handshakeTimeoutMs, 5000);
  return {
    id: options.id ?? defaultId,
    localPeer: options.localPeer,
    keys,
    identity,
    maxFrameBytes,
    tableGhash: options.tableGhash ?? true,
    highWaterMark: Math.max(1, highWaterMark),
    hardLimitBytes,
    handshakeTimeoutMs,
    acceptTimeoutMs: positiveInt('acceptTimeoutMs', options.acceptTimeoutMs, Math.min(2000, handshakeTimeoutMs)),
    closeTimeoutMs: positiveInt('closeTimeoutMs', options.closeTimeoutMs, 2000),
    maxPendingHandshakes: positiveInt('maxPendingHandshakes', options.maxPendingHandshakes, 1024),
    maxPendingPerSource: positiveInt('maxPendingPerSource', options.maxPendingPerSource, 512),
    backoff: resolveBackoff(backoff),
    onReject: options.onReject ?? (() => {}),
    logger: options.logger ?? silentLogger,
  };
}

function resolveBackoff(backoff: BackoffOptions): ResolvedOptions['backoff'] {
  const initialMs = positiveInt('backoff.initialMs', backoff.initialMs, 100);
  const maxMs = positiveInt('backoff.maxMs', backoff.maxMs, 5000);
  if (backoff.delay !== undefined && typeof backoff.delay !== 'function') {
    throw streamError('INVALID_OPTIONS', 'backoff.delay must be a function of the attempt number', { option: 'backoff.delay' });
  }
  return {
    maxAttempts: positiveInt('backoff.maxAttempts', backoff.maxAttempts, 8),
    // A maxMs under initialMs caps every delay at maxMs, as it always has.
    delay: backoff.delay ?? jitteredBackoff({ initialMs: Math.min(initialMs, maxMs), maxMs }),
  };
}
