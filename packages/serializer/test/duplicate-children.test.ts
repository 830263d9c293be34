/**
 * A store whose manifest (and order pages, so they agree) lists one child twice is refused
 * with FRAME_DUPLICATE_RECORD, both for a store of a few children (checked against the earlier
 * ones directly) and for a larger one (checked through a set), with checksums and Merkle root
 * correct so that check is the one that fires.
 */
import { describe, expect, it } from 'vitest';
import { createTree, text, type Cell } from '@cep/cells';
import { decodeBranch, decodeFrame, encodeBranch, RECORD_TYPE, type RawRecord } from '@cep/serializer';
import { buildFrame } from './helpers/build-frame.ts';

function dictionaryOf(count: number): Cell {
  const tree = createTree();
  for (let i = 0; i < count; i++) tree.set(['b', `c${i}`], text(`value ${i}`));
  return tree.get('/b')!;
}

/** `body` with every occurrence of `from` replaced by `to` (same length). */
function replaced(body: Uint8Array, from: Uint8Array, to: Uint8Array): Uint8Array {
  const out = Buffer.from(body);
  let at = out.indexOf(from);
  expect(at).toBeGreaterThanOrEqual(0);
  while (at >= 0) {
    out.set(to, at);
    at = out.indexOf(from, at + from.length);
  }
  return new Uint8Array(out);
}

describe('duplicate children', () => {
  for (const count of [5, 40]) {
    it(`a store of ${count} children listing one twice is refused with FRAME_DUPLICATE_RECORD`, () => {
      const { records, trailer } = decodeFrame(encodeBranch(dictionaryOf(count)));
      const rebuild = (rs: readonly RawRecord[]): Uint8Array => buildFrame(rs, { checksum: trailer.checksum, caps: trailer.caps, beat: Number(trailer.beat) });
      expect(decodeBranch(rebuild(records)).cellCount).toBe(count + 1);
      // The children's wire names, from their cell_desc keys: type, the root's name, the child's, the suffix.
      const wires = records.filter((r) => r.type === RECORD_TYPE.CELL_DESC && r.key.length === 1 + 17 * 3).map((r) => r.key.subarray(18, 35));
      expect(wires.length).toBe(count);
      const [first, second] = [wires[0]!, wires[count - 1]!];
      const changed = records.map((r) =>
        r.type === RECORD_TYPE.MANIFEST_DELTA || r.type === RECORD_TYPE.ORDER_DELTA ? { ...r, body: replaced(r.body, second, first) } : r,
      );
      expect(() => decodeBranch(rebuild(changed))).toThrowError(expect.objectContaining({ code: 'FRAME_DUPLICATE_RECORD' }) as unknown as Error);
    });
  }
});
