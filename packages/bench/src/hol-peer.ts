/**
 * One peer of the head-of-line trace (`src/hol-trace.ts`), run as its own OS process: a
 * runtime with a tcp transport manager, the mirror and the invoke organs, as a `cep-node` peer
 * wires them (pre-shared key, so AEAD on; the demo's bundle settings), stepped on a timer every
 * `beatMs`. It records, per beat: when the step started and how long it took, how long its
 * commit took, the inputs admitted per stream (frames and bytes), and the bytes each socket was
 * handed and still holds unsent after the beat. Observation only: nothing here feeds a decision
 * of the runtime. The beats are `cep-node`'s own beat driver's (`createBeatDriver`), early beats
 * included (an arriving frame or submission starts a beat when none runs), unless `early` is false.
 *
 * - `saturn` listens and exposes `add` (n → n + 1) and `sky` (fills /data/sky with N cells,
 *   1,024 a beat, as the demo's handler does).
 * - `earth` mirrors saturn's /data/sky into /data/saturn/sky and calls saturn on another mount.
 */
import { Socket } from 'node:net';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { text, u64, type Cell, type Tree } from '@cep/cells';
import { createRuntime, organStore, type Runtime } from '@cep/heartbeat';
import { installInvoke } from '@cep/organ-invoke';
import { installMirror } from '@cep/organ-mirror';
import { createBeatDriver, createLogger, youngGc, type BeatStart } from '@cep/node-app';
import { tcp } from '@cep/provider-tcp';
import { createTransportManager } from '@cep/transport';

/** A command from the parent. */
export type HolCommand =
  | {
      readonly kind: 'start';
      readonly role: 'saturn' | 'earth';
      readonly key: string;
      readonly beatMs: number;
      readonly address?: string;
      readonly beatBytes?: number;
      readonly partBytes?: number;
      readonly busyBytes?: number;
      readonly inboundBudget?: number;
      /** Cells the `sky` handler writes per beat (default: the demo handler's). */
      readonly skyPerBeat?: number;
      /** As `cep-node`'s `early_beats` (default true). */
      readonly early?: boolean;
      /** Minor GCs between beats as `cep-node` runs them (default true; false: V8's own schedule). */
      readonly youngGc?: boolean;
    }
  | { readonly kind: 'call'; readonly handler: string; readonly arg: number; readonly tag: number }
  | { readonly kind: 'dump' };

/** One beat as this process saw it. */
export interface BeatRecord {
  readonly beat: number;
  /** Absolute ms (performance.timeOrigin + now) when the step started. */
  readonly at: number;
  readonly stepMs: number;
  /** CPU time of this process during the step (user + system): what the step cost, apart from waiting for a core. */
  readonly cpuMs: number;
  readonly commitMs: number;
  /** Admitted inputs per stream: [frames, bytes]. */
  readonly inputs: Record<string, [number, number]>;
  /** Bytes handed to each socket during this beat, and bytes it still held unsent after it. */
  readonly wrote: Record<string, number>;
  /** Bytes each socket still held unsent when the next beat started. */
  readonly queued: Record<string, number>;
  /** Absolute ms the timer that ran this beat was due, or the input that woke an early beat arrived (how late the loop let it start). */
  readonly due: number;
  /** Mirror parts this peer sent in the beat: [ms after the step started when the part's frame was handed over, frame bytes]. */
  readonly parts: [number, number][];
  /** Started early by an arriving input (not by the timer slot). */
  readonly early: boolean;
  /** The step's start on the monotonic clock in µs (the clock of `--cpu-prof` sample times). */
  readonly hrUs: number;
  /** What else the beat did, as the organs told it (a sky fill step, a bundle sealed, a bundle applied). */
  readonly notes: string[];
}

