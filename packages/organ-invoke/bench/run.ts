// Remote invoke over two runtimes in this process, with a free-running heartbeat (both runtimes
// step, then one setImmediate turn, in a loop). Prints invokes/s with a window of calls in flight,
// and the round-trip latency of one call at a time in beats and µs (p50/p99), over
// provider-memory and provider-tcp on loopback — next to an anchor measured in the same run: a
// plain msgpackr request/response RPC over a loopback socket (length-prefixed frames, the same
// window, the same `add` handler). Asserts nothing; the wall clock is read only here.
// Run: npx tsx --conditions=@cep/source packages/organ-invoke/bench/run.ts
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { Packr } from 'msgpackr';
import { text, u64 } from '@cep/cells';
import { createRuntime, type Runtime } from '@cep/heartbeat';
import { memory, memoryNetwork } from '@cep/provider-memory';
import { tcp } from '@cep/provider-tcp';
import { createTransportManager, type ProviderV1, type TransportManager } from '@cep/transport';
import { installInvoke, type InvokeOrgan } from '../src/index.ts';

const KEY = new Uint8Array(randomBytes(32));
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Side {
  runtime: Runtime;
  manager: TransportManager;
  invoke: InvokeOrgan;
}

function side(name: string, provider: ProviderV1, addressOf: (peer: string) => string | undefined, recordSubmissions = false): Side {
  const runtime = createRuntime();
  const manager = createTransportManager(runtime, { localNode: name, providers: [provider], addressOf, peerKey: () => KEY });
  // A generous window: the bench keeps many calls in flight on one request.
  return { runtime, manager, invoke: installInvoke(runtime, manager, { maxPending: 1 << 16, recordSubmissions }) };
}

/** `memory+rec`: over memory, earth records its submissions as inputs (replayable caller). */
async function setup(transport: 'memory' | 'memory+rec' | 'tcp'): Promise<{ earth: Side; saturn: Side; stop: () => Promise<void> }> {
  let earth: Side;
  let saturn: Side;
  if (transport !== 'tcp') {
    const network = memoryNetwork();
    earth = side('earth', memory({ network, peer: 'earth', mode: 'reliable' }), (p) => p, transport === 'memory+rec');
    saturn = side('saturn', memory({ network, peer: 'saturn', mode: 'reliable' }), (p) => p);
    await saturn.manager.listen('memory', 'saturn');
  } else {
    const addresses = new Map<string, string>();
    earth = side('earth', tcp({ localPeer: 'earth', keys: { saturn: KEY } }), (p) => addresses.get(p));
    saturn = side('saturn', tcp({ localPeer: 'saturn', keys: { earth: KEY } }), (p) => addresses.get(p));
    addresses.set('saturn', (await saturn.manager.listen('tcp', '127.0.0.1:0')).address);
  }
  saturn.invoke.expose('/sig/add', (call) => ({ status: 'ok', result: u64((call.payload?.type === 'u64' ? call.payload.value : 0n) + 1n) }));
  earth.runtime.tree.set('/net/organs/invoke/requests/bench/peer', text('saturn'));
  earth.runtime.tree.set('/net/organs/invoke/requests/bench/mount', text('main'));
  earth.runtime.tree.set('/net/organs/invoke/requests/bench/local_node', text('earth'));
  let running = true;
  const loop = (async () => {
    while (running) {
      earth.runtime.step();
      saturn.runtime.step();
      await turn();
    }
  })();
  while (earth.runtime.tree.getValue('/net/organs/invoke/requests/bench/state')?.value !== 'active') await turn();
  return {
    earth,
    saturn,
    stop: async () => {
      running = false;
      await loop;
      await earth.manager.close();
      await saturn.manager.close();
    },
  };
}

