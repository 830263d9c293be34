/**
 * `stampMatches` walks the same layout `stampOf` builds (six fields per cell, `undefined` for a
 * missing branch), without building it. The two are twins: this ties them, so a field added to
 * one and not the other fails here rather than as a stale policy.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createTree, text, u64, type Cell, type Tree } from '@cep/cells';
import { stampMatches, stampOf } from '../src/memo.ts';

type Edit =
  | { kind: 'value'; at: number; value: number }
  | { kind: 'text'; at: number; value: string }
  | { kind: 'add'; at: number; child: string }
  | { kind: 'delete'; at: number }
  | { kind: 'remove'; at: number }
  | { kind: 'none' };

const PATHS = [
  ['p', 'a'],
  ['p', 'b'],
  ['p', 'c', 'x'],
  ['q', 'y'],
];

function seed(): Tree {
  const tree = createTree();
  for (const path of PATHS) tree.set(path, u64(1));
  return tree;
}

function apply(tree: Tree, edit: Edit): void {
  const path = edit.kind === 'none' ? [] : PATHS[edit.at % PATHS.length]!;
  if (edit.kind === 'value') tree.set(path, u64(edit.value));
  else if (edit.kind === 'text') tree.set(path, text(edit.value));
  else if (edit.kind === 'add') tree.set([...path.slice(0, -1), `n${edit.child}`], u64(7));
  else if (edit.kind === 'delete') tree.delete(path);
  else if (edit.kind === 'remove') tree.remove(path);
}

const cellsOf = (tree: Tree): (Cell | undefined)[] => [tree.get('/p'), tree.get('/q'), tree.get('/missing')];

/** Element by element, as the memos compared before `stampMatches`. */
const same = (a: readonly unknown[], b: readonly unknown[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('value' as const), at: fc.nat(7), value: fc.nat(3) }),
  fc.record({ kind: fc.constant('text' as const), at: fc.nat(7), value: fc.constantFrom('a', 'b') }),
  fc.record({ kind: fc.constant('add' as const), at: fc.nat(7), child: fc.constantFrom('1', '2') }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(7) }),
  fc.record({ kind: fc.constant('remove' as const), at: fc.nat(7) }),
  fc.constant({ kind: 'none' as const }),
);

describe('stampMatches', () => {
  it('says what comparing a fresh stampOf with the kept one says, after any edits', () => {
    fc.assert(
      fc.property(fc.array(edit, { maxLength: 6 }), (edits) => {
        const tree = seed();
        const kept = stampOf(cellsOf(tree));
        expect(stampMatches(cellsOf(tree), kept)).toBe(true);
        for (const e of edits) apply(tree, e);
        const cells = cellsOf(tree);
        expect(stampMatches(cells, kept)).toBe(same(stampOf(cells), kept));
        expect(stampMatches(cells, stampOf(cells))).toBe(true);
      }),
    );
  });

  it('refuses a stamp of other length or of another cell list', () => {
    const tree = seed();
    const stamp = stampOf(cellsOf(tree));
    expect(stampMatches(cellsOf(tree), [...stamp, undefined])).toBe(false);
    expect(stampMatches(cellsOf(tree), stamp.slice(0, -1))).toBe(false);
    expect(stampMatches([tree.get('/q'), tree.get('/p'), undefined], stamp)).toBe(false);
  });
});
