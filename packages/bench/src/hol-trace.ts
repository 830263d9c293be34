/**
 * Where an invoke waits while a large mirror runs (row f, traced): two peers as OS processes
 * (`src/hol-peer.ts`), 20 `add` calls, then `sky N` on saturn, then `add` calls one after
 * another until earth has applied the sky bundle. Each peer records every beat (start, step and
 * commit ms, inputs per stream, bytes per socket, bytes left unsent); this script joins the two
 * traces on the absolute clock and splits each call into its legs:
 *
 *   submit ─A→ request written (earth) ─B→ admitted (saturn) ─C→ reply written (saturn)
 *          ─D→ reply admitted (earth) ─E→ outcome (earth)
 *
 * and says for B and D what the receiving peer was doing meanwhile (the beat in progress when
 * the frame arrived), and how much of each call both peers' main threads spent in GC pauses
 * (minor pauses copy what survives, so they grow with the cells each peer keeps). Prints a report; `--json <file>` also writes the raw traces. Asserts nothing.
 *
 *   node --conditions=@cep/source --import tsx src/hol-trace.ts [--cells 100000] [--beat-ms 5] [--beat-bytes N] [--part-bytes N] [--busy-bytes N] [--inbound-budget N] [--warm N] [--early off] [--sky-per-beat N] [--young-gc off]
 *
 * The peers beat as `cep-node` does (its beat driver, early beats on; `--early off`: slots only;
 * minor GCs between beats, `--young-gc off`: V8's own schedule).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { BeatRecord, GcPause, HolCommand, HolReport } from './hol-peer.ts';
import { loadAverage, quantile } from './stats.ts';

const { values: flags } = parseArgs({
  args: process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === '--')),
  options: {
    cells: { type: 'string', default: '100000' },
    'beat-ms': { type: 'string', default: '5' },
    'beat-bytes': { type: 'string' },
    'inbound-budget': { type: 'string' },
    'part-bytes': { type: 'string' },
    'busy-bytes': { type: 'string' },
    warm: { type: 'string' },
    'sky-per-beat': { type: 'string' },
    early: { type: 'string', default: 'on' },
    'young-gc': { type: 'string', default: 'on' },
    json: { type: 'string' },
  },
});
const cells = Number(flags.cells);
const beatMs = Number(flags['beat-ms']);
const beatBytes = flags['beat-bytes'] === undefined ? undefined : Number(flags['beat-bytes']);
const inboundBudget = flags['inbound-budget'] === undefined ? undefined : Number(flags['inbound-budget']);
const partBytes = flags['part-bytes'] === undefined ? undefined : Number(flags['part-bytes']);
const busyBytes = flags['busy-bytes'] === undefined ? undefined : Number(flags['busy-bytes']);
const extra = {
  ...(beatBytes === undefined ? {} : { beatBytes }),
  ...(partBytes === undefined ? {} : { partBytes }),
  ...(busyBytes === undefined ? {} : { busyBytes }),
  ...(inboundBudget === undefined ? {} : { inboundBudget }),
  ...(flags['sky-per-beat'] === undefined ? {} : { skyPerBeat: Number(flags['sky-per-beat']) }),
  early: flags.early !== 'off',
  youngGc: flags['young-gc'] !== 'off',
};

const PEER = fileURLToPath(new URL('./hol-peer.ts', import.meta.url));

interface Child {
  readonly process: ChildProcess;
  send(cmd: HolCommand): void;
  next<K extends HolReport['kind']>(kind: K, test?: (r: Extract<HolReport, { kind: K }>) => boolean): Promise<Extract<HolReport, { kind: K }>>;
}

function forkPeer(): Child {
  const child = fork(PEER, [], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`hol peer exited with ${code}`))));
  exited.catch(() => {});
  return {
    process: child,
    send: (cmd) => void child.send(cmd),
    next: (kind, test) =>
      Promise.race([
        exited,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`hol trace: no ${kind} in 300 s`)), 300_000).unref()),
        new Promise((resolve) => {
          const on = (m: HolReport) => {
            if (m.kind === kind && (test === undefined || test(m as never))) {
              child.off('message', on);
              resolve(m as never);
            }
          };
          child.on('message', on);
        }),
      ]) as never,
  };
}

type Called = Extract<HolReport, { kind: 'called' }>;

const key = randomBytes(32).toString('hex');
const saturn = forkPeer();
saturn.send({ kind: 'start', role: 'saturn', key, beatMs, ...extra });
const { address } = await saturn.next('ready');
const earth = forkPeer();
earth.send({ kind: 'start', role: 'earth', key, beatMs, address: address!, ...extra });
await earth.next('ready');

let tag = 0;
const call = async (handler: string, arg: number): Promise<Called> => {
  const t = ++tag;
  const done = earth.next('called', (r) => r.tag === t);
  earth.send({ kind: 'call', handler, arg, tag: t });
  return done;
};
// `--warm N`: `sky N` mirrored whole before anything is measured, so the code the mirror runs
// (packing, encoding, decoding, staging) has run once: what the first calls of a cold mirror
// wait for beyond that is the code running for the first time.
if (flags.warm !== undefined) {
  const warm = Number(flags.warm);
  const warmed = earth.next('mirrored', (r) => r.cells >= warm);
  await call('sky', warm);
  await warmed;
}
const idle: Called[] = [];
for (let i = 0; i < 20; i++) idle.push(await call('add', i));
const idleEnd = performance.timeOrigin + performance.now();
const mirrored = earth.next('mirrored', (r) => r.cells >= cells);
let done: Extract<HolReport, { kind: 'mirrored' }> | undefined;
void mirrored.then((m) => {
  done = m;
});
const sky = await call('sky', cells);
const during: Called[] = [];
while (done === undefined) during.push(await call('add', during.length));

const dump = async (c: Child) => {
  const d = earth === c ? earth.next('dump') : saturn.next('dump');
  c.send({ kind: 'dump' });
  return d;
};
const [e, s] = [await dump(earth), await dump(saturn)];
for (const c of [earth, saturn]) c.process.kill('SIGTERM');
if (flags.json !== undefined) writeFileSync(flags.json, JSON.stringify({ earth: e, saturn: s, idle, sky, during, done }));

// ---- analysis ---------------------------------------------------------------------------

/** The socket that carried the invoke mount: the one written most while only calls ran. */
function invokeSocket(beats: readonly BeatRecord[]): string {
  const totals = new Map<string, number>();
  for (const b of beats) if (b.at < idleEnd) for (const [sock, n] of Object.entries(b.wrote)) totals.set(sock, (totals.get(sock) ?? 0) + n);
  return [...totals].sort((a, b) => b[1] - a[1])[0]![0];
}
const isInvokeStream = (stream: string): boolean => stream.includes('/invoke/');
const eSock = invokeSocket(e.beats);
const sSock = invokeSocket(s.beats);
const end = (b: BeatRecord): number => b.at + b.stepMs;
const firstFrom = (beats: readonly BeatRecord[], from: number, test: (b: BeatRecord) => boolean) => beats.find((b) => b.at >= from && test(b));
/** The beat running (or the last one that ended) at absolute time `t`. */
const runningAt = (beats: readonly BeatRecord[], t: number) => [...beats].reverse().find((b) => b.at <= t);