/** `count` calls, at most `window` in flight. */
const cpuNow = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function throughput(earth: Side, count: number, window: number): Promise<{ perSecond: number; beats: number; cpuMicros: number }> {
  let sent = 0;
  let done = 0;
  const startBeat = earth.runtime.beat;
  const start = process.hrtime.bigint();
  const cpu0 = cpuNow();
  await new Promise<void>((finish) => {
    const submit = (): void => {
      while (sent < count && sent - done < window) {
        sent++;
        earth.invoke.submit({
          request: 'bench',
          signal: '/sig/add',
          payload: u64(BigInt(sent)),
          timeoutBeats: 100_000,
          onComplete: (outcome) => {
            if (outcome.status !== 'ok') throw new Error(`invoke ${outcome.status}: ${outcome.note}`);
            done++;
            if (done === count) finish();
            else submit();
          },
        });
      }
    };
    submit();
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { perSecond: count / seconds, beats: earth.runtime.beat - startBeat, cpuMicros: (cpuNow() - cpu0) / count };
}

/** One call at a time: beats and µs from submit to the recorded outcome. */
async function latency(earth: Side, count: number): Promise<{ beats: number[]; micros: number[] }> {
  const beats: number[] = [];
  const micros: number[] = [];
  for (let i = 0; i < count; i++) {
    const submittedBeat = earth.runtime.beat;
    const start = process.hrtime.bigint();
    const id = earth.invoke.submit({ request: 'bench', signal: '/sig/add', payload: u64(1n), timeoutBeats: 100_000 });
    const outcome = await earth.invoke.result(id);
    micros.push(Number(process.hrtime.bigint() - start) / 1e3);
    beats.push(outcome.beat - submittedBeat);
  }
  return { beats, micros };
}

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Splits a length-prefixed stream into frames. */
function splitter(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    const buf = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let at = 0;
    while (buf.length - at >= 4) {
      const len = buf.readUInt32BE(at);
      if (buf.length - at - 4 < len) break;
      onFrame(buf.subarray(at + 4, at + 4 + len));
      at += 4 + len;
    }
    pending = at === buf.length ? Buffer.alloc(0) : buf.subarray(at);
  };
}

function framed(packr: Packr, message: unknown): Buffer {
  const body = packr.pack(message);
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

/** The anchor: msgpackr request/response over one loopback socket, calls matched by id. */
async function msgpackrRpc(count: number, window: number, rttCount: number): Promise<{ perSecond: number; micros: number[]; cpuMicros: number }> {
  const packr = new Packr();
  const server = createServer((socket: Socket) => {
    socket.setNoDelay(true);
    socket.on(
      'data',
      splitter((frame) => {
        const call = packr.unpack(frame) as { id: number; signal: string; payload: bigint };
        if (call.signal !== '/sig/add') throw new Error('unknown signal');
        socket.write(framed(packr, { id: call.id, status: 'ok', result: call.payload + 1n }));
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = connect((server.address() as { port: number }).port, '127.0.0.1');
  client.setNoDelay(true);
  await new Promise<void>((resolve) => client.once('connect', resolve));
  const waiting = new Map<number, () => void>();
  client.on(
    'data',
    splitter((frame) => {
      const reply = packr.unpack(frame) as { id: number; status: string };
      if (reply.status !== 'ok') throw new Error('rpc failed');
      const done = waiting.get(reply.id)!;
      waiting.delete(reply.id);
      done();
    }),
  );
  let nextId = 0;
  const call = (payload: bigint, done: () => void): void => {
    const id = ++nextId;
    waiting.set(id, done);
    client.write(framed(packr, { id, signal: '/sig/add', payload, timeout: 100_000 }));
  };
  const start = process.hrtime.bigint();
  const cpu0 = cpuNow();
  await new Promise<void>((finish) => {
    let sent = 0;
    let done = 0;
    const submit = (): void => {
      while (sent < count && sent - done < window) {
        sent++;
        call(BigInt(sent), () => {
          done++;
          if (done === count) finish();
          else submit();
        });
      }
    };
    submit();
  });
  const perSecond = count / (Number(process.hrtime.bigint() - start) / 1e9);
  const cpuMicros = (cpuNow() - cpu0) / count;
  const micros: number[] = [];
  for (let i = 0; i < rttCount; i++) {
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve) => call(1n, resolve));
    micros.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
  client.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return { perSecond, micros, cpuMicros };
}

const load = (): string => readFileSync('/proc/loadavg', 'utf8').trim();
console.log(`load before: ${load()}`);
const rows: string[] = [];
let tcpRow: { perSecond: number; p50: number; p99: number; cpuMicros: number } | undefined;
const memoryRows = new Map<string, { perSecond: number; p50: number; cpuMicros: number }>();

for (const transport of ['memory', 'memory+rec', 'tcp'] as const) {
  const { earth, stop } = await setup(transport);
  await throughput(earth, Number(process.env.W ?? 500), 64); // warm-up
  const N = Number(process.env.N ?? 5000);
  const t = await throughput(earth, N, 256);
  const l = await latency(earth, Number(process.env.L ?? 1000));
  rows.push(
    [
      transport.padStart(7),
      Math.round(t.perSecond).toLocaleString('en-US').padStart(12),
      (N / Math.max(1, t.beats)).toFixed(1).padStart(12),
      `${pct(l.beats, 50)} / ${pct(l.beats, 99)}`.padStart(14),
      `${pct(l.micros, 50).toFixed(0)} / ${pct(l.micros, 99).toFixed(0)}`.padStart(16),
      t.cpuMicros.toFixed(1).padStart(14),
    ].join('  '),
  );
  if (transport === 'tcp') tcpRow = { perSecond: t.perSecond, p50: pct(l.micros, 50), p99: pct(l.micros, 99), cpuMicros: t.cpuMicros };
  else memoryRows.set(transport, { perSecond: t.perSecond, p50: pct(l.micros, 50), cpuMicros: t.cpuMicros });
  await stop();
}
{
  const plain = memoryRows.get('memory')!;
  const rec = memoryRows.get('memory+rec')!;
  rows.push(
    `ratio memory+rec ÷ memory (recorded submissions): throughput ${(rec.perSecond / plain.perSecond).toFixed(2)}×, RTT p50 ${(rec.p50 / plain.p50).toFixed(2)}×, CPU per call ${(rec.cpuMicros / plain.cpuMicros).toFixed(2)}×`,
  );
}
{
  await msgpackrRpc(Number(process.env.W ?? 500), 64, 100); // warm-up
  const a = await msgpackrRpc(Number(process.env.N ?? 5000) * 4, 256, Number(process.env.L ?? 1000));
  rows.push(
    [
      'msgpackr',
      Math.round(a.perSecond).toLocaleString('en-US').padStart(11),
      '-'.padStart(12),
      '-'.padStart(14),
      `${pct(a.micros, 50).toFixed(0)} / ${pct(a.micros, 99).toFixed(0)}`.padStart(16),
      a.cpuMicros.toFixed(1).padStart(14),
    ].join('  '),
  );
  if (tcpRow !== undefined) {
    rows.push(
      `ratio tcp ÷ msgpackr RPC: throughput ${(a.perSecond / tcpRow.perSecond).toFixed(1)}× slower, RTT p50 ${(tcpRow.p50 / pct(a.micros, 50)).toFixed(1)}×, p99 ${(tcpRow.p99 / pct(a.micros, 99)).toFixed(1)}×, CPU per call ${(tcpRow.cpuMicros / a.cpuMicros).toFixed(1)}×`,
    );
  }
}
console.log('provider   invokes/s   invokes/beat   RTT beats p50/p99   RTT µs p50/p99   CPU µs/call');
console.log('           (256 in flight)            (one call at a time, free-running beats)   (both ends)');
for (const row of rows) console.log(row);
console.log(`load after: ${load()}`);
