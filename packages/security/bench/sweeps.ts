// The replay guard's sweep and pruneUsage at a busy runtime's table sizes: 128 invokes per beat
// for 2,400 beats (each admitted by the guard and charged to the ledger), pruneUsage every 256
// beats as cep-node does, and the beats that stand out. Prints numbers, asserts nothing.
// Run: npx tsx --conditions=@cep/source packages/security/bench/sweeps.ts
import { createTree } from '@cep/cells';
import { admitInvokeIdVerdict, newInvokeId, pruneUsage, recordUsage } from '../src/index.ts';

const now = (): number => Number(process.hrtime.bigint()) / 1e6;
const tree = createTree();
tree.watch(() => undefined); // a runtime's organ tracker hears every change
const perBeat: Array<[number, number]> = [];
for (let beat = 1; beat <= 2400; beat++) {
  tree.setBeat(beat);
  const t = now();
  tree.batch(() => {
    for (let i = 0; i < 128; i++) {
      const id = newInvokeId();
      admitInvokeIdVerdict(tree, id);
      recordUsage(tree, id, { beats: 100 });
    }
  });
  if (beat > 1200) perBeat.push([now() - t, beat]);
  if (beat % 256 === 0 && beat > 1024) {
    const t2 = now();
    const n = pruneUsage(tree, beat - 1024);
    console.log(`beat ${beat}: pruneUsage removed ${n} records in ${(now() - t2).toFixed(0)} ms`);
  }
}
const total = perBeat.reduce((sum, [ms]) => sum + ms, 0);
const slowest = [...perBeat].sort((a, b) => b[0] - a[0]).slice(0, 8);
console.log(`beats 1201-2400: ${(total / perBeat.length).toFixed(2)} ms per beat of 128 calls`);
console.log(`slowest beats (beat: ms; a guard sweep runs every 128th): ${slowest.map(([ms, beat]) => `${beat}: ${ms.toFixed(0)}`).join(', ')}`);
console.log(
  `load ${(await import('node:os'))
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
