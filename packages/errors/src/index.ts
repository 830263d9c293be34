/**
 * The one error base every `@cep/*` package throws.
 *
 * `code` is stable across releases (callers branch on it, tests assert it);
 * `message` says what was wrong and what to do about it. Packages export their
 * codes as string-literal unions so a caller can switch exhaustively.
 */
export class CepError<Code extends string = string> extends Error {
  /** Stable, machine-readable reason, e.g. `FRAME_BAD_CRC`, `NAME_TOO_LONG`. */
  readonly code: Code;
  /** Extra facts for logs and tests (field names, limits, offsets). Never parsed from `message`. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: Code, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CepError';
    this.code = code;
    this.details = details;
  }
}

/** True when `error` is a {@link CepError}, optionally with one of the given codes. */
export function isCepError<Code extends string>(error: unknown, ...codes: Code[]): error is CepError<Code> {
  if (!(error instanceof CepError)) return false;
  return codes.length === 0 || (codes as string[]).includes(error.code);
}
