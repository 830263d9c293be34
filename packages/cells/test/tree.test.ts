import { describe, expect, it } from 'vitest';
import { isCepError } from '@cep/errors';
import { beatValue, bool, createTree, digestHex, formatPath, name, text, u64, type Tree, type TreeChange, type Value } from '@cep/cells';

describe('cell tree', () => {
  it('creates missing parents as dictionaries and reads values back', () => {
    const tree = createTree();
    tree.set('/net/mounts/saturn/invoke/main/caps/required/crc32c', bool(true));
    const caps = tree.get('/net/mounts/saturn/invoke/main/caps/required');
    expect(caps?.kind).toBe('dictionary');
    expect(tree.getValue('/net/mounts/saturn/invoke/main/caps/required/crc32c')).toEqual(bool(true));
    expect(formatPath(caps!.path())).toBe('/net/mounts/saturn/invoke/main/caps/required');
  });

  it('keeps dictionary children sorted by name whatever the insertion order', () => {
    const tree = createTree();
    for (const n of ['zeta', 'alpha', 'ABC', '42', 'long/name/ref', 'a_b', 'a', 'ab', 'b']) tree.set(['d', n], text(n));
    const order = tree
      .get('/d')!
      .children()
      .map((c) => c.name.tag.text);
    // words by the 5-bit alphabet, then acronyms, references, numerics (the reference's order)
    expect(order).toEqual(['a', 'ab', 'alpha', 'a_b', 'b', 'zeta', 'ABC', 'long/name/ref', '42']);
  });

  it('keeps list children in insertion order and supports insert and move', () => {
    const tree = createTree();
    tree.ensureList('/l');
    tree.append('/l', text('x'));
    tree.append('/l', text('y'));
    tree.insert('/l', 0, text('w'));
    tree.move('/l', 2, 0);
    expect(
      tree
        .get('/l')!
        .children()
        .map((c) => (c.value as { value: string }).value),
    ).toEqual(['y', 'w', 'x']);
    expect(
      tree
        .get('/l')!
        .children()
        .map((c) => c.name.tag.text),
    ).toEqual(['2', '3', '1']);
  });

  it('stamps writes with the beat, keeps history, and soft-deletes', () => {
    const tree = createTree();
    tree.setBeat(1);
    tree.set('/a/v', u64(1));
    tree.setBeat(3);
    tree.set('/a/v', u64(2));
    tree.setBeat(5);
    expect(tree.delete('/a')).toBe(true);
    expect(tree.get('/a/v')).toBeUndefined();
    const cell = tree.find('/a/v')!;
    expect(cell.isDeleted).toBe(true);
    expect(cell.deleted).toBe(5);
    expect(cell.valueAt(0)).toBeUndefined();
    expect(cell.valueAt(1)).toEqual(u64(1));
    expect(cell.valueAt(4)).toEqual(u64(2));
    expect(cell.valueAt(5)).toBeUndefined();
    tree.setBeat(6);
    tree.set('/a/v', u64(7));
    expect(tree.get('/a/v')!.value).toEqual(u64(7));
    expect(tree.find('/a/v')!.valueAt(5)).toBeUndefined();
  });

  it('a batch that throws leaves the tree exactly as it was', () => {
    const tree = createTree();
    tree.set('/x/a', text('1'));
    const before = digestHex(tree.root);
    const changes: string[] = [];
    tree.subscribe((c) => changes.push(c.type));
    expect(() =>
      tree.batch(() => {
        tree.set('/x/a', text('2'));
        tree.set('/x/b/c', text('3'));
        tree.delete('/x/a');
        tree.set('/x/b', text('boom')); // kind mismatch: b is a dictionary
      }),
    ).toThrow();
    expect(digestHex(tree.root)).toBe(before);
    expect(tree.get('/x/b')).toBeUndefined();
    expect(tree.getValue('/x/a')).toEqual(text('1'));
    expect(changes).toEqual([]);
  });

  it('refuses to write a value through a value cell, changing nothing', () => {
    const tree = createTree();
    tree.set('/v', text('leaf'));
    const before = digestHex(tree.root);
    let error: unknown;
    try {
      tree.set('/v/child', text('x'));
    } catch (e) {
      error = e;
    }
    expect(isCepError(error, 'CELL_KIND_MISMATCH')).toBe(true);
    expect(digestHex(tree.root)).toBe(before);
  });

  it('writes through existing, missing and soft-deleted ancestors; refuses a leaf of another kind or the root', () => {
    const tree = createTree();
    tree.set('/r/a/x', text('1'));
    tree.set('/r/a/x', text('2')); // every ancestor there: the one-walk path
    expect(tree.getValue('/r/a/x')).toEqual(text('2'));
    tree.set('/r/b/c/y', u64(3)); // ancestors created on the way
    expect(tree.getValue('/r/b/c/y')).toEqual(u64(3));
    tree.setBeat(1);
    tree.delete('/r/a');
    expect(tree.get('/r/a/x')).toBeUndefined();
    tree.set('/r/a/z', text('back')); // a soft-deleted ancestor is revived
    expect(tree.get('/r/a')?.isDeleted).toBe(false);
    expect(tree.getValue('/r/a/z')).toEqual(text('back'));
    const before = digestHex(tree.root);
    const refused = (write: () => unknown, code: string) => {
      let error: unknown;
      try {
        write();
      } catch (e) {
        error = e;
      }
      expect(isCepError(error, code)).toBe(true);
      expect(digestHex(tree.root)).toBe(before);
    };
    refused(() => tree.set('/r/b', text('over a dictionary')), 'CELL_KIND_MISMATCH');
    refused(() => tree.ensureDictionary('/r/a/z'), 'CELL_KIND_MISMATCH');
    refused(() => tree.ensureList('/r/b/c'), 'CELL_KIND_MISMATCH');
    refused(() => tree.set('/r/a/z/deeper', text('x')), 'CELL_KIND_MISMATCH');
    refused(() => tree.set([], text('x')), 'CELL_IS_ROOT');
  });

  it('follows links when reading and refuses cycles', () => {
    const tree = createTree();
    tree.set('/data/target/x', text('hi'));
    tree.link('/alias', '/data/target');
    expect(tree.getValue('/alias/x')).toEqual(text('hi'));
    tree.link('/l1', '/l2');
    expect(() => tree.link('/l2', '/l1')).toThrow(/hops/);
    expect(tree.find('/l2')).toBeUndefined();
  });

  it('two trees share nothing', () => {
    const a = createTree();
    const b = createTree();
    a.set('/only/in/a', text('x'));
    expect(b.get('/only')).toBeUndefined();
    expect(name('only')).toBe(name('only'));
  });

  it('a value equal to the current one is not a write', () => {
    const tree = createTree();
    tree.set('/v', text('same'));
    tree.setBeat(4);
    const cell = tree.set('/v', text('same'));
    expect(cell.modified).toBe(0);
    const v: Value = text('same');
    expect(cell.value).toEqual(v);
  });
});

