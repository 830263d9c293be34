import { describe, expect, it } from 'vitest';
import { memoryNetwork, type MemorySchedule } from '@cep/provider-memory';
import { indexOf, numbered, pair, puller } from './util.ts';

const N = 10_000;

/** Sends frames 0..n-1 on an unreliable channel and returns the indices the far end got, in order. */
async function run(seed: number, schedule: MemorySchedule, n = N, mount = 'main', pullEvery = 0): Promise<number[]> {
  const { local, remote } = await pair({ mode: 'unreliable', seed, schedule }, memoryNetwork(), mount);
  const it = remote.frames()[Symbol.asyncIterator]();
  const got: number[] = [];
  let pending: Promise<IteratorResult<Uint8Array>> | undefined;
  for (let i = 0; i < n; i++) {
    local.send(numbered(i));
    // Pulling in the middle of the run (whenever a frame is there) must not change any fate.
    if (pullEvery > 0 && i % pullEvery === 0) {
      pending ??= it.next();
      const r = await Promise.race([pending, new Promise<'none'>((resolve) => setImmediate(() => resolve('none')))]);
      if (r !== 'none') {
        pending = undefined;
        got.push(indexOf(r.value as Uint8Array));
      }
    }
  }
  await local.close('done');
  for (let r = await (pending ?? it.next()); r.done !== true; r = await it.next()) got.push(indexOf(r.value));
  return got;
}

function missing(got: number[], n = N): number {
  return n - new Set(got).size;
}
function duplicates(got: number[]): number {
  return got.length - new Set(got).size;
}
function inversions(got: number[]): number {
  let k = 0;
  for (let j = 1; j < got.length; j++) if (got[j]! < got[j - 1]!) k++;
  return k;
}

describe('the seeded unreliable schedule', () => {
  const mixed = { drop: 0.1, duplicate: 0.1, reorder: 0.1 };

  it('gives the same delivered sequence for the same seed, in two separate networks', async () => {
    const a = await run(42, mixed);
    const b = await run(42, mixed);
    expect(a).toEqual(b);
    expect(a).not.toEqual(Array.from({ length: N }, (_, i) => i));
  });

  it('gives a different sequence for a different seed', async () => {
    expect(await run(42, mixed, 2000)).not.toEqual(await run(43, mixed, 2000));
  });

  it('does not depend on when the receiver pulls', async () => {
    expect(await run(9, mixed, 3000, 'main', 3)).toEqual(await run(9, mixed, 3000));
  });

  it('does not depend on traffic on other channels', async () => {
    const alone = await run(5, mixed, 2000, 'gauges');
    const { earth, local, remote } = await pair({ mode: 'unreliable', seed: 5, schedule: mixed }, memoryNetwork(), 'gauges');
    const other = await earth.open({ peer: 'saturn', mode: 'link', mount: 'noise', localNode: 'earth', address: 'saturn' });
    const inbound = puller(remote);
    for (let i = 0; i < 2000; i++) {
      other.send(numbered(i));
      local.send(numbered(i));
      other.send(numbered(i));
    }
    await local.close('done');
    expect((await inbound.rest()).map(indexOf)).toEqual(alone);
  });

  it('drops at about the given rate', async () => {
    const got = await run(1, { drop: 0.2 });
    expect(duplicates(got)).toBe(0);
    expect(inversions(got)).toBe(0);
    expect(missing(got)).toBeGreaterThan(N * 0.2 * 0.9);
    expect(missing(got)).toBeLessThan(N * 0.2 * 1.1);
  });

  it('duplicates at about the given rate, each copy right after its original', async () => {
    const got = await run(2, { duplicate: 0.2 });
    expect(missing(got)).toBe(0);
    expect(inversions(got)).toBe(0);
    expect(duplicates(got)).toBeGreaterThan(N * 0.2 * 0.9);
    expect(duplicates(got)).toBeLessThan(N * 0.2 * 1.1);
  });

  it('reorders at about the given rate: a held frame comes right after the next one', async () => {
    const got = await run(3, { reorder: 0.2 });
    expect(missing(got)).toBe(0);
    expect(duplicates(got)).toBe(0);
    // A frame is held when nothing else is, and released by the very next frame, so
    // the share of frames overtaken is p / (1 + p).
    const expected = (N * 0.2) / 1.2;
    expect(inversions(got)).toBeGreaterThan(expected * 0.9);
    expect(inversions(got)).toBeLessThan(expected * 1.1);
    for (let j = 1; j < got.length; j++) if (got[j]! < got[j - 1]!) expect(got[j - 1]! - got[j]!).toBe(1);
  });

  it('delivers a frame it held back when the sender closes', async () => {
    // Find a seed whose first frame is held back, then close without sending another.
    let held = 0;
    for (let seed = 0; seed < 20; seed++) {
      const { local, remote } = await pair({ mode: 'unreliable', seed, schedule: { reorder: 0.5 } });
      local.send(numbered(77));
      const it = remote.frames()[Symbol.asyncIterator]();
      const first = it.next();
      // Delivery is synchronous, so a frame not there after a macrotask was held back.
      const early = await Promise.race([first, new Promise((r) => setImmediate(() => r('pending')))]);
      if (early !== 'pending') continue;
      held++;
      await local.close('bye');
      const late = await first;
      expect(late.done).toBe(false);
      expect(indexOf(late.value as Uint8Array)).toBe(77);
      expect((await it.next()).done).toBe(true);
    }
    expect(held).toBeGreaterThan(0);
  });
});
