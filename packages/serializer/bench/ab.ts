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
import { bytes, createTree, text, u64 } from '@cep/cells';
import * as ours from '@cep/serializer';
import { readFrame } from '../src/frame-reader.ts';
import { medianMicros } from './cpu-rounds.ts';

const args = process.argv.slice(2);
const at = args.indexOf('--baseline');
if (at < 0 || args[at + 1] === undefined) throw new Error('usage: ab.ts small|invoke|big --baseline <checkout>');
const baseDir = args.splice(at, 2)[1]!;
const aeadAt = args.indexOf('--aead');
if (aeadAt >= 0) args.splice(aeadAt, 1);
const big = args[0] === 'big';

const tree = createTree();
if (big) {
  for (let i = 0; i < 1000; i++) {
    const key = 'r' + i.toString(26).replace(/[0-9]/g, (d) => 'qrstuvwxyz'[Number(d)]!);
    for (let f = 0; f < 10; f++) tree.set(['b', key, 'f' + 'abcdefghij'[f]], f % 2 === 0 ? text(`value ${i}.${f}`) : u64(i * 10 + f));
  }
} else if (args[0] === 'invoke') {
  const fields = { id: u64(42), op: text('add'), arg: u64(41), from: text('peer-a'), status: text('pending'), beat: u64(7) };
  for (const [field, value] of Object.entries(fields)) tree.set(['b', 'call', field], value);
} else tree.set('/b/v', bytes(Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff)));
const branch = tree.get('/b')!;

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