describe('change notifications', () => {
  it('tells where a removed cell was', () => {
    const tree = createTree();
    tree.set('/req/r1/field', text('x'));
    const seen: string[] = [];
    tree.subscribe((c) => seen.push(`${c.type} ${formatPath([...c.path])} parent=${c.parent ? formatPath(c.parent.path()) : '-'}`));
    tree.remove('/req/r1/field');
    tree.set('/req/r2', text('y'));
    expect(seen).toEqual(['remove /req/r1/field parent=/req/r1', 'create /req/r2 parent=/req']);
  });

  it('a listener that does not read paths ({ path: false }) sees the same changes; read in the listener, the path is the same', () => {
    const run = (options: { path: boolean }): string[] => {
      const tree = createTree();
      tree.set('/req/r1/field', text('x'));
      const seen: string[] = [];
      tree.subscribe(
        (c) => seen.push(`${c.type} ${c.cell.name.tag.text} ${formatPath(c.path)} parent=${c.parent ? formatPath(c.parent.path()) : '-'}`),
        options,
      );
      tree.batch(() => {
        tree.set('/req/r2/a', text('y'));
        tree.set('/req/r1/field', text('z'));
      });
      tree.delete('/req/r2');
      tree.remove('/req/r1/field');
      tree.append(tree.ensureList('/req/list').path(), 'dictionary');
      return seen;
    };
    const eager = run({ path: true });
    expect(eager).toContain('remove field /req/r1/field parent=/req/r1');
    expect(run({ path: false })).toEqual(eager);
  });

  it('a listener that reads paths gets each change where it happened, also beside one that does not', () => {
    const tree = createTree();
    const pathless: TreeChange[] = [];
    const withPath: TreeChange[] = [];
    tree.subscribe((c) => pathless.push(c), { path: false });
    tree.subscribe((c) => withPath.push(c));
    // The cell is made, then its parent removed, in one batch: the listeners hear both afterwards.
    tree.batch(() => {
      tree.set('/req/r1/field', text('x'));
      tree.remove('/req/r1');
    });
    expect(withPath.map((c) => `${c.type} ${formatPath(c.path)}`)).toEqual(['create /req', 'create /req/r1', 'create /req/r1/field', 'remove /req/r1']);
    expect(pathless.map((c) => c.type)).toEqual(['create', 'create', 'create', 'remove']);
  });

  it('subscribing the same listener twice is one subscription; unsubscribing ends it', () => {
    const tree = createTree();
    const seen: string[] = [];
    const listener = (c: TreeChange): void => void seen.push(c.type);
    tree.subscribe(listener);
    const stop = tree.subscribe(listener, { path: false });
    tree.set('/a', text('x'));
    stop();
    tree.set('/b', text('y'));
    expect(seen).toEqual(['create']);
  });
});

