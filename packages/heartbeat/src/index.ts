/**
 * @cep/heartbeat — beats, signals, enzymes, organs, CEI, OPS dossiers and episodes over a
 * @cep/cells tree. See README.md for the beat rules and an example.
 */
export type { HeartbeatErrorCode } from './errors.ts';
export { createRuntime } from './runtime.ts';
export { replay, type ReplayOptions, type ReplayResult } from './replay.ts';
export { SEVERITIES, DIAG_MAILBOX, cehPath, writeCeh } from './cei.ts';
export { MEASURE_INPUT } from './episodes.ts';
export { organStore } from './organs.ts';
export { DEFAULT_INBOUND_LOG_BYTES } from './inputs.ts';
export { DEFAULT_OPS_HISTORY_RETAIN } from './ops.ts';
export type {
  InboundLogStats,
  AgendaEntry,
  BeatReport,
  Cei,
  EmittedFact,
  EnqueueOptions,
  EnzymeContext,
  EnzymeDefinition,
  EnzymeResult,
  EpisodeBudget,
  EpisodeOptions,
  Episodes,
  Fact,
  ImpulseEntry,
  Input,
  InputContext,
  LoggedInput,
  PushInputOptions,
  OpAwaitOptions,
  OpOpenState,
  OpStartOptions,
  OpState,
  OpStatus,
  Ops,
  OrganContext,
  OrganDefinition,
  OrganReason,
  OrganVerdict,
  Phase,
  PipelineMeta,
  Qos,
  Runtime,
  RuntimeOptions,
  Severity,
  SignalTicket,
  SliceContext,
} from './types.ts';
