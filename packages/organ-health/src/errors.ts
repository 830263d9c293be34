import { CepError } from '@cep/errors';

/** Every code `@cep/organ-health` throws (record problems never throw: they become CEI facts). */
export type HealthErrorCode =
  /** `/net/telemetry` is not a dictionary, or is already the root of another organ. */
  | 'HEALTH_ROOT_INVALID'
  /** An option of `installHealth` is out of range (severity, kind). */
  | 'HEALTH_OPTION_INVALID';

export function healthError(code: HealthErrorCode, message: string, details: Record<string, unknown> = {}): CepError<HealthErrorCode> {
  return new CepError(code, message, details);
}
