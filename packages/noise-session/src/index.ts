/**
 * Noise_XXpsk3 encrypted, mutually authenticated sessions over any duplex byte stream
 * (and a datagram variant), with public-key peer identities.
 */
export { secureInitiator, secureResponder } from './secure.ts';
export { SecureSession, RECORD_HEADER_BYTES, BATCH_BYTES } from './session.ts';
export { type AuthenticatedPeer, SUPPORTED_VERSIONS, VERSIONS } from './handshake.ts';
export {
  type SecureOptions,
  type InitiatorOptions,
  type ResponderOptions,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_REKEY_AFTER_BYTES,
  DEFAULT_REKEY_AFTER_RECORDS,
  DEFAULT_HIGH_WATER_MARK,
  MAX_PEER_NAME_BYTES,
  MAX_HELLO_BYTES,
} from './options.ts';
export { AllowList, type AllowListEntries, type RevokedKey, MAX_KEYS_PER_PEER } from './allow-list.ts';
export { type StaticKeyPair, KEY_BYTES, generateKeyPair, keyPairFromPrivate, encodeKey, decodeKey, fingerprint } from './keys.ts';
export { type KeyFileJson, KEY_FILE_FORMAT, KEY_FILE_VERSION, formatKeyFile, parseKeyFile, writeKeyFile, loadKeyFile, loadPublicKeyFile } from './key-file.ts';
export { type NoiseErrorCode, NOISE_ERROR_CODES } from './errors.ts';
export { DatagramSession, datagramInitiator, datagramResponder, DATAGRAM_OVERHEAD, DEFAULT_MAX_DATAGRAM_MESSAGE } from './datagram.ts';
export { REPLAY_WINDOW } from './replay-window.ts';
export { peerIdentity, type PeerIdentityRecord } from './identity.ts';
