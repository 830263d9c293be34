import { AllowList, KEY_BYTES, peerIdentity, type AuthenticatedPeer, type StaticKeyPair } from '@cep/noise-session';
import { CepError, type ProviderErrorCode } from '@cep/provider-spec';
import { MAX_NAME_BYTES } from './datagram.ts';

/**
 * This node's public-key identity. Channels to the peers on `allowList` run a Noise_XXpsk3
 * handshake (`@cep/noise-session`, datagram variant) at `open`, then every datagram is
 * encrypted and authenticated under that session's keys.
 */
export interface UdpIdentity {
  /** This node's static key pair (`loadKeyFile` of a file written by `cep-node keygen`). */
  readonly staticKey: StaticKeyPair;
  /** Peer name → public key(s): who may open channels to this node, and whom it accepts when dialling. */
  readonly allowList: AllowList;
  /** Optional 32-byte pre-shared key per peer, mixed into the handshake as `psk3` (both sides of a pair alike). */
  readonly psks?: Readonly<Record<string, Uint8Array>>;
  /** Handshake versions offered and accepted, most preferred first (default: noise-session's). */
  readonly versions?: readonly number[];
}

function invalid(message: string, details: Record<string, unknown> = {}): CepError {
  return new CepError('INVALID_OPTIONS', message, details);
}

/** Checks an identity option against the legacy keys; throws `INVALID_OPTIONS`. */
export function checkIdentity(identity: UdpIdentity, legacyPeers: Iterable<string>): UdpIdentity {
  const { staticKey, allowList, psks } = identity;
  if (!(allowList instanceof AllowList)) throw invalid('identity.allowList must be an AllowList from @cep/noise-session');
  if (
    !(staticKey?.publicKey instanceof Uint8Array) ||
    staticKey.publicKey.length !== KEY_BYTES ||
    !(staticKey.privateKey instanceof Uint8Array) ||
    staticKey.privateKey.length !== KEY_BYTES
  ) {
    throw invalid(`identity.staticKey must hold a ${KEY_BYTES}-byte publicKey and privateKey (see loadKeyFile)`);
  }
  for (const [peer, psk] of Object.entries(psks ?? {})) {
    if (!(psk instanceof Uint8Array) || psk.length !== KEY_BYTES) throw invalid(`identity.psks["${peer}"] must be a ${KEY_BYTES}-byte Uint8Array`, { peer });
  }
  for (const peer of legacyPeers) {
    // One way per peer, so a listener never has to guess which one a datagram uses.
    if (allowList.keysOf(peer).length > 0) {
      throw invalid(`peer "${peer}" has both a public key and a legacy key; move its key to identity.psks to keep it as a PSK`, { peer });
    }
  }
  return identity;
}

/**
 * Who the remote proved to be, as a channel reports it in `info.remoteIdentity` (provider-spec's
 * `PeerIdentityV1`: the transport records it under `/net/peers/<peer>/identity`).
 */
export interface RemoteIdentity {
  /** The peer's static public key, base64. */
  readonly publicKey: string;
  /** `SHA256:<base64>` of the key. */
  readonly fingerprint: string;
  /** The Noise protocol name of the negotiated handshake version. */
  readonly protocol: string;
  readonly version: number;
}

export function remoteIdentity(peer: AuthenticatedPeer): RemoteIdentity {
  const { publicKey, fingerprint, protocol, version } = peerIdentity(peer);
  return { publicKey, fingerprint, protocol, version };
}

/** True when `peer` is on the identity's allow-list: its channels use the Noise session. */
export function usesIdentity(identity: UdpIdentity | undefined, peer: string): identity is UdpIdentity {
  return identity !== undefined && identity.allowList.keysOf(peer).length > 0;
}

const HELLO_VERSION = 1;
const SESSION_BYTES = 16;

/** The dialler's hello inside the handshake (encrypted): mode, mount and its provider session. */
export function encodeHello(mode: string, mount: string, session: string): Buffer {
  const m = Buffer.from(mode, 'utf8');
  const t = Buffer.from(mount, 'utf8');
  return Buffer.concat([Uint8Array.of(HELLO_VERSION, m.length), m, Uint8Array.of(t.length), t, Buffer.from(session, 'hex')]);
}

/** Parses {@link encodeHello}; `undefined` for anything malformed. */
export function decodeHello(hello: Uint8Array): { mode: string; mount: string; session: string } | undefined {
  const b = Buffer.from(hello.buffer, hello.byteOffset, hello.length);
  if (b[0] !== HELLO_VERSION) return undefined;
  let at = 1;
  const names: string[] = [];
  for (let i = 0; i < 2; i++) {
    const n = b[at] ?? 0;
    if (n === 0 || n > MAX_NAME_BYTES || at + 1 + n > b.length) return undefined;
    names.push(b.toString('utf8', at + 1, at + 1 + n));
    at += 1 + n;
  }
  if (b.length - at !== SESSION_BYTES) return undefined;
  return { mode: names[0]!, mount: names[1]!, session: b.toString('hex', at) };
}

/** The provider-spec code for a noise-session failure (handshake or datagram). */
export function providerCode(error: unknown): ProviderErrorCode {
  const code = error instanceof CepError ? error.code : '';
  switch (code) {
    case 'NOISE_AUTH_FAILED':
    case 'NOISE_UNKNOWN_PEER':
    case 'NOISE_KEY_REVOKED':
    case 'NOISE_VERSION_UNSUPPORTED': // as stream-session maps it: no way to prove anything to this peer
      return 'AUTH_FAILED';
    case 'NOISE_PEER_MISMATCH':
      return 'PEER_MISMATCH';
    case 'NOISE_REPLAY':
    case 'NOISE_OUT_OF_ORDER':
      return 'REPLAYED_FRAME';
    case 'NOISE_HANDSHAKE_ABORTED':
      return 'HANDSHAKE_TIMEOUT';
    case 'NOISE_RECORD_TOO_LARGE':
      return 'FRAME_TOO_LARGE';
    default:
      return 'PROTOCOL_ERROR';
  }
}
