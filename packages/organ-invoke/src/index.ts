/**
 * @cep/organ-invoke — run a signal on a remote runtime over a reliable, ordered mount and get its
 * result, with the @cep/security checks on the sending and on the receiving runtime. See README.md.
 */
export type { InvokeErrorCode } from './errors.ts';
export { OUTCOME_CODE } from './errors.ts';
export { CLOCK_INPUT } from './clock.ts';
export { installInvoke, INVOKE_KIND } from './install.ts';
export {
  callBranch,
  replyBranch,
  batchBranch,
  packedBranch,
  parseFrame,
  DEFAULT_FRAME_LIMITS,
  type CallFrame,
  type ReplyFrame,
  type BatchFrame,
  type FrameProblem,
  type FrameLimits,
} from './frames.ts';
export { INVOKE_REQUIRED_CAPS } from './request.ts';
export { USAGE_INPUT, processMeter, type UsageMeter } from './meter.ts';
export type {
  ExposeOptions,
  InvokeCall,
  InvokeHandler,
  InvokeOptions,
  InvokeOrgan,
  InvokeOutcome,
  InvokeReply,
  InvokeStatus,
  PipelineInput,
  Submission,
} from './types.ts';