/** The error code `fn` throws (a non-CepError says so), or undefined when it does not throw. */
const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error) {
    return isCepError(error) ? error.code : 'not a CepError';
  }
  return undefined;
};

/** Two empty trees, each with the log of its change events (`type path`), to compare two ways of writing. */
function twoWatchedTrees(): { a: Tree; b: Tree; seenA: string[]; seenB: string[] } {
  const a = createTree();
  const b = createTree();
  const seenA: string[] = [];
  const seenB: string[] = [];
  a.subscribe((c) => seenA.push(`${c.type} ${formatPath(c.path)}`));
  b.subscribe((c) => seenB.push(`${c.type} ${formatPath(c.path)}`));
  return { a, b, seenA, seenB };
}

describe('setChild', () => {
  it('writes as set() on the full path would: values, stamps, history, events', () => {
    const { a, b, seenA, seenB } = twoWatchedTrees();
    a.set('/req/r1/state', text('plan'));
    b.set('/req/r1/state', text('plan'));
    for (const [beat, field, value] of [
      [2, 'state', text('sent')],
      [2, 'peer', text('saturn')],
      [3, 'state', text('ok')],
      [3, 'peer', text('saturn')],
      [4, 'done_beat', u64(4)],
    ] as const) {
      a.setBeat(beat);
      b.setBeat(beat);
      a.set(['req', 'r1', field], value);
      b.setChild(b.get('/req/r1')!, field, value);
    }
    expect(digestHex(b.root)).toBe(digestHex(a.root));
    expect(seenB).toEqual(seenA);
    expect(b.get('/req/r1/state')!.history()).toEqual(a.get('/req/r1/state')!.history());
    expect(b.get('/req')!.subtreeModified).toBe(4);
  });

  it('revives soft-deleted parents as set() does', () => {
    const tree = createTree();
    tree.set('/req/r1/state', text('plan'));
    const record = tree.get('/req/r1')!;
    tree.delete('/req');
    tree.setChild(record, 'state', text('sent'));
    expect(tree.get('/req/r1')?.isDeleted).toBe(false);
    expect(tree.getValue('/req/r1/state')).toEqual(text('sent'));
  });

  it('refuses a parent that is not in this tree, and a parent or child of the wrong kind, changing nothing', () => {
    const tree = createTree();
    tree.set('/req/r1/state', text('plan'));
    tree.ensureDictionary('/req/r1/sub');
    const record = tree.get('/req/r1')!;
    const before = digestHex(tree.root);
    expect(codeOf(() => tree.setChild(createTree().root, 'x', text('x')))).toBe('CELL_NOT_FOUND');
    expect(codeOf(() => tree.setChild(tree.get('/req/r1/state')!, 'x', text('x')))).toBe('CELL_KIND_MISMATCH');
    expect(codeOf(() => tree.setChild(record, 'sub', text('x')))).toBe('CELL_KIND_MISMATCH');
    expect(digestHex(tree.root)).toBe(before);
    tree.remove('/req/r1');
    expect(codeOf(() => tree.setChild(record, 'state', text('x')))).toBe('CELL_NOT_FOUND');
    expect(tree.get('/req/r1')).toBeUndefined();
  });

  it('is undone with the batch it ran in', () => {
    const tree = createTree();
    tree.set('/req/r1/state', text('plan'));
    const record = tree.get('/req/r1')!;
    const before = digestHex(tree.root);
    expect(() =>
      tree.batch(() => {
        tree.setChild(record, 'state', text('sent'));
        tree.setChild(record, 'peer', text('saturn'));
        throw new Error('stop');
      }),
    ).toThrow('stop');
    expect(digestHex(tree.root)).toBe(before);
    expect(tree.get('/req/r1/peer')).toBeUndefined();
  });
});

