/**
 * The packed form of op content (`vb`): it must read back as exactly the branch the serializer
 * would have carried (names of every kind, every value type, store types, links, lists in
 * order, soft-deleted cells left out), and a malformed one must be refused, not half-read. (`compact.ts` writes it, `compact-read.ts` reads it.)
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { acronymId, bool, bytes, createTree, i64, name, numericId, raw, referenceId, text, u64, wordId, type Cell, type Name, type Value } from '@cep/cells';
import { decodeBranch, encodeBranch, type StagedCell } from '@cep/serializer';
import { unpackCell, PackedFormError } from '../src/compact-read.ts';
import { packCell } from '../src/compact.ts';

/** A comparable rendering: names by key, dictionaries sorted (the tree sorts them), lists in order. */
function shape(cell: StagedCell): unknown {
  const kids = cell.children.filter((c) => !c.deleted).map(shape);
  if (cell.kind === 'dictionary') kids.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  const value =
    cell.value === undefined
      ? undefined
      : cell.value.type === 'raw'
        ? ['raw', cell.value.dataType.key, [...cell.value.value]]
        : cell.value.type === 'bytes'
          ? ['bytes', [...cell.value.value]]
          : [cell.value.type, String(cell.value.value)];
  return [cell.name.key, cell.kind, cell.storeType?.key, value, cell.linkTarget?.map((n) => n.key), kids];
}

const V = name('v');
const viaSerializer = (cell: Cell): StagedCell => {
  const root = decodeBranch(encodeBranch(cell)).root;
  return { ...root, name: V };
};

const names: Name[] = [
  name('alpha'),
  name('0'),
  name('42'),
  name('A1'),
  name('has space and more than eleven'),
  name('é'),
  name(wordId('x'), acronymId('ORG')),
  name(numericId(7n), referenceId('dómain')),
];
const values: Value[] = [
  text(''),
  text('star 1'),
  text('ünïcødé ✓'),
  text('x'.repeat(300)),
  u64(0n),
  u64(127n),
  u64(128n),
  u64((1n << 49n) - 1n),
  u64(1n << 49n),
  u64((1n << 53n) - 1n),
  u64(1n << 53n),
  u64((1n << 63n) + 5n),
  u64((1n << 64n) - 1n),
  i64(-5n),
  i64(-(1n << 63n)),
  bool(true),
  bool(false),
  bytes(new Uint8Array([])),
  bytes(Uint8Array.of(0, 255, 7)),
  raw(name('val/f64'), Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)),
];

describe('packed op content', () => {
  it('reads back as the branch the serializer carries, for random branches', () => {
    type Op = readonly [kind: number, at: number, n: number, v: number];
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(5), fc.nat(40), fc.nat(names.length - 1), fc.nat(values.length - 1)), { maxLength: 40 }), (ops: Op[]) => {
        const tree = createTree();
        tree.set('/data/b/seed', u64(1n));
        for (const [kind, at, n, v] of ops) {
          const stores: Cell[] = [];
          const walk = (c: Cell): void => {
            if (c.isDeleted) return;
            if (c.kind === 'dictionary' || c.kind === 'list') stores.push(c);
            for (const k of c.children()) walk(k);
          };
          walk(tree.get('/data/b')!);
          const store = stores[at % stores.length]!;
          const path = store.path();
          try {
            if (kind === 0) tree.set([...path, names[n]!], values[v]!);
            else if (kind === 1) tree.set([...path, names[n]!, name('leaf')], values[v]!);
            else if (kind === 2) tree.ensureList([...path, name(`l${n}`)], n % 2 === 0 ? name('organ/x') : undefined);
            else if (kind === 3 && store.kind === 'list') tree.insert(path, at % (store.size + 1), values[v]!, names[n]!);
            else if (kind === 4) tree.link([...path, name(`k${n}`)], ['data', 'b', 'seed']);
            else if (kind === 5 && store.size > 0) {
              const victim = [...path, store.children()[at % store.size]!.name];
              if (v % 2 === 0) tree.delete(victim);
              else tree.remove(victim);
            }
          } catch {
            // a write the tree refuses (a value where a store is) changes nothing
          }
        }
        const cell = tree.get('/data/b')!;
        expect(shape(unpackCell(packCell(cell, V)))).toEqual(shape(viaSerializer(cell)));
      }),
      { numRuns: 150 },
    );
  });

  it('leaves soft-deleted cells out and keeps a list in its order', () => {
    const tree = createTree();
    tree.ensureList('/data/l');
    ['c', 'a', 'b'].forEach((n, i) => tree.insert('/data/l', i, text(n), name(n)));
    tree.set('/data/l2/gone', text('x'));
    tree.delete('/data/l2/gone');
    const list = unpackCell(packCell(tree.get('/data/l')!, V));
    expect(list.kind).toBe('list');
    expect(list.children.map((c) => c.name.key)).toEqual(['wc', 'wa', 'wb']);
    expect(unpackCell(packCell(tree.get('/data/l2')!, V)).children).toHaveLength(0);
  });

  it('refuses malformed bytes with a PackedFormError, whatever they are', () => {
    const tree = createTree();
    tree.set('/data/x/a', text('star 1'));
    tree.set('/data/x/b', u64(9n));
    const good = packCell(tree.get('/data/x')!, V);
    for (let cut = 0; cut < good.length; cut++) expect(() => unpackCell(good.subarray(0, cut))).toThrow(PackedFormError);
    expect(() => unpackCell(Uint8Array.of(...good, 0))).toThrow(PackedFormError);
    // A u64 of 2^64 (LEB128, 10 bytes) is refused, not wrapped.
    const tooBig = Uint8Array.of(1, 0 | (1 << 5), 1, 0x61, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02);
    expect(() => unpackCell(tooBig)).toThrow(PackedFormError);
    const badVersion = good.slice();
    badVersion[0] = 9;
    expect(() => unpackCell(badVersion)).toThrow(PackedFormError);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (junk) => {
        try {
          unpackCell(junk);
        } catch (error) {
          expect(error).toBeInstanceOf(PackedFormError);
        }
      }),
    );
  });
});
