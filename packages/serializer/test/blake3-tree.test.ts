/**
 * BLAKE3 of inputs longer than one chunk in the four-lane kernel (`tree` in wasm/blake3x4.wat:
 * chunks four to a compression with their counters, then BLAKE3's parent nodes) against
 * @noble/hashes: every chunk edge up to 70 KiB, every length around the first chunks, random
 * lengths and offsets; the same digests through the public functions with and without the
 * kernel (no SIMD: the other paths); big leaves inside a frame's batch and many-input batches.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js';
import { batchDigests, batchHash, batchLeaves, batchMemoryBytes, batchMerkle, loadBatchKernel, type RangeChecksums } from '../src/blake3-batch.ts';
import { crc32, crc32cRawJs } from '../src/checksum.ts';
import { blake3, blake3Into, blake3Many, merkleOfRanges } from '../src/hash.ts';
import { INVALID_WASM as INVALID, bytesFrom, layout } from './helpers/fixtures.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

afterEach(() => {
  // Every test leaves the real kernel loaded, whatever it did.
  expect(loadBatchKernel()).toBe(true);
});

/** Lengths at and around every chunk edge up to 70 KiB, and around the block edges of the first chunks. */
function edgeLengths(): number[] {
  const lengths = new Set<number>([0, 1, 63, 64, 65]);
  for (let k = 1; k <= 70; k++) for (const d of [-65, -64, -1, 0, 1, 64]) lengths.add(k * 1024 + d);
  // Powers of two chunks and one either side: where BLAKE3's tree changes shape.
  for (const k of [2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65]) for (const d of [-1, 0, 1]) lengths.add(k * 1024 + d);
  // Either side of where blake3Into switches from hash-wasm to the kernel (1536 bytes).
  for (const n of [1535, 1536, 1537]) lengths.add(n);
  return [...lengths].filter((n) => n >= 0).sort((a, b) => a - b);
}

const source = bytesFrom(77, 70 * 1024 + 1200);

function kernelDigest(data: Uint8Array, start: number, end: number): string {
  const out = new Uint8Array(40);
  expect(batchHash(data, start, end, out, 5)).toBe(true);
  return hex(out.subarray(5, 37));
}

describe('the kernel tree equals @noble/hashes', () => {
  it('at every chunk edge up to 70 KiB, and where the tree changes shape', () => {
    for (const n of edgeLengths()) expect(kernelDigest(source, 0, n), `${n} bytes`).toBe(hex(nobleBlake3(source.subarray(0, n))));
  });

  it('every length 0..2200 (one to three chunks), at an odd offset', () => {
    for (let n = 0; n <= 2200; n++) expect(kernelDigest(source, 3, 3 + n), `${n} bytes`).toBe(hex(nobleBlake3(source.subarray(3, 3 + n))));
  });

  it('random lengths up to 70 KiB at random offsets (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 70 * 1024 }), fc.nat(1199), (n, start) => {
        expect(kernelDigest(source, start, start + n)).toBe(hex(nobleBlake3(source.subarray(start, start + n))));
      }),
      { numRuns: 200 },
    );
  });

  it('an input that grows the memory past 32 MiB, and the memory is not kept', () => {
    const big = bytesFrom(12, 33 * 1024 * 1024 + 77);
    expect(kernelDigest(big, 0, big.length)).toBe(hex(nobleBlake3(big)));
    expect(batchMemoryBytes()).toBeLessThan(1024 * 1024);
  });
});

