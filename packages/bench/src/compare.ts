/**
 * `pnpm bench:compare`: the data path near the wire, each row next to an anchor measured in
 * the same run (plain socket with frame splitting, msgpackr pack + socket + unpack, msgpackr
 * RPC, grpc-js unary calls, a bare `node` start); rows a and c run ours and each anchor in a
 * fresh process per run (fresh.ts). Prints one table and writes the rows as
 * JSON (default: bench-results.json at the repository root). Speeds are never asserted.
 *
 * Flags (all optional): --only a,b,c,d,e,f   --seconds 2 (one timed run of rows a and c)
 *   --repeats 3 (transport and invoke runs, medians)   --cells 100000 (rows b and f)
 *   --demo-cells 3000 (row d)   --rounds 3 (row d)   --beat-ms 5   --out <file>
 *   --peer <file> (rows d–f run `node <file>` instead of @cep/node-app's bin: compare builds)
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { anchorOnce, mirrorOnce } from './mirror.ts';
import { inFreshProcess } from './fresh.ts';
import { RPC_SYSTEMS, type RpcResult } from './invoke.ts';
import { resolve } from 'node:path';
import { addAfterMirror, invokeDuringMirror, readyTime, usePeerFile } from './peers.ts';
import { formatTable, ratioRow, writeResults, type ResultRow } from './report.ts';
import { loadAverage, median } from './stats.ts';
import { measureTransport, TRANSPORT_SIZES } from './transport.ts';

const { values: flags } = parseArgs({
  // `pnpm bench:compare -- --only a` hands the script a literal `--` first.
  args: process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === '--')),
  options: {
    only: { type: 'string', default: 'a,b,c,d,e,f' },
    seconds: { type: 'string', default: '2' },
    repeats: { type: 'string', default: '3' },
    cells: { type: 'string', default: '100000' },
    'demo-cells': { type: 'string', default: '3000' },
    rounds: { type: 'string', default: '3' },
    'beat-ms': { type: 'string', default: '5' },
    peer: { type: 'string' },
    out: { type: 'string', default: fileURLToPath(new URL('../../../bench-results.json', import.meta.url)) },
  },
});
const whole = (name: keyof typeof flags, min = 1): number => {
  const n = Number(flags[name]);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} expects a number ≥ ${min}, got ${flags[name]}`);
  return n;
};
const only = new Set(
  String(flags.only)
    .split(',')
    .map((s) => s.trim()),
);
const seconds = whole('seconds', 0.1);
const repeats = Math.round(whole('repeats'));
const cells = Math.round(whole('cells', 2));
const demoCells = Math.round(whole('demo-cells', 2));
const rounds = Math.round(whole('rounds'));
const beatMs = Math.round(whole('beat-ms'));
// Relative to where the command was typed (pnpm runs the script in packages/bench).
usePeerFile(flags.peer === undefined ? undefined : resolve(process.env['INIT_CWD'] ?? process.cwd(), flags.peer));

const rows: ResultRow[] = [];
/** Row c's module, whose `measureRpcOf` each fresh process runs. */
const INVOKE = new URL('./invoke.ts', import.meta.url);
const log = (text: string): void => void process.stderr.write(`${text}\n`);
const started = Date.now();
const failures: { row: string; error: string }[] = [];
const save = (): void =>
  writeResults(String(flags.out), rows, {
    date: new Date().toISOString(),
    node: process.version,
    cores: cpus().length,
    flags,
    seconds: Math.round((Date.now() - started) / 1000),
    failures,
  });

/** Runs one row group; a failure is reported (table notes, JSON) and the next group still runs. */
async function group(id: string, title: string, body: () => Promise<void>): Promise<void> {
  if (!only.has(id)) return;
  const t0 = Date.now();
  log(`${id}: ${title}…`);
  try {
    await body();
  } catch (error) {
    failures.push({ row: id, error: (error as Error).stack ?? String(error) });
    log(`${id}: FAILED: ${(error as Error).message}`);
  }
  log(`${id}: ${Math.round((Date.now() - t0) / 1000)} s`);
  save();
}

