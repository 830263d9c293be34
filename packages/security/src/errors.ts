import { CepError } from '@cep/errors';

/** Every code `@cep/security` throws. */
export type SecurityErrorCode = 'SEC_POLICY_INVALID' | 'SEC_PIPELINE_MALFORMED' | 'SEC_PIPELINE_UNKNOWN' | 'SEC_USAGE_INVALID';

export function securityError(code: SecurityErrorCode, message: string, details: Record<string, unknown> = {}): CepError<SecurityErrorCode> {
  return new CepError(code, message, details);
}
