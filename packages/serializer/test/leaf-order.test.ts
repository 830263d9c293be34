/**
 * The Merkle leaf order through the records' tree (leaf-order.ts) is exactly the stable sort
 * by key bytes ({@link leafOrder}) for any keys: keys in the writer's shape, the same keys
 * reordered, and keys of no shape at all; and frames of real branches keep their roots.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createTree, text, u64, type Tree } from '@cep/cells';
import { decodeBranch, encodeBranch, RECORD_TYPE } from '@cep/serializer';
import { latin1 } from '../src/bytes.ts';
import { leafOrder, merkleOfRanges } from '../src/hash.ts';
import { leafOrderByTree, treeOrder } from '../src/leaf-order.ts';
import { readFrame, recordKeys } from '../src/frame-reader.ts';

/** Keys as one byte array with their ranges. */
function layout(keys: readonly Uint8Array[]): { data: Uint8Array; starts: number[]; ends: number[] } {
  const data = new Uint8Array(keys.reduce((n, k) => n + k.length, 0) + 3);
  const starts: number[] = [];
  const ends: number[] = [];
  let at = 3; // keys off the buffer's start, so offsets are not indices
  for (const key of keys) {
    data.set(key, at);
    starts.push(at);
    at += key.length;
    ends.push(at);
  }
  return { data, starts, ends };
}

/** Both ways of {@link leafOrderByTree} (key strings given, bytes in place) against the plain sort. */
function expectSameOrder(keys: readonly Uint8Array[]): void {
  const { data, starts, ends } = layout(keys);
  const strings = keys.map(latin1);
  const expected = leafOrder(strings);
  expect(Array.from(leafOrderByTree(data, starts, ends, keys.length, strings))).toEqual(expected);
  expect(Array.from(leafOrderByTree(data, starts, ends, keys.length))).toEqual(expected);
}

/** A 17-byte name from a small pool (so a child's name equal to its parent's suffix happens), some bytes above 0x7f. */
const wireName = fc.integer({ min: 0, max: 5 }).map((n) => Uint8Array.from({ length: 17 }, (_, i) => (i === 9 ? n * 47 : i === 3 ? (n & 1) * 0x90 : 0)));

interface Node {
  name: Uint8Array;
  suffix: Uint8Array;
  pages: number;
  chunks: number;
  children: Node[];
}

const node: fc.Memo<Node> = fc.memo((n) =>
  fc.record({
    name: wireName,
    suffix: wireName,
    pages: fc.integer({ min: 0, max: 3 }),
    chunks: fc.integer({ min: 0, max: 2 }),
    children: n > 1 ? fc.array(node(n - 1), { maxLength: 4 }) : fc.constant([]),
  }),
);

/** The keys the writer emits for a tree: per cell its cell_desc, manifest and order pages, chunks, then its children. */
function writerKeys(root: Node): Uint8Array[] {
  const keys: Uint8Array[] = [];
  const walk = (cell: Node, path: Uint8Array[]): void => {
    const base = [...path.flatMap((p) => [...p]), ...cell.suffix];
    keys.push(Uint8Array.from([1, ...base]));
    for (let p = 0; p < cell.pages; p++) keys.push(Uint8Array.from([3, ...base, p]));
    for (let p = 0; p < cell.pages; p++) keys.push(Uint8Array.from([4, ...base, 0, p]));
    for (let c = 0; c < cell.chunks; c++) keys.push(Uint8Array.from([2, ...base, c]));
    for (const child of cell.children) walk(child, [...path, child.name]);
  };
  walk(root, [root.name]);
  keys.push(Uint8Array.of(5, 1, 0, 0, 0, 0, 0, 0, 0), Uint8Array.of(5, 0, 1, 0, 0, 0, 0, 0, 0));
  return keys;
}

