/**
 * Our encodeBranch, decodeBranch and the frame reader alone against another checkout of this
 * repository ("base"), in one process: six contenders in interleaved rounds (fewer than
 * floor.ts races, so less interference between them), many short rounds, the median per
 * contender by the process's CPU clock. Prints ours/base; asserts nothing.
 *
 * Run (from the repository root):
 *   npx tsx --conditions=@cep/source packages/serializer/bench/ab.ts small|invoke|big [--aead] --baseline <checkout>
 * `small` is floor.ts's 2-cell frame (one 64-byte value), `invoke` a call's six small fields one
 * store down (an invoke-like frame of 14 records), `big` floor.ts's 10,000-value branch; policy
 * crc32c, with `--aead` also XChaCha20-Poly1305 (floor.ts's aead policy). The frame both decode
 * is the one this checkout encodes.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createTree, text, u64, type Cell } from '@cep/cells';
import * as ours from '@cep/serializer';
import { readFrame } from '../src/frame-reader.ts';
import { tenThousandValues, twoCell } from './branches.ts';
import { medianMicros } from './cpu-rounds.ts';

const args = process.argv.slice(2);
const at = args.indexOf('--baseline');
if (at < 0 || args[at + 1] === undefined) throw new Error('usage: ab.ts small|invoke|big --baseline <checkout>');
const baseDir = args.splice(at, 2)[1]!;
const aeadAt = args.indexOf('--aead');
if (aeadAt >= 0) args.splice(aeadAt, 1);
const big = args[0] === 'big';

/** An invoke-like frame: a call's six small fields one store down. */
function invokeLike(): Cell {
  const tree = createTree();
  const fields = { id: u64(42), op: text('add'), arg: u64(41), from: text('peer-a'), status: text('pending'), beat: u64(7) };
  for (const [field, value] of Object.entries(fields)) tree.set(['b', 'call', field], value);
  return tree.get('/b')!;
}
const branch = big ? tenThousandValues().branch : args[0] === 'invoke' ? invokeLike() : twoCell().branch;

type Codec = typeof ours;
const base = (await import(resolve(baseDir, 'packages/serializer/src/index.ts'))) as Codec;
const baseReader = (await import(resolve(baseDir, 'packages/serializer/src/frame-reader.ts'))) as { readFrame: typeof readFrame };
const policy = aeadAt >= 0 ? { crc32c: true, aead: { mode: 'xchacha20poly1305' as const, key: new Uint8Array(32).fill(7) } } : { crc32c: true };
const frame = ours.encodeBranch(branch, policy);
const contenders: [string, () => unknown][] = [
  ['base encode', () => base.encodeBranch(branch, policy)],
  ['ours encode', () => ours.encodeBranch(branch, policy)],
  ['base decode', () => base.decodeBranch(frame, policy)],
  ['ours decode', () => ours.decodeBranch(frame, policy)],
  ['base readFrame', () => baseReader.readFrame(frame)],
  ['ours readFrame', () => readFrame(frame)],
];
for (const [, fn] of contenders) for (let i = 0; i < (big ? 10 : 20_000); i++) fn();
const batchMs = big ? 40 : 5;
const rounds = big ? 15 : 101;
console.log(
  `node ${process.version}, CPU clock, ${big ? '10,000-value branch' : args[0] === 'invoke' ? 'invoke-like frame' : '2-cell frame'}, policy crc32c${aeadAt >= 0 ? ' + aead' : ''}, load average at start: ${readFileSync('/proc/loadavg', 'utf8').trim()}`,
);
const median = medianMicros(
  contenders.map(([, fn]) => fn),
  rounds,
  batchMs,
);
contenders.forEach(([name], i) => {
  const ratio = i % 2 === 1 ? `   ours/base ${(median[i]! / median[i - 1]!).toFixed(3)}` : '';
  console.log(`${name.padEnd(16)} ${median[i]!.toFixed(1).padStart(10)} µs${ratio}`);
});
console.log(`load average at end: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
