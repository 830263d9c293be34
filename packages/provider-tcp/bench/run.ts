// Throughput and latency of provider-tcp on loopback, next to a plain node:net socket
// pushing the same frames in the same run. Two layouts: both ends in this process (one
// thread does both sides' work) and the receiver in a child process (each side on its
// own core, as two peers would run). The ratio compares like with like in each.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import type { ChannelV1 } from '@cep/provider-spec';
import { tcp } from '../src/index.ts';

const key = randomBytes(32);
const cases = [
  { size: 64, count: 200_000 },
  { size: 1024, count: 100_000 },
  { size: 64 * 1024, count: 20_000 },
];

function readyWaiter(channel: ChannelV1): () => Promise<void> {
  let wake: (() => void) | null = null;
  channel.onEvent((e) => {
    if (e.type === 'ready' && wake) {
      const w = wake;
      wake = null;
      w();
    }
  });
  return () => new Promise<void>((resolve) => (wake = resolve));
}

async function providerPair() {
  const earth = tcp({ localPeer: 'earth', keys: { saturn: key } });
  const saturn = tcp({ localPeer: 'saturn', keys: { earth: key } });
  let accept!: (c: ChannelV1) => void;
  const accepted = new Promise<ChannelV1>((r) => (accept = r));
  const listener = await saturn.listen!({ address: '127.0.0.1:0' }, (c) => accept(c));
  const local = await earth.open({ peer: 'saturn', mode: 'link', mount: 'bench', localNode: 'earth', address: listener.address });
  const remote = await accepted;
  return { local, remote, close: async () => (await earth.close(), await saturn.close()) };
}

async function viaProvider(size: number, count: number): Promise<number> {
  const { local, remote, close } = await providerPair();
  const frame = randomBytes(size);
  const waitReady = readyWaiter(local);
  const start = process.hrtime.bigint();
  const received = (async () => {
    let n = 0;
    for await (const f of remote.frames()) {
      if (f.length !== size) throw new Error('bad frame');
      if (++n === count) break;
    }
  })();
  for (let i = 0; i < count; i++) {
    if (local.send(frame) === 'backpressure') await waitReady();
  }
  await received;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await close();
  return seconds;
}

async function plainPair(): Promise<{ client: Socket; server: Socket; close(): Promise<void> }> {
  let accept!: (s: Socket) => void;
  const accepted = new Promise<Socket>((r) => (accept = r));
  const srv = createServer((s) => accept(s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const client = connect({ host: '127.0.0.1', port: (srv.address() as AddressInfo).port });
  client.setNoDelay(true);
  await new Promise<void>((r) => client.once('connect', () => r()));
  const server = await accepted;
  return {
    client,
    server,
    close: async () => {
      client.destroy();
      server.destroy();
      await new Promise((r) => srv.close(r));
    },
  };
}

async function viaPlain(size: number, count: number): Promise<number> {
  const { client, server, close } = await plainPair();
  const frame = randomBytes(size);
  const total = size * count;
  const start = process.hrtime.bigint();
  const received = new Promise<void>((resolve) => {
    let got = 0;
    server.on('data', (chunk: Buffer) => {
      got += chunk.length;
      if (got >= total) resolve();
    });
  });
  for (let i = 0; i < count; i++) {
    if (!client.write(frame)) await new Promise<void>((r) => client.once('drain', () => r()));
  }
  await received;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await close();
  return seconds;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function latencyProvider(rounds: number): Promise<number[]> {
  const { local, remote, close } = await providerPair();
  void (async () => {
    for await (const f of remote.frames()) remote.send(f);
  })();
  const frames = local.frames()[Symbol.asyncIterator]();
  const frame = randomBytes(64);
  const out: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = process.hrtime.bigint();
    local.send(frame);
    await frames.next();
    out.push(Number(process.hrtime.bigint() - t) / 1e3);
  }
  await close();
  return out.sort((a, b) => a - b);
}

async function latencyPlain(rounds: number): Promise<number[]> {
  const { client, server, close } = await plainPair();
  server.setNoDelay(true);
  server.on('data', (d: Buffer) => server.write(d));
  const frame = randomBytes(64);
  const out: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = process.hrtime.bigint();
    const back = new Promise<void>((resolve) => {
      let got = 0;
      const on = (d: Buffer): void => {
        got += d.length;
        if (got >= 64) {
          client.off('data', on);
          resolve();
        }
      };
      client.on('data', on);
    });
    client.write(frame);
    await back;
    out.push(Number(process.hrtime.bigint() - t) / 1e3);
  }
  await close();
  return out.sort((a, b) => a - b);
}

/** The receiving child process; `done()` resolves at its next "done" line. */
async function sink() {
  const plan = { frames: [] as number[], bytes: [] as number[] };
  for (const { size, count } of cases) {
    plan.frames.push(Math.ceil(count / 10), count);
    plan.bytes.push(size * Math.ceil(count / 10), size * count);
  }
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@cep/source', fileURLToPath(new URL('./sink.ts', import.meta.url))], {
    env: { ...process.env, CEP_BENCH_KEY: key.toString('hex'), CEP_BENCH_PLAN: JSON.stringify(plan) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const waiting: ((line: string) => void)[] = [];
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text: string) => {
    buffered += text;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      waiting.shift()?.(line);
    }
  });
  const next = (): Promise<string> => new Promise((resolve) => waiting.push(resolve));
  const [providerAddress, plainAddress] = (await next()).split(' ');
  return {
    providerAddress: providerAddress!,
    plainAddress: plainAddress!,
    done: next,
    async quit(): Promise<void> {
      const exited = new Promise((r) => child.once('exit', r));
      child.stdin.end();
      await exited;
    },
  };
}

