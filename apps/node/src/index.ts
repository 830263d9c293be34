/**
 * @cep/node-app — the runnable CEP peer behind the `cep-node` binary. The exports
 * let tests and tools start a peer in-process.
 */
export { loadConfig, validateConfig, parseConfigText, formatFieldPath } from './config/load.ts';
export { createConfigSchema, KEY_BYTES, LOG_LEVELS, PROVIDER_IDS, type PeerConfig } from './config/schema.ts';
export { EXIT_CODES, exitCodeFor, type NodeErrorCode } from './errors.ts';
export type { DeferredStep } from './defer.ts';
export { defineHandler, loadHandlers, type InvokeCall, type InvokeHandler, type InvokeOutcome, type LoadedHandler } from './handlers.ts';
export { createLogger, type LogFormat, type LoggerOptions, type Logger } from './log.ts';
export { logCeiFacts } from './cei-log.ts';
export { youngGc } from './young-gc.ts';
export { createBeatDriver, type BeatDriver, type BeatDriverOptions, type BeatDriverStats, type BeatStart, type Steppable } from './beat-driver.ts';
export {
  createPeerMetrics,
  TELEMETRY_COUNTERS,
  TELEMETRY_GAUGES,
  type BundleApplyObservation,
  type InvokeObservation,
  type PeerMetrics,
  type PeerMetricsOptions,
} from './metrics.ts';
export { startHttpServer, type HttpEndpoint, type HttpServerOptions } from './http.ts';
export { branchToJson, valueToJson, type BranchJson } from './tree-json.ts';
export { createShutdownHooks, type ShutdownHook, type ShutdownHooks } from './shutdown.ts';
export { inspectPeer, inspectUrl, type InspectQuery } from './inspect.ts';
export { startPeer, type Peer, type StartPeerOptions, type StopResult } from './peer.ts';
export { runCli, createProgram, packageVersion, DEFAULT_INSPECT_URL, type CliDeps, type SignalSource } from './program.ts';
export { runDemo, type DemoOptions } from './demo.ts';
