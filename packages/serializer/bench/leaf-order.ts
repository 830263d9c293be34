/**
 * The Merkle leaf order of the 10,000-value branch frame alone: the plain stable sort of key
 * strings (`leafOrder`) against the order through the records' tree (`leafOrderByTree`), as the
 * writer runs it (bytes compared in place, no key strings) and as the reader does (key strings
 * it makes anyway). Interleaved rounds, CPU clock, medians; prints numbers, asserts nothing.
 *
 * Run (from the repository root):
 *   npx tsx --conditions=@cep/source packages/serializer/bench/leaf-order.ts
 */
import { readFileSync } from 'node:fs';
import { encodeBranch } from '@cep/serializer';
import { latin1Slicer } from '../src/bytes.ts';
import { readFrame, recordKeys } from '../src/frame-reader.ts';
import { leafOrder } from '../src/hash.ts';
import { leafOrderByTree } from '../src/leaf-order.ts';
import { tenThousandValues } from './branches.ts';

const table = readFrame(encodeBranch(tenThousandValues().branch, { crc32c: true }));
const keys = recordKeys(table);
const count = keys.length;
const { frame, keyStarts, bodyStarts } = table;
const slice = latin1Slicer(frame);
const contenders: Array<[string, () => unknown]> = [
  ['encode before: key strings + sort', () => leafOrder(Array.from({ length: count }, (_, i) => slice(keyStarts[i]!, bodyStarts[i]!)))],
  ['encode now: tree, checked in place', () => leafOrderByTree(frame, keyStarts, bodyStarts, count)],
  ['decode before: sort (strings made)', () => leafOrder(keys)],
  ['decode now: tree, checked on strings', () => leafOrderByTree(frame, keyStarts, bodyStarts, count, keys)],
];
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const times = contenders.map(() => [] as number[]);
for (let round = 0; round < 15; round++) {
  contenders.forEach(([, fn], c) => {
    const start = cpuMs();
    for (let r = 0; r < 10; r++) fn();
    if (round > 2) times[c]!.push((cpuMs() - start) / 10);
  });
}
console.log(`${count} records, load average ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
contenders.forEach(([label], c) => {
  const sorted = times[c]!.sort((a, b) => a - b);
  console.log(`${label.padEnd(38)} ${sorted[sorted.length >> 1]!.toFixed(2)} ms (CPU, median of ${sorted.length})`);
});
