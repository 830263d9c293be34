import { CepError } from '@cep/errors';

/** Every code `cep-node` throws, as a string-literal union (see README, "Errors and exit codes"). */
export type NodeErrorCode =
  | 'CONFIG_READ_FAILED'
  | 'CONFIG_PARSE_FAILED'
  | 'CONFIG_INVALID'
  | 'HANDLER_LOAD_FAILED'
  | 'HANDLER_INVALID'
  /** A `providers[]` plug-in module could not be found or imported. */
  | 'PROVIDER_LOAD_FAILED'
  /** A plug-in did not export a factory that makes a v1 provider with the configured id. */
  | 'PROVIDER_INVALID'
  | 'HTTP_LISTEN_FAILED'
  | 'START_FAILED'
  | 'INSPECT_UNREACHABLE'
  | 'INSPECT_FAILED'
  /** An invoke named a peer the config does not list. */
  | 'UNKNOWN_PEER'
  /** The peer is stopping: it takes no new invokes, and gave up on one in flight when its drain ran out (HTTP 503). */
  | 'SHUTTING_DOWN'
  /** `cep-node demo` did not reach its goal (a peer failed, or a step timed out). */
  | 'DEMO_FAILED';

/** Process exit codes of the `cep-node` binary, by error code. */
export const EXIT_CODES = {
  ok: 0,
  internal: 1,
  usage: 2,
  config: 3,
  start: 4,
  inspect: 5,
  /** `data_dir` is locked by another live process (the message names its pid). */
  locked: 6,
  forced: 130,
} as const;

/** The exit code a failure with `code` ends the process with. */
export function exitCodeFor(code: string): number {
  switch (code) {
    case 'CONFIG_READ_FAILED':
    case 'CONFIG_PARSE_FAILED':
    case 'CONFIG_INVALID':
    case 'HANDLER_LOAD_FAILED':
    case 'HANDLER_INVALID':
    case 'PROVIDER_LOAD_FAILED':
    case 'PROVIDER_INVALID':
      return EXIT_CODES.config;
    case 'HTTP_LISTEN_FAILED':
    case 'START_FAILED':
      return EXIT_CODES.start;
    case 'STORE_LOCKED':
      return EXIT_CODES.locked;
    case 'STORE_CORRUPT':
      return EXIT_CODES.start;
    case 'INSPECT_UNREACHABLE':
    case 'INSPECT_FAILED':
    case 'UNKNOWN_PEER':
      return EXIT_CODES.inspect;
    default:
      return EXIT_CODES.internal;
  }
}

export function nodeError(code: NodeErrorCode, message: string, details: Record<string, unknown> = {}, cause?: unknown): CepError<NodeErrorCode> {
  return new CepError(code, message, details, cause === undefined ? undefined : { cause });
}
