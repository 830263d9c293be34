/**
 * A source whose tree is durable (@cep/store, memory engine) is killed between two beats while it
 * serves a changing branch, and a new process opens the same store: the receiver continues the
 * same epoch with the bundles it had not applied — no snapshot, none applied twice — and ends
 * equal, deletions, removals and list moves included. Real TCP on loopback, with a relay in front
 * of the source so the "kill" leaves no goodbye on the wire (the receiver learns of the restart
 * from the new session id, as it would in production).
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { text, u64, type Tree } from '@cep/cells';
import { createRuntime } from '@cep/heartbeat';
import { installMirror, type SealEvent } from '@cep/organ-mirror';
import { streamRelay, type Relay } from '@cep/provider-compliance';
import { tcp } from '@cep/provider-tcp';
import { memoryEngine, openStore, type MemoryEngine, type Store } from '@cep/store';
import { createTransportManager } from '@cep/transport';
import { KEY, applyCounts, branchDigest, field, fileRequest, node, setAddress, settle, type Node } from './helpers.ts';

const SRC = '/data/shared';
const backoff = { initialMs: 5, maxMs: 40, maxAttempts: 1000 };

let cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanups.reverse()) await f().catch(() => undefined);
  cleanups = [];
});

interface Source {
  readonly node: Node;
  readonly store: Store;
  readonly address: string;
}

/** One source process: the store opened on `engine`, a runtime on its tree, the organ, a listener. */
async function startSource(engine: MemoryEngine, partBytes: number): Promise<Source> {
  const store = openStore({ engine, snapshotEvery: 23, snapshotSliceBytes: 2048 });
  const runtime = createRuntime({ tree: store.tree });
  store.attach(runtime);
  const provider = tcp({ localPeer: 'saturn', keys: { earth: KEY }, backoff });
  const manager = createTransportManager(runtime, { localNode: 'saturn', providers: [provider], addressOf: () => undefined, peerKey: () => KEY });
  const seals: SealEvent[] = [];
  const mirror = installMirror(runtime, manager, { localNode: 'saturn', partBytes, beatBytes: partBytes, onSeal: (e) => seals.push(e) });
  const listener = await manager.listen('tcp', '127.0.0.1:0');
  cleanups.push(() => manager.close());
  const facts: Node['facts'] = [];
  runtime.cei.onFact((f) => facts.push(f));
  return { node: { peer: 'saturn', runtime, tree: runtime.tree, manager, provider, mirror, facts, applies: [], seals }, store, address: listener.address };
}

/** One change to the branch, chosen by `x`: sets, soft deletes, removals, list inserts, appends and moves. */
function change(tree: Tree, x: number, y: number): void {
  const names = ['a', 'b', 'c', 'd'];
  const dict = `${SRC}/d${x % 3}`;
  try {
    switch (x % 8) {
      case 0:
      case 1:
        return void tree.set(`${dict}/${names[y % 4]}`, u64(BigInt(y)));
      case 2:
        return void tree.set(`${SRC}/v${y % 5}`, text(`t${y}`));
      case 3:
        // A whole dictionary soft-deleted now and then: a later set under it revives it.
        return void tree.delete(y % 4 === 0 ? dict : `${dict}/${names[y % 4]}`);
      case 4:
        return void tree.remove(y % 3 === 0 ? dict : `${SRC}/v${y % 5}`);
      case 5: {
        tree.ensureList(`${SRC}/log`);
        return void tree.append(`${SRC}/log`, u64(BigInt(y)));
      }
      case 6: {
        const list = tree.get(`${SRC}/log`);
        const size = list?.children().length ?? 0;
        if (size > 1) return void tree.move(`${SRC}/log`, y % size, (y >> 2) % size);
        return;
      }
      default: {
        const list = tree.get(`${SRC}/log`);
        const live = list?.children().filter((c) => !c.isDeleted) ?? [];
        if (live.length > 0) return void tree.remove(live[y % live.length]!.path());
        return;
      }
    }
  } catch {
    // a refused write changes nothing
  }
}

async function run(nodes: () => Node[], until: () => boolean, limit = 1500): Promise<void> {
  for (let i = 0; i < limit; i++) {
    if (until()) return;
    for (const n of nodes()) {
      await settle(true);
      n.runtime.step();
    }
  }
  throw new Error(`condition not met after ${limit} beats`);
}

/** The epoch and seq of the receiver's token. */
function token(earth: Node): { epoch: string; seq: number } {
  const raw = field(earth.tree, 'r1', 'pend_resum') as string;
  const at = raw.lastIndexOf(':');
  return { epoch: raw.slice(0, at), seq: Number(raw.slice(at + 1)) };
}

/** The source dossier's record of bundle `seq`: was it a snapshot? */
function sealedAsSnapshot(source: Source, seq: number): boolean | undefined {
  const op = source.node.tree.getValue('/net/organs/mirror/serving/earth/main/op');
  if (op?.type !== 'text') return undefined;
  const flag = source.node.tree.getValue(`/rt/ops/${op.value}/bundles/${seq}/snapshot`);
  return flag?.type === 'bool' ? flag.value : undefined;
}

