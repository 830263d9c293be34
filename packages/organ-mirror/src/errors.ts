import { CepError } from '@cep/errors';

/**
 * Every code `@cep/organ-mirror` throws. Request and protocol problems never throw: they
 * become the request's `state=error`, its `error_note` and a CEI fact.
 */
export type MirrorErrorCode =
  /** An option of `installMirror` is out of range or of the wrong type. */
  | 'MIRROR_OPTION_INVALID'
  /** `/net/organs/<kind>/requests` exists but cannot be the organ root (not a dictionary, or another organ's). */
  | 'MIRROR_ROOT_INVALID'
  /** `commit(id)` names no mirror request of this organ. */
  | 'MIRROR_NOT_FOUND';

export function mirrorError(code: MirrorErrorCode, message: string, details: Record<string, unknown> = {}): CepError<MirrorErrorCode> {
  return new CepError(code, message, details);
}
