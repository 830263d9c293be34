/**
 * Sealing and opening one chunk, by size: the package's JS small-message ChaCha20-Poly1305
 * against node:crypto (a cipher object per call) and @noble/ciphers, mode 3 (XChaCha: the
 * same HChaCha subkey step on every path). Prints µs per call; asserts nothing. The JS path's
 * size limit (SMALL_AEAD_MAX in src/chacha-small.ts) sits where node:crypto starts to win.
 *
 * Run (from the repository root): npx tsx --conditions=@cep/source packages/serializer/bench/aead.ts
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { hchacha } from '@noble/ciphers/chacha.js';
import { aeadOpen, aeadSeal, portableAead } from '../src/aead.ts';
import { openSmall, sealSmall } from '../src/chacha-small.ts';

const key = new Uint8Array(32).fill(7);
const nonce = new Uint8Array(24).fill(3);
const aad = new Uint8Array(72).fill(1); // a chunk key four levels deep

/** XChaCha subkey and nonce, as every path derives them. */
function subkey(): { key: Uint8Array; nonce: Uint8Array } {
  const k = new Uint32Array(8);
  const n = new Uint32Array(4);
  const out = new Uint32Array(8);
  const kv = new DataView(key.buffer);
  const nv = new DataView(nonce.buffer);
  for (let i = 0; i < 8; i++) k[i] = kv.getUint32(4 * i, true);
  for (let i = 0; i < 4; i++) n[i] = nv.getUint32(4 * i, true);
  hchacha(Uint32Array.of(0x61707865, 0x3320646e, 0x79622d32, 0x6b206574), k, n, out);
  const chachaNonce = new Uint8Array(12);
  chachaNonce.set(nonce.subarray(16), 4);
  return { key: new Uint8Array(out.buffer), nonce: chachaNonce };
}
const sub = subkey();

function nodeSeal(data: Uint8Array): Uint8Array {
  const c = createCipheriv('chacha20-poly1305', sub.key, sub.nonce, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: data.length });
  const head = c.update(data);
  c.final();
  const out = new Uint8Array(head.length + 16);
  out.set(head);
  out.set(c.getAuthTag(), head.length);
  return out;
}

function nodeOpen(sealed: Uint8Array): Uint8Array {
  const d = createDecipheriv('chacha20-poly1305', sub.key, sub.nonce, { authTagLength: 16 });
  d.setAAD(aad, { plaintextLength: sealed.length - 16 });
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  const out = d.update(sealed.subarray(0, sealed.length - 16));
  d.final();
  return out;
}

function perCall(fn: () => unknown): number {
  for (let i = 0; i < 2000; i++) fn();
  const times: number[] = [];
  for (let round = 0; round < 5; round++) {
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < 40) {
      for (let i = 0; i < 50; i++) fn();
      n += 50;
    }
    times.push(((performance.now() - start) * 1000) / n);
  }
  return times.sort((a, b) => a - b)[2]!;
}

console.log(`load average: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
console.log('bytes   seal: JS small   node:crypto   noble   aeadSeal   |   open: JS small   node:crypto   aeadOpen   (µs per call)');
for (const size of [8, 16, 64, 128, 256, 512, 1024, 2048, 4096]) {
  const data = Uint8Array.from({ length: size }, (_, i) => i & 0xff);
  const sealed = nodeSeal(data);
  const js = perCall(() => sealSmall(sub.key, sub.nonce, data, aad));
  const nd = perCall(() => nodeSeal(data));
  const nb = perCall(() => portableAead.seal(3, key, nonce, data, aad));
  const as = perCall(() => aeadSeal(3, key, nonce, data, aad));
  const sealedX = aeadSeal(3, key, nonce, data, aad);
  const jo = perCall(() => openSmall(sub.key, sub.nonce, sealed, aad));
  const no = perCall(() => nodeOpen(sealed));
  const ao = perCall(() => aeadOpen(3, key, nonce, sealedX, aad));
  const f = (x: number): string => x.toFixed(2).padStart(8);
  console.log(`${String(size).padStart(5)}   ${f(js)}   ${f(nd)}   ${f(nb)}   ${f(as)}   |   ${f(jo)}   ${f(no)}   ${f(ao)}`);
}
