// A record's tag: the table GHASH of gmac.ts against a node:crypto AES-GCM object per record
// (crypto.ts), per record length. Prints µs per tag; asserts nothing.
// Run: npx tsx --conditions=@cep/source packages/stream-session/bench/gmac.ts
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { tag } from '../src/crypto.ts';
import { Gmac } from '../src/gmac.ts';

const key = randomBytes(32);
const header = randomBytes(13);
const gmac = new Gmac(key);
const out = Buffer.alloc(16);
const µs = (n: number, f: (i: number) => void): number => {
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f(i);
  return Number(process.hrtime.bigint() - t) / n / 1e3;
};
// JS path forced: ghash on any length (tagInto falls back to OpenSSL above the threshold).
const ghashOnly = (gmac as unknown as { ghash(h: Uint8Array, p: Uint8Array): void }).ghash.bind(gmac);
for (const length of [64, 256, 728, 1024, 1536, 2048, 4096, 16384, 65536]) {
  const payload = randomBytes(length);
  const n = Math.max(500, Math.floor(4e6 / (length + 200)));
  let js = Infinity;
  let node = Infinity;
  let mixed = Infinity;
  for (let r = 0; r < 5; r++) {
    js = Math.min(
      js,
      µs(n, () => ghashOnly(header, payload)),
    );
    node = Math.min(
      node,
      µs(n, (i) => tag(key, i, header, payload)),
    );
    mixed = Math.min(
      mixed,
      µs(n, (i) => gmac.tagInto(i, header, payload, out, 0)),
    );
  }
  console.log(
    `${String(length).padStart(6)} B: table GHASH ${js.toFixed(2)} µs, a GCM object per record ${node.toFixed(2)} µs, Gmac.tagInto ${mixed.toFixed(2)} µs`,
  );
}
console.log(
  `load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
