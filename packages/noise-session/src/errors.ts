import { CepError } from '@cep/errors';

/**
 * Stable codes of every error this package throws or reports. Callers branch on `code`,
 * never on the message or the class.
 */
export type NoiseErrorCode =
  /** A handshake message or a record did not decrypt: wrong key, wrong PSK, tampering. */
  | 'NOISE_AUTH_FAILED'
  /** The remote static key is on no allow-list entry. */
  | 'NOISE_UNKNOWN_PEER'
  /** The remote key is known, but under another name than the one claimed or expected. */
  | 'NOISE_PEER_MISMATCH'
  /** An authentic record whose counter was already used (a replay or a duplicate). */
  | 'NOISE_REPLAY'
  /** An authentic record whose counter is ahead of the next expected one (reordered or a record skipped). */
  | 'NOISE_OUT_OF_ORDER'
  /** A record above `maxRecordBytes` (sent or announced by a length prefix). */
  | 'NOISE_RECORD_TOO_LARGE'
  /** Malformed bytes: a handshake message of the wrong size, a bad preamble, a bad inner message. */
  | 'NOISE_PROTOCOL_ERROR'
  /** The stream ended (or errored) before the handshake finished. */
  | 'NOISE_HANDSHAKE_TRUNCATED'
  /** The caller's signal aborted the handshake. */
  | 'NOISE_HANDSHAKE_ABORTED'
  /** The two sides share no handshake version. */
  | 'NOISE_VERSION_UNSUPPORTED'
  /** The key this session authenticated with was removed from the allow-list. */
  | 'NOISE_KEY_REVOKED'
  /** A counter reached its limit; the session must be re-established. */
  | 'NOISE_NONCE_EXHAUSTED'
  /** `send` after the session ended. */
  | 'NOISE_SESSION_CLOSED'
  /** The underlying stream closed without the remote's goodbye. */
  | 'NOISE_CONNECTION_LOST'
  /** A key file is malformed, or its public half does not match its private half. */
  | 'NOISE_KEY_FILE_INVALID'
  /** A private key file is readable by group or others. */
  | 'NOISE_KEY_FILE_PERMISSIONS'
  /** A key file already exists where a new one was to be written. */
  | 'NOISE_KEY_FILE_EXISTS'
  /** An option is missing, of the wrong size, or contradicts another. */
  | 'NOISE_INVALID_OPTIONS';

/** Every {@link NoiseErrorCode}, for exhaustive checks and documentation. */
export const NOISE_ERROR_CODES: readonly NoiseErrorCode[] = [
  'NOISE_AUTH_FAILED',
  'NOISE_UNKNOWN_PEER',
  'NOISE_PEER_MISMATCH',
  'NOISE_REPLAY',
  'NOISE_OUT_OF_ORDER',
  'NOISE_RECORD_TOO_LARGE',
  'NOISE_PROTOCOL_ERROR',
  'NOISE_HANDSHAKE_TRUNCATED',
  'NOISE_HANDSHAKE_ABORTED',
  'NOISE_VERSION_UNSUPPORTED',
  'NOISE_KEY_REVOKED',
  'NOISE_NONCE_EXHAUSTED',
  'NOISE_SESSION_CLOSED',
  'NOISE_CONNECTION_LOST',
  'NOISE_KEY_FILE_INVALID',
  'NOISE_KEY_FILE_PERMISSIONS',
  'NOISE_KEY_FILE_EXISTS',
  'NOISE_INVALID_OPTIONS',
];

/** Builds a {@link CepError} with a noise-session code. */
export function noiseError(code: NoiseErrorCode, message: string, details: Record<string, unknown> = {}): CepError<NoiseErrorCode> {
  return new CepError(code, message, details);
}