await group('a', `transport manager over provider-tcp vs node:net, 3 sizes, ${repeats} runs of ${seconds} s`, async () => {
  for (const { size, target } of TRANSPORT_SIZES) {
    const r = await measureTransport(size, seconds, repeats);
    const id = `a-${size >= 1024 ? `${size / 1024}KiB` : `${size}B`}`;
    const label = size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
    rows.push(
      ratioRow({
        id,
        what: `transport manager, tcp, ${label} frames`,
        unit: 'frames/s',
        direction: 'higher',
        ours: r.ours,
        anchorName: 'node:net, same frame bytes, receiver splits',
        anchor: r.anchor,
        maxRatio: target,
        load: loadAverage(),
        note:
          size === 64
            ? `median of ${repeats} runs of ${seconds} s per size, each run in a fresh process holding both ends, after an unmeasured run as long; crc32c on, deflate and AEAD off`
            : undefined,
      }),
    );
    // No transport of these frames can beat the format's mandatory work plus the socket's own
    // cost: this row is the best ratio the format allows, for reading the one above it.
    rows.push(
      ratioRow({
        id: `${id}-floor`,
        what: `best the format allows, ${label} frames`,
        unit: 'frames/s',
        direction: 'higher',
        ours: 1 / (1 / r.anchor + r.floorUs / 1e6),
        anchorName: 'node:net, same frame bytes, receiver splits',
        anchor: r.anchor,
        load: loadAverage(),
        note: `the anchor's time per frame plus the format's mandatory work for the frame, encode and decode (${r.floorUs.toFixed(1)} µs of CPU: copies, CRC32C, BLAKE3 leaves, Merkle root, payload hash; packages/serializer/bench/floor-work.ts)`,
      }),
    );
  }
});

await group('b', `mirror of ${cells.toLocaleString('en-US')} cells between two processes (AEAD off, on) and the msgpackr pipeline`, async () => {
  const anchorMs = await anchorOnce(cells);
  const off = await mirrorOnce(cells, false, beatMs);
  const anchorMs2 = await anchorOnce(cells);
  const on = await mirrorOnce(cells, true, beatMs);
  const anchor = median([anchorMs, anchorMs2]);
  const MB = 1024 * 1024;
  rows.push(
    ratioRow({
      id: 'b-mirror',
      what: `mirror ${cells.toLocaleString('en-US')} cells, 2 processes, AEAD off`,
      unit: 'ms',
      direction: 'lower',
      ours: off.ms,
      anchorName: 'msgpackr pack → socket → unpack',
      anchor,
      maxRatio: 5,
      load: loadAverage(),
      note: `ours: request active → last cell applied (${off.beats} beats of ${beatMs} ms; ${Math.round(cells / (off.ms / 1000)).toLocaleString('en-US')} cells/s; CPU source ${Math.round(off.sourceCpuMs)} ms, receiver ${Math.round(off.cpuMs)} ms); anchor: mean of 2 runs, request → unpacked`,
    }),
  );
  rows.push(
    ratioRow({
      id: 'b-mirror-aead',
      what: `mirror ${cells.toLocaleString('en-US')} cells, 2 processes, AEAD on`,
      unit: 'ms',
      direction: 'lower',
      ours: on.ms,
      anchorName: 'msgpackr pack → socket → unpack',
      anchor,
      maxRatio: 8,
      load: loadAverage(),
      note: `${on.beats} beats; ${Math.round(cells / (on.ms / 1000)).toLocaleString('en-US')} cells/s; CPU source ${Math.round(on.sourceCpuMs)} ms, receiver ${Math.round(on.cpuMs)} ms`,
    }),
  );
  rows.push(
    ratioRow({
      id: 'b-heap',
      what: 'mirror receiver heap peak (AEAD off)',
      unit: 'MB',
      direction: 'lower',
      ours: off.peakBytes / MB,
      anchorName: 'retained tree after GC',
      anchor: off.retainedBytes / MB,
      maxRatio: 2,
      load: loadAverage(),
      note: 'heap used above the pre-mirror baseline, sampled after every beat (a lower bound of the true peak)',
    }),
  );
});

