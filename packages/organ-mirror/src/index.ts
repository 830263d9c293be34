/**
 * @cep/organ-mirror — replicate a branch of one runtime's tree into another runtime, in beat
 * bundles, resumable after a broken channel, each bundle applied exactly once. See README.md.
 */
export { installMirror, COMMIT_INPUT, DEFAULT_MAX_BEAT_WINDOW, DEFAULT_MAX_INFLIGHT, type MirrorOptions, type MirrorOrgan } from './install.ts';
export type { ApplyEvent, SealEvent, SendEvent } from './env.ts';
export { readMirrorRequest, type CommitMode, type MirrorRequest } from './request.ts';
export { formatToken, parseToken, type ResumeToken } from './message.ts';
export type { MirrorErrorCode } from './errors.ts';