/** What a child reports. */
export type HolReport =
  | { readonly kind: 'ready'; readonly address?: string }
  | {
      readonly kind: 'called';
      readonly tag: number;
      readonly status: string;
      readonly submitBeat: number;
      readonly doneBeat: number;
      readonly submitAt: number;
      readonly doneAt: number;
    }
  | { readonly kind: 'mirrored'; readonly cells: number; readonly beat: number; readonly at: number }
  | { readonly kind: 'dump'; readonly beats: BeatRecord[]; readonly sockets: Record<string, string>; readonly gc: GcPause[] };

/** A garbage collection pause of this process's main thread: absolute start ms, ms, and `minor` (scavenge) or `major`. */
export type GcPause = [number, number, 'minor' | 'major'];

const abs = (): number => performance.timeOrigin + performance.now();
const send = (report: HolReport): void => void process.send!(report);

// Every byte a socket is handed, by socket: which mount a socket carries is told by the parent
// from the traffic (the mirror's is the one with megabytes).
const wrote = new Map<Socket, number>();
const socketName = new Map<Socket, string>();
const originalWrite = Socket.prototype.write;
Socket.prototype.write = function (this: Socket, chunk: unknown, ...rest: unknown[]) {
  const n = typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as Uint8Array).length;
  wrote.set(this, (wrote.get(this) ?? 0) + n);
  if (!socketName.has(this)) socketName.set(this, `s${socketName.size + 1}`);
  return (originalWrite as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
} as typeof Socket.prototype.write;

const beats: BeatRecord[] = [];
// Pauses the main thread spent in GC, kept apart from the beats: a pause between two steps
// delays the next one (its `late`), one inside a step lengthens it; the parent joins them to calls.
const gcPauses: GcPause[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR ? 'minor' : 'major';
    gcPauses.push([performance.timeOrigin + e.startTime, e.duration, kind]);
  }
}).observe({ entryTypes: ['gc'] });
let partsNow: [number, number][] = [];
let notesNow: string[] = [];
const note = (what: string): void => void notesNow.push(`${what} at +${(abs() - stepAt).toFixed(1)} ms`);
let stepAt = 0;
let tail = (): void => {};

/** Cells the `sky` handler writes per beat, as the demo's handler does (`apps/node/examples/handlers/sky.mjs`). */
const SKY_CELLS_PER_BEAT = 256;

/**
 * Writes cells `from` up to `to` (exclusive) of the sky branch; returns `to`. As the demo's
 * handler writes them (one `ensureDictionary` per group of 100, `setChild` for each cell, no path
 * parsed per cell), so the trace's source does the work `cep-node`'s does, not more.
 */
function fillSky(tree: Tree, from: number, to: number): number {
  let group: Cell | undefined;
  for (let i = from; i < to; i += 2) {
    if (i % 100 === 0 || group === undefined) group = tree.ensureDictionary(`/data/sky/${Math.floor(i / 100)}`);
    tree.setChild(group, String(i % 100), text(`star ${i}`));
    if (i + 1 < to) tree.setChild(group, String((i % 100) + 1), u64(BigInt(i * 7919)));
  }
  return to;
}

/** Cells of earth's copy of the sky branch (its groups of 100; only the last group is counted one by one). */
function copiedCells(tree: Tree): number {
  const sky = tree.get('/data/saturn/sky');
  if (sky === undefined) return 0;
  const groups = sky.children().filter((c) => !c.isDeleted);
  if (groups.length === 0) return 0;
  const last = tree.get(`/data/saturn/sky/${groups.length - 1}`);
  const inLast = last === undefined ? 0 : last.children().filter((c) => !c.isDeleted).length;
  return (groups.length - 1) * 100 + inLast;
}

