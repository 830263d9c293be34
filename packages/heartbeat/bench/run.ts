/**
 * @cep/heartbeat benchmarks. Prints numbers; asserts nothing.
 * Run: npx --yes pnpm@10.34.8 bench   (from packages/heartbeat)
 */
import { performance } from 'node:perf_hooks';
import { createTree, digestHex, text, u64 } from '@cep/cells';
import { createRuntime, replay, type Runtime } from '@cep/heartbeat';

function rate(label: string, count: number, ms: number, unit = 'ops'): void {
  console.log(`${label.padEnd(58)} ${(count / (ms / 1000)).toFixed(0).padStart(10)} ${unit}/s   (${count} in ${ms.toFixed(1)} ms)`);
}
function time(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}
const letters = (i: number): string => i.toString(26).replace(/[0-9]/g, (d) => 'qrstuvwxyz'[Number(d)]!);

/** 100 enzymes over 20 signals (exact and prefix, some before/after), each writing one value. */
function hundredEnzymes(rt: Runtime): string[][] {
  const signals = Array.from({ length: 20 }, (_, i) => ['sig', `s${letters(i)}`]);
  for (let i = 0; i < 100; i++) {
    const signal = i % 5 === 0 ? ['sig'] : signals[i % 20]!;
    const after = i >= 20 && i % 7 === 0 ? [`e${letters(i - 20)}`] : [];
    rt.registerEnzyme({
      name: `e${letters(i)}`,
      signal,
      match: i % 5 === 0 ? 'prefix' : 'exact',
      after,
      run: (ctx) => void ctx.runtime.tree.set(['data', 'bench', `e${letters(i)}`], u64(ctx.beat)),
    });
  }
  return signals;
}

for (const perBeat of [0, 4, 16]) {
  const rt = createRuntime();
  const signals = hundredEnzymes(rt);
  const beats = perBeat === 0 ? 100_000 : 20_000;
  let runs = 0;
  const ms = time(() => {
    for (let b = 0; b < beats; b++) {
      for (let s = 0; s < perBeat; s++) rt.enqueue(signals[(b * perBeat + s) % 20]!);
      runs += rt.step().agenda.length;
    }
  });
  rate(`beats, 100 enzymes, ${perBeat} signals/beat (${(runs / beats).toFixed(1)} runs/beat)`, beats, ms, 'beats');
  if (perBeat > 0) rate(`  enzyme runs in those beats`, runs, ms, 'runs');
}

{
  const rt = createRuntime();
  rt.defineInput('frame', (input, ctx) => void ctx.runtime.enqueue('got', { data: u64(input.seq) }));
  rt.registerEnzyme({ name: 'got', signal: 'got', run: () => {} });
  const n = 200_000;
  const data = new Uint8Array(64);
  const ms = time(() => {
    for (let i = 0; i < n; i++) {
      rt.pushInput('frame', { stream: `m${i % 4}`, seq: i, data });
      if (i % 100 === 99) rt.step();
    }
  });
  rate('inputs pushed, admitted (sorted, logged) and dispatched', n, ms, 'inputs');
}

{
  const rt = createRuntime();
  const n = 20_000;
  const ms = time(() => {
    for (let i = 0; i < n; i++) {
      const id = rt.ops.start({ verb: 'op/bench' });
      rt.ops.setState(id, 'yield');
      rt.ops.close(id, 'ok');
      if (i % 100 === 99) rt.step();
    }
  });
  rate('OPS dossiers started, moved and closed', n, ms, 'ops');
}

{
  const rt = createRuntime();
  const n = 20_000;
  const ms = time(() => {
    for (let i = 0; i < n; i++) rt.cei.emit({ topic: 'tp_backpr', severity: 'warn', note: 'queue full', origin: 'bench', peer: 'saturn' });
  });
  rate('CEI facts (mailbox + ceh mirror, 1,024 kept)', n, ms, 'facts');
}

{
  const rt = createRuntime();
  const n = 2_000;
  let slices = 0;
  for (let i = 0; i < n; i++)
    rt.episodes.start({
      maxBeats: 10,
      slice: (ctx) => {
        slices++;
        ctx.charge('io', 10n);
        ctx.yield();
      },
    });
  const ms = time(() => rt.run(11));
  rate(`episode slices (${n} episodes × 10 beats)`, slices, ms, 'slices');
}

{
  const setup = (rt: Runtime): void => {
    rt.defineInput('frame', (input, ctx) => void ctx.runtime.tree.set(['data', `k${letters(input.data[0]! % 50)}`], text(String(input.seq))));
    hundredEnzymes(rt);
  };
  const rt = createRuntime({ tree: createTree() });
  setup(rt);
  const beats = 2_000;
  const recorded: string[] = [];
  const ms = time(() => {
    for (let b = 0; b < beats; b++) {
      rt.pushInput('frame', { stream: 'm', seq: b, data: Uint8Array.of(b * 7) });
      rt.enqueue(['sig', `s${letters(b % 20)}`]);
      rt.step();
      recorded.push(digestHex(rt.tree.root));
    }
  });
  rate('recorded run with a root digest every beat', beats, ms, 'beats');
  // The enqueue above is not an input, so the replay setup re-creates it with the same schedule.
  const replaySetup = (r: Runtime): void => {
    setup(r);
    for (let b = 0; b < beats; b++) r.enqueue(['sig', `s${letters(b % 20)}`], { atBeat: b });
  };
  let same = false;
  const rms = time(() => {
    same = replay(rt.inboundLog, { tree: createTree(), setup: replaySetup, beats }).digests.every((d, i) => d === recorded[i]);
  });
  rate(`replay of that log (digests identical: ${same})`, beats, rms, 'beats');
}
