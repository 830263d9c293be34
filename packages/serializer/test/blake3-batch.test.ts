/**
 * The four-lane WebAssembly SIMD BLAKE3 (wasm/blake3x4.wat, through src/blake3-batch.ts):
 * the committed bytes are what the source assembles to; leaves equal @noble/hashes for every
 * kind of lane mix; parents and roots equal the JS path; frames are the same bytes with and
 * without the kernel; a runtime that cannot validate the module gets the JS path.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js';
import { bytes, createTree, text, u64, type Cell } from '@cep/cells';
import { applyBranch, decodeBranch, encodeBranch, merkleRoot, type SerializerPolicy } from '@cep/serializer';
import { batchCombine, batchLeaves, batchMemoryBytes, batchMerkle, loadBatchKernel, type RangeChecksums } from '../src/blake3-batch.ts';
import { crc32cRawFast } from '../src/checksum.ts';
import { BLAKE3X4_WASM_BASE64 } from '../src/blake3x4-wasm.ts';
import { hashPairWords } from '../src/blake3-chunk.ts';
import { merkleCombine, merkleOfRanges } from '../src/hash.ts';
import { assembleBlake3x4 } from '../scripts/wasm.mjs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FEATURE_POLICIES, INVALID_WASM as INVALID, bytesFrom, layout } from './helpers/fixtures.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

afterEach(() => {
  // Every test leaves the real kernel loaded, whatever it did.
  expect(loadBatchKernel()).toBe(true);
});

function expectLeavesMatch(lengths: readonly number[], seed: number, byBlocks: boolean): void {
  const { data, starts, ends } = layout(lengths, seed);
  const digests = batchLeaves(data, starts, ends, byBlocks);
  expect(digests).toBeDefined();
  lengths.forEach((n, i) => {
    expect(hex(digests!.subarray(i * 32, i * 32 + 32)), `input ${i}, ${n} bytes`).toBe(hex(nobleBlake3(data.subarray(starts[i], ends[i]))));
  });
}

describe('the committed WebAssembly module', () => {
  it('is what wasm/blake3x4.wat assembles to', async () => {
    const assembled = await assembleBlake3x4();
    expect(hex(Uint8Array.from(atob(BLAKE3X4_WASM_BASE64), (c) => c.charCodeAt(0)))).toBe(hex(assembled));
  });

  it('has in wasm/blake3x4.wat the generated part scripts/blake3x4-rounds.mjs writes', () => {
    const script = fileURLToPath(new URL('../scripts/blake3x4-rounds.mjs', import.meta.url));
    const run = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('validates and loads on this runtime', () => {
    const wasm = (globalThis as { WebAssembly?: { validate(b: Uint8Array): boolean } }).WebAssembly!;
    expect(wasm.validate(INVALID)).toBe(false);
    expect(wasm.validate(Uint8Array.from(atob(BLAKE3X4_WASM_BASE64), (c) => c.charCodeAt(0)))).toBe(true);
    expect(loadBatchKernel()).toBe(true);
  });
});

describe('SIMD leaves equal @noble/hashes', () => {
  it('every length 0..1100 (above 1024 as chunk lanes), grouped by blocks and mixed', () => {
    const lengths = Array.from({ length: 1101 }, (_, n) => n);
    expectLeavesMatch(lengths, 1, true);
    expectLeavesMatch(lengths, 2, false);
    // Reversed, so each mixed group pairs lengths far apart.
    expectLeavesMatch(lengths.reverse(), 3, false);
  });

  it('four lanes of different lengths, with 0 and multiples of 64 and 1024 (property)', () => {
    const special = fc.constantFrom(0, 1, 63, 64, 65, 128, 192, 960, 1023, 1024, 1025, 2048, 4096);
    const length = fc.oneof(special, fc.integer({ min: 0, max: 4096 }));
    fc.assert(
      fc.property(fc.array(length, { minLength: 1, maxLength: 13 }), fc.nat(), fc.boolean(), (lengths, seed, byBlocks) => {
        expectLeavesMatch(lengths, seed, byBlocks);
      }),
      { numRuns: 300 },
    );
  });
});

describe('SIMD parents and roots equal the JS path', () => {
  it('one level of parents, 1..13 pairs (every tail of a lane group), in place', () => {
    for (let pairs = 1; pairs <= 13; pairs++) {
      const level = bytesFrom(pairs, pairs * 64);
      const simd = batchCombine(level, pairs * 2, true);
      const words = new Int32Array(level.slice().buffer);
      hashPairWords(words, pairs);
      expect(hex(simd!), `${pairs} pairs`).toBe(hex(new Uint8Array(words.buffer, 0, pairs * 32)));
    }
  });

  it('roots over 1..70 digests (odd levels pair the last node with itself)', () => {
    for (let count = 1; count <= 70; count++) {
      const level = bytesFrom(count + 100, count * 32 + 32);
      const simd = batchCombine(level, count)!.slice();
      expect(loadBatchKernel(INVALID)).toBe(false);
      expect(batchCombine(level, count)).toBeUndefined();
      // merkleCombine without a kernel: the JS path, in place on a copy.
      expect(hex(simd), `${count} digests`).toBe(hex(merkleCombine(level.slice(), count)));
      expect(loadBatchKernel()).toBe(true);
    }
  });

  it('merkleRoot (public) is the same with and without the kernel', () => {
    const leaves = Array.from({ length: 77 }, (_, i) => ({ key: bytesFrom(i, 1 + (i % 5)), covered: bytesFrom(i + 1000, (i * 53) % 1500) }));
    const simd = merkleRoot(leaves);
    expect(loadBatchKernel(INVALID)).toBe(false);
    expect(hex(merkleRoot(leaves))).toBe(hex(simd));
  });

  it('the Merkle root over ranges of a frame, leaves of every size, kernel against JS', () => {
    const lengths = Array.from({ length: 150 }, (_, i) => (i * 97) % 1400);
    const { data, starts, ends } = layout(lengths, 9);
    const order = Array.from({ length: lengths.length }, (_, i) => (i * 7) % lengths.length);
    const simd = batchMerkle(data, starts, ends, order)!.slice();
    expect(loadBatchKernel(INVALID)).toBe(false);
    expect(hex(merkleOfRanges(data, starts, ends, order))).toBe(hex(simd));
  });

  it('roots over 1..40 leaves of mixed block counts (one padded group per frame, every group boundary), with the checksums of the same call, kernel against JS (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(1100), { minLength: 1, maxLength: 40 }), fc.nat(1 << 20), (lengths, seed) => {
        const { data, starts, ends } = layout(lengths, seed);
        const order = Array.from({ length: lengths.length }, (_, i) => (i * 5 + seed) % lengths.length);
        // A permutation only when 5 and the count share no factor; otherwise the identity.
        const leafOrder = new Set(order).size === order.length ? order : order.map((_, i) => i);
        const crc: RangeChecksums = {
          id: 1,
          starts,
          ends,
          count: lengths.length,
          lastStart: -1,
          lastEnd: -1,
          rootAt: -1,
          out: new Uint32Array(lengths.length + 1),
          done: false,
        };
        const simd = batchMerkle(data, starts, ends, leafOrder, crc)!.slice();
        expect(crc.done).toBe(true);
        expect(Array.from(crc.out.subarray(0, lengths.length))).toEqual(starts.map((s, i) => crc32cRawFast(data.subarray(s, ends[i]))));
        expect(loadBatchKernel(INVALID)).toBe(false);
        expect(hex(merkleOfRanges(data, starts, ends, leafOrder))).toBe(hex(simd));
        expect(loadBatchKernel()).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('a frame that grows the memory past 32 MiB gets its root, and the memory is not kept', () => {
    const big = new Uint8Array(33 * 1024 * 1024);
    big.set(bytesFrom(11, 4096), big.length - 4096);
    const starts = [0, 1000, big.length - 3000];
    const ends = [700, 1900, big.length - 10];
    const order = [2, 0, 1];
    const root = batchMerkle(big, starts, ends, order)!;
    expect(batchMemoryBytes()).toBeLessThan(1024 * 1024);
    // The root handed back is a copy: a later call must not change it.
    const kept = hex(root);
    batchMerkle(big.subarray(0, 4096), [0], [100], [0]);
    expect(hex(root)).toBe(kept);
    expect(loadBatchKernel(INVALID)).toBe(false);
    expect(hex(merkleOfRanges(big, starts, ends, order))).toBe(kept);
  });
});

/** `frame` decoded, applied to a fresh tree and encoded again (a decode that lost anything shows). */
function reencoded(frame: Uint8Array, policy: SerializerPolicy): Uint8Array {
  const out = createTree();
  applyBranch(out, '/copy', decodeBranch(frame, policy));
  return encodeBranch(out.get('/copy')!, policy);
}

