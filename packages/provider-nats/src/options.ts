import { loggedRejects, type ProviderLogger } from '@cep/provider-spec';
import { KEY_BYTES } from './crypto.ts';
import { natsError } from './errors.ts';

/** How the provider proves itself to the NATS server (separate from CEP's own peer keys). */
export type NatsCredentials =
  | { readonly token: string }
  | { readonly user: string; readonly pass: string }
  /** An nkey seed (`SU…`), given directly or as a file holding it. */
  | { readonly nkeySeed: string }
  | { readonly nkeySeedFile: string }
  /** A decentralised-auth `.creds` file (user JWT and nkey seed). */
  | { readonly credsFile: string };

/** How records travel: acknowledged and resent (reliable, ordered), or fire and forget. */
export type NatsDelivery = 'acked' | 'at_most_once';

/** Something a listener or channel refused (for logs and telemetry). */
export interface NatsRejectInfo {
  readonly code: string;
  readonly message: string;
  readonly claimedPeer?: string;
  /** The subject the refused message came in on. */
  readonly subject?: string;
}

/** Options of {@link nats}. */
export interface NatsOptions {
  /** Catalog id (default `nats`). */
  readonly id?: string;
  /** This node's peer name, proven to remote peers with their key. */
  readonly localPeer: string;
  /** One 32-byte pre-shared key per remote peer name. A peer without a key is refused. */
  readonly keys: Readonly<Record<string, Uint8Array>>;
  /** NATS server URLs (default `nats://127.0.0.1:4222`); several for a cluster. */
  readonly servers?: string | readonly string[];
  /** Credentials for the NATS server; none for an open server. */
  readonly credentials?: NatsCredentials;
  /** `acked` (default): reliable and ordered by the provider's own acks; `at_most_once`: core NATS as is. */
  readonly delivery?: NatsDelivery;
  /** Largest frame accepted or sent, in bytes (default 4 MiB); larger than the server's max_payload is split. */
  readonly maxFrameBytes?: number;
  /** Buffered bytes past which `send` answers `backpressure` (default 1 MiB). */
  readonly highWaterMark?: number;
  /** Buffered bytes past which `send` throws `CHANNEL_OVERFLOW` (default 16 MiB, at least highWaterMark + 2 frames). */
  readonly hardLimitBytes?: number;
  /** Bytes a receiver lets a sender have in flight beyond what it consumed (default 1 MiB). */
  readonly windowBytes?: number;
  /** Time allowed for the whole handshake, in ms (default 5000). */
  readonly handshakeTimeoutMs?: number;
  /** Time `close` waits for frames to be acknowledged (default 2000). */
  readonly closeTimeoutMs?: number;
  /** Inbound handshakes allowed at once per listener (default 64); extra ones are refused. */
  readonly maxPendingHandshakes?: number;
  /** Unacknowledged records are resent after this many ms without progress (default 200). */
  readonly resendMs?: number;
  /** An idle channel tells its peer it is alive every this many ms (default 1000). */
  readonly keepaliveMs?: number;
  /** A channel that hears nothing from its peer for this long ends with `CONNECTION_LOST` (default 10000). */
  readonly peerTimeoutMs?: number;
  /** Called for every refusal: a handshake that failed, a record that did not authenticate or was replayed. */
  readonly onReject?: (info: NatsRejectInfo) => void;
  /**
   * Where the provider logs refusals and channel ends (default: nowhere). Each channel logs
   * through `logger.child({ provider, peer, mount })`. A pino logger fits as it is.
   */
  readonly logger?: ProviderLogger;
  /** Tests only: drops an outgoing channel message when it answers true (to exercise resends). */
  readonly _dropPublish?: (message: Uint8Array) => boolean;
}

/** Options with defaults filled in and checked. */
export interface ResolvedOptions {
  readonly id: string;
  readonly localPeer: string;
  readonly keys: ReadonlyMap<string, Uint8Array>;
  readonly servers: string[];
  readonly credentials: NatsCredentials | undefined;
  readonly delivery: NatsDelivery;
  readonly maxFrameBytes: number;
  readonly highWaterMark: number;
  readonly hardLimitBytes: number;
  readonly windowBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly maxPendingHandshakes: number;
  readonly resendMs: number;
  readonly keepaliveMs: number;
  readonly peerTimeoutMs: number;
  readonly onReject: (info: NatsRejectInfo) => void;
  readonly logger: ProviderLogger;
  readonly dropPublish: ((message: Uint8Array) => boolean) | undefined;
}