async function remoteProvider(s: Awaited<ReturnType<typeof sink>>, size: number, count: number): Promise<number> {
  const earth = tcp({ localPeer: 'earth', keys: { saturn: key } });
  const done = s.done();
  const local = await earth.open({ peer: 'saturn', mode: 'link', mount: 'bench', localNode: 'earth', address: s.providerAddress });
  const frame = randomBytes(size);
  const waitReady = readyWaiter(local);
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    if (local.send(frame) === 'backpressure') await waitReady();
  }
  await done;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await earth.close();
  return seconds;
}

async function remotePlain(s: Awaited<ReturnType<typeof sink>>, size: number, count: number): Promise<number> {
  const [host, port] = s.plainAddress.split(':');
  const client = connect({ host: host!, port: Number(port) });
  client.setNoDelay(true);
  const done = s.done();
  await new Promise<void>((r) => client.once('connect', () => r()));
  const frame = randomBytes(size);
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    if (!client.write(frame)) await new Promise<void>((r) => client.once('drain', () => r()));
  }
  await done;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  client.destroy();
  return seconds;
}

const rows: string[][] = [['layout', 'frame', 'frames', 'tcp MB/s', 'tcp frames/s', 'plain MB/s', 'plain frames/s', 'ratio']];
function row(layout: string, size: number, count: number, tp: number, tn: number): void {
  const mb = (s: number): string => ((size * count) / s / 1e6).toFixed(1);
  const fps = (s: number): string => Math.round(count / s).toLocaleString('en-US');
  rows.push([layout, size >= 1024 ? `${size / 1024} KiB` : `${size} B`, count.toLocaleString('en-US'), mb(tp), fps(tp), mb(tn), fps(tn), (tn / tp).toFixed(2)]);
}
for (const { size, count } of cases) {
  await viaProvider(size, Math.ceil(count / 10)); // warm up both paths
  await viaPlain(size, Math.ceil(count / 10));
  row('1 process', size, count, await viaProvider(size, count), await viaPlain(size, count));
}
const s = await sink();
for (const { size, count } of cases) {
  await remoteProvider(s, size, Math.ceil(count / 10));
  await remotePlain(s, size, Math.ceil(count / 10));
  row('2 processes', size, count, await remoteProvider(s, size, count), await remotePlain(s, size, count));
}
await s.quit();
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) console.log(r.map((c, i) => c.padStart(widths[i]!)).join('  '));

const rounds = 5000;
const lp = await latencyProvider(rounds);
const ln = await latencyPlain(rounds);
console.log(`\nround trip, 64 B, ${rounds} rounds (µs):`);
console.log(`  provider-tcp  p50 ${quantile(lp, 0.5).toFixed(1)}  p99 ${quantile(lp, 0.99).toFixed(1)}`);
console.log(`  plain socket  p50 ${quantile(ln, 0.5).toFixed(1)}  p99 ${quantile(ln, 0.99).toFixed(1)}`);
