import { VERSIONS, type AuthenticatedPeer } from './handshake.ts';
import { encodeKey } from './keys.ts';

/**
 * What a transport records under `/net/peers/<peer>/identity` for an authenticated
 * session: plain JSON-ready fields, no secrets.
 */
export interface PeerIdentityRecord {
  readonly name: string;
  /** The peer's static public key, base64 (as in config). */
  readonly publicKey: string;
  /** `SHA256:<base64>` of the public key. */
  readonly fingerprint: string;
  /** The negotiated handshake version. */
  readonly version: number;
  /** The Noise protocol name of that version. */
  readonly protocol: string;
}

/** The identity record of an authenticated peer (see {@link PeerIdentityRecord}). */
export function peerIdentity(peer: AuthenticatedPeer): PeerIdentityRecord {
  return {
    name: peer.name,
    publicKey: encodeKey(peer.publicKey),
    fingerprint: peer.fingerprint,
    version: peer.version,
    protocol: VERSIONS[peer.version]?.protocol ?? `version ${peer.version}`,
  };
}