await group('c', `invoke vs msgpackr RPC vs grpc-js, 256 in flight for ${seconds} s then one at a time for ${seconds / 2} s, ${repeats} runs`, async () => {
  const results: Record<keyof typeof RPC_SYSTEMS, { perSecond: number[]; p50: number[] }> = {
    ours: { perSecond: [], p50: [] },
    msgpackr: { perSecond: [], p50: [] },
    grpc: { perSecond: [], p50: [] },
  };
  for (let i = 0; i < repeats; i++) {
    // Each run in a fresh process (fresh.ts says why).
    for (const name of Object.keys(RPC_SYSTEMS) as (keyof typeof RPC_SYSTEMS)[]) {
      const r = await inFreshProcess<RpcResult>(INVOKE, 'measureRpcOf', name, seconds, 256);
      results[name].perSecond.push(r.perSecond);
      results[name].p50.push(r.rttP50Us);
    }
  }
  const m = (name: keyof typeof RPC_SYSTEMS, k: 'perSecond' | 'p50') => median(results[name][k]);
  const load = loadAverage();
  rows.push(
    ratioRow({
      id: 'c-invoke',
      what: 'invoke, one tcp mount, 256 in flight',
      unit: 'calls/s',
      direction: 'higher',
      ours: m('ours', 'perSecond'),
      anchorName: 'msgpackr RPC on a socket',
      anchor: m('msgpackr', 'perSecond'),
      maxRatio: 10,
      load,
      note: `also ≥ 20,000 calls/s wanted (${m('ours', 'perSecond') >= 20_000 ? 'met' : 'not met'}); each run in a fresh process holding both ends after two unmeasured passes, beats free-running; mount default policy (crc32c, deflate, AEAD)`,
    }),
  );
  rows.push(
    ratioRow({
      id: 'c-invoke-grpc',
      what: 'invoke, one tcp mount, 256 in flight',
      unit: 'calls/s',
      direction: 'higher',
      ours: m('ours', 'perSecond'),
      anchorName: 'grpc-js unary, loopback',
      anchor: m('grpc', 'perSecond'),
      maxRatio: 1,
      target: 'ahead (≤ 1×)',
      load,
    }),
  );
  rows.push(
    ratioRow({
      id: 'c-rtt',
      what: 'invoke round trip p50, one at a time',
      unit: 'µs',
      direction: 'lower',
      ours: m('ours', 'p50'),
      anchorName: 'msgpackr RPC on a socket',
      anchor: m('msgpackr', 'p50'),
      maxRatio: 10,
      load,
    }),
  );
  rows.push(
    ratioRow({
      id: 'c-rtt-grpc',
      what: 'invoke round trip p50, one at a time',
      unit: 'µs',
      direction: 'lower',
      ours: m('ours', 'p50'),
      anchorName: 'grpc-js unary, loopback',
      anchor: m('grpc', 'p50'),
      load,
    }),
  );
});

await group('d', `add 41 after a ${demoCells}-cell mirror, two cep-node peers, ${rounds} rounds`, async () => {
  const r = await addAfterMirror(demoCells, rounds, beatMs);
  const load = loadAverage();
  rows.push(
    ratioRow({
      id: 'd-add-beats',
      what: `add 41 after sky ${demoCells} is mirrored (demo)`,
      unit: 'beats',
      direction: 'lower',
      ours: r.after.beats,
      anchorName: 'same call before the mirror',
      anchor: r.before.beats,
      target: '≤ 5 beats',
      met: r.after.beats <= 5,
      load,
      note: `medians of ${r.samples} rounds (fresh peers each), beat ${beatMs} ms; the peers' own beats and ms${r.timedOut > 0 ? `; ${r.timedOut} of them hit the 200-beat reply deadline` : ''}`,
    }),
  );
  rows.push(
    ratioRow({
      id: 'd-add-ms',
      what: `add 41 after sky ${demoCells} is mirrored (demo)`,
      unit: 'ms',
      direction: 'lower',
      ours: r.after.ms,
      anchorName: 'same call before the mirror',
      anchor: r.before.ms,
      load,
    }),
  );
  // The demo's order before: the call sent while saturn still seals and earth still applies the
  // sky bundles (row f's case, one call); no target of its own.
  rows.push(
    ratioRow({
      id: 'd-during-beats',
      what: `add 41 right after sky ${demoCells}, mirror running`,
      unit: 'beats',
      direction: 'lower',
      ours: r.during.beats,
      anchorName: 'same call before the mirror',
      anchor: r.before.beats,
      load,
      note: `medians of ${r.samples} rounds${r.duringTimedOut > 0 ? `; ${r.duringTimedOut} of them hit the 200-beat reply deadline` : ''}`,
    }),
  );
});

