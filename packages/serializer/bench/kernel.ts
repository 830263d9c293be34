/**
 * The four-lane BLAKE3 kernel (wasm/blake3x4.wat) against another checkout's, in one process:
 * `merkleOfRanges` on floor.ts's 10,000-value branch (its records' leaves and Merkle levels,
 * with and without the CRC32C of every record and of the trailer) and on its 2-cell frame, and
 * `blake3Many` over 10,000 inputs of 20 bytes. Contenders race in interleaved rounds by the
 * process's CPU clock (cpu-rounds.ts); prints the median µs per call and ours/base; asserts
 * nothing.
 *
 * Run (from the repository root):
 *   npx tsx --conditions=@cep/source packages/serializer/bench/kernel.ts --baseline <checkout> [--rounds <n>]
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { encodeBranch } from '@cep/serializer';
import * as ours from '../src/hash.ts';
import { rangeChecksums } from '../src/blake3-batch.ts';
import { tenThousandValues, twoCell } from './branches.ts';
import { floorPlanOf, type FloorPlan } from './floor-work.ts';
import { medianMicros } from './cpu-rounds.ts';

const args = process.argv.slice(2);
const at = args.indexOf('--baseline');
if (at < 0 || args[at + 1] === undefined) throw new Error('usage: kernel.ts --baseline <checkout> [--rounds <n>]');
const baseDir = args[at + 1]!;
const roundsAt = args.indexOf('--rounds');
const rounds = roundsAt >= 0 ? Number(args[roundsAt + 1]) : 21;

type Hash = typeof ours;
type Batch = { rangeChecksums: typeof rangeChecksums };
const base = (await import(resolve(baseDir, 'packages/serializer/src/hash.ts'))) as Hash;
const baseBatch = (await import(resolve(baseDir, 'packages/serializer/src/blake3-batch.ts'))) as Batch;

/** `merkleOfRanges` of `plan` by `hash`, with the checksums of its records and trailer when `make` is given. */
function merkle(hash: Hash, plan: FloorPlan, make?: Batch['rangeChecksums']): () => number {
  const { frame, starts, ends, order, trailer } = plan;
  const root = new Uint8Array(32);
  return () => {
    const crc = make?.(1, starts, ends, starts.length, trailer[0], trailer[1], -1);
    return hash.merkleOfRanges(frame, starts, ends, order, crc, root)[0]! ^ (crc === undefined ? 0 : crc.out[0]!);
  };
}

const big = floorPlanOf(encodeBranch(tenThousandValues().branch, { crc32c: true }), [], 1);
const small = floorPlanOf(encodeBranch(twoCell().branch, { crc32c: true }), [], 1);
const inputs = Uint8Array.from({ length: 10_000 * 20 }, (_, i) => (i * 31 + 7) & 0xff);
const starts = Int32Array.from({ length: 10_000 }, (_, i) => i * 20);
const ends = Int32Array.from({ length: 10_000 }, (_, i) => i * 20 + 20);
const digests = new Uint8Array(10_000 * 32);
const many = (hash: Hash) => () => hash.blake3Many(inputs, starts, ends, 10_000, digests, 0);

const pairs: [string, () => unknown, () => unknown][] = [
  ['10k merkle+crc', merkle(base, big, baseBatch.rangeChecksums), merkle(ours, big, rangeChecksums)],
  ['10k merkle', merkle(base, big), merkle(ours, big)],
  ['2-cell merkle+crc', merkle(base, small, baseBatch.rangeChecksums), merkle(ours, small, rangeChecksums)],
  ['blake3Many 10k×20B', many(base), many(ours)],
];
const fns = pairs.flatMap(([, b, o]) => [b, o]);
for (let i = 0; i < 30; i++) for (const fn of fns) fn();
console.log(
  `node ${process.version}, CPU clock, ${big.starts.length} records in ${big.frame.length} B, ${rounds} rounds, load average at start: ${readFileSync('/proc/loadavg', 'utf8').trim()}`,
);
const median = medianMicros(fns, rounds, 20);
pairs.forEach(([name], k) => {
  const b = median[2 * k]!;
  const o = median[2 * k + 1]!;
  console.log(`${name.padEnd(20)} base ${b.toFixed(1).padStart(8)} µs   ours ${o.toFixed(1).padStart(8)} µs   ours/base ${(o / b).toFixed(3)}`);
});
console.log(`load average at end: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
