// A record's tag: the table GHASH of gmac.ts (WebAssembly kernel, and JavaScript) against a
// node:crypto AES-GCM object per record (crypto.ts), per record length. Prints µs per tag;
// asserts nothing. Run: npx tsx --conditions=@cep/source packages/stream-session/bench/gmac.ts
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { tag } from '../src/crypto.ts';
import { setGhashKernelForTests } from '../src/ghash-kernel.ts';
import { Gmac } from '../src/gmac.ts';

const key = randomBytes(32);
const header = randomBytes(13);
const withKernel = new Gmac(key);
setGhashKernelForTests(false);
const inJs = new Gmac(key);
setGhashKernelForTests(true);
const µs = (n: number, f: (i: number) => void): number => {
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f(i);
  return Number(process.hrtime.bigint() - t) / n / 1e3;
};
// The GHASH alone on any length (tagInto hands long records to OpenSSL).
type Inner = { runKernel(k: unknown, h: Uint8Array, p: Uint8Array): void; ghash(h: Uint8Array, p: Uint8Array): void; kernel: unknown };
const wasmGhash = (p: Uint8Array): void => (withKernel as unknown as Inner).runKernel((withKernel as unknown as Inner).kernel, header, p);
const jsGhash = (p: Uint8Array): void => (inJs as unknown as Inner).ghash(header, p);
const out = Buffer.alloc(16);
for (const length of [64, 256, 1024, 2048, 4096, 8192, 16384, 65536 - 64]) {
  const payload = randomBytes(length);
  const n = Math.max(500, Math.floor(4e6 / (length + 200)));
  const best = { wasm: Infinity, js: Infinity, node: Infinity, tagInto: Infinity };
  for (let r = 0; r < 5; r++) {
    best.wasm = Math.min(
      best.wasm,
      µs(n, () => wasmGhash(payload)),
    );
    best.js = Math.min(
      best.js,
      µs(n, () => jsGhash(payload)),
    );
    best.node = Math.min(
      best.node,
      µs(n, (i) => tag(key, i, header, payload)),
    );
    best.tagInto = Math.min(
      best.tagInto,
      µs(n, (i) => withKernel.tagInto(i, header, payload, out, 0)),
    );
  }
  console.log(
    `${String(length).padStart(6)} B: GHASH wasm ${best.wasm.toFixed(2)} µs, js ${best.js.toFixed(2)} µs; a GCM object per record ${best.node.toFixed(2)} µs; Gmac.tagInto ${best.tagInto.toFixed(2)} µs`,
  );
}
console.log(
  `load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
