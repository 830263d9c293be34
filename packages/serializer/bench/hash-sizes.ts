/**
 * BLAKE3-256 of one input by size, on each path the package has: `blake3Into` (what payload
 * hashes use), the kernel's `tree` alone, hash-wasm, the JS one-chunk function, @noble/hashes,
 * and with `--baseline <checkout>` that checkout's `blake3Into` in the same rounds. Prints µs per
 * hash (median of interleaved rounds, CPU clock) and MB/s; asserts nothing.
 *
 * Run (from the repository root):
 *   npx tsx --conditions=@cep/source packages/serializer/bench/hash-sizes.ts [--baseline <checkout>]
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js';
import { createBLAKE3 } from 'hash-wasm';
import { batchHash } from '../src/blake3-batch.ts';
import { blake3Chunk } from '../src/blake3-chunk.ts';
import { blake3Into } from '../src/hash.ts';
import { medianMicros } from './cpu-rounds.ts';

const args = process.argv.slice(2);
const at = args.indexOf('--baseline');
const baseDir = at >= 0 ? args[at + 1] : undefined;
type Into = typeof blake3Into;
const baseInto = baseDir === undefined ? undefined : ((await import(resolve(baseDir, 'packages/serializer/src/hash.ts'))) as { blake3Into: Into }).blake3Into;

const hasher = await createBLAKE3(256);
const out = new Uint8Array(64);

console.log(`node ${process.version}, CPU clock, load average at start: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
const sizes = [64, 192, 193, 256, 384, 512, 768, 1024, 1025, 1280, 1536, 1537, 1792, 2048, 4096, 16384, 65536, 1 << 20];
const names = ['blake3Into', 'kernel tree', 'hash-wasm', 'JS chunk', 'noble', ...(baseInto ? ['base blake3Into'] : [])];
console.log(['bytes'.padStart(8), ...names.map((n) => n.padStart(16))].join(''));
for (const size of sizes) {
  const data = Uint8Array.from({ length: size }, (_, i) => (i * 7 + 3) & 0xff);
  const fns: (() => void)[] = [
    () => blake3Into(data, 0, size, out, 0),
    () => batchHash(data, 0, size, out, 0),
    () => {
      hasher.init();
      hasher.update(data);
      out.set(hasher.digest('binary'), 0);
    },
    () => (size <= 1024 ? blake3Chunk(data, 0, size, out, 0) : undefined),
    () => out.set(nobleBlake3(data), 0),
    ...(baseInto ? [() => baseInto(data, 0, size, out, 0)] : []),
  ];
  for (const fn of fns) for (let i = 0; i < 50; i++) fn();
  const med = medianMicros(fns, size >= 65536 ? 9 : 21, size >= 65536 ? 20 : 4);
  const cells = med.map((us, i) => (i === 3 && size > 1024 ? '-' : `${us.toFixed(2)} (${(size / us).toFixed(0)})`).padStart(16));
  console.log([String(size).padStart(8), ...cells].join(''));
}
console.log('µs per hash (MB/s)');
console.log(`load average at end: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
