/**
 * Encode and decode of a 2-cell frame (a dictionary holding one bytes value) by value size,
 * policy crc32c, and with `--baseline <checkout>` that checkout's in the same interleaved rounds.
 * Prints µs per call (median of rounds, CPU clock) and ours/base; asserts nothing.
 *
 * Run (from the repository root):
 *   npx tsx --conditions=@cep/source packages/serializer/bench/value-sizes.ts [--baseline <checkout>]
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { bytes, createTree } from '@cep/cells';
import * as ours from '@cep/serializer';
import { medianMicros } from './cpu-rounds.ts';

const args = process.argv.slice(2);
const at = args.indexOf('--baseline');
const baseDir = at >= 0 ? args[at + 1] : undefined;
const base = baseDir === undefined ? undefined : ((await import(resolve(baseDir, 'packages/serializer/src/index.ts'))) as typeof ours);
const policy = { crc32c: true };
console.log(`node ${process.version}, CPU clock, policy crc32c, load average at start: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
console.log(
  `${'value B'.padStart(8)}${'frame B'.padStart(9)}${'enc µs'.padStart(10)}${'dec µs'.padStart(10)}${base ? `${'base enc'.padStart(10)}${'base dec'.padStart(10)}${'enc o/b'.padStart(9)}${'dec o/b'.padStart(9)}` : ''}  MB/s enc`,
);
const sizes = [64, 512, 1000, 1024, 1100, 2048, 4096, 16384, 65536];
const cases = sizes.map((size) => {
  const tree = createTree();
  tree.set('/b/v', bytes(Uint8Array.from({ length: size }, (_, i) => (i * 37 + 11) & 0xff)));
  const branch = tree.get('/b')!;
  const frame = ours.encodeBranch(branch, policy);
  const fns: (() => unknown)[] = [
    () => ours.encodeBranch(branch, policy),
    () => ours.decodeBranch(frame, policy),
    ...(base ? [() => base.encodeBranch(branch, policy), () => base.decodeBranch(frame, policy)] : []),
  ];
  return { size, frame, fns };
});
// Every size warmed up before any is timed, so no row pays for compiling what a later one uses.
for (let pass = 0; pass < 2; pass++) for (const { size, fns } of cases) for (const fn of fns) for (let i = 0; i < (size >= 16384 ? 300 : 3000); i++) fn();
for (const { size, frame, fns } of cases) {
  const m = medianMicros(fns, 21, size >= 16384 ? 20 : 5);
  const cols = [String(size).padStart(8), String(frame.length).padStart(9), m[0]!.toFixed(1).padStart(10), m[1]!.toFixed(1).padStart(10)];
  if (base)
    cols.push(m[2]!.toFixed(1).padStart(10), m[3]!.toFixed(1).padStart(10), (m[0]! / m[2]!).toFixed(2).padStart(9), (m[1]! / m[3]!).toFixed(2).padStart(9));
  console.log(`${cols.join('')}  ${(size / m[0]!).toFixed(0)}`);
}
console.log(`load average at end: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
