/**
 * The JS BLAKE3 fast path (inputs of one chunk, keyed and unkeyed) against @noble/hashes, the
 * portable reference: every length around the block and chunk boundaries, random data and keys.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js';
import { blake3, blake3Into, blake3Keyed, blake3Portable } from '../src/hash.ts';

describe('BLAKE3 fast paths agree with @noble/hashes', () => {
  it('unkeyed, every length 0..1100 (JS up to 192 bytes, WASM above)', () => {
    const data = new Uint8Array(1100).map((_, i) => (i * 131 + 7) & 0xff);
    for (let n = 0; n <= 1100; n++) {
      const slice = data.subarray(0, n);
      expect(Buffer.from(blake3(slice)).toString('hex'), `length ${n}`).toBe(Buffer.from(blake3Portable(slice)).toString('hex'));
    }
  });

  it('ranges of a large array (Merkle leaves read words through a view), every offset alignment', () => {
    const frame = new Uint8Array(4096).map((_, i) => (i * 197 + 3) & 0xff);
    const out = new Uint8Array(32);
    for (let start = 0; start < 8; start++) {
      for (const length of [0, 1, 63, 64, 65, 128, 150, 191, 192]) {
        blake3Into(frame, start, start + length, out, 0);
        expect(Buffer.from(out).toString('hex'), `${start}+${length}`).toBe(Buffer.from(blake3Portable(frame.subarray(start, start + length))).toString('hex'));
      }
    }
  });

  it('keyed, random keys, data of one chunk or more, outputs of 1..32 bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 1100 }), fc.integer({ min: 1, max: 32 }), (key, data, outLen) => {
        expect(Buffer.from(blake3Keyed(key, data, outLen)).toString('hex')).toBe(Buffer.from(nobleBlake3(data, { key, dkLen: outLen })).toString('hex'));
      }),
      { numRuns: 2000 },
    );
  });
});
