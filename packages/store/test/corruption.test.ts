import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime } from '@cep/heartbeat';
import { fileEngine, openStore } from '@cep/store';
import { fullState, referenceTree, workloadRuntime } from './fixtures/workload.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A store directory holding beats 0..beats-1 in its journal (no snapshot), and each record's start offset. */
function journalOf(beats: number): { dir: string; journal: string; offsets: number[] } {
  const dir = mkdtempSync(join(tmpdir(), 'cep-store-corrupt-'));
  dirs.push(dir);
  const store = openStore({ engine: fileEngine({ dir }), snapshotEvery: 0 });
  const runtime = workloadRuntime(store.tree);
  store.attach(runtime);
  runtime.run(beats);
  store.close();
  const journal = join(dir, 'journal.cepj');
  const bytes = readFileSync(journal);
  const offsets: number[] = [];
  for (let at = 0; at < bytes.length; at += 4 + bytes.readUInt32LE(at)) offsets.push(at);
  expect(offsets).toHaveLength(beats);
  return { dir, journal, offsets };
}

function flipByte(file: string, at: number): void {
  const bytes = readFileSync(file);
  bytes[at] = bytes[at]! ^ 0x5a;
  writeFileSync(file, bytes);
}

describe('a damaged journal', () => {
  it('a flipped byte in the last entry is caught by its checksum and that beat is cut', () => {
    const { dir, journal, offsets } = journalOf(6);
    flipByte(journal, offsets[5]! + 20);
    const store = openStore({ engine: fileEngine({ dir }) });
    expect(store.recovery.lastBeat).toBe(4);
    expect(store.recovery.cut).toMatchObject({ afterBeat: 4, position: offsets[5], droppedRecords: 1, reason: expect.stringContaining('checksum') });
    expect(fullState(store.tree)).toBe(fullState(referenceTree(4)));
    store.close();
    expect(statSync(journal).size).toBe(offsets[5]);
  });

  it('a flipped byte in a middle entry cuts back to the beat before it, dropping everything after', () => {
    const { dir, offsets } = journalOf(8);
    flipByte(join(dir, 'journal.cepj'), offsets[3]! + 9);
    const store = openStore({ engine: fileEngine({ dir }) });
    expect(store.recovery.lastBeat).toBe(2);
    expect(store.recovery.cut).toMatchObject({ afterBeat: 2, droppedRecords: 5 });
    expect(fullState(store.tree)).toBe(fullState(referenceTree(2)));
    store.close();
  });

  it('a record cut short (a crash mid-write) is cut, at every length it can be cut at', () => {
    const { dir, journal, offsets } = journalOf(4);
    const full = readFileSync(journal);
    for (let end = offsets[3]! + 1; end < full.length; end++) {
      writeFileSync(journal, full.subarray(0, end));
      const store = openStore({ engine: fileEngine({ dir }) });
      expect(store.recovery.lastBeat).toBe(2);
      expect(store.recovery.cut?.position).toBe(offsets[3]);
      expect(fullState(store.tree)).toBe(fullState(referenceTree(2)));
      store.close();
      expect(statSync(journal).size).toBe(offsets[3]);
    }
  });

  it('zeros or garbage after the last entry are cut, and the store carries on from there', () => {
    const { dir, journal } = journalOf(3);
    appendFileSync(journal, new Uint8Array(4096));
    let store = openStore({ engine: fileEngine({ dir }) });
    expect(store.recovery).toMatchObject({ lastBeat: 2, cut: { afterBeat: 2, droppedRecords: 0 } });
    const runtime = workloadRuntime(store.tree);
    store.attach(runtime, { reportRecovery: false }); // keep the tree comparable with the reference run
    runtime.run(2);
    store.close();
    appendFileSync(journal, Uint8Array.of(9, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9));
    store = openStore({ engine: fileEngine({ dir }) });
    expect(store.recovery).toMatchObject({ lastBeat: 4, cut: { afterBeat: 4, droppedRecords: 1 } });
    expect(fullState(store.tree)).toBe(fullState(referenceTree(4)));
    store.close();
  });

  it('the cut is reported as a CEI fact when the store is attached', () => {
    const { dir, journal, offsets } = journalOf(3);
    truncateSync(journal, offsets[2]! + 7);
    const store = openStore({ engine: fileEngine({ dir }) });
    const runtime = createRuntime({ tree: store.tree });
    const facts: string[] = [];
    runtime.cei.onFact((fact) => facts.push(`${fact.topic} ${fact.severity} ${fact.note}`));
    store.attach(runtime);
    expect(facts).toEqual([expect.stringMatching(/^store\/journal_cut warn store journal \(file\) damaged after beat 1: .*cut back to the last good beat/)]);
    runtime.step();
    store.close();
    // The fact itself was journaled with the next beat: it survives a restart.
    const reopened = openStore({ engine: fileEngine({ dir }) });
    expect(reopened.recovery.cut).toBeUndefined();
    const msgs = reopened.tree.get('/data/mailbox/diag/msgs')!.children();
    expect(msgs).toHaveLength(1);
    reopened.close();
  });

  it('with onCorruptTail: fail, refuses with STORE_CORRUPT and leaves the file as it was', () => {
    const { dir, journal, offsets } = journalOf(3);
    flipByte(journal, offsets[2]! + 12);
    const before = readFileSync(journal);
    expect(() => openStore({ engine: fileEngine({ dir }), onCorruptTail: 'fail' })).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }));
    expect(readFileSync(journal).equals(before)).toBe(true);
  });

  it('a damaged snapshot is refused with STORE_CORRUPT, never half-loaded', () => {
    const { dir } = journalOf(3);
    const store = openStore({ engine: fileEngine({ dir }) });
    store.snapshot();
    store.close();
    const snapshot = join(dir, 'snapshot.ceps');
    expect(statSync(join(dir, 'journal.cepj')).size).toBe(0);
    flipByte(snapshot, statSync(snapshot).size - 3);
    expect(() => openStore({ engine: fileEngine({ dir }) })).toThrow(
      expect.objectContaining({ code: 'STORE_CORRUPT', message: expect.stringContaining('snapshot checksum') }),
    );
  });
});
