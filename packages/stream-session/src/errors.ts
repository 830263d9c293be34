import { CepError, type ProviderErrorCode } from '@cep/provider-spec';

/**
 * Codes raised by stream-session providers (tcp, pipe): the shared provider codes plus
 * the ones only a connection-oriented, authenticated stream needs.
 */
export type StreamErrorCode =
  | ProviderErrorCode
  | 'HANDSHAKE_TIMEOUT'
  /** The listener dropped a connection mid-handshake to give its slot to a newer one (see README, "Security"). */
  | 'HANDSHAKE_EVICTED'
  | 'CONNECTION_LOST'
  | 'INVALID_OPTIONS'
  | 'FRAMES_TAKEN';

/** Builds a {@link CepError} with a stream-session code. */
export function streamError(code: StreamErrorCode, message: string, details: Record<string, unknown> = {}): CepError<StreamErrorCode> {
  return new CepError(code, message, details);
}

/** Wraps anything thrown into a CepError so events always carry a code. */
export function asCepError(error: unknown, fallback: StreamErrorCode, message: string): CepError {
  if (error instanceof CepError) return error;
  const cause = error instanceof Error ? error.message : String(error);
  return new CepError(fallback, `${message}: ${cause}`, { cause });
}
