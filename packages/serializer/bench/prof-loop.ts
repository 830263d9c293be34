import { createTree, text, u64 } from '@cep/cells';
import { decodeBranch, encodeBranch } from '@cep/serializer';
const tree = createTree();
for (let i = 0; i < 1000; i++) {
  const key = 'r' + i.toString(26).replace(/[0-9]/g, (d) => 'qrstuvwxyz'[Number(d)]!);
  for (let f = 0; f < 10; f++) {
    const field = 'f' + 'abcdefghij'[f];
    if (f % 2 === 0) tree.set(['b', key, field], text(`value ${i}.${f}`));
    else tree.set(['b', key, field], u64(i * 10 + f));
  }
}
import { bytes } from '@cep/cells';
const small = createTree();
small.set('/b/v', bytes(Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff)));
const KEY = new Uint8Array(32).fill(7);
const branch = process.argv[4] === 'small' ? small.get('/b')! : tree.get('/b')!;
const policy = process.argv[3] === 'aead' ? { crc32c: true, aead: { mode: 'xchacha20poly1305' as const, key: KEY } } : process.argv[3] === 'all' ? { crc32c: true, deflate: true, aead: { mode: 'xchacha20poly1305' as const, key: KEY } } : { crc32c: true };
const N = process.argv[4] === 'small' ? 100000 : 30;
const which = process.argv[2] ?? 'both';
const frame = encodeBranch(branch, policy);
const t = performance.now();
for (let i = 0; i < N; i++) {
  if (which !== 'dec') encodeBranch(branch, policy);
  if (which !== 'enc') decodeBranch(frame, policy);
}
console.log(which, ((performance.now() - t) / N).toFixed(2), 'ms/iter');
