/**
 * `setChildren`, the bulk write of many value children of one dictionary: it must leave the same
 * tree as the one-by-one `setChild` writes it stands for (digest, stamps, order, history), refuse
 * a bad entry without writing any, be undone with its batch, and tell the events it documents.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isCepError } from '@cep/errors';
import { createTree, digestHex, formatPath, name, text, u64, wordId, type Name, type Tree, type TreeChange, type Value } from '@cep/cells';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isCepError(error) ? error.code : `not a CepError: ${String(error)}`;
  }
  return undefined;
}

/** Every cell below `cell` with its stamps, value and history: what "the same tree" means here. */
function stamps(tree: Tree, path: string): unknown[] {
  const out: unknown[] = [];
  const walk = (cell: NonNullable<ReturnType<Tree['find']>>): void => {
    out.push([formatPath(cell.path()), cell.kind, cell.created, cell.modified, cell.subtreeModified, cell.deleted, cell.value, cell.history()]);
    for (const child of cell.children()) walk(child);
  };
  walk(tree.find(path)!);
  return out;
}

function watched(): { tree: Tree; seen: string[] } {
  const tree = createTree();
  const seen: string[] = [];
  tree.subscribe((c: TreeChange) => seen.push(`${c.type} ${formatPath(c.path)}`));
  return { tree, seen };
}

const pool: Name[] = ['0', '1', '7', '42', '99', 'alpha', 'beta', 'A1', 'x y', 'ref/with/slash'].map((t) => name(t));
const valuePool: Value[] = [text(''), text('star 1'), u64(0n), u64(12345678901234n), text('ünï')];

