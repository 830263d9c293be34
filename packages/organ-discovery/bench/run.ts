/**
 * @cep/organ-discovery benchmarks. Prints numbers; asserts nothing.
 * Run: npx --yes pnpm@10.34.8 bench   (from packages/organ-discovery)
 */
import { performance } from 'node:perf_hooks';
import { bool, createTree, text, type Tree } from '@cep/cells';
import { createRuntime, type Runtime } from '@cep/heartbeat';
import { installDiscovery } from '@cep/organ-discovery';

const PEERS = 1_000;
const SERVICES = 4;
const letters = (i: number): string => i.toString(26).replace(/[0-9]/g, (d) => 'qrstuvwxyz'[Number(d)]!);
const peerName = (i: number): string => `p${letters(i)}`;
const serviceName = (j: number): string => `s${letters(j)}`;

function populate(tree: Tree, invalidEvery = 0): void {
  for (let i = 0; i < PEERS; i++) {
    for (let j = 0; j < SERVICES; j++) {
      const at = ['net', 'peers', peerName(i), 'services', serviceName(j)];
      tree.set([...at, 'mode'], text('link'));
      tree.set([...at, 'mount'], text(serviceName(j)));
      tree.set([...at, 'local_node'], text('earth'));
      if (invalidEvery === 0 || (i * SERVICES + j) % invalidEvery !== 0) tree.set([...at, 'provider'], text('tcp'));
      tree.set([...at, 'upd_latest'], bool(j % 2 === 0));
    }
  }
}

function setup(invalidEvery = 0): Runtime {
  const rt = createRuntime({ tree: createTree(), ceiRetain: 64 });
  populate(rt.tree, invalidEvery);
  installDiscovery(rt);
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

const records = PEERS * SERVICES;
// Warm-up (JIT), not printed.
for (let w = 0; w < 3; w++) setup(10).step();
for (const invalidEvery of [0, 10]) {
  const what = invalidEvery === 0 ? 'all valid' : '10% invalid';
  const rt = setup(invalidEvery);
  const first = time(() => rt.step());
  line(
    `first pass, ${PEERS} peers × ${SERVICES} services (${what})`,
    `${(records / (first / 1000)).toFixed(0).padStart(9)} validations/s (${first.toFixed(1)} ms)`,
  );
  // Every round one field of every peer changes, so every peer (all four services) is revalidated.
  const rounds = 20;
  let ms = 0;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < PEERS; i++) rt.tree.set(['net', 'peers', peerName(i), 'services', serviceName(r % SERVICES), 'upd_latest'], bool(r % 2 === 1));
    ms += time(() => rt.step());
  }
  line(
    `revalidation, every peer touched per beat (${what})`,
    `${((records * rounds) / (ms / 1000)).toFixed(0).padStart(9)} validations/s (${(ms / rounds).toFixed(1)} ms/beat)`,
  );
}

{
  const rt = setup();
  rt.step();
  for (let i = 0; i < PEERS; i++) for (let j = 0; j < SERVICES; j++) rt.tree.delete(['net', 'peers', peerName(i), 'services', serviceName(j)]);
  const ms = time(() => rt.step());
  line(`prune: every service soft-deleted → ${PEERS} peers removed`, `${ms.toFixed(1).padStart(9)} ms (${((PEERS / ms) * 1000).toFixed(0)} peers/s)`);
}
{
  const rt = setup();
  rt.step();
  for (let i = 0; i < PEERS; i++) for (let j = 0; j < SERVICES; j++) rt.tree.remove(['net', 'peers', peerName(i), 'services', serviceName(j)]);
  const ms = time(() => rt.step());
  line(`prune: every service hard-removed → ${PEERS} peers removed`, `${ms.toFixed(1).padStart(9)} ms (${((PEERS / ms) * 1000).toFixed(0)} peers/s)`);
}
{
  const rt = setup();
  rt.step();
  for (let i = 0; i < PEERS; i++) rt.tree.delete(['net', 'peers', peerName(i), 'services', serviceName(0)]);
  const ms = time(() => rt.step());
  line(`prune: one of four services deleted per peer`, `${ms.toFixed(1).padStart(9)} ms (${((PEERS / ms) * 1000).toFixed(0)} peers/s)`);
}
