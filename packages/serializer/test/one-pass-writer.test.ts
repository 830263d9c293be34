/**
 * The one-pass paths of the encoder: records written at sizes known up front
 * (FrameWriter.beginSized) give exactly the bytes the field-by-field paths give.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ByteWriter, putVarint, varintLength } from '../src/bytes.ts';
import { FrameWriter } from '../src/frame-writer.ts';

describe('one-pass writer paths', () => {
  it('putVarint writes what ByteWriter.varint writes, and returns its end', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 2 ** 31 }), fc.maxSafeNat()), (value) => {
        const expected = new ByteWriter(16);
        expected.varint(value);
        const out = new Uint8Array(16);
        const end = putVarint(out, 3, value);
        expect(end - 3).toBe(varintLength(value));
        expect(out.subarray(3, end)).toEqual(expected.result());
      }),
    );
  });

  it('a record begun with its sizes known is the record add() writes, whatever the lengths', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ type: fc.integer({ min: 1, max: 8 }), key: fc.uint8Array({ maxLength: 200 }), body: fc.uint8Array({ maxLength: 300 }) }), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.constantFrom<0 | 1>(0, 1),
        (records, checksum) => {
          const added = new FrameWriter(checksum);
          const sized = new FrameWriter(checksum);
          try {
            for (const r of records) added.add({ type: r.type, version: 1, flags: 0, key: r.key, body: r.body });
            const expected = added.finish();
            for (const r of records) {
              let at = sized.beginSized(r.type, r.key.length, r.body.length);
              const b = sized.output.buffered;
              b.set(r.key, at);
              at += r.key.length;
              b.set(r.body, at);
              sized.endSized();
            }
            expect(sized.finish()).toEqual(expected);
          } finally {
            added.dispose();
            sized.dispose();
          }
        },
      ),
    );
  });
});
