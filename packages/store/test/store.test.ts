import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { digestHex, text, u64, type Tree } from '@cep/cells';
import { createRuntime } from '@cep/heartbeat';
import { fileEngine, memoryEngine, openStore, type StoreEngine } from '@cep/store';
import { fullState, referenceTree, workloadRuntime } from './fixtures/workload.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cep-store-'));
  dirs.push(dir);
  return dir;
}

type Op = { op: 'set'; path: string[]; value: number } | { op: 'delete'; path: string[] } | { op: 'remove'; path: string[] } | { op: 'append'; value: number };
const pathArb = fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 3 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('set' as const), path: pathArb, value: fc.nat(9) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), path: pathArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('remove' as const), path: pathArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('append' as const), value: fc.nat(9) }) },
);

function applyOp(tree: Tree, op: Op): void {
  try {
    if (op.op === 'set') tree.set(['p', ...op.path], op.value % 2 === 0 ? u64(op.value) : text(String(op.value)));
    else if (op.op === 'delete') tree.delete(['p', ...op.path]);
    else if (op.op === 'remove') tree.remove(['p', ...op.path]);
    else {
      tree.ensureList('/p/list');
      tree.append('/p/list', u64(op.value));
    }
  } catch {
    // a refused write changes nothing
  }
}

/** Runs `beats` through a store on `engine`: each beat's ops arrive as an input whose handler applies them. */
function runThroughStore(engine: StoreEngine, beats: Op[][], snapshotEvery: number): { digests: string[]; states: string[] } {
  const store = openStore({ engine, snapshotEvery });
  const runtime = createRuntime({ tree: store.tree });
  runtime.defineInput('ops', (input, ctx) => {
    for (const op of JSON.parse(new TextDecoder().decode(input.data)) as Op[]) applyOp(ctx.runtime.tree, op);
  });
  store.attach(runtime);
  const digests: string[] = [];
  const states: string[] = [];
  beats.forEach((ops, i) => {
    runtime.pushInput('ops', { stream: 's', seq: i, data: new TextEncoder().encode(JSON.stringify(ops)) });
    runtime.step();
    digests.push(digestHex(runtime.tree.root));
    states.push(fullState(runtime.tree));
  });
  store.close();
  return { digests, states };
}

const beatsArb = fc.array(fc.array(opArb, { maxLength: 6 }), { minLength: 1, maxLength: 25 });

describe('recovery', () => {
  it("replaying the journal gives the live tree's digest (and stamps) at every beat", () => {
    fc.assert(
      fc.property(beatsArb, fc.constantFrom(0, 3, 10), (beats, snapshotEvery) => {
        const engine = memoryEngine();
        const live = runThroughStore(engine, beats, snapshotEvery);
        const replayed = new Map<number, { digest: string; state: string }>();
        const reopened = openStore({
          engine,
          onRecoveredBeat: (beat, tree) => void replayed.set(beat, { digest: digestHex(tree.root), state: fullState(tree) }),
        });
        const firstJournalBeat = reopened.recovery.snapshotBeat === undefined ? 0 : reopened.recovery.snapshotBeat + 1;
        expect(replayed.size).toBe(beats.length - firstJournalBeat);
        for (const [beat, seen] of replayed) {
          expect(seen.digest).toBe(live.digests[beat]);
          expect(seen.state).toBe(live.states[beat]);
        }
        expect(fullState(reopened.tree)).toBe(live.states.at(-1));
        expect(reopened.recovery.lastBeat).toBe(beats.length - 1);
        expect(reopened.tree.beat).toBe(beats.length);
        expect(reopened.recovery.cut).toBeUndefined();
      }),
      { numRuns: 60 },
    );
  });

  it("keeps the inputs of the journal's beats for replay", () => {
    const engine = memoryEngine();
    runThroughStore(engine, [[{ op: 'set', path: ['a'], value: 1 }], [], [{ op: 'append', value: 2 }]], 0);
    const reopened = openStore({ engine });
    expect(reopened.recoveredInputs.map((i) => `${i.beat}:${i.kind}/${i.stream}#${i.seq}`)).toEqual(['0:ops/s#0', '1:ops/s#1', '2:ops/s#2']);
    expect(new TextDecoder().decode(reopened.recoveredInputs[0]!.data)).toBe('[{"op":"set","path":["a"],"value":1}]');
  });

  it('a runtime carries on after reopen and ends where an uninterrupted run ends', () => {
    const dir = tempDir();
    for (const chunk of [5, 1, 7, 4]) {
      const store = openStore({ engine: fileEngine({ dir }), snapshotEvery: 6 });
      const runtime = workloadRuntime(store.tree);
      store.attach(runtime);
      runtime.run(chunk);
      store.close();
    }
    const store = openStore({ engine: fileEngine({ dir }) });
    expect(store.recovery.lastBeat).toBe(16);
    expect(store.recovery.snapshotBeat).toBe(11);
    expect(fullState(store.tree)).toBe(fullState(referenceTree(16)));
    store.close();
  });

  it("counts the journal's beats towards the next snapshot, so a peer restarted often still snapshots", () => {
    const dir = tempDir();
    for (let run = 0; run < 4; run++) {
      const store = openStore({ engine: fileEngine({ dir }), snapshotEvery: 10 });
      const runtime = workloadRuntime(store.tree);
      store.attach(runtime);
      runtime.run(6);
      store.close();
    }
    const store = openStore({ engine: fileEngine({ dir }) });
    expect(store.recovery).toMatchObject({ lastBeat: 23, snapshotBeat: 19, replayedBeats: 4 });
    expect(fullState(store.tree)).toBe(fullState(referenceTree(23)));
    store.close();
  });

  it('a snapshot taken before any beat keeps the tree and the next beat stays 0', () => {
    const engine = memoryEngine();
    const store = openStore({ engine });
    store.tree.set('/seed', u64(7));
    store.snapshot();
    store.close();
    const reopened = openStore({ engine });
    expect(reopened.recovery).toMatchObject({ snapshotBeat: undefined, lastBeat: undefined, snapshotCells: 2 });
    expect(reopened.tree.getValue('/seed')).toEqual(u64(7));
    expect(reopened.tree.beat).toBe(0);
  });

  it('journals writes made between beats with the next beat', () => {
    const engine = memoryEngine();
    const store = openStore({ engine });
    const runtime = createRuntime({ tree: store.tree });
    store.attach(runtime);
    runtime.tree.set('/before', text('x'));
    runtime.step();
    store.close();
    const reopened = openStore({ engine });
    expect(reopened.tree.getValue('/before')).toEqual(text('x'));
    expect(reopened.tree.get('/before')!.created).toBe(0);
  });
});

