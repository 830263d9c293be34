import { CepError, type PeerIdentityV1 } from '@cep/provider-spec';
import { AllowList, KEY_BYTES as NOISE_KEY_BYTES, peerIdentity, type AuthenticatedPeer, type StaticKeyPair } from '@cep/noise-session';
import { streamError, type StreamErrorCode } from './errors.ts';
import { MAX_NAME_BYTES } from './options.ts';

/**
 * This node's public-key identity: with it, channels to the peers on `allowList` run a
 * Noise_XXpsk3 session (`@cep/noise-session`) instead of the pre-shared-key handshake, and
 * every byte after the handshake is encrypted.
 */
export interface StreamIdentity {
  /** This node's static key pair (`loadKeyFile` of a file written by `cep-node keygen`). */
  readonly staticKey: StaticKeyPair;
  /** Peer name → public key(s). Removing a key drops the channels it authenticated. */
  readonly allowList: AllowList;
  /** Optional 32-byte pre-shared key per peer, mixed into the handshake as `psk3` (both sides of a pair alike). */
  readonly psks?: Readonly<Record<string, Uint8Array>>;
  /** Handshake versions offered and accepted, most preferred first (default: noise-session's `SUPPORTED_VERSIONS`). */
  readonly versions?: readonly number[];
}

/** First byte of a Noise offer ("CEPN"); a legacy HELLO starts with its u16 length, whose high byte is 0..2. */
export const NOISE_FIRST_BYTE = 0x43;
/** Sent instead of a Noise CHOICE when this listener has no identity: "CEPN", version 0 (none in common). */
export const NO_NOISE_CHOICE = Buffer.from([0x43, 0x45, 0x50, 0x4e, 0x00]);

/** Version of the channel hello carried inside the Noise handshake and of the listener's welcome. */
const CHANNEL_HELLO_VERSION = 1;
/** Bytes of a provider session id. */
export const SESSION_ID_BYTES = 16;

/** Checks an identity option; throws `INVALID_OPTIONS`. */
export function checkIdentity(identity: StreamIdentity, legacyPeers: Iterable<string>): StreamIdentity {
  const { staticKey, allowList, psks } = identity;
  if (!(allowList instanceof AllowList)) throw streamError('INVALID_OPTIONS', 'identity.allowList must be an AllowList from @cep/noise-session');
  if (
    !(staticKey?.publicKey instanceof Uint8Array) ||
    staticKey.publicKey.length !== NOISE_KEY_BYTES ||
    !(staticKey.privateKey instanceof Uint8Array) ||
    staticKey.privateKey.length !== NOISE_KEY_BYTES
  ) {
    throw streamError('INVALID_OPTIONS', `identity.staticKey must hold a ${NOISE_KEY_BYTES}-byte publicKey and privateKey (see loadKeyFile)`);
  }
  for (const [peer, psk] of Object.entries(psks ?? {})) {
    if (!(psk instanceof Uint8Array) || psk.length !== NOISE_KEY_BYTES) {
      throw streamError('INVALID_OPTIONS', `identity.psks["${peer}"] must be a ${NOISE_KEY_BYTES}-byte Uint8Array`, { peer });
    }
  }
  for (const peer of legacyPeers) {
    if (allowList.keysOf(peer).length > 0) {
      throw streamError('INVALID_OPTIONS', `peer "${peer}" has both a public key and a legacy key; move its key to identity.psks to keep it as a PSK`, {
        peer,
      });
    }
  }
  return identity;
}

/** True when `peer` is on the identity's allow-list: its channels use the Noise session, never the legacy handshake. */
export function usesIdentity(identity: StreamIdentity | undefined, peer: string): identity is StreamIdentity {
  return identity !== undefined && identity.allowList.keysOf(peer).length > 0;
}

/** The dialler's hello: which mode and mount it opens, and its provider session (encrypted inside the handshake). */
export function encodeHello(mode: string, mount: string, session: Uint8Array): Buffer {
  const m = Buffer.from(mode, 'utf8');
  const t = Buffer.from(mount, 'utf8');
  return Buffer.concat([Uint8Array.of(CHANNEL_HELLO_VERSION, m.length), m, Uint8Array.of(t.length), t, session]);
}

