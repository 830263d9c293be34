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
import { bytes, createTree, text, u64 } from '@cep/cells';
import { encodeBranch } from '@cep/serializer';
import * as ours from '../src/hash.ts';
import { rangeChecksums } from '../src/blake3-batch.ts';
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

/** floor.ts's 10,000-value branch: 1,000 dictionaries of 10 fields (5 texts, 5 u64s). */
function tenThousand(): Uint8Array {
  const tree = createTree();
  for (let i = 0; i < 1000; i++) {
    const key = 'r' + i.toString(26).replace(/[0-9]/g, (d) => 'qrstuvwxyz'[Number(d)]!);
    for (let f = 0; f < 10; f++) tree.set(['b', key, 'f' + 'abcdefghij'[f]], f % 2 === 0 ? text(`value ${i}.${f}`) : u64(i * 10 + f));
  }
  return encodeBranch(tree.get('/b')!, { crc32c: true });
}

/** floor.ts's 2-cell frame (one 64-byte value). */
function twoCell(): Uint8Array {
  const tree = createTree();
  tree.set('/b/v', bytes(Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff)));
  return encodeBranch(tree.get('/b')!, { crc32c: true });
}

/** `merkleOfRanges` of `plan` by `hash`, with the checksums of its records and trailer when `make` is given. */
function merkle(hash: Hash, plan: FloorPlan, make?: Batch['rangeChecksums']): () => number {
  const { frame, starts, ends, order, trailer } = plan;
  const root = new Uint8Array(32);
  return () => {
    const crc = make?.(1, starts, ends, starts.length, trailer[0], trailer[1], -1);
    return hash.merkleOfRanges(frame, starts, ends, order, crc, root)[0]! ^ (crc === undefined ? 0 : crc.out[0]!);
  };
}

const big = floorPlanOf(tenThousand(), [], 1);
const small = floorPlanOf(twoCell(), [], 1);
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
