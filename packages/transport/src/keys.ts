import { blake3, blake3Keyed } from '@cep/serializer';

const encoder = new TextEncoder();

/**
 * The AEAD key of one mount, derived from the key shared with the peer, so that no two
 * mounts ever encrypt under the same key (nonces are per frame, keys per mount) and both
 * sides derive it without a round trip.
 */
export function deriveMountKey(peerKey: Uint8Array, mode: string, mount: string): Uint8Array {
  // Keyed BLAKE3 takes a 32-byte key; a shared secret of another length is hashed to one.
  const key = peerKey.length === 32 ? peerKey : blake3(peerKey);
  return blake3Keyed(key, encoder.encode(`cep/mount-aead/v1/${mode}/${mount}`), 32);
}
