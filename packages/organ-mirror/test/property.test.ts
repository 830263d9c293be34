import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bool, bytes, name, text, u64, type Cell, type Tree } from '@cep/cells';
import { memoryHooks } from '@cep/provider-memory';
import { applyCounts, at, branchDigest, field, fileRequest, memoryPair, tcpPair, type Pair } from './helpers.ts';

const SRC = '/data/shared';
const NAMES = ['a', 'b', 'c', 'd', 'e', 'f'];

let pair: Pair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

type Command = readonly [kind: number, pick: number, x: number, y: number];

function cells(tree: Tree, withDeleted: boolean): Cell[] {
  const root = tree.find(SRC);
  const out: Cell[] = [];
  const walk = (cell: Cell): void => {
    if (cell.isDeleted && !withDeleted) return;
    out.push(cell);
    for (const child of cell.children()) walk(child);
  };
  if (root !== undefined) walk(root);
  return out;
}

const cellValueOf = (x: number) => [text(`t${x % 7}`), u64(BigInt(x)), bool(x % 2 === 0), bytes(Uint8Array.of(x % 256, 1, 2)), text('é'.repeat(x % 5))][x % 5]!;

/** One random edit of the source branch; edits the tree refuses (wrong kind on the way) are no-ops. */
function edit(tree: Tree, [kind, pick, x, y]: Command): void {
  const live = cells(tree, false);
  const stores = live.filter((c) => c.kind === 'dictionary' || c.kind === 'list');
  const store = stores[pick % Math.max(1, stores.length)];
  try {
    switch (kind) {
      case 0: // write a value (creates, updates or revives)
      case 1: {
        if (store === undefined) return void tree.set(`${SRC}/${NAMES[x % NAMES.length]}`, cellValueOf(y));
        if (store.kind === 'list') {
          const children = store.children();
          if (children.length === 0 || x % 3 === 0) return void tree.insert(store.path(), y % (children.length + 1), cellValueOf(y));
          const child = children[y % children.length]!;
          if (child.kind === 'value') tree.set(child.path(), cellValueOf(x));
          return;
        }
        return void tree.set([...store.path(), NAMES[x % NAMES.length]!], cellValueOf(y));
      }
      case 2: // a new store
      case 3: {
        const what = kind === 2 ? 'dictionary' : 'list';
        if (store === undefined) return void (what === 'list' ? tree.ensureList(SRC) : tree.ensureDictionary(SRC));
        if (store.kind === 'list') return void tree.insert(store.path(), y % (store.children().length + 1), what);
        const at = [...store.path(), NAMES[x % NAMES.length]!];
        return void (what === 'list' ? tree.ensureList(at) : tree.ensureDictionary(at, y % 5 === 0 ? name('organ/x') : undefined));
      }
      case 4: // reorder a list
      case 5: {
        const lists = stores.filter((c) => c.kind === 'list' && c.children().length > 1);
        const list = lists[pick % Math.max(1, lists.length)];
        if (list === undefined) return;
        const n = list.children().length;
        return void tree.move(list.path(), x % n, y % n);
      }
      case 6: {
        // soft delete
        const target = live[pick % live.length];
        if (target !== undefined && target.path().length > 2) tree.delete(target.path());
        return;
      }
      case 7: {
        // hard remove (deleted cells too)
        const all = cells(tree, true);
        const target = all[pick % all.length];
        if (target !== undefined && target.path().length > 2) tree.remove(target.path());
        return;
      }
      case 8: {
        // a link, now and then
        if (store?.kind === 'dictionary') tree.link([...store.path(), NAMES[x % NAMES.length]!], '/data/elsewhere');
        return;
      }
      case 9: // the whole branch goes, or comes back with something
        if (x % 2 === 0) tree.delete(SRC);
        else tree.set(`${SRC}/${NAMES[y % NAMES.length]}`, cellValueOf(x));
        return;
    }
  } catch (error) {
    if (!(error as { code?: string }).code) throw error;
  }
}

/** A branch with a dictionary, a list of values and a list of stores to start from. */
function seed(tree: Tree): void {
  tree.set(`${SRC}/a`, text('seed'));
  tree.set(`${SRC}/d/b`, u64(1n));
  tree.ensureList(`${SRC}/l`);
  for (let i = 0; i < 5; i++) tree.append(`${SRC}/l`, text(`item ${i}`));
  tree.ensureList(`${SRC}/s`);
  for (let i = 0; i < 3; i++) tree.set([...tree.append(`${SRC}/s`, 'dictionary').path(), 'x'], u64(BigInt(i)));
}

