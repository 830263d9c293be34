import { loggedRejects, type ProviderLogger } from '@cep/provider-spec';
import { CepError } from '@cep/provider-spec';
import { MAX_DATAGRAM_BYTES, MAX_NAME_BYTES, FIXED_BYTES } from './datagram.ts';
import { checkIdentity, type UdpIdentity } from './identity.ts';

/** Something the provider dropped before it reached a channel (for logs and telemetry). */
export interface UdpRejectInfo {
  readonly code: 'AUTH_FAILED' | 'PEER_MISMATCH' | 'REPLAYED_FRAME' | 'PROTOCOL_ERROR' | 'CHANNEL_OVERFLOW' | 'HANDSHAKE_TIMEOUT';
  readonly message: string;
  readonly remoteAddress?: string;
  readonly claimedPeer?: string;
}

/** Options of `udp(...)`. */
export interface UdpOptions {
  /** Catalog id (default `udp`). */
  readonly id?: string;
  /** This node's peer name; datagrams addressed to another name are dropped. */
  readonly localPeer: string;
  /**
   * One 32-byte pre-shared key per remote peer (the HMAC envelope, no handshake); datagrams
   * from anyone else are dropped. Optional when every peer is on `identity.allowList`.
   */
  readonly keys?: Readonly<Record<string, Uint8Array>>;
  /**
   * This node's public-key identity: channels to the peers on `identity.allowList` run a
   * Noise_XXpsk3 handshake at `open` and encrypt every datagram. A peer is either here or in
   * `keys`, never both (its old key becomes `identity.psks[peer]`).
   */
  readonly identity?: UdpIdentity;
  /** An identity channel's whole handshake must finish within this many ms, on either side (default 5000). */
  readonly handshakeTimeoutMs?: number;
  /** Largest frame (datagram payload) in bytes; default 1200, which fits any path MTU without fragmenting. */
  readonly maxFrameBytes?: number;
  /** Bytes handed to the OS and not yet sent past which `send` answers `backpressure` (default 256 KiB). */
  readonly highWaterMark?: number;
  /** Bytes in flight past which `send` throws `CHANNEL_OVERFLOW` (default 4 MiB). */
  readonly hardLimitBytes?: number;
  /** Inbound frames kept per channel while nobody pulls; the oldest is dropped beyond it (default 256). */
  readonly maxQueuedFrames?: number;
  /** Channels one listener accepts at once; datagrams opening more are dropped (default 256). */
  readonly maxChannels?: number;
  /** Width of the replay window in sequence numbers (default 64). */
  readonly replayWindow?: number;
  /** Called for every datagram dropped for a reason worth counting. */
  readonly onReject?: (info: UdpRejectInfo) => void;
  /**
   * Where the provider logs refusals and channel ends (default: nowhere). Each channel logs
   * through `logger.child({ provider, peer, mount })`. A pino logger fits as it is.
   */
  readonly logger?: ProviderLogger;
}

export interface ResolvedUdpOptions {
  readonly id: string;
  readonly localPeer: string;
  readonly keys: ReadonlyMap<string, Uint8Array>;
  readonly maxFrameBytes: number;
  readonly highWaterMark: number;
  readonly hardLimitBytes: number;
  readonly maxQueuedFrames: number;
  readonly maxChannels: number;
  readonly replayWindow: number;
  readonly onReject: (info: UdpRejectInfo) => void;
  readonly logger: ProviderLogger;
  readonly identity: UdpIdentity | undefined;
  readonly handshakeTimeoutMs: number;
}

/** The largest maxFrameBytes that still fits one datagram with the longest names. */
export const MAX_UDP_FRAME_BYTES = MAX_DATAGRAM_BYTES - FIXED_BYTES - 4 * MAX_NAME_BYTES;

function invalid(message: string, details: Record<string, unknown> = {}): CepError {
  return new CepError('INVALID_OPTIONS', message, details);
}

function int(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min || v > max) throw invalid(`${name} must be an integer in ${min}..${max}, got ${String(value)}`, { option: name });
  return v;
}

export function checkName(kind: string, name: string): void {
  const n = Buffer.byteLength(name);
  if (n === 0 || n > MAX_NAME_BYTES) throw invalid(`${kind} "${name}" must be 1..${MAX_NAME_BYTES} bytes of UTF-8`, { kind, name });
}

export function resolveUdpOptions(options: UdpOptions): ResolvedUdpOptions {
  checkName('localPeer', options.localPeer);
  const keys = new Map<string, Uint8Array>();
  for (const [peer, key] of Object.entries(options.keys ?? {})) {
    checkName('peer', peer);
    if (!(key instanceof Uint8Array) || key.length !== 32) throw invalid(`the key for peer "${peer}" must be a 32-byte Uint8Array`, { peer });
    keys.set(peer, Uint8Array.from(key));
  }
  const maxFrameBytes = int('maxFrameBytes', options.maxFrameBytes, 1200, 1, MAX_UDP_FRAME_BYTES);
  const highWaterMark = int('highWaterMark', options.highWaterMark, 256 * 1024, 1, 1 << 30);
  const hardLimitBytes = int('hardLimitBytes', options.hardLimitBytes, Math.max(4 << 20, highWaterMark * 2), highWaterMark + MAX_DATAGRAM_BYTES, 1 << 30);
  const id = options.id ?? 'udp';
  checkName('id', id);
  return {
    id,
    localPeer: options.localPeer,
    keys,
    maxFrameBytes,
    highWaterMark,
    hardLimitBytes,
    maxQueuedFrames: int('maxQueuedFrames', options.maxQueuedFrames, 256, 1, 1 << 20),
    maxChannels: int('maxChannels', options.maxChannels, 256, 1, 1 << 16),
    replayWindow: int('replayWindow', options.replayWindow, 64, 1, 1024),
    ...loggedRejects(options.logger, options.onReject),
    identity: options.identity === undefined ? undefined : checkIdentity(options.identity, keys.keys()),
    handshakeTimeoutMs: int('handshakeTimeoutMs', options.handshakeTimeoutMs, 5000, 1, 600_000),
  };
}
