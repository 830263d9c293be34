import { bytes, createTree, text, u64 } from '@cep/cells';
import { encodeBranch } from '@cep/serializer';
import { zlibDeflate } from '../src/container.ts';
const KEY = new Uint8Array(32).fill(7);
for (const n of [1, 2, 4, 8, 16, 32, 64]) {
  const t = createTree();
  for (let i = 0; i < n; i++) t.set(['b', 'k' + 'abcdefghijklmnopqrstuvwxyz'[i % 26] + i, 'v'], i % 2 ? text('some text ' + i) : u64(i));
  for (const aead of [false, true]) {
    const pol = { crc32c: true, ...(aead ? { aead: { mode: 'xchacha20poly1305' as const, key: KEY } } : {}) };
    const f = encodeBranch(t.get('/b')!, pol);
    const z = zlibDeflate(f);
    for (let i = 0; i < 300; i++) zlibDeflate(f);
    const s = performance.now(); for (let i = 0; i < 1000; i++) zlibDeflate(f); const us = (performance.now() - s);
    const s2 = performance.now(); for (let i = 0; i < 300; i++) encodeBranch(t.get('/b')!, pol); const enc = (performance.now() - s2) / 300 * 1000;
    console.log(`values ${n} aead ${aead}: frame ${f.length} B -> deflate ${z.length + 24} B (${((z.length + 24) / f.length * 100).toFixed(0)}%), deflate ${us.toFixed(1)} µs, whole encode ${enc.toFixed(1)} µs`);
  }
}
