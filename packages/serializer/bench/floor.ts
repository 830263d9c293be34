/**
 * The format's floor: our encode/decode against the work the flat format makes mandatory,
 * and against msgpackr and cbor-x on the same data as plain objects. Prints a table and
 * the ratios ours/floor and ours/msgpackr; asserts nothing.
 *
 * Run (from the repository root):
 *   npx tsx --conditions=@cep/source packages/serializer/bench/floor.ts [policy] [--only small|big] [--value <bytes>] [--baseline <checkout>] [--cpu]
 * `policy` (none, crc32c, aead, deflate) runs one policy only; `--only` one of the two frames;
 * `--value` gives the small frame's value another size (64 by default): with policy crc32c it is
 * the frame row a of `pnpm bench:compare` sends, so its floor bounds that row's ratio;
 * `--baseline` races the encoder, decoder and floor of another checkout of this repository too
 * (rows "before" and "floor before"), in the same rounds. `--cpu` times by the process's CPU
 * clock rather than the wall clock (steadier on a shared machine).
 *
 * The floor is the mandatory work of a frame and nothing else, timed on the very frame our
 * encoder produced (its record boundaries found before timing):
 *   - encode: copy the frame's bytes into a fresh buffer of its size, the checksum of every
 *     record and of the trailer, the BLAKE3 leaf of every record, the Merkle combine, the
 *     BLAKE3 of every payload and every payload fingerprint;
 *   - decode: the same minus the fingerprints (a reader does not recompute them).
 * It uses the package's fastest primitives, so a faster primitive lowers the floor too.
 *
 * Each contender is timed in rounds that interleave all contenders (so a change in machine
 * load hits all of them alike); the figure is the median over rounds. The machine's load
 * average is printed with the table: ratios are what count on a shared machine.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pack, unpack } from 'msgpackr';
import { decode as cborDecode, encode as cborEncode } from 'cbor-x';
import { valueToData, type Cell } from '@cep/cells';
import { decodeBranch, encodeBranch, type SerializerPolicy } from '@cep/serializer';
import { tenThousandValues, twoCell } from './branches.ts';
import { floorPlanOf, floorWork, type FloorPlan } from './floor-work.ts';
import { FEATURE_POLICIES } from '../test/helpers/fixtures.ts';

interface Case {
  readonly label: string;
  readonly branch: Cell;
  readonly plain: unknown;
  readonly values: number;
}

/** floor.ts's 10,000-value branch (see branches.ts). */
const tenThousand = (): Case => ({ label: '10,000-value branch', ...tenThousandValues(), values: 10_000 });

/** A 2-cell frame: a dictionary holding one value of `size` bytes (64 unless `--value` says otherwise). */
const twoCellCase = (size: number): Case => ({ label: `2-cell frame, ${size} B value`, ...twoCell(size), values: 1 });

/** The payloads of every value below `cell` (the bytes the format hashes). */
function payloads(cell: Cell, out: Uint8Array[] = []): Uint8Array[] {
  if (cell.kind === 'value') out.push(valueToData(cell.value!).bytes);
  for (const child of cell.children()) payloads(child, out);
  return out;
}

/** Where the records of `frame` are, for the floor (found once, outside the timed work). */
const planOf = (frame: Uint8Array, c: Case, checksum: 0 | 1): FloorPlan =>
  floorPlanOf(
    frame,
    payloads(c.branch).filter((p) => p.length > 0),
    checksum,
  );

/** Wall milliseconds each contender runs, in turns, before any is timed (see {@link race}). */
const WARM_MS = 400;

/** Per-op time of `fn`, as the median over `rounds` interleaved rounds (see {@link race}). */
type Timed = { name: string; fn: () => void; ms: number[] };

/** Milliseconds of this process's CPU (user + system, every thread) since it started. */
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

