/**
 * @cep/store benchmarks. Prints numbers; asserts nothing. Ratios within one run are what
 * count (the machine may be busy: the load average is printed).
 *
 *   npx tsx --conditions=@cep/source packages/store/bench/run.ts [cells]
 *
 * Candidate engines (lmdb, better-sqlite3) are measured when CEP_BENCH_ENGINES points at a
 * node_modules folder holding them (they are not dependencies of this package):
 *   mkdir /tmp/engines && cd /tmp/engines && npm i lmdb@3 better-sqlite3@12
 *   CEP_BENCH_ENGINES=/tmp/engines/node_modules npx tsx --conditions=@cep/source packages/store/bench/run.ts
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { name, text, u64, type Name } from '@cep/cells';
import { createRuntime, type Runtime } from '@cep/heartbeat';
import { fileEngine, openStore, type Durability, type StoreEngine } from '../src/index.ts';

const CELLS_PER_BEAT = 100;
const BEATS = 400;
const BIG_TREE = Number(process.argv[2] ?? 1_000_000);

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cep-store-bench-'));
  dirs.push(dir);
  return dir;
}
function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((sum, file) => sum + statSync(join(dir, file)).size, 0);
}
function line(label: string, value: string): void {
  console.log(`${label.padEnd(58)} ${value}`);
}

const groups = Array.from({ length: 10 }, (_, i) => name(`g${'abcdefghij'[i]}`));
const leaves = Array.from({ length: 1000 }, (_, i) => name(String(i + 1)));

function writeCells(runtime: Runtime): void {
  runtime.onCommit((beat) => {
    for (let i = 0; i < CELLS_PER_BEAT; i++) {
      const n = beat * CELLS_PER_BEAT + i;
      runtime.tree.set(['data', groups[n % 10]!, leaves[Math.floor(n / 10) % 1000]!], text(`value ${n} of the bench, 32 bytes`));
    }
  });
}

/** The anchor of the anchor: the same beats on an in-memory runtime, no store. */
function inMemory(): number {
  const runtime = createRuntime();
  writeCells(runtime);
  const start = performance.now();
  runtime.run(BEATS);
  return (BEATS * CELLS_PER_BEAT) / ((performance.now() - start) / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Beats of CELLS_PER_BEAT writes each, through a store; returns cells/s and the journal entries it wrote. */
function throughStore(durability: Durability): { cellsPerSecond: number; entries: Uint8Array[]; bytes: number } {
  const dir = tempDir();
  const entries: Uint8Array[] = [];
  const engine = fileEngine({ dir });
  const recording: StoreEngine = {
    ...engine,
    kind: engine.kind,
    append: (record) => {
      entries.push(record);
      engine.append(record);
    },
    readSnapshot: () => engine.readSnapshot(),
    beginSnapshot: () => engine.beginSnapshot(),
    readJournal: () => engine.readJournal(),
    sync: () => engine.sync(),
    truncate: (p) => engine.truncate(p),
    close: () => engine.close(),
  };
  const store = openStore({ engine: recording, durability, snapshotEvery: 0 });
  const runtime = createRuntime({ tree: store.tree });
  writeCells(runtime);
  store.attach(runtime);
  const start = performance.now();
  runtime.run(BEATS);
  store.flush();
  const ms = performance.now() - start;
  store.close();
  return { cellsPerSecond: (BEATS * CELLS_PER_BEAT) / (ms / 1000), entries, bytes: dirBytes(dir) };
}

/** The same bytes, appended straight into the file engine (no tree, no encoding). */
function rawFile(entries: Uint8Array[], groupBeats: number): number {
  const engine = fileEngine({ dir: tempDir() });
  const start = performance.now();
  entries.forEach((entry, i) => {
    engine.append(entry);
    if ((i + 1) % groupBeats === 0) engine.sync();
  });
  engine.sync();
  const ms = performance.now() - start;
  engine.close();
  return (entries.length * CELLS_PER_BEAT) / (ms / 1000);
}

interface Candidate {
  readonly label: string;
  run(entries: Uint8Array[], groupBeats: number): number;
}

function candidates(): Candidate[] {
  const folder = process.env['CEP_BENCH_ENGINES'];
  if (folder === undefined) return [];
  const load = createRequire(join(folder, 'noop.js'));
  const found: Candidate[] = [];
  try {
    const lmdb = load('lmdb') as {
      open(options: object): {
        transactionSync(fn: () => void): void;
        putSync(key: number, value: Uint8Array): void;
        flushed: Promise<void>;
        close(): Promise<void>;
      };
    };
    found.push({
      label: 'lmdb (one sync transaction per group)',
      run(entries, groupBeats) {
        const db = lmdb.open({ path: join(tempDir(), 'db'), encoding: 'binary', noSync: false });
        const start = performance.now();
        for (let i = 0; i < entries.length; i += groupBeats) {
          db.transactionSync(() => {
            for (let j = i; j < Math.min(entries.length, i + groupBeats); j++) db.putSync(j, entries[j]!);
          });
        }
        const ms = performance.now() - start;
        void db.close();
        return (entries.length * CELLS_PER_BEAT) / (ms / 1000);
      },
    });
  } catch (error) {
    line('lmdb', `not loaded: ${(error as Error).message.split('\n')[0]}`);
  }
  try {
    type Db = {
      pragma(s: string): unknown;
      prepare(sql: string): { run(...args: unknown[]): unknown };
      exec(sql: string): void;
      transaction(fn: (from: number) => void): (from: number) => void;
      close(): void;
    };
    const Sqlite = load('better-sqlite3') as new (file: string) => Db;
    found.push({
      label: 'better-sqlite3 (WAL, synchronous=FULL, txn per group)',
      run(entries, groupBeats) {
        const db = new Sqlite(join(tempDir(), 'db.sqlite'));
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = FULL');
        db.exec('CREATE TABLE journal (beat INTEGER PRIMARY KEY, entry BLOB NOT NULL)');
        const insert = db.prepare('INSERT INTO journal (beat, entry) VALUES (?, ?)');
        const group = db.transaction((from: number) => {
          for (let j = from; j < Math.min(entries.length, from + groupBeats); j++) insert.run(j, entries[j]!);
        });
        const start = performance.now();
        for (let i = 0; i < entries.length; i += groupBeats) group(i);
        const ms = performance.now() - start;
        db.close();
        return (entries.length * CELLS_PER_BEAT) / (ms / 1000);
      },
    });
  } catch (error) {
    line('better-sqlite3', `not loaded: ${(error as Error).message.split('\n')[0]}`);
  }
  return found;
}

console.log(`load average before: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
console.log(`\n## Committed beats (${BEATS} beats × ${CELLS_PER_BEAT} cells of 32-byte text)\n`);
console.log('(each figure is the median of 3 interleaved runs)\n');
const others = candidates();
inMemory(); // warm-up, so the first measured run is not the JIT's
for (const [label, durability, groupBeats] of [
  ['sync per beat', 'beat', 1],
  ['grouped, 16 beats', { groupBeats: 16 }, 16],
] as const) {
  const through: number[] = [];
  const memory: number[] = [];
  const raw: number[] = [];
  const rates = others.map(() => [] as number[]);
  let bytes = 0;
  for (let round = 0; round < 3; round++) {
    memory.push(inMemory());
    const store = throughStore(durability);
    through.push(store.cellsPerSecond);
    bytes = store.bytes;
    raw.push(rawFile(store.entries, groupBeats));
    others.forEach((candidate, i) => rates[i]!.push(candidate.run(store.entries, groupBeats)));
  }
  const rawRate = median(raw);
  line(
    `${label}: anchor, the same beats in memory (no store)`,
    `${median(memory).toFixed(0)} cells/s  (store/in-memory = ${(median(through) / median(memory)).toFixed(2)})`,
  );
  line(`${label}: through the store (file engine)`, `${median(through).toFixed(0)} cells/s  (store/raw = ${(median(through) / rawRate).toFixed(2)})`);
  line(`${label}: same bytes, raw appends to the file engine`, `${rawRate.toFixed(0)} cells/s`);
  others.forEach((candidate, i) => {
    const rate = median(rates[i]!);
    line(`${label}: same bytes into ${candidate.label}`, `${rate.toFixed(0)} cells/s  (file raw/this = ${(rawRate / rate).toFixed(2)})`);
  });
  if (groupBeats === 1) line('journal bytes per written cell (overwrites carry history)', `${(bytes / (BEATS * CELLS_PER_BEAT)).toFixed(1)} B`);
}

console.log(`\n## Reopen (${BIG_TREE.toLocaleString('en')} cells: ${Math.ceil(BIG_TREE / 1000)} dictionaries × up to 1,000 u64 values)\n`);
{
  const dir = tempDir();
  const store = openStore({ engine: fileEngine({ dir }), snapshotEvery: 0 });
  const runtime = createRuntime({ tree: store.tree });
  const outer: Name[] = Array.from({ length: Math.ceil(BIG_TREE / 1000) }, (_, i) =>
    name(`d${i.toString(26).replace(/[0-9]/g, (d) => 'qrstuvwxyz'[Number(d)]!)}`),
  );
  store.attach(runtime);
  const buildStart = performance.now();
  runtime.onCommit((beat) => {
    if (beat >= outer.length) return;
    for (let i = 0; i < 1000 && beat * 1000 + i < BIG_TREE; i++) runtime.tree.set(['data', outer[beat]!, leaves[i]!], u64(beat * 1000 + i));
  });
  runtime.run(outer.length);
  const buildMs = performance.now() - buildStart;
  line('build: one beat per 1,000 cells, journaled, synced per beat', `${buildMs.toFixed(0)} ms (${(BIG_TREE / (buildMs / 1000)).toFixed(0)} cells/s)`);
  const journalBytes = dirBytes(dir);
  line('journal only: bytes per cell', `${(journalBytes / BIG_TREE).toFixed(1)} B`);
  store.close();
  // Each reopen in its own function, so the previous tree can be collected.
  const replayMs = ((): number => {
    const replayStart = performance.now();
    const fromJournal = openStore({ engine: fileEngine({ dir }), snapshotEvery: 0 });
    const ms = performance.now() - replayStart;
    const snapStart = performance.now();
    fromJournal.snapshot();
    line('snapshot write (encode + fsync + rename)', `${(performance.now() - snapStart).toFixed(0)} ms`);
    fromJournal.close();
    return ms;
  })();
  line('reopen from the journal alone (replays every beat)', `${replayMs.toFixed(0)} ms`);
  line('snapshot: bytes per cell', `${(dirBytes(dir) / BIG_TREE).toFixed(1)} B`);
  const openMs = ((): number => {
    const openStart = performance.now();
    const reopened = openStore({ engine: fileEngine({ dir }) });
    const ms = performance.now() - openStart;
    reopened.close();
    return ms;
  })();
  line('reopen from the snapshot (ready to attach)', `${openMs.toFixed(0)} ms`);
  const anchorRuntime = createRuntime();
  const anchorStart = performance.now();
  for (let beat = 0; beat < outer.length; beat++) {
    for (let i = 0; i < 1000 && beat * 1000 + i < BIG_TREE; i++) anchorRuntime.tree.set(['data', outer[beat]!, leaves[i]!], u64(beat * 1000 + i));
  }
  const anchorMs = performance.now() - anchorStart;
  line(
    'anchor: the same cells set into an in-memory tree',
    `${anchorMs.toFixed(0)} ms  (snapshot reopen / anchor = ${(openMs / anchorMs).toFixed(2)}, journal reopen / anchor = ${(replayMs / anchorMs).toFixed(2)})`,
  );
}

console.log(`\nload average after: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
