import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  acronymId,
  applyImages,
  bool,
  bytes,
  createTree,
  i64,
  name,
  numericId,
  raw,
  referenceId,
  text,
  trackChanges,
  u64,
  wordId,
  type Value,
} from '@cep/cells';
import { crc32c } from '../src/checksum.ts';
import { decodeEntry, encodeEntry } from '../src/journal.ts';
import { decodeSnapshot, encodeSnapshot } from '../src/snapshot.ts';
import { fullState } from './fixtures/workload.ts';

const valueArb: fc.Arbitrary<Value> = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 60 }).map(text),
  fc.string({ minLength: 16_000, maxLength: 20_000 }).map(text),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map(u64),
  fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }).map(i64),
  fc.boolean().map(bool),
  fc.uint8Array({ maxLength: 300 }).map(bytes),
  fc.uint8Array({ maxLength: 40 }).map((data) => raw(name(wordId('blob'), acronymId('APP')), data)),
);

describe('entry and snapshot codecs', () => {
  it('checksums with standard CRC32C, which notices leading zeros', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(Uint8Array.of(0, 0, 1))).not.toBe(crc32c(Uint8Array.of(0, 1)));
  });

  it('every value type and every kind of name survives an entry and a snapshot', () => {
    fc.assert(
      fc.property(fc.array(valueArb, { minLength: 1, maxLength: 8 }), (values) => {
        const tree = createTree();
        const tracker = trackChanges(tree);
        const names = [
          name('plain'),
          name(acronymId('ACR')),
          name(referenceId('a reference/with slash ü')),
          name(numericId(123456789n)),
          name(wordId('other'), acronymId('APP')),
          name(acronymId('APP')),
        ];
        values.forEach((value, i) => tree.set(['v', names[i % names.length]!, String(i + 1)], value));
        tree.link('/v/link', ['v', names[0]!]);
        const entry = decodeEntry(encodeEntry(3, tracker.take(), [{ beat: 3, kind: 'frame', stream: 'peer ü', seq: 2 ** 40, data: Uint8Array.of(0, 255) }]));
        const fromEntry = createTree();
        applyImages(fromEntry, entry.edits);
        expect(fullState(fromEntry)).toBe(fullState(tree));
        expect(entry.inputs).toEqual([{ beat: 3, kind: 'frame', stream: 'peer ü', seq: 2 ** 40, data: Uint8Array.of(0, 255) }]);
        const snapshot = decodeSnapshot(encodeSnapshot(tree, 3));
        expect(fullState(snapshot.tree)).toBe(fullState(tree));
        expect(snapshot.beat).toBe(3);
      }),
      { numRuns: 40 },
    );
  });

  it('a single flipped bit anywhere in an entry is refused with STORE_CORRUPT', () => {
    const tree = createTree();
    const tracker = trackChanges(tree);
    tree.set('/a/b', text('hello'));
    const bytesOf = encodeEntry(0, tracker.take(), []);
    for (let bit = 0; bit < bytesOf.length * 8; bit++) {
      const damaged = bytesOf.slice();
      damaged[bit >> 3]! ^= 1 << (bit & 7);
      expect(() => decodeEntry(damaged)).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }));
    }
  });
});
