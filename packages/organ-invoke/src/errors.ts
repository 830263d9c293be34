import { CepError } from '@cep/errors';

/** Every code `@cep/organ-invoke` throws. Remote refusals never throw: they are outcomes (`reject`). */
export type InvokeErrorCode =
  /** A submission argument is malformed: signal or target path, timeout, payload (names the field). */
  | 'INVOKE_INVALID'
  /** `submit` names a request that holds no mount (never validated, refused, or removed). */
  | 'INVOKE_UNKNOWN_REQUEST'
  /** The request's mount is in error; fix or touch the request first. */
  | 'INVOKE_NOT_READY'
  /** Too many invokes pending on one request (`maxPending`). */
  | 'INVOKE_LIMIT'
  /** `result(id)` for an id this organ never issued (or forgot, past `retainOutcomes`). */
  | 'INVOKE_UNKNOWN'
  /** An option of `installInvoke` or `expose` is malformed. */
  | 'INVOKE_OPTION_INVALID';

export function invokeError(code: InvokeErrorCode, message: string, details: Record<string, unknown> = {}): CepError<InvokeErrorCode> {
  return new CepError(code, message, details);
}