interface Legs {
  readonly beats: number;
  readonly ms: number;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly d: number;
  readonly e: number;
  /** Saturn's beat in progress when the request could first have been admitted, and earth's for the reply. */
  readonly sBusy: BeatRecord | undefined;
  readonly eBusy: BeatRecord | undefined;
  /** GC pause ms of each peer's main thread between submission and outcome. */
  readonly gcE: number;
  readonly gcS: number;
}

/** Pause ms of `pauses` inside [from, to] (the overlapping share of each). */
function paused(pauses: readonly GcPause[], from: number, to: number): number {
  let ms = 0;
  for (const [at, duration] of pauses) ms += Math.max(0, Math.min(to, at + duration) - Math.max(from, at));
  return ms;
}

function legs(c: Called): Legs | undefined {
  // Bytes are counted against the beat before the next one starts (they leave after its step):
  // the request left in the first beat with invoke bytes that started after the submission.
  const sent = firstFrom(e.beats, c.submitAt, (b) => (b.wrote[eSock] ?? 0) > 0);
  if (sent === undefined) return undefined;
  const admitted = firstFrom(s.beats, end(sent) - 1000, (b) => b.at >= end(sent) - 1 && Object.keys(b.inputs).some(isInvokeStream));
  if (admitted === undefined) return undefined;
  const replied = firstFrom(s.beats, admitted.at, (b) => (b.wrote[sSock] ?? 0) > 0);
  if (replied === undefined) return undefined;
  const back = firstFrom(e.beats, end(replied) - 1, (b) => b.at >= end(replied) - 1 && Object.keys(b.inputs).some(isInvokeStream));
  if (back === undefined) return undefined;
  return {
    beats: c.doneBeat - c.submitBeat,
    ms: c.doneAt - c.submitAt,
    a: end(sent) - c.submitAt,
    b: admitted.at - end(sent),
    c: end(replied) - admitted.at,
    d: back.at - end(replied),
    e: c.doneAt - back.at,
    sBusy: runningAt(s.beats, end(sent)),
    eBusy: runningAt(e.beats, end(replied)),
    gcE: paused(e.gc, c.submitAt, c.doneAt),
    gcS: paused(s.gc, c.submitAt, c.doneAt),
  };
}