describe('setChildren', () => {
  it('leaves the same tree, stamps, history and events as one setChild per entry, for random writes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(pool.length - 1), fc.nat(valuePool.length - 1)), { maxLength: 12 }),
        fc.array(fc.tuple(fc.nat(pool.length - 1), fc.nat(valuePool.length - 1)), { maxLength: 12 }),
        fc.boolean(),
        (seed, entries, deleteOne) => {
          const one = watched();
          const bulk = watched();
          for (const t of [one.tree, bulk.tree]) {
            t.ensureDictionary('/d/rec');
            for (const [n, v] of seed) t.set(['d', 'rec', pool[n]!], valuePool[v]!);
            if (deleteOne && seed.length > 0) t.delete(['d', 'rec', pool[seed[0]![0]]!]);
            t.setBeat(5);
          }
          one.seen.length = 0;
          bulk.seen.length = 0;
          const names = entries.map(([n]) => pool[n]!);
          const values = entries.map(([, v]) => valuePool[v]!);
          one.tree.batch(() => names.forEach((n, i) => one.tree.setChild(one.tree.get('/d/rec')!, n, values[i]!)));
          bulk.tree.setChildren(bulk.tree.get('/d/rec')!, names, values);
          expect(digestHex(bulk.tree.root)).toBe(digestHex(one.tree.root));
          expect(stamps(bulk.tree, '/d')).toEqual(stamps(one.tree, '/d'));
          expect(bulk.seen).toEqual(one.seen);
          expect(
            bulk.tree
              .get('/d/rec')!
              .children()
              .map((c) => c.name.key),
          ).toEqual(
            one.tree
              .get('/d/rec')!
              .children()
              .map((c) => c.name.key),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps a dictionary sorted whatever order the names come in', () => {
    const tree = createTree();
    const dict = tree.ensureDictionary('/d');
    const inOrder = createTree();
    const sorted = ['b', 'a', '10', '9', 'Z'].map((t) => name(t));
    tree.setChildren(
      dict,
      sorted,
      sorted.map((n) => text(n.tag.text)),
    );
    for (const n of sorted) inOrder.set(['d', n], text(n.tag.text));
    const keys = (t: Tree) =>
      t
        .get('/d')!
        .children()
        .map((c) => c.name.tag.text);
    expect(keys(tree)).toEqual(keys(inOrder));
    expect(keys(tree)).toEqual(['a', 'b', 'Z', '9', '10']);
    // Names that come in order into an empty dictionary: the same order, read back as given.
    const again = createTree();
    const given = keys(tree).map((t) => name(t));
    again.setChildren(
      again.ensureDictionary('/d'),
      given,
      given.map(() => u64(1n)),
    );
    expect(keys(again)).toEqual(keys(tree));
    again.set('/d/0', u64(2n));
    expect(keys(again)).toEqual(['a', 'b', 'Z', '0', '9', '10']);
  });

  it('refuses a bad entry anywhere in the call, writing none of them and telling nothing', () => {
    const { tree, seen } = watched();
    tree.set('/d/rec/old', text('x'));
    tree.ensureDictionary('/d/rec/sub');
    const rec = tree.get('/d/rec')!;
    const before = digestHex(tree.root);
    const beforeStamps = stamps(tree, '/d');
    seen.length = 0;
    const good = [name('a'), name('b')];
    expect(codeOf(() => tree.setChildren(rec, [...good, name(wordId('gl*b'))], [u64(1n), u64(2n), u64(3n)]))).toBe('NAME_GLOB');
    expect(codeOf(() => tree.setChildren(rec, [...good, name('sub')], [u64(1n), u64(2n), u64(3n)]))).toBe('CELL_KIND_MISMATCH');
    expect(codeOf(() => tree.setChildren(rec, [name('old'), ...good, name('sub')], [u64(1n), u64(2n), u64(3n), u64(4n)]))).toBe('CELL_KIND_MISMATCH');
    expect(codeOf(() => tree.setChildren(rec, good, [u64(1n)]))).toBe('VALUE_INVALID');
    expect(rec.size).toBe(2);
    expect(rec.child('a')).toBeUndefined();
    expect(digestHex(tree.root)).toBe(before);
    expect(stamps(tree, '/d')).toEqual(beforeStamps);
    expect(seen).toEqual([]);
  });

  it('refuses what setChild refuses: a parent out of the tree or of the wrong kind', () => {
    const tree = createTree();
    tree.set('/d/v', u64(1n));
    const one = [name('x')];
    const x = [u64(1n)];
    expect(codeOf(() => tree.setChildren(createTree().ensureDictionary('/d'), one, x))).toBe('CELL_NOT_FOUND');
    expect(codeOf(() => tree.setChildren(tree.get('/d/v')!, one, x))).toBe(codeOf(() => tree.setChild(tree.get('/d/v')!, 'x', u64(1n))));
    const rec = tree.ensureDictionary('/d/rec');
    tree.remove('/d/rec');
    expect(codeOf(() => tree.setChildren(rec, one, x))).toBe('CELL_NOT_FOUND');
  });

  it('is undone with the batch it ran in', () => {
    const tree = createTree();
    tree.set('/d/rec/old', text('x'));
    const rec = tree.get('/d/rec')!;
    const before = digestHex(tree.root);
    const beforeStamps = stamps(tree, '/d');
    tree.setBeat(3);
    expect(() =>
      tree.batch(() => {
        tree.setChildren(rec, [name('a'), name('old')], [u64(1n), text('y')]);
        tree.setChildren(tree.ensureDictionary('/d/new'), [name('b')], [u64(2n)]);
        throw new Error('stop');
      }),
    ).toThrow('stop');
    expect(digestHex(tree.root)).toBe(before);
    expect(stamps(tree, '/d')).toEqual(beforeStamps);
    expect(tree.get('/d/new')).toBeUndefined();
    // The dictionary's order cache was not left holding the undone children.
    tree.set('/d/rec/z', u64(1n));
    expect(
      tree
        .get('/d/rec')!
        .children()
        .map((c) => c.name.tag.text),
    ).toEqual(['old', 'z']);
  });

  it('tells each new child, except under a dictionary made in the same batch, whose create covers them', () => {
    const { tree, seen } = watched();
    const rec = tree.ensureDictionary('/d/rec');
    seen.length = 0;
    tree.setChildren(rec, [name('a'), name('b')], [u64(1n), u64(2n)]);
    expect(seen).toEqual(['create /d/rec/a', 'create /d/rec/b']);
    seen.length = 0;
    tree.batch(() => {
      tree.setChildren(rec, [name('c')], [u64(3n)]);
      tree.setChildren(tree.ensureDictionary('/d/new'), [name('x'), name('y')], [u64(1n), u64(2n)]);
    });
    expect(seen).toEqual(['create /d/rec/c', 'create /d/new']);
    expect(
      tree
        .get('/d/new')!
        .children()
        .map((c) => c.name.tag.text),
    ).toEqual(['x', 'y']);
    // A name there already is written as setChild writes it: an update, told.
    seen.length = 0;
    tree.batch(() => tree.setChildren(tree.get('/d/new')!, [name('x'), name('z')], [u64(9n), u64(3n)]));
    expect(seen).toEqual(['update /d/new/x', 'create /d/new/z']);
  });
});
