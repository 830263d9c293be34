/**
 * @cep/serializer benchmarks: prints a table, asserts nothing.
 * Run: npx --yes pnpm@10.34.8 bench   (from packages/serializer)
 */
import { performance } from 'node:perf_hooks';
import { pack, unpack } from 'msgpackr';
import { decode as cborDecode, encode as cborEncode } from 'cbor-x';
import { bytes, createTree, type Cell } from '@cep/cells';
import { decodeBranch, encodeBranch, type SerializerPolicy } from '@cep/serializer';
import { aeadSeal, portableAead } from '../src/aead.ts';
import { tenThousandValues } from './branches.ts';
import { crc32cRawFast, crc32cRawJs } from '../src/checksum.ts';
import { portableZlib, zlibDeflate } from '../src/container.ts';

const KEY = new Uint8Array(32).fill(7);
const MB = 1024 * 1024;

/**
 * Best wall time of one call. A few untimed calls first: a call of tens of milliseconds
 * otherwise gets timed before the JIT has optimized it (with a 400 ms window the first row
 * measured got four samples, half of them cold). Then at least `minRuns` timed calls.
 */
function best(fn: () => void, minMs = 1000, minRuns = 8): number {
  for (let i = 0; i < 3; i++) fn();
  let bestMs = Infinity;
  let runs = 0;
  const until = performance.now() + minMs;
  do {
    const t = performance.now();
    fn();
    bestMs = Math.min(bestMs, performance.now() - t);
    runs++;
  } while (performance.now() < until || runs < minRuns);
  return bestMs;
}

// (a) 10,000 cells of small values: 1,000 dictionaries of 10 fields (text and u64).
const { branch: small, plain } = tenThousandValues();
// (b) one 16 MiB payload.
const bigData = Uint8Array.from({ length: 16 * MB }, (_, i) => (i * 7 + (i >> 9)) & 0xff);
const big = createTree();
big.set('/b/blob', bytes(bigData));

const policies: Array<[string, SerializerPolicy]> = [
  ['none', {}],
  ['crc32c', { crc32c: true }],
  ['deflate', { deflate: true }],
  ['aead', { aead: { mode: 'xchacha20poly1305', key: KEY } }],
  ['all', { crc32c: true, deflate: true, aead: { mode: 'xchacha20poly1305', key: KEY } }],
];

function row(label: string, branch: Cell, cells: number, mb: number, policy: SerializerPolicy): { enc: number; dec: number } {
  let frame = encodeBranch(branch, policy);
  const enc = best(() => {
    frame = encodeBranch(branch, policy);
  });
  const dec = best(() => {
    decodeBranch(frame, policy);
  });
  console.log(
    `${label.padEnd(28)} ${String(frame.length).padStart(10)} B  enc ${(mb / (enc / 1000)).toFixed(0).padStart(6)} MB/s ${(cells / (enc / 1000)).toFixed(0).padStart(9)} cells/s   dec ${(mb / (dec / 1000)).toFixed(0).padStart(6)} MB/s ${(cells / (dec / 1000)).toFixed(0).padStart(9)} cells/s`,
  );
  return { enc, dec };
}

console.log('== 10,000-cell branch of small values (MB/s over the plain frame size)');
const smallMb = encodeBranch(small).length / MB;
const results = policies.map(([name, p]) => [name, row(`branch/${name}`, small, 11001, smallMb, p)] as const);
let packed = pack(plain);
const mpEnc = best(() => {
  packed = pack(plain);
});
const mpDec = best(() => {
  unpack(packed);
});
let cbor = cborEncode(plain);
const cbEnc = best(() => {
  cbor = cborEncode(plain);
});
const cbDec = best(() => {
  cborDecode(cbor);
});
console.log(
  `${'msgpackr (plain objects)'.padEnd(28)} ${String(packed.length).padStart(10)} B  enc ${(10000 / (mpEnc / 1000)).toFixed(0).padStart(9)} cells/s   dec ${(10000 / (mpDec / 1000)).toFixed(0).padStart(9)} cells/s`,
);
console.log(
  `${'cbor-x (plain objects)'.padEnd(28)} ${String(cbor.length).padStart(10)} B  enc ${(10000 / (cbEnc / 1000)).toFixed(0).padStart(9)} cells/s   dec ${(10000 / (cbDec / 1000)).toFixed(0).padStart(9)} cells/s`,
);
const none = results[0]![1];
console.log(
  `ratio (ours / msgpackr time, <1 is faster): encode ${(none.enc / mpEnc).toFixed(2)}  decode ${(none.dec / mpDec).toFixed(2)};  vs cbor-x: encode ${(none.enc / cbEnc).toFixed(2)}  decode ${(none.dec / cbDec).toFixed(2)}`,
);

console.log('\n== one 16 MiB payload');
for (const [name, p] of policies) row(`payload/${name}`, big.get('/b')!, 1, 16, p);
const mpBig = best(() => {
  pack({ blob: bigData });
});
console.log(`${'msgpackr (16 MiB bytes)'.padEnd(28)} enc ${(16 / (mpBig / 1000)).toFixed(0)} MB/s`);

console.log('\n== primitives');
for (const size of [64, 1024, MB]) {
  const data = bigData.subarray(0, size);
  const reps = Math.max(1, Math.floor((8 * MB) / size));
  const native = best(() => {
    for (let i = 0; i < reps; i++) crc32cRawFast(data);
  });
  const js = best(() => {
    for (let i = 0; i < reps; i++) crc32cRawJs(data);
  });
  console.log(
    `crc32c ${String(size).padStart(8)} B: fast-crc32c ${((size * reps) / (native / 1000) / 1e9).toFixed(2)} GB/s   JS slice-by-8 ${((size * reps) / (js / 1000) / 1e9).toFixed(2)} GB/s`,
  );
}
const oneMb = bigData.subarray(0, 4 * MB);
const zNode = best(() => {
  zlibDeflate(oneMb);
});
const zPako = best(() => {
  portableZlib.deflate(oneMb);
});
console.log(`deflate level 1, 4 MiB: node:zlib ${(4 / (zNode / 1000)).toFixed(0)} MB/s   pako ${(4 / (zPako / 1000)).toFixed(0)} MB/s`);
const nonce = new Uint8Array(24);
const aNode = best(() => {
  aeadSeal(3, KEY, nonce, oneMb, nonce);
});
const aNoble = best(() => {
  portableAead.seal(3, KEY, nonce, oneMb, nonce);
});
console.log(
  `XChaCha20-Poly1305, 4 MiB: node:crypto (+noble HChaCha) ${(4 / (aNode / 1000)).toFixed(0)} MB/s   @noble/ciphers ${(4 / (aNoble / 1000)).toFixed(0)} MB/s`,
);