describe('batch undo of cells made inside the batch', () => {
  it('a failed batch that creates a branch, then writes, revives and removes inside it, leaves no trace', () => {
    const tree = createTree();
    tree.set('/a/keep', u64(1));
    tree.setBeat(3);
    const before = digestHex(tree.root);
    const seen: string[] = [];
    tree.subscribe((c) => seen.push(c.type));
    expect(() =>
      tree.batch(() => {
        const rec = tree.ensureDictionary('/a/new/rec');
        tree.setChild(rec, 'x', u64(1));
        tree.setChild(rec, 'x', u64(2));
        tree.delete('/a/new/rec/x');
        tree.setChild(rec, 'x', u64(3));
        tree.append(tree.ensureList('/a/new/list').path(), 'dictionary');
        tree.set('/a/keep', u64(9));
        throw new Error('stop');
      }),
    ).toThrow('stop');
    expect(digestHex(tree.root)).toBe(before);
    expect(tree.find('/a/new')).toBeUndefined();
    expect(tree.get('/a')!.subtreeModified).toBe(0);
    expect(seen).toEqual([]);
    // Made again after the undo, the branch is fresh: no history from the undone batch.
    tree.set('/a/new/rec/x', u64(4));
    expect(tree.get('/a/new/rec/x')!.history()).toEqual([]);
  });
});

