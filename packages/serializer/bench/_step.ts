import { batchCombine, batchChecksums } from '../src/blake3-batch.ts';
import { hashPairWords } from '../src/blake3-chunk.ts';
const level = new Uint8Array(64 * 8 + 64).map((_, i) => i);
const words = new Int32Array(level.buffer);
const crc = { id: 1 as const, starts: [], ends: [], count: 0, lastStart: -1, lastEnd: -1, out: new Uint32Array(2), done: false };
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const fns: [string, () => void][] = [
 ['empty kernel call', () => batchChecksums(level.subarray(0, 0), crc)],
 ['kernel root of 2 (1 step)', () => batchCombine(level, 2)],
 ['kernel root of 4 (2 steps)', () => batchCombine(level, 4)],
 ['kernel root of 16 (1+1+1+1 steps, 15 nodes)', () => batchCombine(level, 16)],
 ['JS 1 node', () => hashPairWords(words, 1)],
 ['JS 3 nodes', () => { hashPairWords(words, 2); hashPairWords(words, 1); }],
 ['JS 15 nodes', () => { hashPairWords(words, 8); hashPairWords(words, 4); hashPairWords(words, 2); hashPairWords(words, 1); }],
];
const times = fns.map(() => [] as number[]);
for (const [, f] of fns) for (let i = 0; i < 50000; i++) f();
for (let r = 0; r < 31; r++) for (let k = 0; k < fns.length; k++) { const idx = (k + r) % fns.length; const f = fns[idx]![1]; const s = cpu(); let n = 0; while (cpu() - s < 5) { for (let i = 0; i < 100; i++) f(); n += 100; } times[idx]!.push((cpu() - s) * 1000 / n); }
fns.forEach(([name], i) => console.log(name.padEnd(45), times[i]!.sort((a, b) => a - b)[15]!.toFixed(3), 'µs'));
