/**
 * What a source restart costs the mirror: a 100,001-cell branch mirrored over provider-tcp (two
 * runtimes in one process), `CHANGES` cells changed after the last acknowledged bundle, then the
 * source is "killed" between two beats and a new source runtime starts. In the same run:
 *
 * - durable: the new runtime opens the same `@cep/store` (memory engine) and continues the epoch;
 * - ephemeral: the new runtime starts on an equal tree without a store: a new epoch and a snapshot.
 *
 * For each: frame bytes and parts the new source sends until the copy is equal, beats, and wall
 * ms from the restart to an equal copy (including the store's reopen for the durable one). Prints
 * numbers; asserts nothing. `npx tsx --conditions=@cep/source packages/organ-mirror/bench/restart.ts`
 * (options `CELL_GROUPS`, default 200 groups of 100 cells, and `CHANGES`).
 */
import { digestHex, text, u64, type Tree } from '@cep/cells';
import { createRuntime, type Runtime } from '@cep/heartbeat';
import { streamRelay } from '@cep/provider-compliance';
import { tcp } from '@cep/provider-tcp';
import { memoryEngine, openStore, type MemoryEngine } from '@cep/store';
import { createTransportManager, type TransportManager } from '@cep/transport';
import { installMirror, type SendEvent } from '../src/index.ts';

const KEY = new Uint8Array(32).fill(3);
const GROUPS = Number(process.env['CELL_GROUPS'] ?? 200);
const PER_GROUP = 99;
const CHANGES = Number(process.env['CHANGES'] ?? 200);
const SRC = ['data', 'big'];
const backoff = { initialMs: 5, maxMs: 40, maxAttempts: 1000 };

interface Side {
  runtime: Runtime;
  tree: Tree;
  manager: TransportManager;
}

const addresses = new Map<string, string>();

function side(peer: string, other: string, runtime: Runtime, onSend?: (e: SendEvent) => void): Side {
  const manager = createTransportManager(runtime, {
    localNode: peer,
    providers: [tcp({ localPeer: peer, keys: { [other]: KEY }, backoff })],
    addressOf: (p) => addresses.get(p),
    peerKey: () => KEY,
  });
  installMirror(runtime, manager, { localNode: peer, ...(onSend ? { onSend } : {}) });
  return { runtime, tree: runtime.tree, manager };
}

function fill(tree: Tree): void {
  for (let g = 0; g < GROUPS; g++) for (let i = 0; i < PER_GROUP; i++) tree.set([...SRC, `g${g}`, `f${i}`], u64(BigInt(g * PER_GROUP + i)));
}

function change(tree: Tree, round: number): void {
  for (let c = 0; c < CHANGES; c++) {
    const g = (c * 7 + round) % GROUPS;
    if (c % 10 === 9) tree.remove([...SRC, `g${g}`, `f${c % PER_GROUP}`]);
    else tree.set([...SRC, `g${g}`, `f${c % PER_GROUP}`], text(`r${round}-${c}`));
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

async function until(sides: () => Side[], done: () => boolean, limit = 20_000): Promise<number> {
  for (let beats = 0; beats < limit; beats++) {
    if (done()) return beats;
    for (const s of sides()) {
      for (let i = 0; i < 3; i++) await tick();
      s.runtime.step();
    }
  }
  throw new Error('no convergence');
}

const digest = (tree: Tree): string => digestHex(tree.get(SRC)!);

async function run(durable: boolean): Promise<{ bytes: number; parts: number; beats: number; ms: number; resumed: boolean }> {
  const engine: MemoryEngine = memoryEngine();
  let sent: SendEvent[] = [];
  const openSource = (fresh: boolean): Side => {
    if (!durable) {
      const runtime = createRuntime();
      if (!fresh) fill(runtime.tree);
      return side('saturn', 'earth', runtime, (e) => sent.push(e));
    }
    const store = openStore({ engine, snapshotEvery: 0 });
    const runtime = createRuntime({ tree: store.tree });
    store.attach(runtime);
    return side('saturn', 'earth', runtime, (e) => sent.push(e));
  };
  let saturn = openSource(true);
  fill(saturn.tree);
  const listener = await saturn.manager.listen('tcp', '127.0.0.1:0');
  const relay = await streamRelay(listener.address, '127.0.0.1:0');
  addresses.set('saturn', relay.address);
  const earth = side('earth', 'saturn', createRuntime());
  const r = ['net', 'organs', 'mirror', 'requests', 'big'];
  earth.tree.batch(() => {
    earth.tree.set([...r, 'peer'], text('saturn'));
    earth.tree.set([...r, 'src_peer'], text('saturn'));
    earth.tree.set([...r, 'mount'], text('big'));
    earth.tree.set([...r, 'src_chan'], text('/data/big'));
    earth.tree.set([...r, 'bundle', 'max_infl'], u64(4n));
  });
  const sides = (): Side[] => [earth, saturn];
  const inflight = (): unknown => saturn.tree.getValue('/net/organs/mirror/serving/earth/big/inflight')?.value;
  await until(sides, () => earth.tree.get(SRC) !== undefined && digest(earth.tree) === digest(saturn.tree) && inflight() === 0n);
  change(saturn.tree, 1);
  await until(sides, () => digest(earth.tree) === digest(saturn.tree) && inflight() === 0n);
  change(saturn.tree, 2); // committed, never sealed: the kill lands before the window closes
  saturn.runtime.step();
  const epoch = String(earth.tree.getValue([...r, 'pend_resum'])?.value).split(':')[0];
  relay.cut();
  if (durable) engine.crash();
  await saturn.manager.close();
  sent = [];
  const started = performance.now();
  saturn = openSource(false);
  if (!durable) change(saturn.tree, 2); // the same data the killed source had
  const next = await saturn.manager.listen('tcp', '127.0.0.1:0');
  relay.retarget(next.address);
  const beats = await until(sides, () => digest(earth.tree) === digest(saturn.tree) && inflight() === 0n);
  const ms = performance.now() - started;
  const resumed = String(earth.tree.getValue([...r, 'pend_resum'])?.value).split(':')[0] === epoch;
  await Promise.all([earth.manager.close(), saturn.manager.close(), relay.close()]);
  return { bytes: sent.reduce((n, e) => n + e.bytes, 0), parts: sent.length, beats, ms, resumed };
}

const rows: string[] = [];
for (const durable of [true, false]) {
  const m = await run(durable);
  rows.push(
    `${(durable ? 'durable (continues)' : 'ephemeral (new epoch)').padEnd(24)} ${String(m.bytes).padStart(10)} ${String(m.parts).padStart(6)} ${String(m.beats).padStart(6)} ${m.ms.toFixed(0).padStart(8)}   ${m.resumed ? 'same epoch' : 'new epoch'}`,
  );
}
console.log(`source restart, ${GROUPS * (PER_GROUP + 1) + 1}-cell branch, ${CHANGES} cells changed after the last sealed bundle (1 in 10 removed)`);
console.log(`${'restart'.padEnd(24)} ${'bytes sent'.padStart(10)} ${'parts'.padStart(6)} ${'beats'.padStart(6)} ${'ms'.padStart(8)}`);
for (const row of rows) console.log(row);
