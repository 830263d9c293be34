/**
 * What one console poll costs: `GET /ui/api/state?since=<cursor>` (only what changed after a
 * beat) against the full-tree poll it replaces (`/net` and the CEI mailbox as JSON), on a tree
 * shaped like a busy peer. Prints a table; asserts nothing.
 *
 *   npx tsx --conditions=@cep/source apps/node/bench/console.ts
 */
import { createTree, text, u64 } from '@cep/cells';
import { createConsoleState } from '../src/console/state.ts';
import { branchToJson } from '../src/tree-json.ts';

const PEERS = 200;
const FACTS = 1024;
const tree = createTree();
let beat = 1;
tree.setBeat(beat);
for (let p = 0; p < PEERS; p++) {
  for (const [mode, mount] of [
    ['link', 'main'],
    ['invoke', 'invoke'],
    ['mirror', 'sky'],
  ] as const) {
    const m = `/net/mounts/p${p}/${mode}/${mount}`;
    tree.set(`${m}/state`, text('open'));
    tree.set(`${m}/transport/provider`, text('tcp'));
    for (const f of ['crc32c_ok', 'deflate_ok', 'aead_ok']) tree.set(`${m}/serializer/${f}`, { type: 'bool', value: true });
    const t = `/net/telemetry/p${p}/${mount}`;
    for (const f of ['ready_count', 'bp_count', 'fatal_count', 'frame_count', 'last_sample']) tree.set(`${t}/${f}`, u64(0n));
    tree.set(`${t}/last_event`, text('open'));
  }
  for (let i = 0; i < 16; i++) {
    const inv = `/net/organs/invoke/requests/p${p}/invokes/inv-${i}`;
    tree.set(`${inv}/state`, text('ok'));
    tree.set(`${inv}/signal`, text('/sig/add'));
    tree.set(`${inv}/sent_beat`, u64(1n));
  }
}
for (let n = 1; n <= FACTS; n++) {
  tree.set(`/data/mailbox/diag/msgs/msg-${n}/err/topic`, text('tp_fatal'));
  tree.set(`/data/mailbox/diag/msgs/msg-${n}/err/note`, text(`fact ${n}`));
}
tree.setBeat(++beat);

const state = createConsoleState({ tree, beat: () => beat, peer: 'earth', enclave: 'lab' });
const cursor = state(0).cursor;

function measure(label: string, fn: () => string): { label: string; ms: number; bytes: number } {
  fn();
  const runs = 20;
  let bytes = 0;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) bytes = fn().length;
  return { label, ms: (performance.now() - t0) / runs, bytes };
}

const full = measure('anchor: full-tree poll (/net + CEI mailbox as JSON)', () =>
  JSON.stringify([branchToJson(tree.get('/net')!), branchToJson(tree.get('/data/mailbox')!)]),
);
const idle = measure('console poll, nothing changed', () => JSON.stringify(state(cursor)));
tree.setBeat(++beat);
tree.set('/net/telemetry/p7/main/frame_count', u64(5n));
tree.set(`/data/mailbox/diag/msgs/msg-${FACTS + 1}/err/topic`, text('sec.edge.deny'));
const one = measure('console poll, one counter and one fact changed', () => JSON.stringify(state(cursor)));
const first = measure('console first poll (since=0: everything)', () => JSON.stringify(state(0)));

console.log(`tree: ${PEERS} peers × 3 mounts, ${PEERS * 16} invoke records, ${FACTS} CEI facts`);
for (const r of [full, idle, one, first]) {
  console.log(
    `${r.label.padEnd(56)} ${r.ms.toFixed(3).padStart(8)} ms  ${String(r.bytes).padStart(8)} bytes  ×${(full.ms / r.ms).toFixed(1)} faster than the anchor`,
  );
}
