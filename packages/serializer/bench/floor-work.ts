/**
 * The work the flat format makes mandatory for one frame, and nothing else (see floor.ts):
 * a copy of its bytes, every record's checksum and the trailer's, every record's BLAKE3
 * leaf, the Merkle combine, every payload's BLAKE3 and (when encoding) every payload
 * fingerprint. Uses the package's fastest primitives (leaves and nodes batched four to a
 * SIMD lane group, and the checksums in the same kernel call, as encode and decode do;
 * payloads of up to one chunk and fingerprint inputs hashed many to a call, as the branch
 * writer does).
 */
import type { RangeChecksums } from '../src/blake3-batch.ts';
import { recordChecksum } from '../src/checksum.ts';
import { readFrame, recordKeys } from '../src/frame-reader.ts';
import { blake3Into, blake3Many, merkleOfRanges } from '../src/hash.ts';

/** A frame with its record boundaries and payloads, found before timing. */
export interface FloorPlan {
  readonly frame: Uint8Array;
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
  /** Leaf order (records by key). */
  readonly order: readonly number[];
  /** The trailer's covered bytes. */
  readonly trailer: readonly [number, number];
  readonly payloads: readonly Uint8Array[];
  readonly checksum: 0 | 1;
}

/**
 * Where the records of `frame` (inflated, for a container) are, found once, outside the timed
 * work. `payloads` are the non-empty value payloads the frame carries (the bytes the format hashes).
 */
export function floorPlanOf(frame: Uint8Array, payloads: readonly Uint8Array[], checksum: 0 | 1): FloorPlan {
  const table = readFrame(frame);
  const keys = recordKeys(table);
  const order = keys.map((_, i) => i).sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : a - b));
  // The trailer: from the end of the last record to 4 bytes before the frame's end.
  const last = table.types.length - 1;
  const trailerStart = last >= 0 ? table.ends[last]! + 4 : 0;
  // A container's records are those of the frame inside (the floor leaves deflate out).
  const raw = table.frame;
  return {
    frame: raw,
    starts: Uint32Array.from(table.starts),
    ends: Uint32Array.from(table.ends),
    order,
    trailer: [trailerStart, raw.length - 4],
    payloads,
    checksum,
  };
}

/** The payloads of a plan laid out for the batched hash (done once, outside the timed work). */
interface PayloadLayout {
  /** Payloads of up to one chunk, one after another, with their ranges. */
  readonly small: Uint8Array;
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  /** Longer payloads, hashed one by one. */
  readonly big: readonly Uint8Array[];
  /** The ranges every checksum covers (the records', then the trailer's), and their results. */
  readonly crc: RangeChecksums;
  /** Fingerprint inputs (32 bytes each) and their ranges. */
  readonly fpInputs: Uint8Array;
  readonly fpStarts: Int32Array;
  readonly fpEnds: Int32Array;
  readonly digests: Uint8Array;
}

const layouts = new WeakMap<FloorPlan, PayloadLayout>();

function layoutOf(plan: FloorPlan): PayloadLayout {
  let found = layouts.get(plan);
  if (found !== undefined) return found;
  const small = plan.payloads.filter((p) => p.length <= 1024);
  const big = plan.payloads.filter((p) => p.length > 1024);
  const bytes = new Uint8Array(small.reduce((n, p) => n + p.length, 0));
  const starts = new Int32Array(small.length);
  const ends = new Int32Array(small.length);
  let at = 0;
  small.forEach((p, i) => {
    bytes.set(p, at);
    starts[i] = at;
    at += p.length;
    ends[i] = at;
  });
  const count = plan.payloads.length;
  const records = plan.starts.length;
  found = {
    crc: {
      id: plan.checksum,
      starts: plan.starts,
      ends: plan.ends,
      count: records,
      lastStart: plan.trailer[0],
      lastEnd: plan.trailer[1],
      rootAt: -1,
      out: new Uint32Array(records + 1),
      done: false,
    },
    small: bytes,
    starts,
    ends,
    big,
    fpInputs: new Uint8Array(count * 32),
    fpStarts: Int32Array.from({ length: count }, (_, i) => i * 32),
    fpEnds: Int32Array.from({ length: count }, (_, i) => i * 32 + 32),
    digests: new Uint8Array(count * 32),
  };
  layouts.set(plan, found);
  return found;
}

/** Does the mandatory work once; returns something derived from it so nothing is optimised away. */
export function floorWork(plan: FloorPlan, encoding: boolean): number {
  const { frame, starts, ends, order, checksum } = plan;
  const copy = new Uint8Array(frame.length);
  copy.set(frame);
  let acc = copy[copy.length - 1]!;
  const l = layoutOf(plan);
  // Leaves and Merkle nodes the fastest way the package knows: the batched WebAssembly SIMD
  // kernel where the runtime has one, which checksums every record and the trailer from the same
  // copy of the frame in the same call (record by record without a kernel).
  const crc = l.crc;
  crc.done = false;
  acc ^= merkleOfRanges(frame, starts, ends, order, crc)[0]!;
  if (crc.done) for (let i = 0; i <= crc.count; i++) acc ^= crc.out[i]!;
  else {
    for (let i = 0; i < crc.count; i++) acc ^= recordChecksum(checksum, frame.subarray(starts[i]!, ends[i]!));
    acc ^= recordChecksum(checksum, frame.subarray(plan.trailer[0], plan.trailer[1]));
  }
  // Every payload's BLAKE3 (the small ones in one batched call), then, encoding, every fingerprint (one more).
  const smallCount = l.starts.length;
  blake3Many(l.small, l.starts, l.ends, smallCount, l.digests, 0);
  l.big.forEach((p, i) => blake3Into(p, 0, p.length, l.digests, (smallCount + i) * 32));
  const count = smallCount + l.big.length;
  if (encoding) {
    const f = l.fpInputs;
    const d = l.digests;
    for (let i = 0; i < count; i++) for (let k = 0; k < 8; k++) f[i * 32 + 24 + k] = d[i * 32 + k]!;
    blake3Many(l.fpInputs, l.fpStarts, l.fpEnds, count, l.digests, 0);
  }
  for (let i = 0; i < count; i++) acc ^= l.digests[i * 32]!;
  return acc;
}
