import { describe, expect, it } from 'vitest';
import { isCepError } from '@cep/errors';
import { createTree, digestHex, text, u64, type TreeChange } from '@cep/cells';

function built(beat: number) {
  const scratch = createTree({ beat });
  scratch.set('/data/copy/a/x', text('one'));
  scratch.set('/data/copy/a/x', text('two'));
  scratch.ensureList('/data/copy/list');
  scratch.append('/data/copy/list', u64(5n));
  return scratch;
}

describe('adopt', () => {
  it('moves a branch from another tree in one step, stamped with the beat of adoption and without history', () => {
    const scratch = built(3);
    const expected = digestHex(scratch.get('/data/copy')!);
    const tree = createTree({ beat: 9 });
    tree.set('/data/other', text('stays'));
    const changes: TreeChange[] = [];
    tree.subscribe((c) => changes.push(c));
    const cell = tree.adopt(scratch, '/data/copy');
    expect(digestHex(tree.get('/data/copy')!)).toBe(expected);
    expect(scratch.get('/data/copy')).toBeUndefined();
    expect(tree.get('/data/copy/a/x')!.created).toBe(9);
    expect(tree.get('/data/copy/a/x')!.history()).toEqual([]);
    expect(tree.get('/data')!.subtreeModified).toBe(9);
    expect(cell.parent).toBe(tree.get('/data'));
    expect(
      tree
        .get('/data')!
        .children()
        .map((c) => c.name.tag.text),
    ).toEqual(['copy', 'other']);
    expect(changes.map((c) => [c.type, c.path.map((n) => n.tag.text).join('/')])).toEqual([['create', 'data/copy']]);
  });

  it('a cell written in a batch of its first tree is still restored by a failing batch of the tree that adopted it', () => {
    const scratch = createTree({ beat: 1 });
    scratch.batch(() => scratch.set('/data/copy/x', text('one')));
    const tree = createTree({ beat: 2 });
    tree.adopt(scratch, '/data/copy');
    expect(() =>
      tree.batch(() => {
        tree.set('/data/copy/x', text('changed'));
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(tree.getValue('/data/copy/x')).toEqual(text('one'));
  });

  it('is undone by a failing batch and refuses an occupied path or a missing cell', () => {
    const tree = createTree({ beat: 4 });
    const before = digestHex(tree.root);
    expect(() =>
      tree.batch(() => {
        tree.adopt(built(1), '/data/copy');
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(digestHex(tree.root)).toBe(before);
    tree.set('/data/copy', text('taken'));
    for (const attempt of [() => tree.adopt(built(1), '/data/copy'), () => tree.adopt(built(1), '/data/none')]) {
      let code: string | undefined;
      try {
        attempt();
      } catch (error) {
        code = isCepError(error) ? error.code : 'other';
      }
      expect(['CELL_EXISTS', 'CELL_NOT_FOUND']).toContain(code);
    }
    expect(tree.getValue('/data/copy')).toEqual(text('taken'));
  });
});