function beatLoop(runtime: Runtime, beatMs: number, early: boolean, young: boolean): void {
  let commitAt = 0;
  runtime.onCommit(() => {
    commitAt = abs();
  });
  let admitted: readonly { stream: string; data: Uint8Array }[] = [];
  runtime.onCommitted((_beat, inputs) => {
    admitted = inputs;
  });
  // Sends leave on the socket after the step (the link batches a tick's small frames), so the
  // bytes written since the last beat started are the previous beat's, counted when the next starts.
  tail = (): void => {
    const last = beats[beats.length - 1];
    if (last === undefined) return;
    for (const [s, n] of wrote) {
      const id = socketName.get(s)!;
      if (n > 0) last.wrote[id] = (last.wrote[id] ?? 0) + n;
      if (s.writableLength > 0) last.queued[id] = s.writableLength;
      wrote.set(s, 0);
    }
  };
  let start: BeatStart = { early: false, dueMs: performance.now() };
  // As cep-node runs it with its default `young_gc_kib: 2048` (apps/node/src/config/schema.ts); a copy of that default, kept by hand.
  const afterStep = young ? youngGc(2 << 20) : undefined;
  // The peer's own driver, as cep-node runs it; the records are taken around its step.
  const driver = createBeatDriver({
    runtime: {
      get beat() {
        return runtime.beat;
      },
      step() {
        tail();
        const hrUs = Number(process.hrtime.bigint() / 1000n);
        const at = abs();
        stepAt = at;
        partsNow = [];
        notesNow = [];
        const beat = runtime.beat;
        const cpu = process.cpuUsage();
        runtime.step();
        const end = abs();
        const used = process.cpuUsage(cpu);
        const inputs: Record<string, [number, number]> = {};
        for (const i of admitted) {
          const e = (inputs[i.stream] ??= [0, 0]);
          e[0]++;
          e[1] += i.data.length;
        }
        const due = performance.timeOrigin + start.dueMs;
        beats.push({
          beat,
          at,
          stepMs: end - at,
          cpuMs: (used.user + used.system) / 1000,
          commitMs: end - commitAt,
          inputs,
          wrote: {},
          queued: {},
          due,
          parts: partsNow,
          early: start.early,
          hrUs,
          notes: notesNow,
        });
      },
    },
    periodMs: beatMs,
    log: createLogger({ level: 'error', format: 'json' }), // overrun warnings would land in the trace's output
    beforeStep: (s) => {
      start = s;
    },
    ...(afterStep === undefined ? {} : { afterStep }),
  });
  driver.start();
  if (early) runtime.onInput(() => driver.wake());
}

