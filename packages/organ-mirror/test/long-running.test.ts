/**
 * A mirror that has work every beat for a long time keeps its OPS dossiers the same size: the
 * source's gate (`mir/gate`) moves run → yield and its episode (`mir/pub`) run → await every busy
 * beat, and their histories keep the runtime's `opsHistoryRetain` newest entries (before the
 * bound they grew by about an entry a beat each for as long as the mirror ran).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_OPS_HISTORY_RETAIN } from '@cep/heartbeat';
import { text, type Tree } from '@cep/cells';
import { branchDigest, fileRequest, memoryPair, type Pair } from './helpers.ts';

let pair: Pair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

/** History lengths and dropped counts of every dossier under /rt/ops. */
function dossiers(tree: Tree): Array<{ id: string; entries: number; dropped: bigint }> {
  return (tree.get('/rt/ops')?.children() ?? []).map((op) => {
    const dropped = op.child('history_dropped')?.value;
    return {
      id: op.name.tag.text,
      entries: op.child('history')?.children().length ?? 0,
      dropped: dropped?.type === 'u64' ? dropped.value : 0n,
    };
  });
}

describe('a long-running mirror', () => {
  it('keeps every OPS history within the bound on both peers while a change arrives every beat, and the branch still matches', async () => {
    pair = await memoryPair();
    fileRequest(pair.earth.tree, 'r1', { window: 1, maxInfl: 4 });
    const beats = 3 * DEFAULT_OPS_HISTORY_RETAIN;
    for (let i = 0; i < beats; i++) {
      pair.saturn.tree.set(`/data/shared/k${i % 7}`, text(`edit ${i}`));
      await pair.beats(1);
    }
    await pair.until(() => branchDigest(pair!.earth.tree, '/data/shared') === branchDigest(pair!.saturn.tree, '/data/shared'));
    expect(pair.earth.applies.length).toBeGreaterThan(DEFAULT_OPS_HISTORY_RETAIN);
    for (const side of [pair.earth, pair.saturn]) {
      for (const d of dossiers(side.tree)) expect(d.entries, `dossier ${d.id} on ${side.peer}`).toBeLessThanOrEqual(DEFAULT_OPS_HISTORY_RETAIN);
    }
    // The bound did the work: the source's dossiers moved more often than they keep.
    const moved = dossiers(pair.saturn.tree).filter((d) => d.dropped > 0n);
    expect(moved.length).toBeGreaterThanOrEqual(2);
    for (const d of moved) expect(d.entries).toBe(DEFAULT_OPS_HISTORY_RETAIN);
  });
});
