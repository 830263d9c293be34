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
  | 'INVOKE_OPTION_INVALID'
  /** `submit` after `drain()`: this runtime is shutting down and takes no new calls. */
  | 'INVOKE_DRAINING';

/**
 * Codes an outcome (and a reply frame) carries to say why a call did not run or was given up.
 * They are never thrown: they are in `InvokeOutcome.code` and the invoke record's `code`.
 */
export const OUTCOME_CODE = Object.freeze({
  /** The receiver's recorded clock was past the call's `expires_at` when it arrived or would start: nothing ran. */
  expired: 'INVOKE_EXPIRED',
  /** The receiver is shutting down and refused the call: nothing ran. */
  shuttingDown: 'INVOKE_SHUTTING_DOWN',
  /**
   * The receiver's replay guard holds its bound of ids (`maxSeenIds`) all still inside its window,
   * so it could not remember this one and refused it: nothing ran, safe to retry (see the README).
   */
  busy: 'INVOKE_BUSY',
  /** The remote peer's session changed (it restarted) after the call was sent: it may or may not have run there. */
  sessionChanged: 'INVOKE_SESSION_CHANGED',
  /** This runtime is shutting down and gave up waiting for the reply (the call may have run remotely). */
  callerShutdown: 'INVOKE_CALLER_SHUTDOWN',
  /**
   * This runtime restarted (from its store) while the call was in flight and no reply reached it
   * by the deadline; a call recorded as sent may have run remotely, one never sent did not run.
   */
  callerRestarted: 'INVOKE_CALLER_RESTARTED',
} as const);

export function invokeError(code: InvokeErrorCode, message: string, details: Record<string, unknown> = {}): CepError<InvokeErrorCode> {
  return new CepError(code, message, details);
}
