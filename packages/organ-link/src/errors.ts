import { CepError } from '@cep/errors';

/** Every code `@cep/organ-link` throws (request problems never throw: they become `state=error`). */
export type OrganLinkErrorCode =
  /** The organ root exists but is not a dictionary, or already serves another organ. */
  | 'ORGAN_ROOT_INVALID'
  /** An option of `installLink` / `installMountOrgan` is malformed (kind, mode, topics, retry). */
  | 'ORGAN_OPTION_INVALID';

export function linkError(code: OrganLinkErrorCode, message: string, details: Record<string, unknown> = {}): CepError<OrganLinkErrorCode> {
  return new CepError(code, message, details);
}