const f1 = (n: number) => n.toFixed(1);
const describe = (b: BeatRecord | undefined): string => {
  if (b === undefined) return '-';
  const inBytes = Object.values(b.inputs).reduce((n, [, bytes]) => n + bytes, 0);
  const out = Object.values(b.wrote).reduce((n, x) => n + x, 0);
  const queued = Object.values(b.queued).reduce((n, x) => n + x, 0);
  const parts = b.parts.length === 0 ? '' : `, parts sent at ${b.parts.map(([ms, bytes]) => `+${f1(ms)} ms (${(bytes / 1024).toFixed(0)} KiB)`).join(', ')}`;
  const notes = b.notes.length === 0 ? '' : `; ${b.notes.join(', ')}`;
  return `beat ${b.beat}: step ${f1(b.stepMs)} ms (cpu ${f1(b.cpuMs)}, commit ${f1(b.commitMs)}), late ${f1(Math.max(0, b.at - b.due))} ms, in ${(inBytes / 1024).toFixed(0)} KiB, out ${(out / 1024).toFixed(0)} KiB, unsent ${(queued / 1024).toFixed(0)} KiB${parts}${notes}`;
};
const summary = (label: string, xs: readonly number[]): string =>
  `${label.padEnd(44)} p50 ${f1(quantile(xs, 0.5)).padStart(7)}  p90 ${f1(quantile(xs, 0.9)).padStart(7)}  p99 ${f1(quantile(xs, 0.99)).padStart(7)}  max ${f1(Math.max(...xs)).padStart(7)}`;