/** A branch with small values, a wide dictionary (a manifest page over one chunk) and chunked values. */
function mixedBranch(): Cell {
  const tree = createTree();
  for (let i = 0; i < 60; i++) {
    tree.set(['b', `r${i}`, 'name'], text(`row ${i}`));
    tree.set(['b', `r${i}`, 'n'], u64(i));
  }
  for (let i = 0; i < 120; i++) tree.set(['b', 'wide', `field${i}`], u64(i));
  tree.set(['b', 'blob'], bytes(bytesFrom(5, 9000)));
  tree.set(['b', 'small'], bytes(bytesFrom(6, 64)));
  return tree.get('/b')!;
}

describe('frames with and without the kernel', () => {
  for (const [name, policy] of FEATURE_POLICIES) {
    it(`are byte-identical and decode alike (policy ${name})`, () => {
      const branch = mixedBranch();
      const withKernel = encodeBranch(branch, policy);
      const decodedWith = reencoded(withKernel, policy);
      expect(loadBatchKernel(INVALID)).toBe(false);
      const withoutKernel = encodeBranch(branch, policy);
      const decodedWithout = reencoded(withKernel, policy);
      expect(hex(withoutKernel)).toBe(hex(withKernel));
      expect(hex(decodedWithout)).toBe(hex(decodedWith));
      expect(hex(decodedWith)).toBe(hex(withKernel));
    });
  }

  it('a frame whose root is wrong is refused with and without the kernel', () => {
    const frame = encodeBranch(mixedBranch(), {});
    // A byte of the first record's body flipped: the root (or a checksum before it) refuses it.
    const bad = frame.slice();
    bad[40] = bad[40]! ^ 1;
    const codeWith = (() => {
      try {
        decodeBranch(bad, {});
        return 'accepted';
      } catch (e) {
        return (e as { code?: string }).code;
      }
    })();
    expect(loadBatchKernel(INVALID)).toBe(false);
    const codeWithout = (() => {
      try {
        decodeBranch(bad, {});
        return 'accepted';
      } catch (e) {
        return (e as { code?: string }).code;
      }
    })();
    expect(codeWith).not.toBe('accepted');
    expect(codeWithout).toBe(codeWith);
  });
});
