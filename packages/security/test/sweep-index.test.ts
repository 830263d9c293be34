/**
 * The replay guard's sweep and `pruneUsage` find what they remove through an index of stamps and
 * change beats (src/child-index.ts), not a sorted walk of every id or record. These tests hold
 * them to the walk they replace: the same operations on two trees, one through the package and
 * one through a reference that scans every child, leave the same ids, records and digests —
 * including batches that fail and are undone after a sweep, ids admitted again after their
 * window, records charged again later, and a guard or ledger removed whole.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createTree, digestHex, name, referenceId, u64, type Tree } from '@cep/cells';
import { admitInvokeIdVerdict, newInvokeId, pruneUsage, recordUsage } from '../src/index.ts';

const SEEN = '/rt/security/seen';
const SEEN_CUT = '/rt/security/seen_cut';
const LEDGER = '/journal/decisions/sec';

/** The guard as a scan of every id (the sweep before the index), deciding by the same rules. */
function referenceAdmit(tree: Tree, id: string, windowBeats: number, maxIds: number): string {
  const seen = tree.ensureDictionary(SEEN);
  const cutoff = tree.beat - windowBeats;
  const step = Math.max(1, windowBeats >> 3);
  const swept = tree.getValue(SEEN_CUT);
  const sweptAt = swept?.type === 'u64' ? Number(swept.value) : undefined;
  if (sweptAt === undefined || cutoff >= sweptAt + step || (seen.size >= maxIds && cutoff > sweptAt)) {
    for (const child of [...seen.children()]) {
      const at = child.value;
      if (at?.type === 'u64' && Number(at.value) < cutoff) tree.remove(child.path());
    }
    tree.set(SEEN_CUT, u64(BigInt(Math.max(0, cutoff))));
  }
  const idName = name(referenceId(id));
  const known = seen.child(idName);
  if (known !== undefined) {
    const at = known.value;
    if (at?.type !== 'u64' || Number(at.value) >= cutoff) return 'seen';
  } else if (seen.size >= maxIds) return 'full';
  tree.setChild(seen, idName, u64(BigInt(tree.beat)));
  return 'fresh';
}

/** pruneUsage as a scan of every record. */
function referencePrune(tree: Tree, beforeBeat: number): number {
  const ledger = tree.get(LEDGER);
  if (ledger === undefined) return 0;
  const stale = ledger.children().filter((entry) => entry.subtreeModified < beforeBeat);
  for (const entry of stale) tree.remove(entry.path());
  return stale.length;
}

/** Runs `fn`, inside a batch that then fails (everything it did is undone) when `undo` says so. */
function maybeUndone(tree: Tree, undo: boolean, fn: () => void): void {
  if (!undo) return tree.batch(fn);
  try {
    tree.batch(() => {
      fn();
      throw new Error('undone');
    });
  } catch {
    // expected: the batch's writes are gone
  }
}

/** The digest of the branch at `path` ('-' when there is none). */
const digestAt = (tree: Tree, path: string): string => {
  const cell = tree.get(path);
  return cell === undefined ? '-' : digestHex(cell);
};

const names = (tree: Tree, path: string): string[] => (tree.get(path)?.children() ?? []).map((c) => c.name.tag.text);

