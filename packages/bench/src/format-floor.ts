/**
 * The format's floor for one frame of row a: the CPU time of the work the flat format makes
 * mandatory to encode it and to decode it (copies, checksums, BLAKE3 leaves, Merkle root,
 * payload hash and fingerprint; the serializer's bench/floor-work.ts, which bench/floor.ts
 * races against our codec). A transport of these frames can be no faster per frame than
 * this plus what the plain socket of the anchor spends, so the floor bounds the row's ratio
 * from below whatever the transport does.
 */
import { floorPlanOf, floorWork } from '../../serializer/bench/floor-work.ts';

const cpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/**
 * CPU µs of one encode-side plus one decode-side floor of `frame`, whose one value is `payload` (crc32c on):
 * the fastest of 21 rounds, as befits a bound (on a shared machine a round is only ever slowed).
 */
export function formatFloorUs(frame: Uint8Array, payload: Uint8Array): number {
  const plan = floorPlanOf(frame, [payload], 1);
  let sink = 0;
  const once = (): void => {
    sink ^= floorWork(plan, true) ^ floorWork(plan, false);
  };
  // Warm up for ~1 s of CPU (a fresh process: the hashing loops must reach the optimising tier), and find how many calls make ~10 ms (one clock read per batch).
  let calls = 1;
  const warmFrom = cpuUs();
  while (cpuUs() - warmFrom < 1_000_000) {
    const t = cpuUs();
    for (let i = 0; i < calls; i++) once();
    if (cpuUs() - t < 10_000) calls *= 2;
  }
  const perCall: number[] = [];
  for (let round = 0; round < 21; round++) {
    const t = cpuUs();
    for (let i = 0; i < calls; i++) once();
    perCall.push((cpuUs() - t) / calls);
  }
  if (sink === 0.5) console.log(sink); // keeps the work observable
  return Math.min(...perCall);
}
