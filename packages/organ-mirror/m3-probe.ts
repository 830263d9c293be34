import { text, u64 } from '@cep/cells';
import { encodeBranch } from '@cep/serializer';
import { memoryPair, fileRequest, field } from './test/helpers.ts';
const p = await memoryPair({ earth: {}, saturn: {} });
p.saturn.tree.set('/data/shared/x', u64(0n));
fileRequest(p.earth.tree, 'r1', {});
await p.until(() => field(p.earth.tree, 'r1', 'state') === 'active', 20);
let i = 0;
const fill = (n: number) => {
  const to = i + n;
  for (; i < to; i += 2) {
    const g = Math.floor(i / 100);
    p.saturn.tree.set(`/data/shared/${g}/${i % 100}`, text(`star ${i}`));
    p.saturn.tree.set(`/data/shared/${g}/${(i % 100) + 1}`, u64(BigInt(i * 7919)));
  }
};
for (let b = 0; b < 12; b++) {
  fill(1024);
  await p.beats(1);
}
await p.beats(10);
for (const s of p.saturn.seals) {
  const kinds = s.parts.map((part) => {
    const ops = part
      .children()
      .find((c) => c.name.tag.text === 'mirror')
      ?.children()
      .find((c) => c.name.tag.text === 'ops');
    return (ops?.children() ?? [])
      .map((o) => {
        const k = o.children().find((c) => c.name.tag.text === 'op');
        const hasVb = o.children().some((c) => c.name.tag.text === 'vb');
        return `${(k?.value as any)?.value}${hasVb ? '/vb' : ''}`;
      })
      .join(',');
  });
  const dump = (c: any, d = 0): string =>
    d > 3
      ? ''
      : `${c.name.tag.text}${c.value ? '=' + (c.value.type === 'bytes' ? `bytes(${c.value.value.length})` : String(c.value.value).slice(0, 20)) : ''}[${c
          .children()
          .map((x: any) => dump(x, d + 1))
          .join(',')}]`;
  console.log(s.parts.map((x) => `${encodeBranch(x, {}).length}B ${encodeBranch(x, { deflate: true }).length}B deflated; ${dump(x).slice(0, 600)}`).join('\n'));
  console.log(`seq ${s.seq} cells ${s.cells} ops ${s.ops} parts ${s.parts.length}: ${kinds.map((k) => k.slice(0, 200)).join(' | ')}`);
}
await p.close();