describe('batch undo of existing cells (saved states, no copies)', () => {
  it('a failed batch restores history, values and a list with an item inserted in its middle; history() read before stays as read', () => {
    const tree = createTree({ historyDepth: 3 });
    for (let beat = 1; beat <= 4; beat++) {
      tree.setBeat(beat);
      tree.set('/a/v', u64(beat));
    }
    tree.ensureList('/a/list');
    tree.append('/a/list', text('first'));
    tree.append('/a/list', text('last'));
    const handedOut = tree.get('/a/v')!.history();
    const asRead = handedOut.map((entry) => ({ ...entry }));
    const before = digestHex(tree.root);
    tree.setBeat(5);
    expect(() =>
      tree.batch(() => {
        tree.set('/a/v', u64(50));
        tree.insert('/a/list', 1, text('middle'));
        tree.delete('/a/v');
        throw new Error('stop');
      }),
    ).toThrow('stop');
    expect(digestHex(tree.root)).toBe(before);
    expect(tree.get('/a/v')!.history()).toEqual(asRead);
    expect(
      tree
        .get('/a/list')!
        .children()
        .map((c) => c.value),
    ).toEqual([text('first'), text('last')]);
    // A later write adds a state in front (the depth still bounds it) and leaves what was handed out as it was.
    tree.set('/a/v', u64(6));
    expect(handedOut).toEqual(asRead);
    expect(
      tree
        .get('/a/v')!
        .history()
        .map((entry) => entry.value),
    ).toEqual([u64(4), u64(3), u64(2)]);
  });
});

describe('ensureChild', () => {
  it('makes or finds a store as ensureDictionary / ensureList of the full path would: stamps, revival, events', () => {
    const { a, b, seenA, seenB } = twoWatchedTrees();
    a.ensureDictionary('/op/7');
    b.ensureDictionary('/op/7');
    for (const [beat, child, kind] of [
      [1, 'history', 'list'],
      [2, 'close', 'dictionary'],
      [2, 'history', 'list'],
    ] as const) {
      a.setBeat(beat);
      b.setBeat(beat);
      const made = kind === 'list' ? a.ensureList(`/op/7/${child}`) : a.ensureDictionary(`/op/7/${child}`);
      const ours = b.ensureChild(b.get('/op/7')!, child, kind);
      expect(formatPath(ours.path())).toBe(formatPath(made.path()));
    }
    a.setBeat(3);
    b.setBeat(3);
    a.delete('/op/7/close');
    b.delete('/op/7/close');
    a.ensureDictionary('/op/7/close');
    expect(b.ensureChild(b.get('/op/7')!, name('close'), 'dictionary').isDeleted).toBe(false);
    expect(digestHex(b.root)).toBe(digestHex(a.root));
    expect(seenB).toEqual(seenA);
  });

  it('refuses what ensureDictionary refuses, changing nothing: another tree, a value parent, a child of another kind', () => {
    const tree = createTree();
    const op = tree.ensureDictionary('/op/7');
    tree.set('/op/7/state', text('plan'));
    tree.ensureList('/op/7/history');
    const before = digestHex(tree.root);
    expect(codeOf(() => tree.ensureChild(createTree().ensureDictionary('/x'), 'y', 'dictionary'))).toBe('CELL_NOT_FOUND');
    expect(codeOf(() => tree.ensureChild(tree.get('/op/7/state')!, 'y', 'dictionary'))).toBe(codeOf(() => tree.ensureDictionary('/op/7/state/y')));
    expect(codeOf(() => tree.ensureChild(op, 'history', 'dictionary'))).toBe('CELL_KIND_MISMATCH');
    expect(digestHex(tree.root)).toBe(before);
  });
});

