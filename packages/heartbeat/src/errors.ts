import { CepError } from '@cep/errors';

/** Every code `@cep/heartbeat` throws. */
export type HeartbeatErrorCode =
  | 'ENZYME_INVALID'
  | 'ENZYME_DUPLICATE'
  | 'ENZYME_CYCLE'
  | 'SIGNAL_INVALID'
  | 'SIGNAL_TOO_EARLY'
  | 'INPUT_UNKNOWN_KIND'
  | 'INPUT_DUPLICATE'
  | 'INPUT_INVALID'
  | 'ORGAN_INVALID'
  | 'ORGAN_DUPLICATE'
  | 'SEVERITY_INVALID'
  | 'FACT_INVALID'
  | 'OP_NOT_FOUND'
  | 'OP_CLOSED'
  | 'OP_STATE_INVALID'
  | 'EPISODE_INVALID'
  | 'EPISODE_NOT_FOUND'
  | 'EPISODE_OUTSIDE_SLICE'
  | 'RUNTIME_REENTRANT'
  | 'OPTION_INVALID';

export function hbError(code: HeartbeatErrorCode, message: string, details: Record<string, unknown> = {}): CepError<HeartbeatErrorCode> {
  return new CepError(code, message, details);
}
