/**
 * The branch and frame writers are reused from one frame to the next (BranchWriter.take,
 * FrameWriter.take), with their name tables kept as slot indexes (slot-index.ts). A frame's
 * bytes must not depend on what was encoded before it: not on an earlier frame's reference
 * names, nor on a frame that failed halfway, nor on a frame encoded inside another's walk.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bytes, createTree, name, referenceId, text, type Cell } from '@cep/cells';
import { decodeBranch, encodeBranch } from '@cep/serializer';
import { SlotIndex } from '../src/slot-index.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** floor.ts's 2-cell frame: one 64-byte value (its data type is a reference name). */
function small(): Cell {
  const tree = createTree();
  tree.set('/b/v', bytes(Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff)));
  return tree.get('/b')!;
}

/** A branch with `n` reference names as child names (past the slot index's linear search from 9 on). */
function referenceNames(n: number): Cell {
  const tree = createTree();
  for (let i = 0; i < n; i++) tree.set(['r', name(referenceId(`kid ${i}`))], text(`value ${i}`));
  tree.set(['r', 'raw'], bytes(new Uint8Array([1, 2, 3])));
  return tree.get('/r')!;
}

/** A branch whose child has a beat no varint takes: its encode throws halfway through the walk. */
function failing(): Cell {
  const tree = createTree();
  tree.set(['f', name(referenceId('first'))], text('x'));
  tree.set(['f', 'z'], text('y'));
  (tree.get('/f/z') as unknown as { modified: number }).modified = 1.5;
  return tree.get('/f')!;
}

describe('writers reused across frames', () => {
  it('a frame is the same bytes whatever was encoded before it', () => {
    const policy = { crc32c: true };
    const first = hex(encodeBranch(small(), policy));
    const many = hex(encodeBranch(referenceNames(20), policy));
    const few = hex(encodeBranch(referenceNames(3), policy));
    expect(() => encodeBranch(failing(), policy)).toThrow(expect.objectContaining({ code: 'FRAME_BAD_RECORD' }));
    expect(hex(encodeBranch(small(), policy))).toBe(first);
    expect(hex(encodeBranch(referenceNames(3), policy))).toBe(few);
    expect(() => encodeBranch(failing(), policy)).toThrow(expect.objectContaining({ code: 'FRAME_BAD_RECORD' }));
    expect(hex(encodeBranch(referenceNames(20), policy))).toBe(many);
    expect(hex(encodeBranch(small(), policy))).toBe(first);
    // And each reads back.
    expect(decodeBranch(encodeBranch(referenceNames(20), policy), policy).cellCount).toBe(22);
  });

  it("a frame encoded inside another frame's walk leaves both frames as they are alone", () => {
    const policy = { crc32c: true };
    const outer = referenceNames(12);
    const inner = small();
    const alone = hex(encodeBranch(outer, policy));
    const innerAlone = hex(encodeBranch(inner, policy));
    let nested = '';
    // The outer branch's root, whose children() encodes another branch first (as a foreign Cell could).
    const hooked = new Proxy(outer, {
      get(target, key, receiver) {
        if (key === 'children')
          return () => {
            nested = hex(encodeBranch(inner, policy));
            return target.children();
          };
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    expect(hex(encodeBranch(hooked, policy))).toBe(alone);
    expect(nested).toBe(innerAlone);
    expect(hex(encodeBranch(outer, policy))).toBe(alone);
  });
});

describe('the slot index', () => {
  it('gives the slots a map of first appearances gives, across clears (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 60 }), { minLength: 1, maxLength: 4 }), (rounds) => {
        const index = new SlotIndex();
        for (const keys of rounds) {
          index.clear();
          const model = new Map<string, number>();
          for (const k of keys) {
            const key = `key ${k}`;
            expect(index.get(key)).toBe(model.get(key) ?? -1);
            if (!model.has(key)) {
              model.set(key, model.size);
              expect(index.add(key)).toBe(model.get(key));
            }
          }
          expect(index.size).toBe(model.size);
          for (const [key, slot] of model) {
            expect(index.keyAt(slot)).toBe(key);
            expect(index.get(key)).toBe(slot);
          }
          expect(index.get('absent')).toBe(-1);
        }
      }),
      { numRuns: 300 },
    );
  });
});