describe('appendChild', () => {
  it('appends as append() on the list path would: names, stamps, events', () => {
    const { a, b, seenA, seenB } = twoWatchedTrees();
    a.ensureList('/op/history');
    b.ensureList('/op/history');
    a.insert('/op/history', 0, text('x'), name('7'));
    b.insert('/op/history', 0, text('x'), name('7'));
    for (const [beat, child] of [
      [2, 'dictionary'],
      [2, text('y')],
      [3, 'list'],
    ] as const) {
      a.setBeat(beat);
      b.setBeat(beat);
      const made = a.append('/op/history', child);
      const ours = b.appendChild(b.get('/op/history')!, child);
      expect(formatPath(ours.path())).toBe(formatPath(made.path()));
    }
    expect(digestHex(b.root)).toBe(digestHex(a.root));
    expect(seenB).toEqual(seenA);
  });

  it('refuses what append() refuses, changing nothing: another tree, a removed or deleted list, not a list', () => {
    const tree = createTree();
    const list = tree.ensureList('/op/history');
    tree.set('/op/state', text('plan'));
    const before = digestHex(tree.root);
    expect(codeOf(() => tree.appendChild(createTree().ensureList('/l'), 'dictionary'))).toBe('CELL_NOT_FOUND');
    expect(codeOf(() => tree.appendChild(tree.get('/op/state')!, 'dictionary'))).toBe(codeOf(() => tree.append('/op/state', 'dictionary')));
    expect(codeOf(() => tree.appendChild(tree.get('/op')!, 'dictionary'))).toBe('CELL_KIND_MISMATCH');
    expect(digestHex(tree.root)).toBe(before);
    tree.delete('/op');
    expect(codeOf(() => tree.appendChild(list, 'dictionary'))).toBe(codeOf(() => tree.append('/op/history', 'dictionary')));
    expect(codeOf(() => tree.appendChild(list, 'dictionary'))).toBe('CELL_NOT_FOUND');
    tree.remove('/op');
    expect(codeOf(() => tree.appendChild(list, 'dictionary'))).toBe('CELL_NOT_FOUND');
  });

  it('is undone with the batch it ran in', () => {
    const tree = createTree();
    const list = tree.ensureList('/op/history');
    const before = digestHex(tree.root);
    expect(() =>
      tree.batch(() => {
        tree.appendChild(list, 'dictionary');
        tree.appendChild(list, text('x'));
        throw new Error('stop');
      }),
    ).toThrow('stop');
    expect(digestHex(tree.root)).toBe(before);
    expect(list.children()).toEqual([]);
    expect(formatPath(tree.appendChild(list, 'dictionary').path())).toBe('/op/history/1');
  });
});

describe('watch', () => {
  it('tells each committed change as its parts, after the subscribers, in order; nothing for an undone batch; stops when told', () => {
    const tree = createTree();
    const heard: string[] = [];
    tree.subscribe((c) => heard.push(`sub ${c.type} ${c.cell.name.tag.text}`), { path: false });
    const stop = tree.watch((type, cell, parent) => heard.push(`watch ${type} ${cell.name.tag.text} under ${parent?.name.tag.text ?? '-'}`));
    tree.batch(() => {
      tree.set('/a/b', text('1'));
      tree.remove('/a/b');
    });
    expect(heard).toEqual(['sub create a', 'watch create a under /', 'sub create b', 'watch create b under a', 'sub remove b', 'watch remove b under a']);
    heard.length = 0;
    expect(() =>
      tree.batch(() => {
        tree.set('/a/c', text('2'));
        throw new Error('stop');
      }),
    ).toThrow('stop');
    expect(heard).toEqual([]);
    stop();
    tree.set('/a/d', text('3'));
    expect(heard).toEqual(['sub create d']);
  });

  it('a watcher may stop itself while it is told; the others still hear that change', () => {
    const tree = createTree();
    const heard: string[] = [];
    const stopFirst = tree.watch(() => {
      heard.push('first');
      stopFirst();
    });
    tree.watch(() => heard.push('second'));
    tree.set('/x', text('1'));
    tree.set('/y', text('2'));
    expect(heard).toEqual(['first', 'second', 'second']);
  });
});

describe('beatValue', () => {
  it('is u64(beat), one frozen object per beat, the last two beats kept', () => {
    const a = beatValue(41);
    expect(a).toEqual(u64(41n));
    expect(Object.isFrozen(a)).toBe(true);
    expect(beatValue(41)).toBe(a);
    // Two runtimes a beat apart in one process alternate without making new objects.
    const b = beatValue(42);
    expect(beatValue(41)).toBe(a);
    expect(beatValue(42)).toBe(b);
    // A third beat pushes the older one out: a new (equal) object for it afterwards.
    beatValue(43);
    expect(beatValue(43)).toBe(beatValue(43));
    expect(beatValue(41)).not.toBe(a);
    expect(beatValue(41)).toEqual(a);
  });

  it('refuses what u64 refuses', () => {
    expect(() => beatValue(-1)).toThrow(expect.objectContaining({ code: 'VALUE_OUT_OF_RANGE' }));
  });
});

