/**
 * The brand every {@link CepError} carries, under a registry-wide key. `Symbol.for` returns the
 * same symbol in every copy of this module, so an error made by one installed copy of
 * `@cep/errors` is recognised by another (a provider built against its own copy, the transport
 * against another); `instanceof` across copies would say no.
 */
const BRAND: unique symbol = Symbol.for('@cep/errors.CepError');

/** The check behind {@link isCepError} and `instanceof CepError`: the brand, and a string code. */
function hasBrand(value: unknown): value is CepError {
  return (
    typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true && typeof (value as { code?: unknown }).code === 'string'
  );
}

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
    // Not enumerable: the brand is for recognition, not for logs, JSON or deep-equality checks.
    Object.defineProperty(this, BRAND, { value: true, enumerable: false, writable: false, configurable: false });
  }

  /**
   * `error instanceof CepError` checks the brand, so it agrees with {@link isCepError} even when
   * the error was made by another copy of this package. A subclass keeps the ordinary
   * prototype check (an instance of `CepError` is not an instance of every subclass).
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class `instanceof` was asked about (CepError or a subclass), which is the point of the check
    if (this !== CepError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return hasBrand(value);
  }
}

/**
 * True when `error` is a {@link CepError} (from any copy of `@cep/errors`), optionally with one
 * of the given codes.
 */
export function isCepError<Code extends string>(error: unknown, ...codes: Code[]): error is CepError<Code> {
  if (!hasBrand(error)) return false;
  return codes.length === 0 || (codes as string[]).includes(error.code);
}