async function start(cmd: Extract<HolCommand, { kind: 'start' }>): Promise<void> {
  const self = cmd.role;
  const other = self === 'saturn' ? 'earth' : 'saturn';
  const key = Buffer.from(cmd.key, 'hex');
  const runtime = createRuntime();
  const manager = createTransportManager(runtime, {
    localNode: self,
    providers: [tcp({ localPeer: self, keys: { [other]: key } })],
    addressOf: () => cmd.address,
    peerKey: () => key,
    ...(cmd.inboundBudget === undefined ? {} : { inboundBudgetBytes: cmd.inboundBudget }),
  });
  const mirror = installMirror(runtime, manager, {
    localNode: self,
    ...(cmd.beatBytes === undefined ? {} : { beatBytes: cmd.beatBytes }),
    ...(cmd.partBytes === undefined ? {} : { partBytes: cmd.partBytes }),
    ...(cmd.busyBytes === undefined ? {} : { busyBeatBytes: cmd.busyBytes }),
    // When each part leaves within its beat: the time before the first one is the slice's packing.
    onSend: (e) => void partsNow.push([abs() - stepAt, e.bytes]),
    onSeal: (e) => note(`sealed bundle ${e.seq} (${e.parts.length} parts, ${e.cells} cells)`),
    onApply: (e) => {
      note(`applied bundle ${e.seq} (${e.cells} cells)`);
      // The branch fills over many beats and bundles: report the cells the copy holds, so the
      // parent knows when the last one landed (counted only when the newest group exists).
      if (e.cells > 0) send({ kind: 'mirrored', cells: copiedCells(runtime.tree), beat: e.beat, at: abs() });
    },
  });
  void mirror;
  const invoke = installInvoke(runtime, manager, { maxPending: 1 << 12, recordSubmissions: true }); // as cep-node: submissions are inputs
  const tree = runtime.tree;
  if (self === 'saturn') {
    invoke.expose('/sig/add', (call) => ({ status: 'ok', result: u64((call.payload?.type === 'u64' ? call.payload.value : 0n) + 1n) }));
    const perBeat = cmd.skyPerBeat ?? SKY_CELLS_PER_BEAT;
    invoke.expose('/sig/sky', (call) => {
      const n = Number(call.payload?.type === 'u64' ? call.payload.value : 0n);
      // As cep-node's demo handler: the first `perBeat` cells in the call's beat, the rest one step a beat.
      let i = fillSky(call.tree, 0, Math.min(n, perBeat));
      if (i < n)
        runtime.episodes.start({
          verb: 'bench/sky',
          target: '/sig/sky',
          slice(ctx) {
            i = fillSky(ctx.runtime.tree, i, Math.min(n, i + perBeat));
            note(`fill to ${i}`);
            if (i < n) ctx.yield();
          },
        });
      return { status: 'ok' };
    });
    const { address } = await manager.listen('tcp', '127.0.0.1:0');
    beatLoop(runtime, cmd.beatMs, cmd.early !== false, cmd.youngGc !== false);
    send({ kind: 'ready', address });
    return;
  }
  const r = '/net/organs/mirror/requests';
  tree.ensureDictionary(r, organStore('mirror'));
  for (const [field, value] of [
    ['peer', 'saturn'],
    ['src_peer', 'saturn'],
    ['mount', 'sky'],
    ['mode', 'mirror'],
    ['src_chan', '/data/sky'],
    ['dst_chan', '/data/saturn/sky'],
    ['bundle/commit_mode', 'stream'],
  ])
    tree.set(`${r}/sky/${field}`, text(value!));
  tree.set(`${r}/sky/bundle/beat_window`, u64(2n));
  tree.set(`${r}/sky/bundle/max_infl`, u64(8n));
  for (const [field, value] of [
    ['peer', 'saturn'],
    ['mount', 'inv'],
    ['local_node', 'earth'],
  ])
    tree.set(`/net/organs/invoke/requests/saturn/${field}`, text(value!));
  beatLoop(runtime, cmd.beatMs, cmd.early !== false, cmd.youngGc !== false);
  const deadline = performance.now() + 30_000;
  const active = () => tree.getValue('/net/organs/invoke/requests/saturn/state')?.value === 'active' && tree.getValue(`${r}/sky/state`)?.value === 'active';
  while (!active()) {
    if (performance.now() > deadline) throw new Error('hol peer: requests not active in 30 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  process.on('message', (c: HolCommand) => {
    if (c.kind !== 'call') return;
    const submitAt = abs();
    const submitBeat = runtime.beat;
    const id = invoke.submit({ request: 'saturn', signal: `/sig/${c.handler}`, payload: u64(BigInt(c.arg)), timeoutBeats: 200 });
    void invoke.result(id).then((o) => send({ kind: 'called', tag: c.tag, status: o.status, submitBeat, doneBeat: o.beat, submitAt, doneAt: abs() }));
  });
  send({ kind: 'ready' });
}

process.on('message', (cmd: HolCommand) => {
  if (cmd.kind === 'start')
    start(cmd).catch((error: unknown) => {
      process.stderr.write(`hol peer ${cmd.role}: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    });
  else if (cmd.kind === 'dump') {
    tail();
    const names: Record<string, string> = {};
    for (const [s, id] of socketName) names[id] = `${s.localPort}>${s.remotePort}`;
    send({ kind: 'dump', beats, sockets: names, gc: gcPauses });
  }
});
process.once('SIGTERM', () => process.exit(0));