describe('discard', () => {
  const build = (tree: Tree): void => {
    tree.set('/r/rec/state', text('ok'));
    tree.set('/r/rec/result', u64(42n));
    tree.setBeat(tree.beat + 1);
    tree.set('/r/rec/result', u64(43n)); // a history entry
    tree.ensureList('/r/rec/log');
    tree.append('/r/rec/log', text('one'));
    tree.set('/r/other', text('kept'));
  };

  it('removes as remove() does; once told, the removed cells keep their names and kinds and let go of the rest', () => {
    const tree = createTree();
    build(tree);
    tree.setBeat(tree.beat + 1);
    const rec = tree.get('/r/rec')!;
    const state = rec.child('state')!;
    const result = rec.child('result')!;
    expect(result.history().length).toBe(1);
    const log = rec.child('log')!;
    const seen: { type: string; value: Value | undefined; children: number }[] = [];
    tree.watch((type, cell) => seen.push({ type, value: cell.child('state')?.value, children: cell.children().length }));
    expect(tree.discard('/r/rec')).toBe(true);
    // Told as a removal, with the branch as it was.
    expect(seen).toEqual([{ type: 'remove', value: text('ok'), children: 3 }]);
    expect(tree.get('/r/rec')).toBeUndefined();
    expect(tree.getValue('/r/other')).toEqual(text('kept'));
    expect(rec.children()).toEqual([]);
    expect(rec.name.tag.text).toBe('rec');
    expect(state.value).toBeUndefined();
    expect(result.value).toBeUndefined();
    expect(result.history()).toEqual([]);
    expect(log.kind).toBe('list');
    expect(log.children()).toEqual([]);
    expect(rec.size).toBe(0);
    expect(rec.child('state')).toBeUndefined();
    // Not in the tree any more: writes through it are refused, as for any removed cell.
    expect(() => tree.setChild(rec, 'state', text('again'))).toThrow(expect.objectContaining({ code: 'CELL_NOT_FOUND' }));
    expect(() => tree.appendChild(log, 'dictionary')).toThrow(expect.objectContaining({ code: 'CELL_NOT_FOUND' }));
    expect(rec.children()).toEqual([]);
    expect(tree.discard('/r/rec')).toBe(false);
  });

  it('in a batch: let go only after the batch committed and told its changes; a failed batch puts the branch back whole', () => {
    const tree = createTree();
    build(tree);
    const digest = digestHex(tree.root);
    expect(() =>
      tree.batch(() => {
        tree.discard('/r/rec');
        throw new Error('no');
      }),
    ).toThrow('no');
    expect(digestHex(tree.root)).toBe(digest);
    expect(tree.getValue('/r/rec/result')).toEqual(u64(43n));

    const rec = tree.get('/r/rec')!;
    let during: Value | undefined;
    let told: Value | undefined;
    tree.watch((type, cell) => {
      if (type === 'remove') told = cell.child('result')?.value;
    });
    tree.batch(() => {
      tree.discard('/r/rec');
      during = rec.child('result')?.value;
    });
    expect(during).toEqual(u64(43n));
    expect(told).toEqual(u64(43n));
    expect(rec.children()).toEqual([]);
    expect(tree.get('/r/rec')).toBeUndefined();
  });

  it('refuses the root, changing nothing', () => {
    const tree = createTree();
    build(tree);
    const digest = digestHex(tree.root);
    expect(() => tree.discard('/')).toThrow(expect.objectContaining({ code: 'CELL_IS_ROOT' }));
    expect(digestHex(tree.root)).toBe(digest);
  });
});