/** Parses {@link encodeHello}; throws `PROTOCOL_ERROR`. */
export function decodeHello(hello: Uint8Array): { mode: string; mount: string; session: string } {
  const b = Buffer.from(hello.buffer, hello.byteOffset, hello.length);
  const bad = (why: string): CepError => streamError('PROTOCOL_ERROR', `malformed channel hello: ${why}`);
  if (b.length < 2 || b[0] !== CHANNEL_HELLO_VERSION) throw bad(`version ${String(b[0])}, this node speaks ${CHANNEL_HELLO_VERSION}`);
  let at = 1;
  const name = (): string => {
    const n = b[at] ?? 0;
    if (n === 0 || n > MAX_NAME_BYTES || at + 1 + n > b.length) throw bad('a name is empty, too long or truncated');
    const out = b.toString('utf8', at + 1, at + 1 + n);
    at += 1 + n;
    return out;
  };
  const mode = name();
  const mount = name();
  if (b.length - at !== SESSION_ID_BYTES) throw bad('the session id is missing or has trailing bytes');
  return { mode, mount, session: b.toString('hex', at) };
}

/** The listener's first message inside the session: its provider session id (the dialler learns it as `remoteSession`). */
export function encodeWelcome(session: Uint8Array): Buffer {
  return Buffer.concat([Uint8Array.of(CHANNEL_HELLO_VERSION), session]);
}

/** Parses {@link encodeWelcome} into the session id (hex); throws `PROTOCOL_ERROR`. */
export function decodeWelcome(message: Uint8Array): string {
  if (message.length !== 1 + SESSION_ID_BYTES || message[0] !== CHANNEL_HELLO_VERSION) {
    throw streamError('PROTOCOL_ERROR', "the listener's welcome is malformed");
  }
  return Buffer.from(message.buffer, message.byteOffset + 1, SESSION_ID_BYTES).toString('hex');
}

/** What the channel reports as `info.remoteIdentity`. */
export function remoteIdentity(peer: AuthenticatedPeer): PeerIdentityV1 {
  const { publicKey, fingerprint, protocol, version } = peerIdentity(peer);
  return { publicKey, fingerprint, protocol, version };
}

/** The provider-spec code for each noise-session code (the original stays in `details.noiseCode`). */
const NOISE_TO_STREAM: Readonly<Record<string, StreamErrorCode>> = {
  NOISE_AUTH_FAILED: 'AUTH_FAILED',
  NOISE_UNKNOWN_PEER: 'AUTH_FAILED',
  NOISE_KEY_REVOKED: 'AUTH_FAILED',
  NOISE_VERSION_UNSUPPORTED: 'AUTH_FAILED',
  NOISE_PEER_MISMATCH: 'PEER_MISMATCH',
  NOISE_REPLAY: 'REPLAYED_FRAME',
  NOISE_OUT_OF_ORDER: 'REPLAYED_FRAME',
  NOISE_RECORD_TOO_LARGE: 'FRAME_TOO_LARGE',
  NOISE_PROTOCOL_ERROR: 'PROTOCOL_ERROR',
  NOISE_HANDSHAKE_TRUNCATED: 'CONNECTION_LOST',
  NOISE_CONNECTION_LOST: 'CONNECTION_LOST',
  // A new session is the cure for an exhausted counter: a dialled channel reconnects.
  NOISE_NONCE_EXHAUSTED: 'CONNECTION_LOST',
  NOISE_SESSION_CLOSED: 'CHANNEL_CLOSED',
  NOISE_HANDSHAKE_ABORTED: 'OPEN_ABORTED',
  NOISE_INVALID_OPTIONS: 'INVALID_OPTIONS',
};

/**
 * Turns a noise-session error into the provider code a transport branches on: an unknown
 * key, a wrong key or PSK, a revoked key and "no identity on the other side" are all
 * `AUTH_FAILED`; a key of another name is `PEER_MISMATCH`.
 */
export function toStreamError(error: unknown, peer?: string): CepError {
  if (!(error instanceof CepError) || !error.code.startsWith('NOISE_')) {
    return error instanceof CepError ? error : streamError('PROTOCOL_ERROR', String(error instanceof Error ? error.message : error));
  }
  const code = NOISE_TO_STREAM[error.code] ?? 'PROTOCOL_ERROR';
  const claimed = typeof error.details['owner'] === 'string' ? error.details['owner'] : peer;
  return new CepError(code, error.message, { ...error.details, noiseCode: error.code, ...(claimed !== undefined ? { peer: claimed } : {}) });
}
