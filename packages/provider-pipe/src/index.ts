/** A CEP transport provider over Unix domain sockets / named pipes, with peer authentication. */
export { pipe, PIPE_CAPS, type PipeOptions } from './pipe.ts';
export type { BackoffOptions, RejectInfo, StreamErrorCode as PipeErrorCode } from '@cep/stream-session';
// The identity option's parts, so a user needs no second package to fill `identity`.
export { AllowList, loadKeyFile, decodeKey, encodeKey, fingerprint, generateKeyPair, type StaticKeyPair, type StreamIdentity } from '@cep/stream-session';
