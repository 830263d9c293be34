/**
 * Collects the young generation between beats, in small steps, instead of letting V8 do it in
 * large ones at any point of a beat.
 *
 * Why: a minor GC (scavenge) copies what survives, and on a peer that keeps what it receives or
 * writes (a mirror's 100,000 cells) nearly every new cell survives. With V8's default young
 * generation (16 MB semi-spaces) a scavenge came every few hundred ms and copied everything
 * written since, a pause of 20-250 ms (traced on a loaded 2-core machine, `hol-trace` of
 * `packages/bench`), and the calls it fell into were the slowest of a mirror. Collected whenever
 * `limitBytes` of the young generation are in use, each pause copies only that much, and it runs
 * after the beat, once its frames have left.
 *
 * Memory management only: nothing the runtime decides depends on it (no beat, input or tree
 * reads it), so replays and recorded inputs are the same with or without it.
 */
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** V8's `gc` function of a context made while `--expose-gc` is on. */
type Gc = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async' }) => void;

let cached: Gc | null | undefined;

/**
 * V8's `gc`, without starting node with `--expose-gc`: the flag is on only while one context is
 * made, then set back, so code compiled later (and the code cache the bundle writes) sees the
 * flags the process started with. Null when V8 refuses.
 */
function v8Gc(): Gc | null {
  if (cached !== undefined) return cached;
  const exposed = typeof (globalThis as { gc?: unknown }).gc === 'function';
  try {
    if (!exposed) setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    cached = typeof gc === 'function' ? (gc as Gc) : null;
  } catch {
    cached = null;
  } finally {
    if (!exposed) setFlagsFromString('--no-expose-gc');
  }
  return cached;
}

/** Young-generation bytes in use (V8's `new_space`; 0 when V8 does not report it). */
function youngBytes(): number {
  for (const space of getHeapSpaceStatistics()) if (space.space_name === 'new_space') return space.space_used_size;
  return 0;
}

/**
 * A hook for after each beat: when more than `limitBytes` of the young generation are in use, a
 * minor GC runs on the next turn of the event loop (after the beat's frames were handed to the
 * sockets). Returns undefined when V8 gives no `gc` (the default collection then stays).
 */
export function youngGc(limitBytes: number, defer: (fn: () => void) => void = (fn) => void setImmediate(fn)): (() => void) | undefined {
  const gc = v8Gc();
  if (gc === null) return undefined;
  let pending = false;
  return () => {
    if (pending || youngBytes() < limitBytes) return;
    pending = true;
    defer(() => {
      pending = false;
      gc({ type: 'minor' });
    });
  };
}
