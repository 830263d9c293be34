/** A CEP transport provider over TCP (node:net), with peer authentication and hard limits. */
export { tcp, TCP_CAPS, type TcpOptions } from './tcp.ts';
export type { BackoffOptions, RejectInfo, StreamErrorCode as TcpErrorCode } from '@cep/stream-session';
// The identity option's parts, so a user needs no second package to fill `identity`.
export { AllowList, loadKeyFile, decodeKey, encodeKey, fingerprint, generateKeyPair, type StaticKeyPair, type StreamIdentity } from '@cep/stream-session';
