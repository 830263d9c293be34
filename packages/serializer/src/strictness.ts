/**
 * Strictness: the reader's checks that the reference implementation does not make. Each one
 * is a named rule; strict (the default) refuses a frame that breaks it, lenient accepts what
 * the reference accepts. A caller who needs reference leniency for one field relaxes that rule
 * alone and keeps every other check. FORMAT.md §16 is the table (rule → strict → lenient →
 * what the reference does). Checks the reference makes too are not rules: they always apply.
 */
import { serializerError, type SerializerErrorCode } from './errors.ts';

/** Every rule, in the order of FORMAT.md §16. */
export const STRICTNESS_RULES = [
  'record-version',
  'record-flags',
  'record-type',
  'trailer-envelope',
  'caps-known',
  'caps-match',
  'toc-complete',
  'toc-match',
  'compression-flag',
  'container-checksum',
  'container-reserved',
  'container-trailing',
  'chunk-aead-mode',
  'chunk-aad',
  'history-body',
  'history-series',
  'body-values',
  'page-size',
  'inline-without-ref',
  'ref-aead-mode',
  'chunk-fingerprint',
] as const;

/** One switchable check (see {@link STRICTNESS_RULES} and FORMAT.md §16). */
export type StrictnessRule = (typeof STRICTNESS_RULES)[number];

/**
 * How strictly a reader checks: `'strict'` (every rule, the default), `'lenient'` (every rule
 * relaxed to what the reference accepts), or a per-rule choice where unnamed rules stay strict.
 */
export type Strictness = 'strict' | 'lenient' | { readonly [R in StrictnessRule]?: 'strict' | 'lenient' };

const INDEX = new Map<string, number>(STRICTNESS_RULES.map((rule, i) => [rule, i]));

/** A resolved strictness: one bit per relaxed rule (0 = every rule strict). */
export type LenientMask = number;

export const ALL_STRICT: LenientMask = 0;
const ALL_LENIENT: LenientMask = (1 << STRICTNESS_RULES.length) - 1;

/** Turns the option into a mask; refuses unknown rules and verdicts (`POLICY_INVALID`). */
export function resolveStrictness(strictness: Strictness | undefined): LenientMask {
  if (strictness === undefined || strictness === 'strict') return ALL_STRICT;
  if (strictness === 'lenient') return ALL_LENIENT;
  if (typeof strictness !== 'object' || strictness === null) {
    throw serializerError('POLICY_INVALID', `strictness must be 'strict', 'lenient' or a per-rule object, got ${String(strictness)}`);
  }
  let mask = ALL_STRICT;
  for (const [rule, verdict] of Object.entries(strictness)) {
    const index = INDEX.get(rule);
    if (index === undefined) throw serializerError('POLICY_INVALID', `unknown strictness rule '${rule}'`, { rule });
    if (verdict === 'lenient') mask |= 1 << index;
    else if (verdict !== 'strict' && verdict !== undefined) {
      throw serializerError('POLICY_INVALID', `strictness of '${rule}' must be 'strict' or 'lenient', got ${String(verdict)}`, { rule });
    }
  }
  return mask;
}

/** Whether `rule` is enforced under `mask`. */
export function isStrict(mask: LenientMask, rule: StrictnessRule): boolean {
  // The default (every rule strict) answers without the rule's index: the lookup was ~1% of decoding a 2-cell frame.
  return mask === ALL_STRICT || (mask & (1 << INDEX.get(rule)!)) === 0;
}

/**
 * Called when a frame breaks `rule`: throws `code` when the rule is strict under `mask`,
 * returns (the frame is accepted) when it is relaxed. Callers test the condition first, so
 * the message is built only for a broken rule: checks run per record and per field.
 */
export function refuse(mask: LenientMask, rule: StrictnessRule, code: SerializerErrorCode, message: string): void {
  if (isStrict(mask, rule)) throw serializerError(code, `${message} (strictness rule '${rule}')`, { rule });
}
