/**
 * A cell's beats become varints on the wire, so the writer takes only whole numbers from 0 to
 * 2^53. A cell object carrying anything else (a fraction, a negative, past 2^53) is refused with
 * a typed FRAME_BAD_RECORD before a frame is made; @cep/cells never makes such a beat, so the
 * cells here are edited by hand, as a foreign Cell implementation could hand them in.
 */
import { describe, expect, it } from 'vitest';
import { createTree, text } from '@cep/cells';
import { CepError } from '@cep/errors';
import { decodeBranch, encodeBranch } from '@cep/serializer';

/** A small branch whose one child has `field` forced to `beat`. */
function branchWith(field: 'created' | 'modified', beat: number) {
  const tree = createTree();
  tree.set(['b', 'c'], text('value'));
  const child = tree.get('/b/c')! as unknown as Record<'created' | 'modified', number>;
  child[field] = beat;
  return tree.get('/b')!;
}

describe('cell beats on the wire', () => {
  it('a whole beat encodes and reads back', () => {
    const decoded = decodeBranch(encodeBranch(branchWith('modified', 7)));
    expect(decoded.cellCount).toBe(2);
  });

  for (const field of ['created', 'modified'] as const) {
    for (const beat of [1.5, -1, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY]) {
      it(`a ${field} beat of ${beat} is refused with FRAME_BAD_RECORD`, () => {
        let caught: unknown;
        try {
          encodeBranch(branchWith(field, beat));
        } catch (error) {
          caught = error;
        }
        expect(caught).toBeInstanceOf(CepError);
        expect((caught as CepError).code).toBe('FRAME_BAD_RECORD');
      });
    }
  }
});
