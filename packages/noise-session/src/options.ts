import type { AllowList } from './allow-list.ts';
import { noiseError } from './errors.ts';
import { KEY_BYTES, type StaticKeyPair } from './keys.ts';

/** Default largest message `send` accepts and a remote may send: 4 MiB, the providers' default frame limit. */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Default plaintext bytes after which a direction's key is replaced (Noise REKEY): 1 GiB. */
export const DEFAULT_REKEY_AFTER_BYTES = 1024 * 1024 * 1024;
/** Default records after which a direction's key is replaced: 2^20. */
export const DEFAULT_REKEY_AFTER_RECORDS = 1 << 20;
/** Default writable buffer of a session, in bytes, past which `send` returns false. */
export const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
/** Longest peer name, in UTF-8 bytes. */
export const MAX_PEER_NAME_BYTES = 255;
/** Largest `hello` payload an initiator may send inside the handshake. */
export const MAX_HELLO_BYTES = 512;

/** Options both sides of a handshake take. */
export interface SecureOptions {
  /** This node's peer name, sent (encrypted) to the remote. */
  readonly localName: string;
  /** This node's static key pair (see `loadKeyFile`). */
  readonly staticKey: StaticKeyPair;
  /** Who may connect, by public key. The session closes itself with `NOISE_KEY_REVOKED` when its key is removed. */
  readonly allowList: AllowList;
  /**
   * Optional pre-shared keys per peer name (32 bytes), mixed into the handshake (`psk3`).
   * Both sides of a pair must agree: with a PSK on one side only the handshake fails with
   * `NOISE_AUTH_FAILED`. A pair without one uses the all-zero PSK, which adds nothing.
   */
  readonly psks?: Readonly<Record<string, Uint8Array>>;
  /** Aborts the handshake (`NOISE_HANDSHAKE_ABORTED`); the caller owns time, e.g. `AbortSignal.timeout(5000)`. */
  readonly signal?: AbortSignal;
  /** Largest message either side may send; both sides should use the same value. Default {@link DEFAULT_MAX_MESSAGE_BYTES}. */
  readonly maxMessageBytes?: number;
  /** Plaintext bytes after which this side rekeys what it sends. Default {@link DEFAULT_REKEY_AFTER_BYTES}. */
  readonly rekeyAfterBytes?: number;
  /** Records after which this side rekeys what it sends. Default {@link DEFAULT_REKEY_AFTER_RECORDS}. */
  readonly rekeyAfterRecords?: number;
  /**
   * Outbound: bytes buffered by `send` before it returns false. Inbound: unread message
   * bytes past which the stream is paused (so a stalled reader pushes back on the sender).
   * Default {@link DEFAULT_HIGH_WATER_MARK}.
   */
  readonly highWaterMark?: number;
  /**
   * Handshake versions offered (initiator) or accepted (responder), most preferred first.
   * Default {@link SUPPORTED_VERSIONS}: 1 (ChaChaPoly) then 2 (AES-GCM).
   */
  readonly versions?: readonly number[];
}

/** Options of the dialling side. */
export interface InitiatorOptions extends SecureOptions {
  /** The peer name this node means to reach; the responder must prove a key listed for it. */
  readonly peer: string;
  /** Application bytes for the responder (e.g. a mode and mount), sent encrypted in the last handshake message. */
  readonly hello?: Uint8Array;
}

/** Options of the accepting side. */
export type ResponderOptions = SecureOptions;

export interface ResolvedLimits {
  readonly maxMessageBytes: number;
  readonly rekeyAfterBytes: number;
  readonly rekeyAfterRecords: number;
  readonly highWaterMark: number;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v <= 0) throw noiseError('NOISE_INVALID_OPTIONS', `${name} must be a positive integer`, { option: name, value: v });
  return v;
}

export function resolveLimits(options: SecureOptions): ResolvedLimits {
  return {
    maxMessageBytes: positive(options.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES, 'maxMessageBytes'),
    rekeyAfterBytes: positive(options.rekeyAfterBytes, DEFAULT_REKEY_AFTER_BYTES, 'rekeyAfterBytes'),
    rekeyAfterRecords: positive(options.rekeyAfterRecords, DEFAULT_REKEY_AFTER_RECORDS, 'rekeyAfterRecords'),
    highWaterMark: positive(options.highWaterMark, DEFAULT_HIGH_WATER_MARK, 'highWaterMark'),
  };
}

export function checkName(name: string, option: string): Buffer {
  const bytes = Buffer.from(name, 'utf8');
  if (typeof name !== 'string' || bytes.length === 0 || bytes.length > MAX_PEER_NAME_BYTES) {
    throw noiseError('NOISE_INVALID_OPTIONS', `${option} must be 1..${MAX_PEER_NAME_BYTES} UTF-8 bytes`, { option });
  }
  return bytes;
}

const ZERO_PSK = new Uint8Array(KEY_BYTES);

export function pskFor(options: SecureOptions, peer: string): Uint8Array {
  const psk = options.psks?.[peer];
  if (psk === undefined) return ZERO_PSK;
  if (!(psk instanceof Uint8Array) || psk.length !== KEY_BYTES) {
    throw noiseError('NOISE_INVALID_OPTIONS', `the PSK of peer "${peer}" must be ${KEY_BYTES} bytes`, { peer });
  }
  return psk;
}
