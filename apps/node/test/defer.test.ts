import { fileURLToPath } from 'node:url';
import { u64, type Tree } from '@cep/cells';
import { CepError } from '@cep/errors';
import { createRuntime, type Runtime } from '@cep/heartbeat';
import { describe, expect, it } from 'vitest';
import { deferWork, type DeferredStep } from '../src/defer.ts';
import type { InvokeCall, InvokeHandler } from '../src/handlers.ts';

const sky = (await import(fileURLToPath(new URL('../examples/handlers/sky.mjs', import.meta.url)))).default as InvokeHandler;

/** A call of `handler` as the peer makes it (with `defer` when `deferred`), run inside a beat of `runtime`. */
function callInBeat(runtime: Runtime, handler: InvokeHandler, payload: bigint, deferred: boolean) {
  let outcome: ReturnType<InvokeHandler['run']> | undefined;
  runtime.registerEnzyme({
    name: 'test:call',
    signal: '/sig/sky',
    run: (ctx) => {
      const call: InvokeCall = {
        invokeId: 'test',
        beat: ctx.beat,
        caller: 'earth',
        signal: '/sig/sky',
        payload: u64(payload),
        tree: runtime.tree,
        ...(deferred ? { defer: (step: DeferredStep) => void deferWork(runtime, '/sig/sky', step) } : {}),
      };
      outcome = handler.run(call);
    },
  });
  runtime.enqueue('/sig/sky');
  while (outcome === undefined) runtime.step();
  return outcome;
}

/** How many values below /data/sky were created in each beat. */
function valuesByBeat(tree: Tree): Map<number, number> {
  const out = new Map<number, number>();
  for (const group of tree.get('/data/sky')?.children() ?? []) {
    for (const cell of group.children()) out.set(cell.created, (out.get(cell.created) ?? 0) + 1);
  }
  return out;
}

describe('deferred handler work (call.defer)', () => {
  it('runs a step once per beat from the next one until it returns true, as an episode', () => {
    const runtime = createRuntime();
    const seen: number[] = [];
    let id = '';
    let deferredAt = -1;
    runtime.registerEnzyme({
      name: 'test:defer',
      signal: '/sig/test',
      run: (ctx) => {
        deferredAt = ctx.beat;
        id = deferWork(runtime, '/sig/test', (tree, beat) => {
          seen.push(beat);
          tree.set(`/data/steps/${seen.length}`, u64(BigInt(beat)));
          return seen.length === 3;
        });
      },
    });
    runtime.enqueue('/sig/test');
    while (deferredAt < 0) runtime.step();
    expect(seen).toEqual([]);
    for (let i = 0; i < 6; i++) runtime.step();
    expect(seen).toEqual([deferredAt + 1, deferredAt + 2, deferredAt + 3]);
    expect(runtime.tree.get('/data/steps/3')?.created).toBe(deferredAt + 3);
    expect(runtime.episodes.isActive(id)).toBe(false);
    expect(runtime.tree.getValue(`/rt/ops/${id}/verb`)?.value).toBe('node/defer');
    expect(runtime.tree.getValue(`/rt/ops/${id}/close/status`)?.value).toBe('ok');
  });

  it('ends with fail when a step throws: that step writes nothing, earlier steps stay, no step runs after', () => {
    const runtime = createRuntime();
    let steps = 0;
    const id = deferWork(runtime, '/sig/test', (tree) => {
      steps++;
      tree.set(`/data/steps/${steps}`, u64(1n));
      if (steps === 2) throw new Error('boom');
      return false;
    });
    for (let i = 0; i < 6; i++) runtime.step();
    expect(steps).toBe(2);
    expect(runtime.tree.getValue('/data/steps/1')).toBeDefined();
    expect(runtime.tree.get('/data/steps/2')).toBeUndefined();
    expect(runtime.tree.getValue(`/rt/ops/${id}/close/status`)?.value).toBe('fail');
  });

  it('refuses a step that is not a function with HANDLER_INVALID', () => {
    const runtime = createRuntime();
    const error = (() => {
      try {
        deferWork(runtime, '/sig/test', 'later' as unknown as DeferredStep);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(CepError);
    expect((error as CepError).code).toBe('HANDLER_INVALID');
  });
});

describe('the demo sky handler', () => {
  it('writes at most 256 cells a beat: the first in the call, the rest deferred, all of them in the end', () => {
    const runtime = createRuntime();
    const n = 10_000;
    expect(callInBeat(runtime, sky, BigInt(n), true)).toEqual({ status: 'ok', result: u64(BigInt(n)) });
    const callBeat = [...valuesByBeat(runtime.tree).keys()];
    expect(callBeat).toHaveLength(1);
    expect(valuesByBeat(runtime.tree).get(callBeat[0]!)).toBe(256);
    for (let i = 0; i < 45; i++) runtime.step();
    const byBeat = valuesByBeat(runtime.tree);
    expect([...byBeat.entries()].sort((a, b) => a[0] - b[0]).map(([, count]) => count)).toEqual([...Array(39).fill(256), 16]);
    const beats = [...byBeat.keys()].sort((a, b) => a - b);
    expect(beats[39]! - beats[0]!).toBe(39);
    expect(runtime.tree.getValue('/data/sky/99/99')?.value).toBe(BigInt(9998 * 7919));
    expect(runtime.tree.get('/data/sky/100')).toBeUndefined();
  });

  it('writes everything in the call when the caller gives no defer, and the same cells either way', () => {
    const direct = createRuntime();
    const deferred = createRuntime();
    callInBeat(direct, sky, 9_000n, false);
    callInBeat(deferred, sky, 9_000n, true);
    for (let i = 0; i < 40; i++) deferred.step();
    expect(valuesByBeat(direct.tree).size).toBe(1);
    expect([...valuesByBeat(direct.tree).values()]).toEqual([9000]);
    const dump = (tree: Tree) =>
      (tree.get('/data/sky')?.children() ?? []).flatMap((g) => g.children().map((c) => `${g.name.tag.text}/${c.name.tag.text}=${String(c.value?.value)}`));
    expect(dump(deferred.tree)).toEqual(dump(direct.tree));
  });
});
