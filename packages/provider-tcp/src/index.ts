/** A CEP transport provider over TCP (node:net), with peer authentication and hard limits. */
export { tcp, TCP_CAPS, type TcpOptions } from './tcp.ts';
export type { BackoffOptions, RejectInfo, StreamErrorCode as TcpErrorCode } from '@cep/stream-session';
