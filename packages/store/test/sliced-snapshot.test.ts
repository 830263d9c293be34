import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fileEngine, memoryEngine, openStore, type SnapshotWriter, type StoreEngine } from '@cep/store';
import type { Tree } from '@cep/cells';
import { fullState, workloadRuntime } from './fixtures/workload.ts';

const WIDTH = 40;
/** The tree an uninterrupted run of the (wide) workload has after beats 0..lastBeat. */
function referenceTree(lastBeat: number): Tree {
  const runtime = workloadRuntime(undefined, WIDTH);
  runtime.run(lastBeat + 1);
  return runtime.tree;
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cep-store-slices-'));
  dirs.push(dir);
  return dir;
}

/** Wraps an engine to count the snapshot bytes written in each beat. */
function countingEngine(engine: StoreEngine): { engine: StoreEngine; writes: number[] } {
  const writes: number[] = [];
  return {
    writes,
    engine: {
      ...engine,
      kind: engine.kind,
      readSnapshot: () => engine.readSnapshot(),
      readJournal: () => engine.readJournal(),
      append: (record) => engine.append(record),
      sync: () => engine.sync(),
      truncate: (position) => engine.truncate(position),
      close: () => engine.close(),
      beginSnapshot(): SnapshotWriter {
        const writer = engine.beginSnapshot();
        return {
          ...writer,
          write: (bytes) => {
            writes.push(bytes.length);
            writer.write(bytes);
          },
        };
      },
    },
  };
}