describe('the public functions give the same digests on every path', () => {
  it('blake3 and blake3Into at the chunk edges, with the kernel and without it (no SIMD)', () => {
    const lengths = edgeLengths();
    const withKernel = lengths.map((n) => hex(blake3(source.subarray(0, n))));
    const into = new Uint8Array(32);
    const intoKernel = lengths.map((n) => {
      blake3Into(source, 7, 7 + n, into, 0);
      return hex(into);
    });
    expect(loadBatchKernel(INVALID)).toBe(false);
    lengths.forEach((n, i) => {
      expect(withKernel[i], `${n} bytes`).toBe(hex(nobleBlake3(source.subarray(0, n))));
      expect(hex(blake3(source.subarray(0, n))), `${n} bytes, no kernel`).toBe(withKernel[i]);
      blake3Into(source, 7, 7 + n, into, 0);
      expect(hex(into), `${n} bytes at 7, no kernel`).toBe(intoKernel[i]);
      expect(intoKernel[i], `${n} bytes at 7`).toBe(hex(nobleBlake3(source.subarray(7, 7 + n))));
    });
  });

  it('blake3Many and batchDigests with inputs over one chunk among small ones', () => {
    const lengths = [5, 1025, 64, 4096, 0, 2049, 1024, 9000, 3, 70 * 1024, 192, 193];
    const { data, starts, ends } = layout(lengths, 8);
    const expected = lengths.map((_, i) => hex(nobleBlake3(data.subarray(starts[i], ends[i]))));
    const out = new Uint8Array(lengths.length * 32 + 8);
    expect(batchDigests(data, starts, ends, lengths.length, out, 8)).toBe(true);
    lengths.forEach((n, i) => expect(hex(out.subarray(8 + i * 32, 8 + i * 32 + 32)), `${n} bytes`).toBe(expected[i]));
    expect(loadBatchKernel(INVALID)).toBe(false);
    const js = new Uint8Array(lengths.length * 32);
    blake3Many(data, starts, ends, lengths.length, js, 0);
    lengths.forEach((n, i) => expect(hex(js.subarray(i * 32, i * 32 + 32)), `${n} bytes, no kernel`).toBe(expected[i]));
  });
});

describe('leaves over one chunk inside a frame batch', () => {
  it('batchLeaves: any mix of small and big leaves (property)', () => {
    const length = fc.oneof(
      fc.integer({ min: 0, max: 1024 }),
      fc.integer({ min: 1025, max: 20_000 }),
      fc.constantFrom(1023, 1024, 1025, 2048, 2049, 4096, 4097),
    );
    fc.assert(
      fc.property(fc.array(length, { minLength: 1, maxLength: 12 }), fc.nat(), fc.boolean(), (lengths, seed, byBlocks) => {
        const { data, starts, ends } = layout(lengths, seed);
        const digests = batchLeaves(data, starts, ends, byBlocks)!;
        lengths.forEach((n, i) =>
          expect(hex(digests.subarray(i * 32, i * 32 + 32)), `leaf ${i}, ${n} bytes`).toBe(hex(nobleBlake3(data.subarray(starts[i], ends[i])))),
        );
      }),
      { numRuns: 120 },
    );
  });

  it('batchMerkle with big leaves and the checksums of the same call (long ranges checksummed natively), kernel against JS', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.nat(300), fc.integer({ min: 1025, max: 24_000 })), { minLength: 1, maxLength: 20 }),
        fc.nat(1 << 20),
        (lengths, seed) => {
          const starts: number[] = [];
          const ends: number[] = [];
          let at = 0;
          for (const n of lengths) {
            starts.push(at);
            ends.push(at + n);
            at += n;
          }
          const data = bytesFrom(seed, at + 16);
          const order = lengths.map((_, i) => lengths.length - 1 - i);
          const id = (seed & 1) as 0 | 1;
          const check = (from: number, to: number): number => (id === 1 ? crc32cRawJs(data, from, to) : crc32(data.subarray(from, to)));
          const crc: RangeChecksums = {
            id,
            starts,
            ends,
            count: lengths.length,
            lastStart: at,
            lastEnd: at + 16,
            rootAt: -1,
            out: new Uint32Array(lengths.length + 1),
            done: false,
          };
          const simd = batchMerkle(data, starts, ends, order, crc)!.slice();
          expect(crc.done).toBe(true);
          expect(Array.from(crc.out)).toEqual([...starts.map((s, i) => check(s, ends[i]!)), check(at, at + 16)]);
          expect(loadBatchKernel(INVALID)).toBe(false);
          expect(hex(merkleOfRanges(data, starts, ends, order))).toBe(hex(simd));
          expect(loadBatchKernel()).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });
});