function race(contenders: Timed[], rounds: number, batchMs: number): void {
  // Warm up, and find how many calls make ~1 ms: the clock is read once per that many calls,
  // so reading it (a system call for the CPU clock) stays a small part of a tiny operation.
  // First a warm-up of WARM_MS per contender: three calls left the JIT tiering up during the
  // rounds (its compiler threads count on the CPU clock), which read a 2-cell AEAD encode at
  // 85-95 µs here against 33 µs warm (bench/ab.ts, 20,000 calls of warm-up). The contenders
  // take turns, ~2 ms each, as in the rounds: the floor calls our primitives with other array
  // types, and warming our encoder alone first let the JIT specialise it and then deoptimise
  // it in the rounds (the 10,000-value branch read 1.2-2× slower than the same code warmed
  // in turns).
  const warmEnd = performance.now() + WARM_MS * contenders.length;
  while (performance.now() < warmEnd) {
    for (const c of contenders) {
      const start = performance.now();
      do c.fn();
      while (performance.now() - start < 2);
    }
  }
  const inner = contenders.map((c) => {
    const start = performance.now();
    let n = 0;
    while (performance.now() - start < 5) {
      c.fn();
      n++;
    }
    return Math.max(1, Math.floor(n / 5));
  });
  const clock = useCpu ? cpuMs : () => performance.now();
  for (let r = 0; r < rounds; r++) {
    // Each round starts one contender later, so none always runs after the same one.
    for (let k = 0; k < contenders.length; k++) {
      const index = (k + r) % contenders.length;
      const c = contenders[index]!;
      const calls = inner[index]!;
      let n = 0;
      const start = clock();
      let now = start;
      do {
        for (let i = 0; i < calls; i++) c.fn();
        n += calls;
        now = clock();
      } while (now - start < batchMs);
      c.ms.push((now - start) / n);
    }
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const fmt = (ms: number): string => (ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(1)} µs`).padStart(10);

type Codec = { encodeBranch: typeof encodeBranch; decodeBranch: typeof decodeBranch; floorWork?: typeof floorWork };

function run(c: Case, policyName: string, policy: SerializerPolicy, baseline: Codec | undefined): void {
  const checksum: 0 | 1 = policy.crc32c ? 1 : 0;
  const frame = encodeBranch(c.branch, policy);
  const plan = planOf(frame, c, checksum);
  const packed = pack(c.plain);
  const cbor = cborEncode(c.plain);
  const t = (name: string, fn: () => void): Timed => ({ name, fn, ms: [] });
  const contenders = [
    t('ours enc', () => encodeBranch(c.branch, policy)),
    t('ours dec', () => decodeBranch(frame, policy)),
    t('floor enc', () => floorWork(plan, true)),
    t('floor dec', () => floorWork(plan, false)),
    t('msgpackr enc', () => pack(c.plain)),
    t('msgpackr dec', () => unpack(packed)),
    t('cbor-x enc', () => cborEncode(c.plain)),
    t('cbor-x dec', () => cborDecode(cbor)),
    ...(baseline === undefined
      ? []
      : [t('before enc', () => baseline.encodeBranch(c.branch, policy)), t('before dec', () => baseline.decodeBranch(frame, policy))]),
    ...(baseline?.floorWork === undefined
      ? []
      : [t('before floor enc', () => baseline.floorWork!(plan, true)), t('before floor dec', () => baseline.floorWork!(plan, false))]),
  ];
  // Small frames take 31 rounds: a 20 ms batch is easily preempted on a shared machine, and more rounds steady the median.
  race(contenders, c.values > 1 ? 11 : 31, c.values > 1 ? 60 : 20);
  const m = Object.fromEntries(contenders.map((x) => [x.name, median(x.ms)])) as Record<string, number>;
  console.log(
    `\n== ${c.label}, policy ${policyName}: frame ${frame.length} B (${(frame.length / c.values).toFixed(0)} B/value), msgpackr ${packed.length} B, cbor-x ${cbor.length} B`,
  );
  console.log(
    `            ${'ours'.padStart(10)} ${'floor'.padStart(10)} ${'msgpackr'.padStart(10)} ${'cbor-x'.padStart(10)}   ours/floor  ours/msgpackr  ours/cbor-x`,
  );
  for (const side of ['enc', 'dec']) {
    const ours = m[`ours ${side}`]!;
    const floor = m[`floor ${side}`]!;
    const mp = m[`msgpackr ${side}`]!;
    const cb = m[`cbor-x ${side}`]!;
    console.log(
      `${side === 'enc' ? 'encode' : 'decode'}      ${fmt(ours)} ${fmt(floor)} ${fmt(mp)} ${fmt(cb)}   ${(ours / floor).toFixed(2).padStart(10)}  ${(ours / mp).toFixed(1).padStart(13)}  ${(ours / cb).toFixed(1).padStart(11)}`,
    );
    const before = m[`before ${side}`];
    if (before !== undefined) {
      console.log(
        `  before    ${fmt(before)} ${''.padStart(10)} ${''.padStart(10)} ${''.padStart(10)}   ${(before / floor).toFixed(2).padStart(10)}  ${(before / mp).toFixed(1).padStart(13)}  ${(before / cb).toFixed(1).padStart(11)}   (ours/before ${(ours / before).toFixed(2)})`,
      );
    }
    const floorBefore = m[`before floor ${side}`];
    if (floorBefore !== undefined && before !== undefined) {
      console.log(
        `  floor before ${fmt(floorBefore)}: before/floor before ${(before / floorBefore).toFixed(2)}, floor before/msgpackr ${(floorBefore / mp).toFixed(1)}, floor/msgpackr ${(floor / mp).toFixed(1)}, floor/floor before ${(floor / floorBefore).toFixed(2)}`,
      );
    }
  }
}

const args = process.argv.slice(2);
const baselineAt = args.indexOf('--baseline');
const baselineDir = baselineAt >= 0 ? args.splice(baselineAt, 2)[1] : undefined;
// `--only small` (or `big`) runs one frame: small frames raced after the 10,000-value rounds
// read slower than raced alone (the same JIT and heap serve both), so each can be run by itself.
// `--cpu` times with the process's CPU clock instead of the wall clock: on a machine shared by
// other jobs, time spent waiting for a core then counts for nobody (GC and compiler threads count).
const cpuAt = args.indexOf('--cpu');
if (cpuAt >= 0) args.splice(cpuAt, 1);
const useCpu = cpuAt >= 0;
const onlyAt = args.indexOf('--only');
const onlyCase = onlyAt >= 0 ? args.splice(onlyAt, 2)[1] : undefined;
const valueAt = args.indexOf('--value');
const valueSize = valueAt >= 0 ? Number(args.splice(valueAt, 2)[1]) : 64;
if (!Number.isInteger(valueSize) || valueSize < 1) throw new Error('--value wants a whole number of bytes ≥ 1');
// The baseline's own floor (its bench/floor-work.ts) is raced too: the floor moves when a primitive gets faster.
const baseline =
  baselineDir === undefined
    ? undefined
    : ({
        ...((await import(resolve(baselineDir, 'packages/serializer/src/index.ts'))) as Codec),
        floorWork: ((await import(resolve(baselineDir, 'packages/serializer/bench/floor-work.ts'))) as { floorWork: typeof floorWork }).floorWork,
      } as Codec);
const only = args[0];
console.log(`node ${process.version}, ${useCpu ? 'CPU' : 'wall'} clock, load average at start: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
const big = tenThousand();
const small = twoCellCase(valueSize);
for (const [name, policy] of FEATURE_POLICIES) {
  if (only !== undefined && only !== name) continue;
  if (onlyCase !== 'small') run(big, name, policy, baseline);
  if (onlyCase !== 'big') run(small, name, policy, baseline);
}
console.log(`\nload average at end: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
