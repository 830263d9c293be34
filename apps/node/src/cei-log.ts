/**
 * CEI facts into the peer's log. The tree stays the record (`/data/mailbox/diag`,
 * `/net/peers/<peer>/ceh/<topic>`); the log line is for the operator watching the
 * process, who should not have to poll `/net` to see that a mount failed.
 *
 * Facts a remote party can cause at will, without any key (a listener refusing a
 * connection), are sampled: one line per {@link SAMPLE_WINDOW_BEATS} beats, carrying how
 * many were left out since the previous line (`suppressed`), so a flood of connections
 * cannot flood the log. Every refusal is still counted in `/net/listeners/<provider>/rejected`
 * and in the metrics.
 */
import type { EmittedFact, Runtime, Severity } from '@cep/heartbeat';
import type { Logger } from 'pino';

/** pino level per CEI severity. `usage` (a budget or limit overrun) is an operator warning, not a crash. */
const LEVELS: Record<Severity, 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = {
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  error: 'error',
  crit: 'error',
  usage: 'warn',
  fatal: 'fatal',
};

/** Origins whose facts an unauthenticated remote can raise at will, and so are sampled. */
export const SAMPLED_ORIGINS: ReadonlySet<string> = new Set(['tp/listen']);

/** Beats per sampling window: at most one line per sampled origin per window. */
export const SAMPLE_WINDOW_BEATS = 100;

/**
 * Logs the CEI facts the runtime records (`msg: "cei fact"`), every one except those of
 * {@link SAMPLED_ORIGINS}, which are sampled; returns the unsubscribe function, which also
 * logs how many sampled facts were left out since their last line.
 */
export function logCeiFacts(runtime: Pick<Runtime, 'cei'>, log: Logger): () => void {
  // Per sampled origin: the window its last line was in, and the facts left out since.
  const sampled = new Map<string, { window: number; suppressed: number; last: EmittedFact }>();
  const write = (fact: EmittedFact, suppressed?: number): void => {
    log[LEVELS[fact.severity]](
      {
        cei: fact.id,
        topic: fact.topic,
        severity: fact.severity,
        origin: fact.origin,
        beat: fact.beat,
        ...(fact.peer !== undefined ? { remote: fact.peer } : {}),
        // dag_run_id is a u64 (bigint): as decimal text, like the HTTP endpoint shows it.
        ...(fact.pipeline !== undefined ? { pipeline: { ...fact.pipeline, dagRunId: fact.pipeline.dagRunId.toString() } } : {}),
        note: fact.note,
        ...(suppressed !== undefined ? { suppressed } : {}),
      },
      'cei fact',
    );
  };
  const unsubscribe = runtime.cei.onFact((fact: EmittedFact) => {
    if (!SAMPLED_ORIGINS.has(fact.origin)) {
      write(fact);
      return;
    }
    const window = Math.floor(fact.beat / SAMPLE_WINDOW_BEATS);
    const state = sampled.get(fact.origin);
    if (state !== undefined && state.window === window) {
      state.suppressed += 1;
      state.last = fact;
      return;
    }
    write(fact, state?.suppressed ?? 0);
    sampled.set(fact.origin, { window, suppressed: 0, last: fact });
  });
  return () => {
    unsubscribe();
    // The last fact left out is logged now, so it no longer counts as left out.
    for (const state of sampled.values()) if (state.suppressed > 0) write(state.last, state.suppressed - 1);
    sampled.clear();
  };
}
