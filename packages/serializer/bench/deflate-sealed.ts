/**
 * The deflate decision on AEAD frames: encode time of mirror-like parts (about 64 KiB of
 * values, sealed in chunks of several sizes, six segments deep) with deflate allowed, and
 * whether the frame went out deflated. Also zlib's own time per KiB on sealed bytes against
 * the frame's structure, the measurement the rule rests on. Prints numbers; asserts nothing.
 *
 * Run (from the repository root):
 *   npx tsx --conditions=@cep/source packages/serializer/bench/deflate-sealed.ts [--baseline <checkout>] [--rounds n]
 * Our encoder is raced with deflate allowed and with it off (the skip should cost nothing);
 * `--baseline` races another checkout's encoder too, in the same rounds (each round starts one
 * racer later), so a change in machine load hits all alike. Times are CPU-clock medians. The
 * other checkout walks trees of this checkout's @cep/cells, so compare it on a row where both
 * do the same work (one 64 KiB value: neither rule tries deflate) before reading the others.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { bytes, createTree, text, type Cell } from '@cep/cells';
import { encodeBranch, type SerializerPolicy } from '@cep/serializer';
import { zlibDeflate } from '../src/container.ts';
import { mirrorLikePart as part } from '../test/helpers/fixtures.ts';

const KEY = new Uint8Array(32).fill(7);
const POLICY: SerializerPolicy = { crc32c: true, deflate: true, aead: { mode: 'xchacha20poly1305', key: KEY } };

/** Mostly structure: 2,000 short texts, and one 4 KiB value (one sealed chunk). */
function mostlyPlain(): Cell {
  const tree = createTree();
  for (let i = 0; i < 2000; i++) tree.set(['p', `r${i % 50}`, `f${i}`], text(`value ${i}`));
  tree.set(['p', 'blob'], bytes(new Uint8Array(4096).fill(3)));
  return tree.get('/p')!;
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Milliseconds per call of `fn` over about `batchMs` of CPU. */
function time(fn: () => void, batchMs: number): number {
  let n = 0;
  const start = cpuMs();
  let now = start;
  do {
    fn();
    n++;
    now = cpuMs();
  } while (now - start < batchMs);
  return (now - start) / n;
}

const args = process.argv.slice(2);
const baselineAt = args.indexOf('--baseline');
const baselineDir = baselineAt >= 0 ? args[baselineAt + 1] : undefined;
const roundsAt = args.indexOf('--rounds');
const rounds = roundsAt >= 0 ? Number(args[roundsAt + 1]) : 7;
const before =
  baselineDir === undefined
    ? undefined
    : ((await import(resolve(baselineDir, 'packages/serializer/src/index.ts'))) as { encodeBranch: typeof encodeBranch }).encodeBranch;

console.log(`node ${process.version}, CPU clock, load average at start: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);

// zlib level 1 per KiB: sealed bytes (an AEAD frame's chunks) against a plain frame's structure.
const sealedFrame = encodeBranch(part(16, 4096), { ...POLICY, deflate: false });
const plainFrame = encodeBranch(mostlyPlain(), { crc32c: true });
const zs: number[] = [];
const zp: number[] = [];
for (let r = 0; r < rounds; r++) {
  zs.push(time(() => zlibDeflate(sealedFrame), 50) / (sealedFrame.length / 1024));
  zp.push(time(() => zlibDeflate(plainFrame), 50) / (plainFrame.length / 1024));
}
console.log(
  `zlib level 1: ${(median(zs) * 1000).toFixed(1)} µs/KiB on a sealed frame, ${(median(zp) * 1000).toFixed(1)} µs/KiB on a plain one (${(median(zs) / median(zp)).toFixed(1)}×)`,
);

const cases: Array<[string, Cell]> = [
  ['16 × 4 KiB sealed', part(16, 4096)],
  ['1 × 64 KiB sealed', part(1, 65536)],
  ['4 × 16 KiB sealed', part(4, 16384)],
  ['32 × 2 KiB sealed', part(32, 2048)],
  ['64 × 1 KiB sealed', part(64, 1024)],
  ['mostly plain', mostlyPlain()],
];
console.log('\n| part | plain bytes | sent bytes | deflated | encode | encode, deflate off | before: sent | before: encode |');
console.log('|---|---|---|---|---|---|---|---|');
for (const [label, cell] of cases) {
  const plain = encodeBranch(cell, { ...POLICY, deflate: false }).length;
  const sent = encodeBranch(cell, POLICY);
  const deflated = sent[0] === 0x54 && sent[1] === 0x4c && sent[2] === 0x46 && sent[3] === 0x43;
  const sentBefore = before?.(cell, POLICY);
  const ours: number[] = [];
  const off: number[] = [];
  const theirs: number[] = [];
  const offPolicy = { ...POLICY, deflate: false };
  for (let r = 0; r < rounds; r++) {
    const racers: Array<[number[], () => void]> = [
      [ours, () => encodeBranch(cell, POLICY)],
      [off, () => encodeBranch(cell, offPolicy)],
    ];
    if (before !== undefined) racers.push([theirs, () => before(cell, POLICY)]);
    // Each round starts one racer later, so none always runs after the same one.
    for (let k = 0; k < racers.length; k++) {
      const [into, fn] = racers[(k + r) % racers.length]!;
      into.push(time(fn, 60));
    }
  }
  const ms = (xs: number[]): string => (xs.length === 0 ? '–' : `${(median(xs) * 1000).toFixed(0)} µs`);
  console.log(
    `| ${label} | ${plain} | ${sent.length} | ${deflated ? 'yes' : 'no'} | ${ms(ours)} | ${ms(off)} | ${sentBefore?.length ?? '–'} | ${ms(theirs)} |`,
  );
}
console.log(`\nload average at end: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