/** Default NATS server when none is given. */
export const DEFAULT_SERVER = 'nats://127.0.0.1:4222';
/** Longest peer, mode or mount name carried in the handshake, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 64;
const FRAME_CEILING = 1 << 30;

function int(name: string, value: number | undefined, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw natsError('INVALID_OPTIONS', `${name} must be an integer between ${min} and ${max}, got ${String(value)}`, { option: name });
  }
  return v;
}

/** Refuses a peer, mode or mount name that cannot travel in the handshake. */
export function checkName(kind: string, name: string): void {
  const bytes = Buffer.byteLength(name ?? '');
  if (typeof name !== 'string' || bytes === 0 || bytes > MAX_NAME_BYTES) {
    throw natsError('INVALID_OPTIONS', `${kind} "${String(name)}" must be 1..${MAX_NAME_BYTES} bytes of UTF-8`, { kind, name });
  }
}

function checkCredentials(credentials: NatsCredentials | undefined): NatsCredentials | undefined {
  if (credentials === undefined) return undefined;
  const c = credentials as Record<string, unknown>;
  const kinds = [['token'], ['user', 'pass'], ['nkeySeed'], ['nkeySeedFile'], ['credsFile']];
  const match = kinds.find((fields) => fields.every((f) => typeof c[f] === 'string' && (c[f] as string).length > 0) && Object.keys(c).length === fields.length);
  if (match === undefined) {
    throw natsError(
      'INVALID_OPTIONS',
      'credentials must be exactly one of { token }, { user, pass }, { nkeySeed }, { nkeySeedFile } or { credsFile }, each a non-empty string',
      {
        option: 'credentials',
        fields: Object.keys(c),
      },
    );
  }
  return credentials;
}

/** Fills defaults and refuses options that cannot work. */
export function resolveOptions(options: NatsOptions): ResolvedOptions {
  checkName('localPeer', options.localPeer);
  const keys = new Map<string, Uint8Array>();
  for (const [peer, key] of Object.entries(options.keys ?? {})) {
    checkName('peer', peer);
    if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
      throw natsError('INVALID_OPTIONS', `the key for peer "${peer}" must be a ${KEY_BYTES}-byte Uint8Array`, { peer });
    }
    keys.set(peer, Uint8Array.from(key));
  }
  const servers = options.servers === undefined ? [DEFAULT_SERVER] : typeof options.servers === 'string' ? [options.servers] : [...options.servers];
  if (servers.length === 0 || servers.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw natsError('INVALID_OPTIONS', 'servers must be one or more NATS URLs, e.g. nats://10.0.0.5:4222', { option: 'servers' });
  }
  const delivery = options.delivery ?? 'acked';
  if (delivery !== 'acked' && delivery !== 'at_most_once') {
    throw natsError('INVALID_OPTIONS', `delivery must be "acked" or "at_most_once", got ${String(delivery)}`, { option: 'delivery' });
  }
  const maxFrameBytes = int('maxFrameBytes', options.maxFrameBytes, 4 << 20, 1, FRAME_CEILING);
  const highWaterMark = int('highWaterMark', options.highWaterMark, 1 << 20, 1);
  const hardLimitBytes = int('hardLimitBytes', options.hardLimitBytes, Math.max(16 << 20, highWaterMark + 2 * maxFrameBytes));
  if (hardLimitBytes < highWaterMark + maxFrameBytes) {
    throw natsError('INVALID_OPTIONS', 'hardLimitBytes must leave room for one largest frame above highWaterMark', {
      hardLimitBytes,
      highWaterMark,
      maxFrameBytes,
    });
  }
  const id = options.id ?? 'nats';
  checkName('id', id);
  return {
    id,
    localPeer: options.localPeer,
    keys,
    servers,
    credentials: checkCredentials(options.credentials),
    delivery,
    maxFrameBytes,
    highWaterMark,
    hardLimitBytes,
    windowBytes: int('windowBytes', options.windowBytes, 1 << 20, 1),
    handshakeTimeoutMs: int('handshakeTimeoutMs', options.handshakeTimeoutMs, 5000, 1),
    closeTimeoutMs: int('closeTimeoutMs', options.closeTimeoutMs, 2000),
    maxPendingHandshakes: int('maxPendingHandshakes', options.maxPendingHandshakes, 64, 1),
    resendMs: int('resendMs', options.resendMs, 200, 1),
    keepaliveMs: int('keepaliveMs', options.keepaliveMs, 1000, 1),
    peerTimeoutMs: int('peerTimeoutMs', options.peerTimeoutMs, 10_000, 1),
    ...loggedRejects(options.logger, options.onReject),
    dropPublish: options._dropPublish,
  };
}
