/**
 * A 100,000-cell branch mirrored between two OS processes over provider-tcp on loopback (this
 * process receives; `source.ts` serves), with AEAD off and on, next to an anchor measured in the
 * same run: msgpackr pack → loopback socket → unpack of the same data. Also: the longest beat on
 * each side while the mirror runs, how many beats an invoke on another mount of the same two
 * peers takes meanwhile, and the receiver's heap peak against the tree it retains.
 *
 *   node --expose-gc --conditions=@cep/source --import tsx packages/organ-mirror/bench/compare.ts
 *
 * Environment: AEAD=off|on (default both), PART_BYTES / BEAT_BYTES (the organ's options),
 * BEAT_MS (beat period of both peers, default 2; 0 = as fast as they go),
 * PROFILE=<dir> (CPU profiles of both processes). Prints numbers; asserts nothing; the wall
 * clock is read only here.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Packr } from 'msgpackr';
import { digestHex, text, u64 } from '@cep/cells';
import { createRuntime } from '@cep/heartbeat';
import { installInvoke } from '@cep/organ-invoke';
import { tcp } from '@cep/provider-tcp';
import { createTransportManager } from '@cep/transport';
import { installMirror } from '../src/index.ts';
import { BEAT_MS, BenchBeats, KEY, plainBranch, quantile } from './shared.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) console.log('(run with --expose-gc for heap numbers after a collection)');
const collect = (): void => {
  gc?.();
  gc?.();
};
const ms = (from: bigint): number => Number(process.hrtime.bigint() - from) / 1e6;
const mb = (n: number): string => (n / 1e6).toFixed(1);
const partBytes = Number(process.env.PART_BYTES ?? 0) || undefined;
const beatBytes = Number(process.env.BEAT_BYTES ?? 0) || undefined;

/** msgpackr pack → loopback socket (u32 length prefix) → unpack; the best of three, in ms. */
async function anchor(): Promise<{ ms: number; bytes: number }> {
  const data = plainBranch();
  const packr = new Packr();
  let best = Infinity;
  let size = 0;
  for (let run = 0; run < 3; run++) {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const unpacked = new Promise<unknown>((resolve) => {
      server.on('connection', (socket: Socket) => {
        const chunks: Buffer[] = [];
        let got = 0;
        let want = -1;
        socket.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          got += chunk.length;
          if (want < 0 && got >= 4) want = Buffer.concat(chunks).readUInt32LE(0) + 4;
          if (want >= 0 && got >= want) resolve(packr.unpack(Buffer.concat(chunks).subarray(4, want)));
        });
      });
    });
    const client = connect((server.address() as { port: number }).port, '127.0.0.1');
    await once(client, 'connect');
    const start = process.hrtime.bigint();
    const body = packr.pack(data);
    const head = Buffer.alloc(4);
    head.writeUInt32LE(body.length);
    client.write(head);
    client.write(body);
    const back = (await unpacked) as Record<string, Record<string, unknown>>;
    best = Math.min(best, ms(start));
    size = body.length;
    if (Object.keys(back).length !== 1_000) throw new Error('the anchor lost data');
    client.destroy();
    server.close();
  }
  return { ms: best, bytes: size };
}

interface Row {
  aead: boolean;
  mirrorMs: number;
  receiverCpuMs: number;
  sourceCpuMs: number;
  beats: number;
  anchorMs: number;
  anchorBytes: number;
  receiverBeat: ReturnType<BenchBeats['summary']>;
  sourceBeat: ReturnType<BenchBeats['summary']>;
  invokeBeats: number[];
  invokeMs: number[];
  heapBaseline: number;
  heapPeak: number;
  retained: number;
  externalPeak: number;
}

