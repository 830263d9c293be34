/**
 * Deferred handler work: what an invoke handler hands to `call.defer(step)` runs in the beats
 * after the call, one step per beat, as a heartbeat episode (verb `node/defer`, its dossier under
 * `/rt/ops/<id>`), until the step returns `true`.
 *
 * Why: a handler runs inside a beat, and everything else of that beat (other mounts' frames, other
 * calls' replies) waits for it. A handler with much to write (the demo's `sky` fills 100,000 cells)
 * writes a bounded part per beat instead — bounded by what it counts (cells, bytes), never by a
 * clock, so a replay of the same inputs runs the same steps at the same beats.
 */
import type { Tree } from '@cep/cells';
import type { Runtime } from '@cep/heartbeat';
import { nodeError } from './errors.ts';

/**
 * One beat's share of deferred work: writes into `tree` (stamped with `beat`) and returns `true`
 * when nothing is left. A step that throws ends the work: that beat's writes of the step are
 * undone, earlier steps' stay, and the episode closes `fail` (a CEI fact `ep:slice`).
 */
export type DeferredStep = (tree: Tree, beat: number) => boolean;

/**
 * Starts `step` as an episode of `runtime`: its first run is in the next beat. `target` names
 * what it works for (the handler's signal), for the dossier. Returns the episode's id.
 * `HANDLER_INVALID` when `step` is not a function.
 */
export function deferWork(runtime: Runtime, target: string, step: DeferredStep): string {
  // Thrown inside the handler: the call is rejected and its writes are undone.
  if (typeof step !== 'function') throw nodeError('HANDLER_INVALID', `${target}: call.defer needs a step function`, { target });
  return runtime.episodes.start({
    verb: 'node/defer',
    target,
    slice(ctx) {
      if (step(ctx.runtime.tree, ctx.beat) !== true) ctx.yield();
    },
  });
}
