/** Every code `@cep/organ-health` throws (record problems never throw: they become CEI facts). */
export type HealthErrorCode =
  /** `/net/telemetry` is not a dictionary, or is already the root of another organ. */
  | 'HEALTH_ROOT_INVALID'
  /** An option of `installHealth` is out of range (severity, kind). */
  | 'HEALTH_OPTION_INVALID';
