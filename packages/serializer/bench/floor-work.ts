/**
 * The work the flat format makes mandatory for one frame, and nothing else (see floor.ts):
 * a copy of its bytes, every record's checksum and the trailer's, every record's BLAKE3
 * leaf, the Merkle combine, every payload's BLAKE3 and (when encoding) every payload
 * fingerprint. Uses the package's fastest primitives (leaves and nodes batched four to a
 * SIMD lane group, as encode and decode do).
 */
import { recordChecksum } from '../src/checksum.ts';
import { blake3Into, merkleOfRanges } from '../src/hash.ts';

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

const digest = new Uint8Array(32);
const fpInput = new Uint8Array(32);

/** Does the mandatory work once; returns something derived from it so nothing is optimised away. */
export function floorWork(plan: FloorPlan, encoding: boolean): number {
  const { frame, starts, ends, order, checksum } = plan;
  const copy = new Uint8Array(frame.length);
  copy.set(frame);
  let acc = copy[copy.length - 1]!;
  for (let i = 0; i < starts.length; i++) acc ^= recordChecksum(checksum, frame.subarray(starts[i]!, ends[i]!));
  acc ^= recordChecksum(checksum, frame.subarray(plan.trailer[0], plan.trailer[1]));
  for (const payload of plan.payloads) {
    blake3Into(payload, 0, payload.length, digest, 0);
    if (encoding) {
      fpInput.set(digest.subarray(0, 8), 24);
      blake3Into(fpInput, 0, 32, digest, 0);
    }
    acc ^= digest[0]!;
  }
  // Leaves and Merkle nodes the fastest way the package knows: the batched WebAssembly SIMD kernel where the runtime has one.
  return acc ^ merkleOfRanges(frame, starts, ends, order)[0]!;
}
