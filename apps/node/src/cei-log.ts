/**
 * CEI facts into the peer's log. The tree stays the record (`/data/mailbox/diag`,
 * `/net/peers/<peer>/ceh/<topic>`); the log line is for the operator watching the
 * process, who should not have to poll `/net` to see that a mount failed.
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

/** Logs every CEI fact the runtime records (`msg: "cei fact"`); returns the unsubscribe function. */
export function logCeiFacts(runtime: Pick<Runtime, 'cei'>, log: Logger): () => void {
  return runtime.cei.onFact((fact: EmittedFact) => {
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
      },
      'cei fact',
    );
  });
}
