/**
 * @cep/cells benchmarks. Prints numbers; asserts nothing.
 * Run: npx --yes pnpm@10.34.8 bench   (from packages/cells)
 */
import { performance } from 'node:perf_hooks';
import { createTree, digest, id, idFromCode, name, text, u64, wordId } from '@cep/cells';

function rate(label: string, count: number, ms: number, unit = 'ops'): void {
  console.log(`${label.padEnd(44)} ${(count / (ms / 1000)).toFixed(0).padStart(12)} ${unit}/s   (${count} in ${ms.toFixed(1)} ms)`);
}

function time(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

// Names: distinct texts so the memo does not answer for us.
const N = 200_000;
const words = Array.from({ length: N }, (_, i) => 'w' + i.toString(26).replace(/[0-9]/g, (d) => 'qrstuvwxyz'[Number(d)]!)).map((t) => t.slice(0, 11));
let sink = 0;
rate(
  'word encode (wordId)',
  N,
  time(() => {
    for (const w of words) sink += Number(wordId(w).code! & 1n);
  }),
);
const codes = words.map((w) => wordId(w).code!);
rate(
  'word decode (idFromCode)',
  N,
  time(() => {
    for (const c of codes) sink += idFromCode(c).text.length;
  }),
);
const mixed = Array.from({ length: N }, (_, i) => (i % 3 === 0 ? `ref/${i}` : i % 3 === 1 ? `${i + 1}` : `ACR${i % 999}`));
rate(
  'text → id rule (mixed kinds, cold)',
  N,
  time(() => {
    for (const t of mixed) sink += id(t).text.length;
  }),
);

// A 1,000,000-cell tree: 1,000 dictionaries × 1,000 values.
const tree = createTree();
const outer = Array.from({ length: 1000 }, (_, i) => name(`n${i}`.replace(/[0-9]/g, (d) => 'abcdefghij'[Number(d)]!)));
const inner = Array.from({ length: 1000 }, (_, i) => name(String(i + 1)));
const insertMs = time(() => {
  for (const o of outer) {
    const dict = ['data', o];
    for (const n of inner) tree.set([...dict, n], u64(n.tag.text.length));
  }
});
rate('insert into a 1,000,000-cell tree', 1_000_000, insertMs, 'cells');
const lookupMs = time(() => {
  for (let i = 0; i < 1_000_000; i++) {
    const cell = tree.get(['data', outer[i % 1000]!, inner[(i * 7919) % 1000]!]);
    if (cell !== undefined) sink++;
  }
});
rate('lookup by path in that tree', 1_000_000, lookupMs, 'lookups');

// Digest: report MB/s of the value bytes hashed (texts of 1 KiB).
const big = createTree();
const payload = 'x'.repeat(1023);
for (let i = 0; i < 16_384; i++) big.set(['blob', name(String(i + 1))], text(payload));
const digestMs = time(() => {
  digest(big.root);
});
console.log(`${'digest (16 MiB of 1 KiB text values)'.padEnd(44)} ${(16 / (digestMs / 1000)).toFixed(0).padStart(12)} MB/s`);
const digestSmallMs = time(() => {
  digest(tree.root);
});
rate('digest of the 1,000,000-cell tree', 1_000_000, digestSmallMs, 'cells');
if (sink === -1) console.log('');
