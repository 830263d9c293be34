/**
 * rangesEqual (and compareRangesSkipping, for order) reads eight bytes at a time as a float64, whose equality is not bit equality for
 * +0 / −0 and for NaNs: it must still answer exactly what a byte-by-byte comparison answers,
 * on bytes made of the patterns that form zeros, negative zeros, infinities and NaNs.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compareRangesSkipping, rangesEqual } from '../src/bytes.ts';

function byteEqual(a: Uint8Array, aStart: number, aEnd: number, b: Uint8Array, bStart: number, bEnd: number): boolean {
  if (aEnd - aStart !== bEnd - bStart) return false;
  for (let i = 0; i < aEnd - aStart; i++) if (a[aStart + i] !== b[bStart + i]) return false;
  return true;
}

/** Little-endian float64 patterns: ±0, ±infinity, NaNs of several payloads, and ordinary values. */
const WORDS = [
  [0, 0, 0, 0, 0, 0, 0, 0],
  [0, 0, 0, 0, 0, 0, 0, 0x80],
  [0, 0, 0, 0, 0, 0, 0xf0, 0x7f],
  [0, 0, 0, 0, 0, 0, 0xf0, 0xff],
  [1, 0, 0, 0, 0, 0, 0xf0, 0x7f],
  [0, 0, 0, 0, 0, 0, 0xf8, 0x7f],
  [0, 0, 0, 0, 0, 0, 0xf8, 0xff],
  [9, 0, 0, 0, 0, 0, 0xf8, 0x7f],
  [1, 2, 3, 4, 5, 6, 7, 8],
  [0, 0, 0, 0, 0, 0, 0, 1],
];

describe('rangesEqual', () => {
  it('equals a byte comparison on zeros, negative zeros, infinities and NaNs at every alignment (property)', () => {
    const word = fc.constantFrom(...WORDS);
    const tail = fc.uint8Array({ maxLength: 7 });
    const flip = fc.option(fc.tuple(fc.nat(200), fc.constantFrom(0x01, 0x08, 0x80)), { nil: undefined });
    fc.assert(
      fc.property(fc.array(word, { maxLength: 12 }), tail, fc.nat(7), fc.nat(7), flip, (words, end, offA, offB, change) => {
        const bytes = Uint8Array.from([...words.flat(), ...end]);
        const a = new Uint8Array(offA + bytes.length);
        const b = new Uint8Array(offB + bytes.length + 3);
        a.set(bytes, offA);
        b.set(bytes, offB);
        if (change !== undefined && bytes.length > 0) b[offB + (change[0] % bytes.length)]! ^= change[1];
        const args = [a, offA, offA + bytes.length, b, offB, offB + bytes.length] as const;
        expect(rangesEqual(...args)).toBe(byteEqual(...args));
        // Within one array too (the reader compares keys of one frame), where both sides share a view.
        const one = new Uint8Array(2 * bytes.length + 16);
        one.set(bytes, offA);
        one.set(b.subarray(offB, offB + bytes.length), bytes.length + 8 + offB);
        const same = [one, offA, offA + bytes.length, one, bytes.length + 8 + offB, 2 * bytes.length + 8 + offB] as const;
        expect(rangesEqual(...same)).toBe(byteEqual(...same));
      }),
      { numRuns: 5000, seed: 8 },
    );
  });

  it('tells +0 from −0 and equal NaNs from different NaNs', () => {
    const at = (w: number[]): Uint8Array => Uint8Array.from([...w, ...w]);
    for (const x of WORDS)
      for (const y of WORDS) {
        const a = at(x);
        const b = at(y);
        expect(rangesEqual(a, 0, 16, b, 0, 16), `${x} vs ${y}`).toBe(x.every((v, i) => v === y[i]));
      }
  });
});

/** Byte-wise order, shorter first on a common prefix: the sign of what compareRanges answers. */
function byteOrder(d: Uint8Array, aStart: number, aEnd: number, bStart: number, bEnd: number): number {
  const n = Math.min(aEnd - aStart, bEnd - bStart);
  for (let i = 0; i < n; i++) if (d[aStart + i] !== d[bStart + i]) return Math.sign(d[aStart + i]! - d[bStart + i]!);
  return Math.sign(aEnd - aStart - (bEnd - bStart));
}

describe('compareRangesSkipping', () => {
  it('orders as a byte comparison on zeros, negative zeros, infinities and NaNs, at every alignment and length (property)', () => {
    const word = fc.constantFrom(...WORDS);
    const tail = fc.uint8Array({ maxLength: 7 });
    const flip = fc.option(fc.tuple(fc.nat(200), fc.constantFrom(0x01, 0x08, 0x80)), { nil: undefined });
    fc.assert(
      fc.property(fc.array(word, { maxLength: 12 }), tail, fc.nat(7), fc.nat(7), flip, fc.nat(9), (words, end, offA, offB, change, cut) => {
        const bytes = Uint8Array.from([...words.flat(), ...end]);
        // Both ranges in one array (as keys in a frame), the second maybe changed in one bit and maybe shorter.
        const d = new Uint8Array(offA + offB + 2 * bytes.length + 8);
        const bStart = offA + bytes.length + 8 + offB;
        d.set(bytes, offA);
        d.set(bytes, bStart);
        if (change !== undefined && bytes.length > 0) d[bStart + (change[0] % bytes.length)]! ^= change[1];
        const bEnd = bStart + Math.max(0, bytes.length - (cut > 6 ? 0 : cut));
        const view = new DataView(d.buffer);
        const args = [offA, offA + bytes.length, bStart, bEnd] as const;
        expect(Math.sign(compareRangesSkipping(d, view, ...args))).toBe(byteOrder(d, ...args));
        const swapped = [bStart, bEnd, offA, offA + bytes.length] as const;
        expect(Math.sign(compareRangesSkipping(d, view, ...swapped))).toBe(byteOrder(d, ...swapped));
      }),
      { numRuns: 5000, seed: 9 },
    );
  });

  it('orders +0 and −0, and NaNs of different payloads, by their bytes', () => {
    for (const x of WORDS)
      for (const y of WORDS) {
        const d = Uint8Array.from([...x, ...x, 5, ...y, ...y, 5]);
        const view = new DataView(d.buffer);
        expect(Math.sign(compareRangesSkipping(d, view, 0, 17, 17, 34)), `${x} vs ${y}`).toBe(byteOrder(d, 0, 17, 17, 34));
      }
  });
});