describe('leaf order through the tree', () => {
  it('equals the stable sort for keys in the writer shape, as emitted, sorted, reversed and shuffled (property)', () => {
    fc.assert(
      fc.property(node(4), fc.integer({ min: 0, max: 2 ** 31 }), (root, seed) => {
        const keys = writerKeys(root);
        expectSameOrder(keys);
        const sorted = leafOrder(keys.map(latin1)).map((i) => keys[i]!);
        expectSameOrder(sorted);
        expectSameOrder([...sorted].reverse());
        const shuffled = keys.map((k, i) => ({ k, r: (i * 2654435761 + seed) % 1009 })).sort((a, b) => a.r - b.r);
        expectSameOrder(shuffled.map((s) => s.k));
        // The same tree twice: every key tied with another, ties kept in emission order.
        expectSameOrder([...keys, ...keys]);
      }),
      { numRuns: 300 },
    );
  });

  it('equals the stable sort for keys of no shape: prefixes, ties, empty keys, non-ASCII bytes (property)', () => {
    const byte = fc.constantFrom(0, 1, 2, 0x7f, 0x80, 0xff);
    const key = fc.oneof(
      fc.uint8Array({ minLength: 0, maxLength: 5 }).map((k) => k.map((b) => [0, 1, 0x80, 0xff][b % 4]!)),
      fc.array(byte, { minLength: 35, maxLength: 52 }).map((k) => Uint8Array.from(k)),
      fc.array(byte, { minLength: 0, maxLength: 4 }).map((tail) => Uint8Array.from([1, ...new Array<number>(34).fill(0), ...tail])),
    );
    fc.assert(
      fc.property(fc.array(key, { maxLength: 60 }), (keys) => {
        expectSameOrder(keys);
        expectSameOrder([...keys].reverse());
      }),
      { numRuns: 500 },
    );
  });

  it('equals the stable sort for a store wider than the kept scratch (70,000 children in a scrambled name order)', () => {
    const nameOf = (i: number): number[] => Array.from({ length: 17 }, (_, b) => (b < 4 ? ((i * 2654435761) >>> (8 * b)) & 0xff : b === 8 ? i & 0xff : 0));
    const suffix = new Array<number>(17).fill(0x40);
    const root = new Array<number>(17).fill(0);
    const keys: Uint8Array[] = [Uint8Array.from([1, ...root, ...suffix])];
    for (let i = 0; i < 70_000; i++) keys.push(Uint8Array.from([1, ...root, ...nameOf(i), ...suffix]));
    expectSameOrder(keys);
  }, 60_000);

  it("needs no full sort for the writer's own records: the tree's order, split by record type, is already the sorted order", () => {
    // settle() repairs any wrong candidate by sorting, so the other tests would stay green if the
    // tree walk regressed into that fallback on every frame; this one would not. Namepool records
    // are the exception by design: keyed by little-endian ids and emitted in id order, they are
    // sorted by settle() (only their own keys), so they are left out of the comparison.
    const letters = createTree();
    const digits = createTree();
    for (let i = 0; i < 1000; i++) {
      const word = 'r' + i.toString(26).replace(/[0-9]/g, (d) => 'qrstuvwxyz'[Number(d)]!);
      for (let f = 0; f < 10; f++) {
        const value = f % 2 === 0 ? text(`value ${i}.${f}`) : u64(i * 10 + f);
        letters.set(['b', word, `f${'abcdefghij'[f]}`], value);
        digits.set(['b', `r${i}`, `f${f}`], value); // names with digits go through the name table
      }
    }
    const deep = createTree();
    for (let i = 0; i < 200; i++) deep.set(['b', `a${i % 3}`, `k${i % 7}`, `m${i}`, 'leaf'], text('x'.repeat(i * 9)));
    for (const [label, tree, namepools] of [
      ['letters', letters, 1], // one reference name: val/u64
      ['digits', digits, 1011], // r0…r999, f0…f9, val/u64
      ['deep', deep, 210], // a0…a2, k0…k6, m0…m199
    ] as const) {
      const table = readFrame(encodeBranch(tree.get('/b')!));
      const count = table.types.length;
      const firsts = Array.from({ length: count }, (_, r) => table.frame[table.keyStarts[r]!]!);
      const candidate = treeOrder(table.frame, table.keyStarts, table.bodyStarts, count, firsts);
      expect(candidate, label).toBeDefined();
      // The stable split by first key byte (the record type) that settle() makes before it checks.
      const notNamepool = (r: number): boolean => firsts[r] !== RECORD_TYPE.NAMEPOOL_DELTA;
      const split = [...candidate!].sort((a, b) => firsts[a]! - firsts[b]!).filter(notNamepool);
      expect(split, label).toEqual(leafOrder(recordKeys(table)).filter(notNamepool));
      expect(firsts.filter((f) => f === RECORD_TYPE.NAMEPOOL_DELTA).length, label).toBe(namepools);
      // And the whole order, namepools sorted by settle(), is the plain sort's.
      expect(Array.from(leafOrderByTree(table.frame, table.keyStarts, table.bodyStarts, count)), label).toEqual(leafOrder(recordKeys(table)));
    }
  });

  it('gives real branch frames the root their trailers carry, which the plain sort gives too', () => {
    const trees: Tree[] = [];
    const wide = createTree();
    for (let i = 0; i < 300; i++) for (let f = 0; f < 3; f++) wide.set(['b', `row${i}`, `field${f}`], f === 1 ? u64(i) : text(`v${i}.${f}`));
    trees.push(wide);
    const deep = createTree();
    for (let i = 0; i < 40; i++) deep.set(['b', 'a', `k${i % 7}`, `m${i}`, 'leaf'], text('x'.repeat(i * 90)));
    // A child named like its parent's store type: the one place the tree's guess can be wrong.
    const clash = createTree();
    for (let i = 0; i < 30; i++) clash.set(['b', i % 2 === 0 ? 'dictionary' : `n${i}`, `x${i}`], u64(i));
    clash.set(['b', 'dictionary', 'dictionary'], text('same name'));
    trees.push(deep, clash);
    for (const tree of trees) {
      const frame = encodeBranch(tree.get('/b')!);
      const table = readFrame(frame);
      const count = table.types.length;
      expect(count).toBeGreaterThan(16);
      const expected = leafOrder(recordKeys(table));
      expect(Array.from(leafOrderByTree(table.frame, table.keyStarts, table.bodyStarts, count))).toEqual(expected);
      expect([...merkleOfRanges(table.frame, table.starts, table.ends, expected)]).toEqual([...table.trailer.root]);
      expect(decodeBranch(frame).cellCount).toBe(table.types.filter((t) => t === RECORD_TYPE.CELL_DESC).length);
    }
  });
});
