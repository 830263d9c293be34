/**
 * What the store costs a peer: committed cells/s through an in-process cep-node peer with its
 * store (sync per beat, grouped by 16) against the same peer --ephemeral, in one run,
 * interleaved; the size on disk per cell; and the time from start to ready for a peer whose
 * data_dir holds a large tree. Prints tables; asserts nothing.
 *
 *   npx tsx --conditions=@cep/source apps/node/bench/store.ts [bigCells=1000000] [runs=3]
 */
import { mkdtempSync, rmSync, statSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text, u64 } from '@cep/cells';
import { createRuntime } from '@cep/heartbeat';
import { DEFAULT_SNAPSHOT_SLICE_BYTES, fileEngine, openStore } from '@cep/store';
import { validateConfig } from '../src/config/load.ts';
import { createLogger } from '../src/log.ts';
import { startPeer } from '../src/peer.ts';

const BIG = Number(process.argv[2] ?? 1_000_000);
const RUNS = Number(process.argv[3] ?? 3);
const BEATS = 400;
const PER_BEAT = 100;
const silent = createLogger({ level: 'silent', destination: { write: () => undefined }, isTTY: false });

type Mode = 'ephemeral' | 'beat' | 'group16';

function dirSize(dir: string): number {
  return readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
}

async function committedCellsPerSecond(mode: Mode): Promise<{ rate: number; bytesPerCell: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'cep-node-bench-'));
  try {
    const store = mode === 'group16' ? { durability: { group_beats: 16 } } : {};
    const config = validateConfig({ peer: 'earth', enclave: 'lab', http: false, store }, join(dir, 'peer.yaml'), dir);
    const peer = await startPeer({ config, log: silent, manualBeats: true, ...(mode === 'ephemeral' ? {} : { dataDir: config.data_dir }) });
    const payload = 'x'.repeat(32);
    const t0 = performance.now();
    for (let beat = 0; beat < BEATS; beat++) {
      for (let i = 0; i < PER_BEAT; i++) peer.tree.set(`/data/bench/b${beat % 40}/c${i}`, text(`${payload.slice(0, 28)}${beat % 10000}`));
      peer.runtime.step();
    }
    peer.store?.flush();
    const ms = performance.now() - t0;
    const bytes = mode === 'ephemeral' ? 0 : dirSize(config.data_dir);
    await peer.stop('bench over');
    return { rate: (BEATS * PER_BEAT * 1000) / ms, bytesPerCell: bytes / (BEATS * PER_BEAT) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Opens the store in `dataDir` (journal emptied first, so the count to the next snapshot starts
 * at 0), runs 29 beats, then beats from the one that starts an automatic snapshot until the
 * snapshot is in place; returns the longest step() before and during it.
 */
function beatsDuringSnapshot(dataDir: string, sliceBytes: number | undefined): { worstBefore: number; worstDuring: number; beats: number } {
  const settle = openStore({ engine: fileEngine({ dir: dataDir }), snapshotEvery: 0 });
  settle.snapshot();
  settle.close();
  const store = openStore({ engine: fileEngine({ dir: dataDir }), snapshotEvery: 30, ...(sliceBytes === undefined ? {} : { snapshotSliceBytes: sliceBytes }) });
  const runtime = createRuntime({ tree: store.tree });
  store.attach(runtime);
  let worstBefore = 0;
  let worstDuring = 0;
  let beats = 0;
  for (let i = 0; ; i++) {
    for (let j = 0; j < PER_BEAT; j++) store.tree.set(`/data/churn/c${j}`, u64(i));
    const t0 = performance.now();
    runtime.step();
    const ms = performance.now() - t0;
    if (i < 29) {
      worstBefore = Math.max(worstBefore, ms);
      continue;
    }
    worstDuring = Math.max(worstDuring, ms); // beat 29 starts the snapshot (snapshotEvery 30)
    beats++;
    if (store.snapshotProgress === undefined) break;
  }
  store.close();
  return { worstBefore, worstDuring, beats };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

const modes: Mode[] = ['ephemeral', 'beat', 'group16'];
const rates: Record<Mode, number[]> = { ephemeral: [], beat: [], group16: [] };
let journalBytesPerCell = 0;
for (const mode of modes) await committedCellsPerSecond(mode); // warm-up, not counted
for (let run = 0; run < RUNS; run++) {
  for (const mode of modes) {
    const r = await committedCellsPerSecond(mode);
    rates[mode].push(r.rate);
    if (mode === 'beat') journalBytesPerCell = r.bytesPerCell;
  }
}
const eph = median(rates.ephemeral);
console.log(`\n${BEATS} beats x ${PER_BEAT} cells of 32-byte text through startPeer (manual beats), medians of ${RUNS} interleaved runs\n`);
console.log('| peer | committed cells/s | ratio to --ephemeral |');
console.log('|---|---|---|');
console.log(`| --ephemeral (anchor) | ${fmt(eph)} | 1 |`);
console.log(`| store, durability: beat | ${fmt(median(rates.beat))} | ${(median(rates.beat) / eph).toFixed(2)} |`);
console.log(`| store, durability: { group_beats: 16 } | ${fmt(median(rates.group16))} | ${(median(rates.group16) / eph).toFixed(2)} |`);
console.log(`\njournal bytes per written cell (overwrites, history included): ${journalBytesPerCell.toFixed(1)} B`);

// Restart to ready with a BIG-cell tree in data_dir (snapshot), against building the same tree in memory.
const dir = mkdtempSync(join(tmpdir(), 'cep-node-bench-big-'));
try {
  const dataDir = join(dir, 'earth.data');
  const store = openStore({ engine: fileEngine({ dir: dataDir }), snapshotEvery: 0, durability: { groupBeats: 1000 } });
  const runtime = createRuntime({ tree: store.tree });
  store.attach(runtime);
  const perBeat = 10_000;
  for (let i = 0; i < BIG; i += perBeat) {
    for (let j = i; j < Math.min(BIG, i + perBeat); j++) store.tree.set(`/data/big/g${Math.floor(j / 1000)}/c${j % 1000}`, u64(j));
    runtime.step();
  }
  store.snapshot();
  store.close();
  const snapshotBytes = statSync(join(dataDir, 'snapshot.ceps')).size;
  const config = validateConfig({ peer: 'earth', enclave: 'lab', http: false }, join(dir, 'peer.yaml'), dir);
  const t0 = performance.now();
  const peer = await startPeer({ config, log: silent, manualBeats: true, dataDir: config.data_dir });
  const readyMs = performance.now() - t0;
  const cells = peer.tree.find('/data/big')?.children().length;
  await peer.stop('bench over');
  const t1 = performance.now();
  const anchor = createRuntime();
  for (let j = 0; j < BIG; j++) anchor.tree.set(`/data/big/g${Math.floor(j / 1000)}/c${j % 1000}`, u64(j));
  const anchorMs = performance.now() - t1;
  console.log(`\n| restart of a peer whose data_dir holds ${fmt(BIG)} cells (snapshot) | result |`);
  console.log('|---|---|');
  console.log(`| startPeer → ready (lock, load snapshot, wire, start) | ${fmt(readyMs)} ms (${cells} groups restored) |`);
  console.log(`| anchor: the same cells set into an in-memory tree | ${fmt(anchorMs)} ms (ready / anchor = ${(readyMs / anchorMs).toFixed(2)}) |`);
  console.log(`| snapshot bytes per cell | ${(snapshotBytes / BIG).toFixed(1)} B |`);

  // Longest beat while a snapshot of the BIG-cell tree is written: all in the beat that starts it
  // (the store's behaviour before snapshots were sliced; anchor) against a slice per beat.
  const sliceModes: Array<{ label: string; sliceBytes: number | undefined }> = [
    { label: 'whole snapshot in one beat (before; anchor)', sliceBytes: 2 ** 40 },
    { label: `a slice per beat (default, ${DEFAULT_SNAPSHOT_SLICE_BYTES / 1024} KiB)`, sliceBytes: undefined },
  ];
  const rows: string[] = [];
  let anchorWorst = 0;
  for (const mode of sliceModes) {
    const r = beatsDuringSnapshot(dataDir, mode.sliceBytes);
    if (mode.sliceBytes === 2 ** 40) anchorWorst = r.worstDuring;
    rows.push(`| ${mode.label} | ${r.worstDuring.toFixed(0)} ms | ${r.beats} | ${r.worstBefore.toFixed(1)} ms | ${(r.worstDuring / anchorWorst).toFixed(3)} |`);
  }
  console.log(
    `\n| snapshot of ${fmt(BIG)} cells while beats go on (${PER_BEAT} cells written per beat) | longest beat during it | beats it spans | longest beat before it | ratio to anchor |`,
  );
  console.log('|---|---|---|---|---|');
  for (const row of rows) console.log(row);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