const runs = 5;
await group('e', `peer ready time vs node -e 0, ${runs} runs`, async () => {
  const r = await readyTime(runs);
  rows.push(
    ratioRow({
      id: 'e-ready',
      what: 'peer ready (spawn → HTTP /status answers)',
      unit: 'ms',
      direction: 'lower',
      ours: r.ours,
      anchorName: 'node -e 0 (spawn → exit)',
      anchor: r.anchor,
      maxRatio: 3,
      load: loadAverage(),
      note: `medians of ${runs}; peer ${flags.peer ?? 'the bin of @cep/node-app'}`,
    }),
  );
});

await group('f', `invokes on another mount while ${cells.toLocaleString('en-US')} cells are mirrored, two cep-node peers`, async () => {
  const r = await invokeDuringMirror(cells, 20, beatMs);
  const load = loadAverage();
  rows.push(
    ratioRow({
      id: 'f-hol-beats',
      what: `add during a ${cells.toLocaleString('en-US')}-cell mirror, p99`,
      unit: 'beats',
      direction: 'lower',
      ours: r.during.beats,
      anchorName: 'same calls, no mirror',
      anchor: r.idle.beats,
      target: '≤ 5 beats',
      met: r.during.beats <= 5,
      load,
      note: `${r.samples} calls one after another during the mirror (sky ${cells} → copy equal took ${Math.round(r.mirrorMs)} ms); 20 calls before it, after 3 unmeasured (the first of all: ${r.first.beats} beats, ${Math.round(r.first.ms)} ms)${r.timedOut > 0 ? `; ${r.timedOut} hit the 200-beat reply deadline` : ''}${r.skyTimedOut ? '; the sky call itself hit it too' : ''}; p50 ${Math.round(r.p50ms)} ms, p90 ${Math.round(r.p90ms)} ms; slowest (call #: beats, ms): ${r.slowest.map((c) => `#${c.i}: ${c.beats}, ${Math.round(c.ms)}`).join('; ')}; beat drivers over the run (beats, early, overruns, longest step): ${Object.entries(
        r.drivers,
      )
        .map(([peer, d]) => `${peer} ${d.beats}, ${d.early}, ${d.overruns}, ${Math.round(d.worstStepMs)} ms`)
        .join('; ')}`,
    }),
  );
  rows.push(
    ratioRow({
      id: 'f-hol-ms',
      what: `add during a ${cells.toLocaleString('en-US')}-cell mirror, p99`,
      unit: 'ms',
      direction: 'lower',
      ours: r.during.ms,
      anchorName: 'same calls, no mirror',
      anchor: r.idle.ms,
      target: '≤ 20 ms',
      met: r.during.ms <= 20,
      load,
    }),
  );
});

const table = formatTable(rows);
process.stdout.write(
  `${table}\n\nload average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}, ${cpus().length} cores, node ${process.version}, ${Math.round((Date.now() - started) / 1000)} s\n`,
);
for (const f of failures) process.stdout.write(`row group ${f.row} FAILED: ${f.error.split('\n')[0]}\n`);
save();
process.stdout.write(`rows written to ${flags.out}\n`);
process.exitCode = failures.length > 0 ? 1 : 0;
