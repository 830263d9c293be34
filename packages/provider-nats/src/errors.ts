import { CepError, type ProviderErrorCode } from '@cep/provider-spec';

/** Codes raised by the NATS provider: the shared provider codes plus its own. */
export type NatsErrorCode = ProviderErrorCode | 'ADDRESS_IN_USE';

/** Builds a {@link CepError} with a NATS provider code. */
export function natsError(code: NatsErrorCode, message: string, details: Record<string, unknown> = {}): CepError<NatsErrorCode> {
  return new CepError(code, message, details);
}

/** Wraps anything thrown (the NATS client's own errors) into a CepError with `fallback`. */
export function asCepError(error: unknown, fallback: NatsErrorCode, message: string): CepError {
  if (error instanceof CepError) return error;
  const cause = error instanceof Error ? error.message : String(error);
  return new CepError(fallback, `${message}: ${cause}`, { cause });
}