describe('snapshots written a slice per beat', () => {
  it('spread over beats with at most about the slice budget written per beat', () => {
    const { engine, writes } = countingEngine(memoryEngine());
    const store = openStore({ engine, snapshotEvery: 20, snapshotSliceBytes: 4096 });
    const runtime = workloadRuntime(store.tree, 40, 5);
    store.attach(runtime);
    let beatsInProgress = 0;
    for (let beat = 0; beat < 120; beat++) {
      runtime.step();
      if (store.snapshotProgress !== undefined) beatsInProgress++;
    }
    expect(writes.length).toBeGreaterThan(20); // many slices, not one snapshot per beat
    expect(beatsInProgress).toBeGreaterThan(20);
    // A slice stops at the first cell past the budget: one image (a few hundred bytes here, history included) at most over.
    expect(Math.max(...writes)).toBeLessThanOrEqual(4096 + 1024);
  });

  it('reopening at every beat, mid-snapshot or not, gives exactly the live tree of that beat', () => {
    const engine = memoryEngine();
    const store = openStore({ engine, snapshotEvery: 9, snapshotSliceBytes: 512 });
    const runtime = workloadRuntime(store.tree, WIDTH);
    store.attach(runtime);
    const reference = workloadRuntime(undefined, WIDTH);
    let midSnapshot = 0;
    let fromSnapshot = 0;
    for (let beat = 0; beat < 120; beat++) {
      runtime.step();
      reference.step();
      if (store.snapshotProgress !== undefined) midSnapshot++;
      const reopened = openStore({ engine }); // reads only: not closed, so the live store's writer stays
      if (reopened.recovery.snapshotBeat !== undefined) fromSnapshot++;
      expect(reopened.recovery.lastBeat).toBe(beat);
      expect(fullState(reopened.tree)).toBe(fullState(reference.tree));
    }
    expect(midSnapshot).toBeGreaterThan(40);
    expect(fromSnapshot).toBeGreaterThan(80);
  });

  it('a power cut mid-snapshot reopens at the last durable beat, from the previous snapshot', () => {
    for (const cutAt of [23, 31, 47, 58, 77]) {
      const engine = memoryEngine();
      const store = openStore({ engine, snapshotEvery: 10, snapshotSliceBytes: 512, durability: { groupBeats: 4 } });
      const runtime = workloadRuntime(store.tree, WIDTH);
      store.attach(runtime);
      runtime.run(cutAt);
      while (store.snapshotProgress === undefined || store.snapshotProgress.cells < 5) runtime.step(); // the cut lands inside a snapshot
      const inProgress = store.snapshotProgress.beat;
      const durable = store.durableBeat!;
      engine.crash();
      const reopened = openStore({ engine, snapshotEvery: 10, snapshotSliceBytes: 512 });
      expect(reopened.recovery.lastBeat).toBe(durable);
      expect(reopened.recovery.snapshotBeat ?? -1).toBeLessThan(inProgress); // the previous snapshot, plus the journal
      expect(fullState(reopened.tree)).toBe(fullState(referenceTree(durable)));
      // and it carries on: the next snapshot completes and a reopen still matches
      const next = workloadRuntime(reopened.tree, WIDTH);
      reopened.attach(next);
      while (next.beat <= durable + 60) next.step();
      reopened.flush();
      const again = openStore({ engine });
      expect(again.recovery.snapshotBeat).toBeGreaterThan(durable);
      expect(fullState(again.tree)).toBe(fullState(referenceTree(durable + 60)));
    }
  });

  it('file engine: keeps the journal from before the snapshot until it is in place, then drops it', () => {
    const dir = tempDir();
    const store = openStore({ engine: fileEngine({ dir }), snapshotEvery: 10, snapshotSliceBytes: 512 });
    const runtime = workloadRuntime(store.tree, WIDTH);
    store.attach(runtime);
    let sawOld = false;
    let sawDropped = false;
    for (let beat = 0; beat < 80; beat++) {
      runtime.step();
      if (store.snapshotProgress !== undefined) sawOld ||= existsSync(join(dir, 'journal.old.cepj'));
      else if (beat > 10) sawDropped ||= !existsSync(join(dir, 'journal.old.cepj'));
      if (beat % 7 === 0) {
        const engine = fileEngine({ dir });
        const reopened = openStore({ engine });
        expect(fullState(reopened.tree)).toBe(fullState(referenceTree(beat)));
        engine.close();
      }
    }
    expect(sawOld).toBe(true);
    expect(sawDropped).toBe(true);
    while (store.snapshotProgress === undefined) runtime.step();
    const last = runtime.beat - 1;
    store.close(); // mid-snapshot: finished, so a peer restarted often still completes snapshots
    expect(existsSync(join(dir, 'snapshot.ceps.tmp'))).toBe(false);
    expect(existsSync(join(dir, 'journal.old.cepj'))).toBe(false);
    const reopened = openStore({ engine: fileEngine({ dir }) });
    expect(reopened.recovery.lastBeat).toBe(last);
    expect(reopened.recovery.replayedBeats).toBeLessThan(20);
    expect(fullState(reopened.tree)).toBe(fullState(referenceTree(last)));
    reopened.close();
  });

  it("file engine: a snapshot begun after one cut off by a crash keeps both journals' beats", () => {
    const dir = tempDir();
    const crashed = openStore({ engine: fileEngine({ dir }), snapshotEvery: 10, snapshotSliceBytes: 512 });
    const runtime = workloadRuntime(crashed.tree, WIDTH);
    crashed.attach(runtime);
    runtime.run(10);
    while (crashed.snapshotProgress === undefined) runtime.step();
    const crashedAt = runtime.beat - 1;
    expect(existsSync(join(dir, 'journal.old.cepj'))).toBe(true);
    // Abandoned as a kill -9 would leave it: never closed, its snapshot half-written.
    const store = openStore({ engine: fileEngine({ dir }), snapshotEvery: 10, snapshotSliceBytes: 512 });
    expect(store.recovery.lastBeat).toBe(crashedAt);
    const next = workloadRuntime(store.tree, WIDTH);
    store.attach(next);
    // The journal's beats count towards the next snapshot: it starts within a few beats, and the
    // old journal takes the new one's records.
    while (store.snapshotProgress === undefined) next.step();
    expect(store.snapshotProgress.beat).toBeGreaterThan(crashedAt);
    const startedAt = next.beat - 1;
    const midway = openStore({ engine: fileEngine({ dir }) });
    expect(fullState(midway.tree)).toBe(fullState(referenceTree(startedAt)));
    while (next.beat < startedAt + 40) next.step();
    store.close();
    const reopened = openStore({ engine: fileEngine({ dir }) });
    expect(reopened.recovery.snapshotBeat).toBeGreaterThan(crashedAt);
    expect(fullState(reopened.tree)).toBe(fullState(referenceTree(startedAt + 39)));
    reopened.close();
  });

  it('refuses a snapshot whose journal falls short of the beat it completed at, touching nothing', () => {
    const engine = memoryEngine();
    const store = openStore({ engine, snapshotEvery: 5, snapshotSliceBytes: 512 });
    const runtime = workloadRuntime(store.tree, WIDTH);
    store.attach(runtime);
    for (;;) {
      runtime.step();
      const probe = openStore({ engine });
      if (probe.recovery.snapshotBeat !== undefined && probe.recovery.lastBeat! > probe.recovery.snapshotBeat + 2) break;
      expect(runtime.beat).toBeLessThan(200);
    }
    const before = engine.readJournal().records.length;
    engine.truncate(0); // the journal lost (e.g. a damaged disk): the snapshot alone mixes beats
    expect(() => openStore({ engine })).toThrowError(expect.objectContaining({ code: 'STORE_CORRUPT' }) as Error);
    expect(before).toBeGreaterThan(0);
  });
});