describe('durability modes', () => {
  it('per beat: every beat is durable as soon as it commits', async () => {
    const engine = memoryEngine();
    const store = openStore({ engine });
    const runtime = workloadRuntime(store.tree);
    store.attach(runtime);
    runtime.run(3);
    expect(store.durableBeat).toBe(2);
    await store.whenDurable(2);
    engine.crash();
    expect(openStore({ engine }).recovery.lastBeat).toBe(2);
  });

  it('grouped: acknowledgements wait for the group, and a crash loses only unacknowledged beats', async () => {
    const engine = memoryEngine();
    const store = openStore({ engine, durability: { groupBeats: 4 } });
    const runtime = workloadRuntime(store.tree);
    store.attach(runtime);
    const acked: number[] = [];
    for (let beat = 0; beat < 6; beat++) void store.whenDurable(beat).then(() => acked.push(beat));
    runtime.run(6);
    await Promise.resolve();
    expect(store.durableBeat).toBe(3);
    expect(acked).toEqual([0, 1, 2, 3]);
    engine.crash();
    const reopened = openStore({ engine });
    expect(reopened.recovery.lastBeat).toBe(3);
    expect(fullState(reopened.tree)).toBe(fullState(referenceTree(3)));
  });

  it('grouped: flush() makes the pending beats durable and releases their acknowledgements', async () => {
    const engine = memoryEngine();
    const store = openStore({ engine, durability: { groupBeats: 100 } });
    const runtime = workloadRuntime(store.tree);
    store.attach(runtime);
    runtime.run(2);
    let acked = false;
    const ack = store.whenDurable(1).then(() => void (acked = true));
    await Promise.resolve();
    expect(acked).toBe(false);
    store.flush();
    await ack;
    expect(acked).toBe(true);
  });

  it('an engine failure rejects pending acknowledgements with STORE_IO and is reported as CEI', async () => {
    const engine = memoryEngine();
    const failing: StoreEngine = {
      ...engine,
      sync: () => {
        throw new Error('EIO: disk gone');
      },
    };
    const store = openStore({ engine: failing, durability: { groupBeats: 2 } });
    const runtime = createRuntime({ tree: store.tree });
    store.attach(runtime);
    const ack = store.whenDurable(0);
    runtime.run(2);
    await expect(ack).rejects.toMatchObject({ code: 'STORE_IO' });
    await expect(store.whenDurable(1)).rejects.toMatchObject({ code: 'STORE_IO' });
    const msgs = runtime.tree.get('/data/mailbox/diag/msgs')!.children();
    expect(msgs.length).toBeGreaterThan(0);
  });

  it('refuses bad options and a runtime on another tree, with stable codes', () => {
    expect(() => openStore({ engine: memoryEngine(), durability: { groupBeats: 0 } })).toThrow(expect.objectContaining({ code: 'STORE_OPTION_INVALID' }));
    expect(() => openStore({ engine: memoryEngine(), snapshotEvery: -1 })).toThrow(expect.objectContaining({ code: 'STORE_OPTION_INVALID' }));
    const store = openStore({ engine: memoryEngine() });
    expect(() => store.attach(createRuntime())).toThrow(expect.objectContaining({ code: 'STORE_ATTACH' }));
    store.close();
    expect(() => store.flush()).toThrow(expect.objectContaining({ code: 'STORE_CLOSED' }));
  });
});
