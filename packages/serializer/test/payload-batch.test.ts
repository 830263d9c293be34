/**
 * Batched payload verification (src/payload-batch.ts and the branch decoder's fast walk):
 * one corrupted payload or declared digest is found whatever its lane in a group of four,
 * at group and batch-size boundaries, on the SIMD kernel and on the JS path; and a branch
 * frame whose one payload hash is wrong (checksums and Merkle root correct) is refused with
 * PAYLOAD_HASH_MISMATCH, as it was before the check was batched.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js';
import { createTree, text, u64, type Cell } from '@cep/cells';
import { decodeBranch, decodeFrame, encodeBranch, readCellDesc, RECORD_TYPE, type RawRecord } from '@cep/serializer';
import { loadBatchKernel } from '../src/blake3-batch.ts';
import { PayloadBatch } from '../src/payload-batch.ts';
import { buildFrame } from './helpers/build-frame.ts';
import { INVALID_WASM as INVALID } from './helpers/fixtures.ts';

afterEach(() => {
  expect(loadBatchKernel()).toBe(true);
});

/** `count` payloads of 0..64 bytes (deterministic), each followed by its BLAKE3 digest, in one array. */
function layout(count: number, seed: number): { data: Uint8Array; ranges: [number, number, number][] } {
  const parts: number[] = [];
  const ranges: [number, number, number][] = [];
  let x = seed * 2654435761 + 7;
  const next = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  for (let i = 0; i < count; i++) {
    const length = next() % 65;
    const payload = Uint8Array.from({ length }, () => next() & 0xff);
    parts.push(next() & 0xff); // a gap byte, so no payload starts aligned by luck
    const start = parts.length;
    parts.push(...payload);
    const end = parts.length;
    parts.push(...nobleBlake3(payload));
    ranges.push([start, end, end]);
  }
  return { data: Uint8Array.from(parts), ranges };
}

function batchOf(ranges: readonly [number, number, number][]): PayloadBatch {
  const batch = new PayloadBatch();
  for (const [start, end, digestAt] of ranges) batch.add(start, end, digestAt);
  return batch;
}

const COUNTS = [1, 3, 4, 5, 7, 8, 9, 12, 13, 31, 32, 33, 64, 65];

describe('PayloadBatch', () => {
  for (const path of ['SIMD kernel', 'JS path'] as const) {
    it(`finds the one corrupted payload or digest at every position (${path})`, () => {
      if (path === 'JS path') expect(loadBatchKernel(INVALID)).toBe(false);
      for (const count of COUNTS) {
        const { data, ranges } = layout(count, count);
        expect(batchOf(ranges).firstMismatch(data)).toBe(-1);
        for (let k = 0; k < count; k++) {
          const [start, end, digestAt] = ranges[k]!;
          // A flipped digest bit, and (for a non-empty payload) a flipped payload bit.
          const badDigest = data.slice();
          badDigest[digestAt + (k % 32)]! ^= 1 << (k % 8);
          expect(batchOf(ranges).firstMismatch(badDigest), `count ${count}, digest ${k}`).toBe(k);
          if (end > start) {
            const badPayload = data.slice();
            badPayload[start + (k % (end - start))]! ^= 0x80;
            expect(batchOf(ranges).firstMismatch(badPayload), `count ${count}, payload ${k}`).toBe(k);
          }
        }
      }
    });
  }

  it('reports the first of several mismatches', () => {
    const { data, ranges } = layout(40, 99);
    const bad = data.slice();
    for (const k of [37, 6, 21]) bad[ranges[k]![2]]! ^= 1;
    expect(batchOf(ranges).firstMismatch(bad)).toBe(6);
  });
});

/** A dictionary of `count` small values (texts and u64s, all inline). */
function branchOf(count: number): Cell {
  const tree = createTree();
  for (let i = 0; i < count; i++) tree.set(['b', `v${i}`], i % 2 === 0 ? text(`value ${i}`) : u64(BigInt(i) * 1_000_003n));
  return tree.get('/b')!;
}

describe('decodeBranch with batched payload hashes', () => {
  it('refuses a frame whose one payload hash is wrong, at every position, with PAYLOAD_HASH_MISMATCH', () => {
    const policy = { crc32c: true };
    const frame = encodeBranch(branchOf(37), policy);
    const { records, trailer } = decodeFrame(frame);
    const rebuild = (rs: readonly RawRecord[]): Uint8Array => buildFrame(rs, { checksum: trailer.checksum, caps: trailer.caps, beat: Number(trailer.beat) });
    // The rebuilt frame without a change decodes: the only defect below is the one made.
    expect(decodeBranch(rebuild(records), policy).cellCount).toBe(38);
    const valueRows = records.flatMap((r, i) => (r.type === RECORD_TYPE.CELL_DESC && readCellDesc(r.body).inline.length > 0 ? [i] : []));
    expect(valueRows.length).toBe(37);
    for (const row of valueRows) {
      const original = records[row]!;
      const hash = readCellDesc(original.body).ref!.hash;
      const body = original.body.slice();
      body[hash.byteOffset - original.body.byteOffset + (row % 32)]! ^= 0x10;
      const changed = records.map((r, i) => (i === row ? { ...r, body } : r));
      expect(() => decodeBranch(rebuild(changed), policy), `record ${row}`).toThrowError(
        expect.objectContaining({ code: 'PAYLOAD_HASH_MISMATCH' }) as unknown as Error,
      );
    }
  });
});
