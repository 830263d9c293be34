/**
 * Authenticated, length-prefixed, backpressured channels over node:net stream sockets,
 * shared by `@cep/provider-tcp` and `@cep/provider-pipe`: an encrypted Noise session for
 * peers identified by public key, or the legacy pre-shared-key handshake.
 */
export { createStreamProvider, type StreamEndpoint, type StreamProviderSpec } from './provider.ts';
export { type StreamOptions, type BackoffOptions, type RejectInfo, MAX_NAME_BYTES } from './options.ts';
export type { StreamErrorCode } from './errors.ts';
export { KEY_BYTES } from './crypto.ts';
export { MAX_HANDSHAKE_BYTES } from './handshake.ts';
export { HEADER_BYTES } from './record.ts';
export type { StreamIdentity } from './identity.ts';
// What a provider user needs to build an identity, without depending on @cep/noise-session itself.
export { AllowList, type AllowListEntries, type StaticKeyPair, loadKeyFile, decodeKey, encodeKey, fingerprint, generateKeyPair } from '@cep/noise-session';
