import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  applyImages,
  createTree,
  digestHex,
  exportTree,
  formatPath,
  restoreTree,
  text,
  trackChanges,
  u64,
  type Cell,
  type CellImage,
  type Tree,
} from '@cep/cells';

type Op =
  | { op: 'set'; path: string[]; value: number }
  | { op: 'delete'; path: string[] }
  | { op: 'remove'; path: string[] }
  | { op: 'append'; list: string; value: number }
  | { op: 'move'; list: string; from: number; to: number }
  | { op: 'link'; path: string[]; target: string[] };

const segment = fc.constantFrom('a', 'b', 'c', 'd');
const pathArb = fc.array(segment, { minLength: 1, maxLength: 3 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('set' as const), path: pathArb, value: fc.nat(5) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), path: pathArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('remove' as const), path: pathArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('append' as const), list: fc.constantFrom('l1', 'l2'), value: fc.nat(9) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('move' as const), list: fc.constantFrom('l1', 'l2'), from: fc.nat(4), to: fc.nat(4) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('link' as const), path: pathArb, target: pathArb }) },
);

/** Applies one op, ignoring the ones the tree refuses (kind mismatches, bad indexes): those change nothing. */
function apply(tree: Tree, op: Op): void {
  try {
    switch (op.op) {
      case 'set':
        tree.set(op.path, op.value % 2 === 0 ? u64(op.value) : text(String(op.value)));
        break;
      case 'delete':
        tree.delete(op.path);
        break;
      case 'remove':
        tree.remove(op.path);
        break;
      case 'append':
        tree.ensureList(['lists', op.list]);
        tree.append(['lists', op.list], u64(op.value));
        break;
      case 'move':
        tree.move(['lists', op.list], op.from, op.to);
        break;
      case 'link':
        tree.link(['links', ...op.path], op.target);
        break;
    }
  } catch {
    // refused writes are all-or-nothing
  }
}

/** Everything that makes a tree what it is, stamps and history included. */
function fullState(tree: Tree): string {
  const lines: string[] = [];
  for (const image of exportTree(tree)) lines.push(describeImage(image));
  return lines.join('\n');
}

function describeImage(image: CellImage): string {
  return JSON.stringify(
    {
      ...image,
      path: formatPath(image.path),
      order: image.order?.map((n) => n.key),
      linkTarget: image.linkTarget?.map((n) => n.key),
      storeType: image.storeType?.key,
    },
    (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? [...v] : v),
  );
}

const beatsArb = fc.array(fc.array(opArb, { maxLength: 8 }), { minLength: 1, maxLength: 12 });

describe('cell images', () => {
  it('a tree rebuilt from its export equals it, stamps and history included', () => {
    fc.assert(
      fc.property(beatsArb, (beats) => {
        const tree = createTree();
        beats.forEach((ops, beat) => {
          tree.setBeat(beat);
          for (const op of ops) apply(tree, op);
        });
        const copy = createTree();
        applyImages(copy, exportTree(tree));
        expect(fullState(copy)).toBe(fullState(tree));
        expect(digestHex(copy.root)).toBe(digestHex(tree.root));
      }),
      { numRuns: 150 },
    );
  });

  it('restoreTree (parent handles, no paths) rebuilds the same tree as applyImages', () => {
    fc.assert(
      fc.property(beatsArb, (beats) => {
        const tree = createTree();
        beats.forEach((ops, beat) => {
          tree.setBeat(beat);
          for (const op of ops) apply(tree, op);
        });
        const copy = createTree();
        const restorer = restoreTree(copy);
        const byPath = new Map<string, Cell>();
        for (const image of exportTree(tree)) {
          const cell =
            image.path.length === 0 ? restorer.root(image) : restorer.child(byPath.get(formatPath(image.path.slice(0, -1)))!, image.path.at(-1)!, image);
          byPath.set(formatPath(image.path), cell);
        }
        restorer.finish();
        expect(fullState(copy)).toBe(fullState(tree));
      }),
      { numRuns: 100 },
    );
  });

  it('the per-beat change sets replayed on a copy give the same tree after every beat', () => {
    fc.assert(
      fc.property(beatsArb, (beats) => {
        const tree = createTree();
        const tracker = trackChanges(tree);
        const replica = createTree();
        beats.forEach((ops, beat) => {
          tree.setBeat(beat);
          for (const op of ops) apply(tree, op);
          applyImages(replica, tracker.take());
          expect(fullState(replica)).toBe(fullState(tree));
        });
        tracker.stop();
      }),
      { numRuns: 150 },
    );
  });

  it('applying a change set twice changes nothing more', () => {
    const tree = createTree();
    const tracker = trackChanges(tree);
    tree.set('/a/b', text('x'));
    tree.ensureList('/l');
    tree.append('/l', u64(1));
    tree.remove('/a');
    tree.set('/a/c', text('y'));
    const edits = tracker.take();
    const replica = createTree();
    applyImages(replica, edits);
    applyImages(replica, edits);
    expect(fullState(replica)).toBe(fullState(tree));
  });

  it('a branch adopted from another tree is taken whole (one create event, every cell below it)', () => {
    const tree = createTree();
    tree.set('/data/keep', u64(1));
    tree.setBeat(1);
    const tracker = trackChanges(tree);
    const replica = createTree();
    applyImages(replica, [...exportTree(tree)]);
    const scratch = createTree();
    for (let i = 0; i < 5; i++) scratch.set(`/data/copy/stars/${i}`, text(`star ${i}`));
    scratch.ensureList('/data/copy/log');
    scratch.append('/data/copy/log', u64(7));
    scratch.append('/data/copy/log', u64(8));
    scratch.delete('/data/copy/stars/3');
    tree.setBeat(2);
    tree.adopt(scratch, '/data/copy');
    applyImages(replica, tracker.take());
    expect(fullState(replica)).toBe(fullState(tree));
    expect(digestHex(replica.root)).toBe(digestHex(tree.root));
    tracker.stop();
  });

  it('an undone batch leaves nothing to take', () => {
    const tree = createTree();
    const tracker = trackChanges(tree);
    expect(() =>
      tree.batch(() => {
        tree.set('/a', text('x'));
        throw new Error('no');
      }),
    ).toThrow('no');
    expect(tracker.take()).toEqual([]);
  });

  it('refuses an image whose parent is missing, with CELL_NOT_FOUND', () => {
    const tree = createTree();
    tree.set('/a/b', text('x'));
    const images = [...exportTree(tree)].filter((image) => image.path.length !== 1);
    expect(() => applyImages(createTree(), images)).toThrow(expect.objectContaining({ code: 'CELL_NOT_FOUND' }));
  });
});
