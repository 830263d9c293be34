import { providerError } from './v1.ts';

/** The delay in ms before reconnect attempt `attempt` (1 for the first). */
export type ReconnectDelay = (attempt: number) => number;

/** Options of {@link jitteredBackoff}. */
export interface JitteredBackoffOptions {
  /** The base delay of the first attempt, in ms. A positive integer. */
  readonly initialMs: number;
  /** The largest base delay, in ms. A positive integer, at least `initialMs`. */
  readonly maxMs: number;
  /**
   * A number in [0, 1) per call (default `Math.random`). Give a fixed or seeded source to make
   * the delays reproducible in a test.
   */
  readonly random?: () => number;
}

/**
 * Bounded exponential backoff with "equal jitter": attempt `n` waits a whole number of ms
 * between half and all of `min(maxMs, initialMs × 2^(n−1))`. The random half keeps many
 * dialers that lost the same listener at once from all coming back in the same instant; the
 * fixed half keeps the delay growing, so a dead listener is not hammered.
 *
 * ```ts
 * const delay = jitteredBackoff({ initialMs: 100, maxMs: 5000 });
 * delay(1); // 50..100
 * delay(4); // 400..800
 * ```
 */
export function jitteredBackoff(options: JitteredBackoffOptions): ReconnectDelay {
  const { initialMs, maxMs, random = Math.random } = options;
  if (!Number.isSafeInteger(initialMs) || initialMs < 1) {
    throw providerError('INVALID_OPTIONS', `initialMs must be a positive integer (ms), got ${String(initialMs)}`, { option: 'initialMs', value: initialMs });
  }
  if (!Number.isSafeInteger(maxMs) || maxMs < initialMs) {
    throw providerError('INVALID_OPTIONS', `maxMs must be an integer of at least initialMs (${initialMs}), got ${String(maxMs)}`, {
      option: 'maxMs',
      value: maxMs,
    });
  }
  return (attempt) => {
    // Capped before the power grows past what a double holds exactly.
    const base = Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(0, attempt - 1), 52));
    const half = base / 2;
    return Math.round(half + Math.min(Math.max(random(), 0), 1) * half);
  };
}
