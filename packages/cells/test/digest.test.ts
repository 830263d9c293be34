import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bool, bytes, createTree, digestHex, i64, name, text, u64, type Tree, type Value } from '@cep/cells';

type Op = { kind: 'set'; path: string[]; value: Value } | { kind: 'list'; path: string[]; values: Value[] };

const seg = fc.constantFrom('a', 'b', 'c', 'mounts', 'peer', 'ABC', '7', 'long/ref');
const value: fc.Arbitrary<Value> = fc.oneof(
  fc.string({ maxLength: 8 }).map(text),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map(u64),
  fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }).map(i64),
  fc.boolean().map(bool),
  fc.uint8Array({ maxLength: 8 }).map(bytes),
);
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), path: fc.array(seg, { minLength: 1, maxLength: 3 }), value }),
  fc.record({
    kind: fc.constant('list' as const),
    path: fc.array(seg, { minLength: 1, maxLength: 2 }),
    values: fc.array(value, { minLength: 1, maxLength: 3 }),
  }),
);

function build(ops: Op[]): Tree {
  const tree = createTree();
  for (const o of ops) {
    try {
      if (o.kind === 'set') tree.set(['root', ...o.path], o.value);
      else {
        tree.ensureList(['root', ...o.path, 'items']);
        for (const v of o.values) tree.append(['root', ...o.path, 'items'], v);
      }
    } catch {
      // kind clashes between random paths are refused and change nothing
    }
  }
  return tree;
}

/** Every cell below the root, with its path. */
function cellsOf(tree: Tree) {
  const out: Array<{ path: ReturnType<typeof name>[]; cell: NonNullable<ReturnType<Tree['get']>> }> = [];
  const visit = (cell: NonNullable<ReturnType<Tree['get']>>) => {
    for (const child of cell.children()) {
      out.push({ path: child.path(), cell: child });
      visit(child);
    }
  };
  visit(tree.root);
  return out;
}

describe('digest', () => {
  it('is the same for the same edits, across trees and runs', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
        expect(digestHex(build(ops).root)).toBe(digestHex(build(ops).root));
      }),
      { numRuns: 300 },
    );
  });

  it('changes on every single-field mutation: value, name, kind, order, presence', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 20 }), fc.nat(), fc.nat(4), (ops, pick, how) => {
        const tree = build(ops);
        const before = digestHex(tree.root);
        const cells = cellsOf(tree);
        fc.pre(cells.length > 0);
        const { path, cell } = cells[pick % cells.length]!;
        tree.setBeat(tree.beat + 1);
        switch (how) {
          case 0: // value change (or a value where there was a store)
            if (cell.kind === 'value') {
              const v = cell.value!;
              tree.set(path, v.type === 'text' ? text(v.value + '!') : text('changed'));
            } else tree.set([...path, 'extra'], text('new child'));
            break;
          case 1: // rename: move the cell's content to a sibling name
            tree.remove(path);
            tree.set([...path.slice(0, -1), 'renamed-cell'], cell.value ?? text('was a store'));
            break;
          case 2: // kind: replace with another kind
            tree.remove(path);
            if (cell.kind === 'dictionary') tree.ensureList(path);
            else tree.ensureDictionary(path);
            break;
          case 3: {
            // order: swap two list items, or add a child when there is no list
            const list = cell.parent!;
            if (list.kind === 'list' && list.size >= 2 && !valuesAllEqual(list)) tree.move(list.path(), 0, list.size - 1);
            else tree.set([...path.slice(0, -1), 'added'], u64(1));
            break;
          }
          case 4: // presence: soft delete
            tree.delete(path);
            break;
        }
        expect(digestHex(tree.root)).not.toBe(before);
      }),
      { numRuns: 500 },
    );
  });

  it('ignores beats and history; a soft-deleted cell counts as absent', () => {
    const a = createTree();
    a.setBeat(9);
    a.set('/x/y', text('v1'));
    a.set('/x/y', text('v2'));
    a.set('/x/gone', u64(3));
    a.delete('/x/gone');
    const b = createTree();
    b.set('/x/y', text('v2'));
    expect(digestHex(a.root)).toBe(digestHex(b.root));
  });

  it('does not depend on the digests computed before it (their staging buffer is shared)', () => {
    const small = createTree();
    small.set('/s/a', text('x'));
    const before = digestHex(small.root);
    const big = createTree();
    // Past the 64 KiB staging buffer: many cells, a long text and a large byte value.
    for (let i = 0; i < 3000; i++) big.set(['b', `c${i}`], text(`value ${i}`));
    big.set('/b/long', text('y'.repeat(100_000)));
    big.set('/b/blob', bytes(new Uint8Array(200_000).fill(7)));
    const first = digestHex(big.root);
    expect(digestHex(small.root)).toBe(before);
    expect(digestHex(big.root)).toBe(first);
    big.set('/b/c2999', text('changed'));
    expect(digestHex(big.root)).not.toBe(first);
    expect(digestHex(small.root)).toBe(before);
  });

  it('covers store types and link targets', () => {
    const a = createTree();
    a.ensureDictionary('/o', name('organ/link'));
    const b = createTree();
    b.ensureDictionary('/o');
    expect(digestHex(a.root)).not.toBe(digestHex(b.root));
    a.link('/l', '/o');
    b.ensureDictionary('/o', name('organ/link'));
    b.link('/l', '/p');
    expect(digestHex(a.root)).not.toBe(digestHex(b.root));
  });
});

function valuesAllEqual(list: NonNullable<ReturnType<Tree['get']>>): boolean {
  // Moving items that all have the same content (and kind) leaves the list looking the same.
  const contents = list.children().map((c) => `${c.kind}:${digestHex(c)}`);
  return contents.every((c) => c === contents[0]);
}
