/**
 * Record checksums in the WebAssembly kernel (`crcs` in wasm/blake3x4.wat, one call per frame,
 * in the same call as the Merkle leaves): equal to the native CRC32C (fast-crc32c) and to zlib's
 * CRC-32 at every length and alignment, for any number of ranges; frames encode to the same
 * bytes and decode alike with and without the kernel; a broken checksum of any record or of the
 * trailer is refused with FRAME_BAD_CRC naming that record, on both paths.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isCepError } from '@cep/errors';
import { bytes, createTree, text, u64 } from '@cep/cells';
import { decodeBranch, decodeFrame, encodeBranch, encodeFrame, RECORD_TYPE } from '@cep/serializer';
import { batchChecksums, loadBatchKernel, type RangeChecksums } from '../src/blake3-batch.ts';
import { crc32, crc32cRawFast, crc32cRawJs, NATIVE_CRC32C } from '../src/checksum.ts';
import { readFrame } from '../src/frame-reader.ts';
import { INVALID_WASM as INVALID, bytesFrom } from './helpers/fixtures.ts';

afterEach(() => {
  // Every test leaves the real kernel loaded, whatever it did.
  expect(loadBatchKernel()).toBe(true);
});

/** The kernel's checksums of `ranges` of `data` (and of `last` after them, if given). */
function kernelChecksums(id: 0 | 1, data: Uint8Array, ranges: readonly (readonly [number, number])[], last?: readonly [number, number]): number[] {
  const crc: RangeChecksums = {
    id,
    starts: ranges.map((r) => r[0]),
    ends: ranges.map((r) => r[1]),
    count: ranges.length,
    lastStart: last?.[0] ?? -1,
    lastEnd: last?.[1] ?? -1,
    rootAt: -1,
    out: new Uint32Array(ranges.length + 1),
    done: false,
  };
  expect(batchChecksums(data, crc)).toBe(true);
  expect(crc.done).toBe(true);
  return Array.from(crc.out.subarray(0, ranges.length + (last === undefined ? 0 : 1)));
}

/** The independent paths: the native CRC32C (SSE4.2) for id 1, zlib's CRC-32 for id 0. */
const reference = (id: 0 | 1, data: Uint8Array, start: number, end: number): number =>
  id === 1 ? crc32cRawFast(data.subarray(start, end)) : crc32(data.subarray(start, end));

describe('the kernel checksums equal the native paths', () => {
  it('the native CRC32C it is compared with loaded', () => {
    expect(NATIVE_CRC32C).toBe(true);
  });

  for (const id of [0, 1] as const) {
    it(`every length 0..300 at every offset 0..7, one call for all (checksum id ${id})`, () => {
      const data = bytesFrom(id + 1, 320);
      const ranges: [number, number][] = [];
      for (let offset = 0; offset < 8; offset++) for (let length = 0; length <= 300; length++) ranges.push([offset, offset + length]);
      const got = kernelChecksums(id, data, ranges);
      expect(got).toEqual(ranges.map(([s, e]) => reference(id, data, s, e)));
    });

    it(`any number of ranges, with or without one more after them (checksum id ${id}, property)`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 1 << 20 }),
          fc.array(fc.tuple(fc.nat(700), fc.nat(1100)), { maxLength: 40 }),
          fc.option(fc.tuple(fc.nat(700), fc.nat(1100)), { nil: undefined }),
          (seed, raw, rawLast) => {
            const data = bytesFrom(seed, 2000);
            const ranges = raw.map(([s, n]) => [s, s + n] as const);
            const last = rawLast === undefined ? undefined : ([rawLast[0], rawLast[0] + rawLast[1]] as const);
            const got = kernelChecksums(id, data, ranges, last);
            const want = [...ranges, ...(last === undefined ? [] : [last])].map(([s, e]) => reference(id, data, s, e));
            expect(got).toEqual(want);
          },
        ),
        { numRuns: 200 },
      );
    });
  }

  it('the JS table (same tables as the kernel) agrees too, on a frame-sized input', () => {
    const data = bytesFrom(9, 70_000);
    expect(kernelChecksums(1, data, [[3, 70_000]])).toEqual([crc32cRawJs(data, 3, 70_000)]);
    expect(crc32cRawJs(data, 3, 70_000)).toBe(crc32cRawFast(data.subarray(3)));
  });
});

/** A branch with records of many sizes (values inline, chunked and over a chunk; one store of 70). */
function mixedBranch() {
  const tree = createTree();
  for (let i = 0; i < 70; i++) tree.set(['b', 'many', `k${i}`], i % 2 === 0 ? text(`value ${i}`) : u64(i));
  tree.set(['b', 'chunked'], bytes(bytesFrom(3, 200)));
  tree.set(['b', 'big'], bytes(bytesFrom(4, 5000)));
  tree.set(['b', 'small'], bytes(bytesFrom(5, 64)));
  return tree.get('/b')!;
}

