/** The child side of fresh.ts: one run, its answer, then exit. */
import type { FreshAnswer, FreshRun } from './fresh.ts';

process.once('message', async (run: FreshRun) => {
  let answer: FreshAnswer;
  try {
    const exports = (await import(run.module)) as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const fn = exports[run.fn];
    if (typeof fn !== 'function') throw new Error(`${run.module} exports no function ${run.fn}`);
    answer = { ok: true, value: await fn(...run.args) };
  } catch (error) {
    answer = { ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
  process.send!(answer, () => process.exit(0));
});