describe('the guard sweep and pruneUsage through their index', () => {
  it('the guard keeps and forgets exactly the ids a scan of every id does, through failed batches and re-admissions (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 12 }),
        fc.boolean(),
        fc.array(
          fc.record({
            advance: fc.integer({ min: 0, max: 4 }),
            picks: fc.array(fc.integer({ min: 0, max: 15 }), { maxLength: 6 }),
            undo: fc.boolean(),
            batched: fc.boolean(),
            dropGuard: fc.integer({ min: 0, max: 30 }),
          }),
          { maxLength: 60 },
        ),
        (maxIds, windowBeats, startBatched, beats) => {
          const ids = Array.from({ length: 16 }, () => newInvokeId());
          const ours = createTree();
          const theirs = createTree();
          let beat = 0;
          for (const { advance, picks, undo, batched, dropGuard } of beats) {
            beat += advance;
            ours.setBeat(beat);
            theirs.setBeat(beat);
            if (dropGuard === 0) {
              // The whole guard removed (as a reset would): the index follows the new dictionary.
              ours.remove(SEEN);
              theirs.remove(SEEN);
            }
            const run = (tree: Tree, admit: (tree: Tree, id: string) => string): string[] => {
              const verdicts: string[] = [];
              const body = (): void => {
                for (const pick of picks) verdicts.push(admit(tree, ids[pick]!));
              };
              // Outside a batch (a bare tree tells each change as it happens) or inside one that may fail.
              if (!batched && !undo && startBatched) body();
              else maybeUndone(tree, undo, body);
              return undo ? [] : verdicts;
            };
            const a = run(ours, (tree, id) => admitInvokeIdVerdict(tree, id, windowBeats, maxIds));
            const b = run(theirs, (tree, id) => referenceAdmit(tree, id, windowBeats, maxIds));
            expect(a).toEqual(b);
            expect(names(ours, SEEN)).toEqual(names(theirs, SEEN));
            expect(ours.getValue(SEEN_CUT)).toEqual(theirs.getValue(SEEN_CUT));
            expect(digestAt(ours, SEEN)).toBe(digestAt(theirs, SEEN));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('pruneUsage removes exactly the records a scan of every record does, through failed batches and later charges (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            advance: fc.integer({ min: 0, max: 3 }),
            fresh: fc.integer({ min: 0, max: 3 }),
            charge: fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 3 }),
            prune: fc.option(fc.integer({ min: 0, max: 8 }), { nil: undefined }),
            undo: fc.boolean(),
            dropLedger: fc.integer({ min: 0, max: 40 }),
          }),
          { maxLength: 60 },
        ),
        (beats) => {
          const ours = createTree();
          const theirs = createTree();
          const made: string[] = [];
          let beat = 0;
          for (const { advance, fresh, charge, prune, undo, dropLedger } of beats) {
            beat += advance;
            ours.setBeat(beat);
            theirs.setBeat(beat);
            if (dropLedger === 0) {
              ours.remove(LEDGER);
              theirs.remove(LEDGER);
            }
            const newIds = Array.from({ length: fresh }, () => newInvokeId());
            const charged = charge.map((i) => made[i % Math.max(1, made.length)]).filter((id): id is string => id !== undefined);
            const counts: number[][] = [[], []];
            [ours, theirs].forEach((tree, side) =>
              maybeUndone(tree, undo, () => {
                for (const id of newIds) recordUsage(tree, id, { beats: 5 });
                for (const id of charged) recordUsage(tree, id, { cpuNs: 7 });
                if (prune !== undefined) counts[side]!.push(side === 0 ? pruneUsage(tree, beat - prune) : referencePrune(tree, beat - prune));
              }),
            );
            if (!undo) made.push(...newIds);
            expect(counts[0]).toEqual(counts[1]);
            expect(names(ours, LEDGER)).toEqual(names(theirs, LEDGER));
            expect(digestAt(ours, LEDGER)).toBe(digestAt(theirs, LEDGER));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a sweep undone by a failing batch is done again by the next one (the ids are not lost to the index)', () => {
    const tree = createTree();
    const old = [newInvokeId(), newInvokeId()];
    for (const id of old) expect(admitInvokeIdVerdict(tree, id, 8)).toBe('fresh');
    tree.setBeat(20);
    maybeUndone(tree, true, () => {
      expect(admitInvokeIdVerdict(tree, newInvokeId(), 8)).toBe('fresh'); // sweeps the two old ids
      expect(tree.get(SEEN)!.size).toBe(1);
    });
    expect(tree.get(SEEN)!.size).toBe(2); // undone: the old ids are back
    tree.setBeat(21);
    expect(admitInvokeIdVerdict(tree, newInvokeId(), 8)).toBe('fresh');
    expect(tree.get(SEEN)!.size).toBe(1);
  });
});