async function run(aead: boolean): Promise<Row> {
  const profile = process.env.PROFILE;
  const child: ChildProcess = fork(fileURLToPath(new URL('./source.ts', import.meta.url)), [], {
    env: { ...process.env, AEAD: aead ? 'on' : 'off' },
    execArgv: ['--conditions=@cep/source', '--import', 'tsx', ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [])],
  });
  const [hello] = (await once(child, 'message')) as [{ address: string; digest: string }];

  const runtime = createRuntime();
  const manager = createTransportManager(runtime, {
    localNode: 'earth',
    providers: [tcp({ localPeer: 'earth', keys: { saturn: KEY } })],
    addressOf: (peer) => (peer === 'saturn' ? hello.address : undefined),
    ...(aead ? { peerKey: () => KEY } : {}),
  });
  installMirror(runtime, manager, { localNode: 'earth', ...(partBytes ? { partBytes } : {}), ...(beatBytes ? { beatBytes } : {}) });
  const invoke = installInvoke(runtime, manager, {});
  const tree = runtime.tree;
  for (const [f, v] of [
    ['peer', 'saturn'],
    ['mount', 'calc'],
    ['local_node', 'earth'],
  ])
    tree.set(`/net/organs/invoke/requests/calc/${f}`, text(v!));
  const beats = new BenchBeats(runtime);
  while (tree.getValue('/net/organs/invoke/requests/calc/state')?.value !== 'active') await beats.step();

  collect();
  const heapBaseline = process.memoryUsage().heapUsed;
  let heapPeak = heapBaseline;
  let externalPeak = 0;
  const request = ['net', 'organs', 'mirror', 'requests', 'big'];
  tree.batch(() => {
    tree.set([...request, 'peer'], text('saturn'));
    tree.set([...request, 'mount'], text('big'));
    tree.set([...request, 'src_peer'], text('saturn'));
    tree.set([...request, 'src_chan'], text('/data/big'));
    tree.set([...request, 'bundle', 'max_infl'], u64(4n));
  });
  beats.reset();
  child.send({ measure: true });
  // Sampled after every beat and at every mirror frame (inside the capture that decodes it).
  const sample = (): void => {
    const usage = process.memoryUsage();
    heapPeak = Math.max(heapPeak, usage.heapUsed);
    externalPeak = Math.max(externalPeak, usage.arrayBuffers);
  };
  manager.onFrame('mirror', sample);
  const invokeBeats: number[] = [];
  const invokeMs: number[] = [];
  let inFlight = false;
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  let count = 0;
  while (tree.getValue([...request, 'bundle_seq'])?.value !== 1n) {
    if (!inFlight) {
      // One call at a time on the other mount, for as long as the mirror runs.
      inFlight = true;
      const beat = runtime.beat;
      const t0 = process.hrtime.bigint();
      invoke.submit({
        request: 'calc',
        signal: '/sig/add',
        payload: u64(41n),
        timeoutBeats: 100_000,
        onComplete: (outcome) => {
          if (outcome.status === 'ok') {
            invokeBeats.push(outcome.beat - beat);
            invokeMs.push(ms(t0));
          }
          inFlight = false;
        },
      });
    }
    await beats.step();
    if (beats.lastInputs > 0) sample();
    if (++count > 1_000_000) throw new Error('the mirror did not finish');
  }
  const end = process.hrtime.bigint();
  const used = process.cpuUsage(cpu);
  const receiverCpuMs = (used.user + used.system) / 1000;
  const mirrorMs = Number(end - start) / 1e6;
  const receiverBeat = beats.summary();
  child.send({ stop: true });
  const [bye] = (await once(child, 'message')) as [{ cpuMs: number; beats: ReturnType<BenchBeats['summary']>; window: [number, number] }];
  if (profile)
    console.log(`        profile windows (µs, monotonic): receiver ${Number(start / 1000n)} ${Number(end / 1000n)}, source ${bye.window[0]} ${bye.window[1]}`);
  await manager.close();
  await once(child, 'exit');
  // What the copy costs to keep: the tree (and the records around it) after a collection, measured
  // before the digest check (the digest caches name bytes on the side).
  runtime.clearInboundLog();
  collect();
  const retained = process.memoryUsage().heapUsed - heapBaseline;
  if (digestHex(tree.get('/data/big')!) !== hello.digest) throw new Error('the copy differs from the source');
  const anchored = await anchor();
  return {
    aead,
    mirrorMs,
    receiverCpuMs,
    sourceCpuMs: bye.cpuMs,
    beats: receiverBeat.count,
    anchorMs: anchored.ms,
    anchorBytes: anchored.bytes,
    receiverBeat,
    sourceBeat: bye.beats,
    invokeBeats,
    invokeMs,
    heapBaseline,
    heapPeak,
    retained,
    externalPeak,
  };
}

console.log(`@cep/organ-mirror: a 100,001-cell branch between two processes over provider-tcp on loopback, Node ${process.version}`);
console.log(
  `options: partBytes ${partBytes ?? 'default'}, beatBytes ${beatBytes ?? 'default'}, a beat every ${BEAT_MS} ms on each side; load average before: ${loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')}`,
);
console.log('');
console.log('  aead  mirror ms  anchor ms  ratio  beats  max beat ms (recv / src)  invoke beats p50/p99/max  invoke ms p99  heap peak / retained');
for (const aead of process.env.AEAD === 'off' ? [false] : process.env.AEAD === 'on' ? [true] : [false, true]) {
  const r = await run(aead);
  const peak = r.heapPeak - r.heapBaseline;
  console.log(
    `  ${aead ? 'on ' : 'off'}  ${r.mirrorMs.toFixed(0).padStart(9)}  ${r.anchorMs.toFixed(1).padStart(9)}  ${(r.mirrorMs / r.anchorMs).toFixed(1).padStart(4)}x  ${String(r.beats).padStart(5)}` +
      `  ${r.receiverBeat.max.toFixed(1).padStart(11)} / ${r.sourceBeat.max.toFixed(1).padEnd(12)}` +
      `  ${quantile(r.invokeBeats, 0.5)}/${quantile(r.invokeBeats, 0.99)}/${Math.max(...r.invokeBeats)} (${r.invokeBeats.length} calls)`.padEnd(27) +
      `  ${quantile(r.invokeMs, 0.99).toFixed(1).padStart(12)}` +
      `  ${mb(peak)} / ${mb(r.retained)} MB = ${(peak / r.retained).toFixed(2)}x`,
  );
  console.log(
    `        CPU ms during the mirror: receiver ${r.receiverCpuMs.toFixed(0)}, source ${r.sourceCpuMs.toFixed(0)}; beats p50/p99 ms: receiver ${r.receiverBeat.p50.toFixed(2)}/${r.receiverBeat.p99.toFixed(2)}, source ${r.sourceBeat.p50.toFixed(2)}/${r.sourceBeat.p99.toFixed(2)} (${r.sourceBeat.count} beats); anchor ${mb(r.anchorBytes)} MB packed; receiver array buffers peak ${mb(r.externalPeak)} MB`,
  );
  console.log(`        longest beats: receiver ${r.receiverBeat.longest}; source ${r.sourceBeat.longest}`);
}
console.log(
  `load average after: ${loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')}`,
);