/** Branches whose trailers are under 1 KiB: a 2-cell frame, an invoke-like call, an empty store, a sealed-size value. */
function smallBranches() {
  const two = createTree();
  two.set('/b/v', bytes(bytesFrom(1, 64)));
  const call = createTree();
  for (const [k, v] of [
    ['id', u64(42)],
    ['op', text('add')],
    ['arg', u64(41)],
    ['from', text('peer-a')],
    ['status', text('pending')],
    ['beat', u64(7)],
  ] as const)
    call.set(['b', 'call', k], v);
  const empty = createTree();
  empty.ensureDictionary(['b']);
  const chunked = createTree();
  chunked.set('/b/c', bytes(bytesFrom(2, 300)));
  return [two.get('/b')!, call.get('/b')!, empty.get('/b')!, chunked.get('/b')!];
}

function codeOf(run: () => unknown): string {
  try {
    run();
    return 'accepted';
  } catch (error) {
    if (isCepError(error)) return `${error.code} ${JSON.stringify(error.details)}`;
    throw error;
  }
}

describe('frames with the checksums in the kernel and record by record', () => {
  for (const crc32c of [false, true]) {
    it(`are the same bytes and read the same (crc32c ${crc32c})`, () => {
      const policy = { crc32c };
      const withKernel = encodeBranch(mixedBranch(), policy);
      expect(() => decodeFrame(withKernel)).not.toThrow();
      expect(loadBatchKernel(INVALID)).toBe(false);
      const withoutKernel = encodeBranch(mixedBranch(), policy);
      expect(Buffer.from(withoutKernel).equals(Buffer.from(withKernel))).toBe(true);
      expect(() => decodeFrame(withKernel)).not.toThrow();
      expect(() => decodeBranch(withKernel, policy)).not.toThrow();
    });

    it(`small trailers (checksummed in the records' kernel call, root written in first) are the same bytes as without the kernel (crc32c ${crc32c})`, () => {
      const policy = { crc32c, deflate: true, deflateMinBytes: 0 };
      const shapes = [smallBranches(), [mixedBranch()]].flat();
      const withKernel = shapes.map((b) => encodeBranch(b, policy));
      const raw = [RECORD_TYPE.CELL_DESC, RECORD_TYPE.NAMEPOOL_DELTA].map((type, i) => ({
        type,
        version: 1,
        flags: 0,
        key: Uint8Array.of(type, i),
        body: bytesFrom(i, 40),
      }));
      // encodeFrame writes the trailer twice (plain, then compressed: the root kept from the first); and a frame without records.
      const frames = [
        encodeFrame(raw, { checksum: crc32c ? 1 : 0, compress: true, compressOnlyIfSmaller: true }),
        encodeFrame([], { checksum: crc32c ? 1 : 0 }),
      ];
      expect(withKernel.some((f) => readFrame(f).types.length > 0 && f.length - readFrame(f).ends.at(-1)! < 1024)).toBe(true);
      for (const frame of withKernel) expect(() => decodeFrame(frame)).not.toThrow();
      // The raw records carry no capability bits of their own: read with the frame checks only.
      for (const frame of frames) expect(() => decodeFrame(frame, { strictness: 'lenient' })).not.toThrow();
      expect(loadBatchKernel(INVALID)).toBe(false);
      shapes.forEach((b, i) => expect(Buffer.from(encodeBranch(b, policy)).equals(Buffer.from(withKernel[i]!))).toBe(true));
      expect(Buffer.from(encodeFrame(raw, { checksum: crc32c ? 1 : 0, compress: true, compressOnlyIfSmaller: true })).equals(Buffer.from(frames[0]!))).toBe(
        true,
      );
      expect(Buffer.from(encodeFrame([], { checksum: crc32c ? 1 : 0 })).equals(Buffer.from(frames[1]!))).toBe(true);
    });

    it(`a wrong checksum of any record or of the trailer is FRAME_BAD_CRC for that record, on both paths (crc32c ${crc32c})`, () => {
      const frame = encodeBranch(mixedBranch(), { crc32c });
      const table = readFrame(frame);
      const count = table.types.length;
      // Each record's stored checksum flipped in turn, then the trailer's (the frame's last 4 bytes).
      const at = [...Array.from(table.ends), frame.length - 4];
      for (let i = 0; i <= count; i++) {
        const bad = frame.slice();
        bad[at[i]! + (i % 4)]! ^= 0x10;
        const withKernel = codeOf(() => decodeFrame(bad));
        expect(withKernel).toContain('FRAME_BAD_CRC');
        expect(withKernel).toContain(i === count ? '"record":"trailer"' : `"record":${i},`);
        expect(loadBatchKernel(INVALID)).toBe(false);
        expect(codeOf(() => decodeFrame(bad))).toBe(withKernel);
        expect(loadBatchKernel()).toBe(true);
      }
    });
  }
});