const out: string[] = [];
const log = (line = ''): void => void out.push(line);
log(
  `hol trace: ${cells} cells, beat ${beatMs} ms, beatBytes ${beatBytes ?? 'default'}, partBytes ${partBytes ?? 'default'}, busyBeatBytes ${busyBytes ?? 'default'}, inboundBudgetBytes ${inboundBudget ?? 'default'}, early beats ${flags.early !== 'off' ? 'on' : 'off'}, young gc ${flags['young-gc'] !== 'off' ? 'on' : 'off'}, sky cells per beat ${flags['sky-per-beat'] ?? 'default'}, load ${loadAverage()}`,
);
log(
  `sky call: ${sky.doneBeat - sky.submitBeat} beats, ${f1(sky.doneAt - sky.submitAt)} ms (${sky.status}); mirror applied at earth beat ${done!.beat}, ${f1(done!.at - sky.submitAt)} ms after sky was submitted`,
);
for (const [name, calls] of [
  ['idle', idle],
  ['during', during],
] as const) {
  const ls = calls.map(legs).filter((l): l is Legs => l !== undefined);
  log();
  log(`${name}: ${calls.length} calls (${ls.length} traced)`);
  log(
    summary(
      '  beats (earth)',
      ls.map((l) => l.beats),
    ),
  );
  log(
    summary(
      '  ms',
      ls.map((l) => l.ms),
    ),
  );
  log(
    summary(
      '  A submit → request written (earth)',
      ls.map((l) => l.a),
    ),
  );
  log(
    summary(
      '  B written → admitted (saturn)',
      ls.map((l) => l.b),
    ),
  );
  log(
    summary(
      '  C admitted → reply written (saturn)',
      ls.map((l) => l.c),
    ),
  );
  log(
    summary(
      '  D reply written → admitted (earth)',
      ls.map((l) => l.d),
    ),
  );
  log(
    summary(
      '  E admitted → outcome (earth)',
      ls.map((l) => l.e),
    ),
  );
  log(
    summary(
      '  GC pause ms inside the call (both peers)',
      ls.map((l) => l.gcE + l.gcS),
    ),
  );
  if (name === 'during') {
    const worst = [...ls].sort((x, y) => y.ms - x.ms).slice(0, 5);
    log('  the 5 slowest calls:');
    for (const l of worst) {
      log(
        `    ${l.beats} beats ${f1(l.ms)} ms: A ${f1(l.a)} B ${f1(l.b)} C ${f1(l.c)} D ${f1(l.d)} E ${f1(l.e)}; GC pauses inside it: earth ${f1(l.gcE)}, saturn ${f1(l.gcS)} ms`,
      );
      log(`      saturn when the request arrived: ${describe(l.sBusy)}`);
      log(`      earth when the reply arrived:    ${describe(l.eBusy)}`);
    }
  }
}
const mirrorPhase = (beats: readonly BeatRecord[]) => beats.filter((b) => b.at >= sky.submitAt && b.at <= done!.at);
for (const [name, beats, gc] of [
  ['saturn', mirrorPhase(s.beats), s.gc.filter(([at]) => at >= sky.submitAt && at <= done!.at)],
  ['earth', mirrorPhase(e.beats), e.gc.filter(([at]) => at >= sky.submitAt && at <= done!.at)],
] as const) {
  log();
  log(`${name} beats during the mirror: ${beats.length} (${beats.filter((b) => b.early).length} early)`);
  for (const kind of ['minor', 'major'] as const) {
    const ms = gc.filter((g) => g[2] === kind).map((g) => g[1]);
    if (ms.length > 0) log(`  GC pauses (${kind}): ${ms.length}, ${f1(ms.reduce((a, b) => a + b, 0))} ms in all, longest ${f1(Math.max(...ms))} ms`);
  }
  log(
    summary(
      '  step ms',
      beats.map((b) => b.stepMs),
    ),
  );
  log(
    summary(
      '  step CPU ms (the rest: waiting for a core)',
      beats.map((b) => b.cpuMs),
    ),
  );
  log(
    summary(
      '  commit ms',
      beats.map((b) => b.commitMs),
    ),
  );
  log(
    summary(
      '  late ms (timer due → step start)',
      beats.map((b) => Math.max(0, b.at - b.due)),
    ),
  );
  log(
    summary(
      '  KiB admitted per beat',
      beats.map((b) => Object.values(b.inputs).reduce((n, [, x]) => n + x, 0) / 1024),
    ),
  );
  log(
    summary(
      '  KiB written per beat',
      beats.map((b) => Object.values(b.wrote).reduce((n, x) => n + x, 0) / 1024),
    ),
  );
  log(
    summary(
      '  KiB left unsent after the beat',
      beats.map((b) => Object.values(b.queued).reduce((n, x) => n + x, 0) / 1024),
    ),
  );
  // How the receiver spread its applies: beats that applied more than one bundle, and applies in a
  // beat whose capture admitted a frame of the invoke mount (a call's request or reply).
  const applied = (b: BeatRecord): number => b.notes.filter((n) => n.startsWith('applied bundle')).length;
  const withApply = beats.filter((b) => applied(b) > 0);
  if (withApply.length > 0)
    log(
      `  beats that applied bundles: ${withApply.length}, of which more than one: ${withApply.filter((b) => applied(b) > 1).length} (most ${Math.max(...withApply.map(applied))}), beside an admitted invoke frame: ${withApply.filter((b) => Object.keys(b.inputs).some(isInvokeStream)).length}`,
    );
  const longest = [...beats].sort((x, y) => y.stepMs - x.stepMs).slice(0, 5);
  for (const b of longest) log(`  longest: ${describe(b)}`);
}
process.stdout.write(`${out.join('\n')}\n`);