describe('a source restarted on its durable store', () => {
  it('continues the epoch at random kill points: only the missed changes, no snapshot, each bundle applied once, equal digests', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          // Changes made in each beat before a kill, and how many beats the pair runs between kills.
          changes: fc.array(fc.tuple(fc.nat(63), fc.nat(63)), { minLength: 20, maxLength: 60 }),
          kills: fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 2, maxLength: 4 }),
          partBytes: fc.constantFrom(256, 4096, 65536),
        }),
        async ({ changes, kills, partBytes }) => {
          const engine = memoryEngine();
          let source = await startSource(engine, partBytes);
          for (let i = 0; i < 12; i++) source.node.tree.set(`${SRC}/d${i % 3}/seed${i}`, u64(BigInt(i)));
          const relay: Relay = await streamRelay(source.address, '127.0.0.1:0');
          cleanups.push(() => relay.close());
          setAddress('saturn', relay.address);
          const earth = node('earth', tcp({ localPeer: 'earth', keys: { saturn: KEY }, backoff }), { retry: { first: 1, max: 4 } });
          cleanups.push(() => earth.manager.close());
          fileRequest(earth.tree, 'r1', { maxInfl: 2 });
          const both = (): Node[] => [earth, source.node];
          await run(both, () => field(earth.tree, 'r1', 'state') === 'active' && field(earth.tree, 'r1', 'bundle_seq') !== 0n);
          const epoch = token(earth).epoch;
          let next = 0;
          for (const beats of kills) {
            // Load: changes while bundles are sealed, sent and acknowledged, then a kill between two beats.
            for (let b = 0; b < beats; b++) {
              for (let k = 0; k < 3 && next < changes.length; k++, next++) change(source.node.tree, ...changes[next]!);
              for (const n of both()) {
                await settle(true);
                n.runtime.step();
              }
            }
            // Changes committed after the last sealed bundle, then kill -9: the relay is cut first, so no goodbye crosses.
            if (next < changes.length) change(source.node.tree, ...changes[next++]!);
            source.node.runtime.step();
            const before = { seq: token(earth).seq, seals: source.node.seals.length };
            relay.cut();
            engine.crash(); // drops nothing synced: every beat was synced at its commit
            await source.node.manager.close();
            source = await startSource(engine, partBytes);
            relay.retarget(source.address);
            await run(
              both,
              () =>
                field(earth.tree, 'r1', 'state') === 'active' &&
                token(earth).epoch === epoch &&
                source.node.tree.getValue('/net/organs/mirror/serving/earth/main/state')?.value === 'live' &&
                branchDigest(earth.tree, SRC) === branchDigest(source.node.tree, SRC),
            );
            expect(token(earth).epoch).toBe(epoch);
            expect(token(earth).seq).toBeGreaterThanOrEqual(before.seq);
            // Whatever the new process sealed continues the old numbering and is never a snapshot.
            for (const seal of source.node.seals) {
              expect(seal.epoch).toBe(epoch);
              expect(sealedAsSnapshot(source, seal.seq)).not.toBe(true);
            }
          }
          // And it keeps following after the last restart.
          source.node.tree.set(`${SRC}/after`, u64(1n));
          await run(both, () => branchDigest(earth.tree, SRC) === branchDigest(source.node.tree, SRC));
          expect(new Set(earth.applies.map((a) => a.epoch))).toEqual(new Set([epoch]));
          expect([...applyCounts(earth).values()].every((n) => n === 1)).toBe(true);
          const seqs = earth.applies.map((a) => a.seq);
          expect(seqs).toEqual(seqs.map((_, i) => i + 1)); // 1, 2, 3 …: none skipped, none twice
          expect(earth.applies.filter((a) => a.seq === 1)).toHaveLength(1); // the only snapshot
          for (const f of cleanups.splice(0).reverse()) await f().catch(() => undefined);
        },
      ),
      { numRuns: 6 },
    );
  }, 120_000);

  it('a receiver whose token the restarted source no longer holds gets a new epoch and a snapshot, and is told why (mir_resync)', async () => {
    const engine = memoryEngine();
    let source = await startSource(engine, 65536);
    source.node.tree.set(`${SRC}/x`, u64(1n));
    const relay: Relay = await streamRelay(source.address, '127.0.0.1:0');
    cleanups.push(() => relay.close());
    setAddress('saturn', relay.address);
    const earth = node('earth', tcp({ localPeer: 'earth', keys: { saturn: KEY }, backoff }), { retry: { first: 1, max: 4 } });
    cleanups.push(() => earth.manager.close());
    fileRequest(earth.tree, 'r1');
    const both = (): Node[] => [earth, source.node];
    await run(both, () => field(earth.tree, 'r1', 'bundle_seq') !== 0n && branchDigest(earth.tree, SRC) === branchDigest(source.node.tree, SRC));
    const epoch = token(earth).epoch;
    relay.cut();
    await source.node.manager.close();
    engine.crash();
    // The restarted source lost its serving record (as after retainBeats with no receiver).
    const store = openStore({ engine });
    store.tree.remove('/net/organs/mirror/serving/earth');
    const cleaner = createRuntime({ tree: store.tree });
    store.attach(cleaner);
    cleaner.step();
    engine.crash();
    source = await startSource(engine, 65536);
    relay.retarget(source.address);
    source.node.tree.set(`${SRC}/y`, u64(2n));
    await run(
      both,
      () =>
        field(earth.tree, 'r1', 'state') === 'active' && token(earth).epoch !== epoch && branchDigest(earth.tree, SRC) === branchDigest(source.node.tree, SRC),
    );
    expect(earth.applies.filter((a) => a.seq === 1)).toHaveLength(2);
    expect(source.node.facts.some((f) => f.topic === 'mir_resync' && f.note.includes(`${epoch}:`))).toBe(true);
  }, 60_000);
});
