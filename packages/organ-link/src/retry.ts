/**
 * When a mount organ redials a request whose mount broke. Counted in beats, never in wall-clock
 * time, so the schedule is the same in a live run and in a replay of its inbound log.
 */
import { linkError } from './errors.ts';

/** Redial options of a mount organ (`retry` of `installLink` / `installMountOrgan`). */
export interface RetryOptions {
  /** Beats between the break and the first redial (default 8). */
  readonly first?: number;
  /** The longest wait between redials, in beats; the wait doubles up to it (default 512). */
  readonly max?: number;
  /** Redials made before giving up (default: no limit). */
  readonly limit?: number;
  /**
   * The longest wait after the peer refused us (`AUTH_FAILED`, `PEER_MISMATCH`: a key or name
   * that does not match, which no quick redial cures): the wait keeps doubling past `max` up to
   * this (default 6000 beats, a minute at cep-node's 10 ms beat).
   */
  readonly authMax?: number;
}

/** Resolved redial policy. */
export interface RetryPolicy {
  readonly first: number;
  readonly max: number;
  /** `undefined`: redial for as long as the request exists. */
  readonly limit: number | undefined;
  readonly authMax: number;
}

/** The defaults: 8 beats first, doubling up to 512 (80 ms … ~5 s at cep-node's 10 ms beat), no limit; after a refusal up to 6000 (a minute). */
export const DEFAULT_RETRY: RetryPolicy = Object.freeze({ first: 8, max: 512, limit: undefined, authMax: 6000 });

function whole(option: string, value: unknown, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw linkError('ORGAN_OPTION_INVALID', `retry.${option} must be a whole number of ${option === 'limit' ? 'redials' : 'beats'} ≥ 1, got ${String(value)}`, {
      field: `retry.${option}`,
    });
  }
  return value;
}

/** The policy `option` asks for: `false` → none (a broken mount stays in error). Throws `ORGAN_OPTION_INVALID`. */
export function resolveRetry(option: RetryOptions | false | undefined): RetryPolicy | undefined {
  if (option === false) return undefined;
  if (option !== undefined && (typeof option !== 'object' || option === null)) {
    throw linkError('ORGAN_OPTION_INVALID', `retry must be false or { first?, max?, limit?, authMax? }, got ${String(option)}`, { field: 'retry' });
  }
  const first = whole('first', option?.first, DEFAULT_RETRY.first)!;
  const max = whole('max', option?.max, Math.max(DEFAULT_RETRY.max, first))!;
  if (max < first) throw linkError('ORGAN_OPTION_INVALID', `retry.max (${max}) must be ≥ retry.first (${first})`, { field: 'retry.max' });
  const authMax = whole('authMax', option?.authMax, Math.max(DEFAULT_RETRY.authMax, max))!;
  if (authMax < max) throw linkError('ORGAN_OPTION_INVALID', `retry.authMax (${authMax}) must be ≥ retry.max (${max})`, { field: 'retry.authMax' });
  return Object.freeze({ first, max, limit: whole('limit', option?.limit, undefined), authMax });
}

/**
 * Beats to wait before redial number `attempt` (1-based): `first · 2^(attempt−1)`, at most `max`
 * — or at most `authMax` when the break was the peer refusing us (`refused`).
 */
export function retryDelay(policy: RetryPolicy, attempt: number, refused = false): number {
  const ceiling = refused ? policy.authMax : policy.max;
  let delay = policy.first;
  for (let i = 1; i < attempt && delay < ceiling; i++) delay *= 2;
  return Math.min(delay, ceiling);
}