const script = fc.array(
  fc.record({
    edits: fc.array(fc.tuple(fc.nat(9), fc.nat(50), fc.nat(50), fc.nat(50)), { maxLength: 6 }),
    // 1 in 8 beats breaks the channel.
    brk: fc.nat(7).map((n) => n === 0),
    // The receiver skips some beats (a slow receiver).
    skip: fc.nat(3).map((n) => n === 0),
  }),
  { minLength: 15, maxLength: 50 },
);

async function converge(p: Pair, manual = false, id = 'r1'): Promise<void> {
  const done = (): boolean => {
    if (manual && field(p.earth.tree, id, 'held') !== 0n) p.earth.mirror.commit(id);
    return (
      field(p.earth.tree, id, 'state') === 'active' &&
      at(p.saturn.tree, '/net/organs/mirror/serving/earth/main/inflight') === 0n &&
      branchDigest(p.earth.tree, SRC) === branchDigest(p.saturn.tree, SRC)
    );
  };
  await p.until(done, 300);
  await p.beats(4); // nothing pending may still change it
  expect(branchDigest(p.earth.tree, SRC)).toBe(branchDigest(p.saturn.tree, SRC));
}

describe('random edit scripts with random breaks', () => {
  it('memory provider (reliable): the mirror ends equal to the source, every bundle applied once', async () => {
    await fc.assert(
      fc.asyncProperty(
        script,
        fc.constantFrom(1, 2, 3),
        fc.constantFrom(1, 3),
        fc.constantFrom(600, 1 << 20),
        fc.constantFrom('stream', 'stream', 'batch', 'manual'),
        async (steps, window, maxInfl, partBytes, commitMode) => {
          pair = await memoryPair({ saturn: { partBytes }, earth: { retry: { first: 1, max: 2 } } });
          const p = pair;
          seed(p.saturn.tree);
          fileRequest(p.earth.tree, 'r1', { window, maxInfl, commitMode });
          await p.until(() => field(p.earth.tree, 'r1', 'state') === 'active', 50);
          for (const [i, step] of steps.entries()) {
            for (const e of step.edits) edit(p.saturn.tree, e);
            if (commitMode === 'manual' && i % 3 === 0) p.earth.mirror.commit('r1');
            if (step.brk) {
              const channel = memoryHooks(p.earth.provider)
                .channels()
                .find((c) => c.info.mount === 'main');
              if (channel !== undefined) memoryHooks(p.earth.provider).raise(channel, { type: 'fatal' });
            }
            if (!step.skip) {
              await p.beats(1);
            } else {
              p.saturn.runtime.step();
            }
          }
          await converge(p, commitMode === 'manual');
          expect([...applyCounts(p.earth).values()].every((n) => n === 1)).toBe(true);
          await p.close();
          pair = undefined;
        },
      ),
      { numRuns: 40, seed: Number(process.env.MIRROR_SEED ?? 20251201) },
    );
  }, 60_000);

  it('tcp on loopback, fixed seed: equal digests after breaks, no bundle applied twice', async () => {
    pair = await tcpPair({ earth: { retry: { first: 1, max: 2 } } });
    const p = pair;
    seed(p.saturn.tree);
    fileRequest(p.earth.tree, 'r1', { window: 2, maxInfl: 2 });
    await p.until(() => field(p.earth.tree, 'r1', 'state') === 'active', 100);
    const [steps] = fc.sample(script, { seed: 7, numRuns: 1 });
    let breaks = 0;
    for (const step of steps!) {
      for (const e of step.edits) edit(p.saturn.tree, e);
      if (step.brk && p.earth.manager.get('saturn', 'mirror', 'main')?.state === 'open') {
        p.earth.manager.get('saturn', 'mirror', 'main')!.close('test break');
        breaks++;
      }
      await p.beats(1);
    }
    await converge(p);
    expect(breaks).toBeGreaterThan(0);
    expect([...applyCounts(p.earth).values()].every((n) => n === 1)).toBe(true);
    expect(p.earth.applies.length).toBeGreaterThan(1);
  }, 30_000);
});
