/** A CEP transport provider over Unix domain sockets / named pipes, with peer authentication. */
export { pipe, PIPE_CAPS, type PipeOptions } from './pipe.ts';
export type { BackoffOptions, RejectInfo, StreamErrorCode as PipeErrorCode } from '@cep/stream-session';
