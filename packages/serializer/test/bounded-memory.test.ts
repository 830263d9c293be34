/**
 * Bounded memory: whatever a frame's length fields declare, decoding it reserves at most a
 * small constant times the bytes that actually back it (the frame, or what its container
 * really inflates to). Allocations proportional to a frame's contents go through the
 * package's allocation meter (src/alloc-meter.ts), which this test reads; nothing is timed.
 */
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bytes, createTree, text, u64 } from '@cep/cells';
import { isCepError } from '@cep/errors';
import { decodeBranch, decodeFrame, encodeBranch, RECORD_TYPE, SERIALIZER_ERROR_CODES, type RawRecord, type SerializerPolicy } from '@cep/serializer';
import { reservedBytes, resetReserved } from '../src/alloc-meter.ts';
import { readCellDesc, readChunk, writeCellDesc, writeChunk } from '../src/records.ts';
import { buildFrame, wrap } from './helpers/build-frame.ts';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
const OURS = new Set<string>(SERIALIZER_ERROR_CODES);
/** Reserved bytes allowed per byte that backs the frame (the record table and Merkle level are ~3.2 each). */
const FACTOR = 8;
const SLACK = 1024;

const tree = createTree();
tree.set('/src/greet', text('hello'));
tree.set('/src/count', u64(7));
tree.set('/src/blob', bytes(Uint8Array.from({ length: 9000 }, (_, i) => (i * 7) & 0xff)));
const POLICIES: SerializerPolicy[] = [{}, { deflate: true, deflateMinBytes: 0 }, { aead: { mode: 'xchacha20poly1305', key: KEY } }];
const FRAMES = POLICIES.map((policy) => ({ policy, frame: encodeBranch(tree.get('/src')!, policy) }));

/** The bytes that back `frame`: its length, or what its container really inflates to. */
function backing(frame: Uint8Array): number {
  if (frame.length >= 24 && frame[0] === 0x54 && frame[1] === 0x4c && frame[2] === 0x46 && frame[3] === 0x43) {
    try {
      return Math.max(frame.length, inflateSync(frame.subarray(24)).length);
    } catch {
      return frame.length;
    }
  }
  return frame.length;
}

/** Bytes reserved while decoding `frame` as a frame and as a branch (typed refusals are fine). */
function reservedBy(frame: Uint8Array, policy: SerializerPolicy): number {
  let peak = 0;
  for (const decode of [() => decodeFrame(frame), () => decodeBranch(frame, policy), () => decodeBranch(frame, policy, { strictness: 'lenient' })]) {
    resetReserved();
    try {
      decode();
    } catch (error) {
      if (!(isCepError(error) && OURS.has(error.code))) throw error;
    }
    peak = Math.max(peak, reservedBytes());
  }
  return peak;
}

const HOSTILE_VARINTS = [
  Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x04), // 2^30
  Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f), // 2^32 - 1
  Uint8Array.of(0xff, 0xff, 0xff, 0x7f), // 2^28 - 1
];

describe('bounded memory', () => {
  it('the meter sees a payload (so the bound below is not vacuous)', () => {
    const { policy, frame } = FRAMES[0]!;
    expect(reservedBy(frame, policy)).toBeGreaterThanOrEqual(9000);
  });

  it('property: a hostile length written anywhere reserves at most a small multiple of the frame', () => {
    fc.assert(
      fc.property(fc.nat(FRAMES.length - 1), fc.nat(), fc.nat(HOSTILE_VARINTS.length - 1), (which, at, v) => {
        const { policy, frame } = FRAMES[which]!;
        const bad = frame.slice();
        bad.set(HOSTILE_VARINTS[v]!.subarray(0, Math.min(5, bad.length - (at % bad.length))), at % bad.length);
        expect(reservedBy(bad, policy)).toBeLessThanOrEqual(FACTOR * backing(bad) + SLACK);
      }),
      { numRuns: 400, seed: 20261202 },
    );
  });

  it('property: declared payload and chunk sizes, with correct checksums and root, reserve at most a small multiple', () => {
    const records = decodeFrame(FRAMES[0]!.frame).records;
    const descs = records
      .map((r, i) => [r, i] as const)
      .filter(([r]) => r.type === RECORD_TYPE.CELL_DESC && readCellDesc(r.body).ref !== undefined)
      .map(([, i]) => i);
    const chunks = records
      .map((r, i) => [r, i] as const)
      .filter(([r]) => r.type === RECORD_TYPE.PAYLOAD_CHUNK)
      .map(([, i]) => i);
    const huge = fc.constantFrom(1 << 30, (1 << 30) - 1, 1 << 24, 65_536);
    fc.assert(
      fc.property(fc.nat(), fc.nat(), huge, fc.nat(3), (d, c, size, field) => {
        const edited: RawRecord[] = records.map((r) => ({ ...r }));
        const di = descs[d % descs.length]!;
        const ci = chunks[c % chunks.length]!;
        if (field === 0 || field === 3) {
          const desc = readCellDesc(edited[di]!.body);
          edited[di] = { ...edited[di]!, body: writeCellDesc({ ...desc, ref: { ...desc.ref!, size } }) };
        }
        if (field >= 1) {
          const chunk = readChunk(edited[ci]!.body);
          edited[ci] = { ...edited[ci]!, body: writeChunk(field === 2 ? { ...chunk, size } : { ...chunk, total: size }) };
        }
        const frame = buildFrame(edited);
        expect(reservedBy(frame, {})).toBeLessThanOrEqual(FACTOR * frame.length + SLACK);
      }),
      { numRuns: 150, seed: 20261202 },
    );
  });

  it('a 264-byte-class frame declaring a 2^30-byte payload reserves nothing near 2^30', () => {
    const t = createTree();
    t.set('/src/v', bytes(new Uint8Array(100).fill(1)));
    const records = decodeFrame(encodeBranch(t.get('/src')!, { aead: { mode: 'xchacha20poly1305', key: KEY } })).records.map((r) => ({ ...r }));
    const di = records.findIndex((r) => r.type === RECORD_TYPE.CELL_DESC && readCellDesc(r.body).ref !== undefined);
    const ci = records.findIndex((r) => r.type === RECORD_TYPE.PAYLOAD_CHUNK);
    const desc = readCellDesc(records[di]!.body);
    records[di] = { ...records[di]!, body: writeCellDesc({ ...desc, ref: { ...desc.ref!, size: 1 << 30 } }) };
    records[ci] = { ...records[ci]!, body: writeChunk({ ...readChunk(records[ci]!.body), total: 1 << 30 }) };
    const frame = buildFrame(records);
    expect(frame.length).toBeLessThan(1024);
    for (let i = 0; i < 50; i++)
      expect(reservedBy(frame, { aead: { mode: 'xchacha20poly1305', key: KEY } })).toBeLessThanOrEqual(FACTOR * frame.length + SLACK);
  });

  it('a container declaring more than its stream can inflate to is refused before inflating', () => {
    const plain = decodeFrame(FRAMES[0]!.frame).records;
    const frame = buildFrame(plain, { compression: 1 });
    resetReserved();
    let code: string | undefined;
    try {
      decodeFrame(wrap(frame, { raw: 1n << 40n }), { maxFrameBytes: Number.MAX_SAFE_INTEGER });
    } catch (error) {
      code = isCepError(error) ? error.code : 'untyped';
    }
    expect(code).toBe('FRAME_BAD_CONTAINER');
    expect(reservedBytes()).toBe(0);
  });
});
