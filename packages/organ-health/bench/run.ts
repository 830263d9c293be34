/**
 * @cep/organ-health benchmarks. Prints numbers; asserts nothing.
 * Run: npx --yes pnpm@10.34.8 bench   (from packages/organ-health)
 */
import { performance } from 'node:perf_hooks';
import { bool, createTree, text, u64, type Tree } from '@cep/cells';
import { createRuntime, type Runtime } from '@cep/heartbeat';
import { installHealth } from '@cep/organ-health';

const PEERS = 1_000;
const MOUNTS = 4;
const letters = (i: number): string => i.toString(26).replace(/[0-9]/g, (d) => 'qrstuvwxyz'[Number(d)]!);
const peerName = (i: number): string => `p${letters(i)}`;
const mountName = (j: number): string => `m${letters(j)}`;

function record(tree: Tree, peer: string, mount: string, beat: number, valid = true): void {
  const at = ['net', 'telemetry', peer, mount];
  for (const counter of ['ready_count', 'bp_count', 'fatal_count']) tree.set([...at, counter], u64(1n));
  tree.set([...at, 'frame_count'], u64(BigInt(beat)));
  tree.set([...at, 'last_mode'], text('data'));
  tree.set([...at, 'last_sample'], u64(BigInt(beat)));
  tree.set([...at, 'last_event'], text('ready'));
  tree.set([...at, 'bp_flag'], valid ? bool(false) : text('no'));
}

function setup(invalidEvery = 0): Runtime {
  const rt = createRuntime({ tree: createTree(), ceiRetain: 64 });
  for (let i = 0; i < PEERS; i++) {
    for (let j = 0; j < MOUNTS; j++) {
      rt.tree.set(['net', 'mounts', peerName(i), 'link', mountName(j), 'state'], text('open'));
      record(rt.tree, peerName(i), mountName(j), 0, invalidEvery === 0 || (i * MOUNTS + j) % invalidEvery !== 0);
    }
    rt.cei.emit({ topic: 'tp_backpr', severity: 'warn', note: 'full', origin: 'bench', peer: peerName(i) });
  }
  installHealth(rt);
  return rt;
}

function time(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

function line(label: string, value: string): void {
  console.log(`${label.padEnd(74)} ${value}`);
}

for (let w = 0; w < 3; w++) setup(10).step(); // warm-up (JIT), not printed

const records = PEERS * MOUNTS;
for (const invalidEvery of [0, 10]) {
  const what = invalidEvery === 0 ? 'all valid' : '10% invalid';
  const rt = setup(invalidEvery);
  const first = time(() => rt.step());
  line(
    `first pass, ${PEERS} peers × ${MOUNTS} mounts (${what})`,
    `${(records / (first / 1000)).toFixed(0).padStart(9)} validations/s (${first.toFixed(1)} ms)`,
  );
  // As the transport manager does: every record's counters change every beat.
  const rounds = 20;
  let ms = 0;
  for (let r = 1; r <= rounds; r++) {
    for (let i = 0; i < PEERS; i++)
      for (let j = 0; j < MOUNTS; j++) rt.tree.set(['net', 'telemetry', peerName(i), mountName(j), 'frame_count'], u64(BigInt(r)));
    ms += time(() => rt.step());
  }
  line(
    `revalidation, every record rewritten per beat (${what})`,
    `${((records * rounds) / (ms / 1000)).toFixed(0).padStart(9)} validations/s (${(ms / rounds).toFixed(1)} ms/beat)`,
  );
}

{
  const rt = setup();
  rt.step();
  for (let i = 0; i < PEERS; i++) rt.tree.remove(['net', 'mounts', peerName(i), 'link', mountName(0)]);
  const ms = time(() => rt.step());
  line(`prune: one of four mounts removed per peer (${PEERS} records)`, `${ms.toFixed(1).padStart(9)} ms (${((PEERS / ms) * 1000).toFixed(0)} records/s)`);
}
{
  const rt = setup();
  rt.step();
  for (let i = 0; i < PEERS; i++) rt.tree.remove(['net', 'mounts', peerName(i)]);
  const ms = time(() => rt.step());
  line(
    `prune: every mount removed → telemetry, ceh and ${PEERS} peer entries`,
    `${ms.toFixed(1).padStart(9)} ms (${((PEERS / ms) * 1000).toFixed(0)} peers/s)`,
  );
}
{
  const rt = setup();
  rt.step();
  rt.tree.delete('/net/mounts');
  const ms = time(() => rt.step());
  line(`prune: /net/mounts soft-deleted as a whole (every peer)`, `${ms.toFixed(1).padStart(9)} ms (${((PEERS / ms) * 1000).toFixed(0)} peers/s)`);
}
