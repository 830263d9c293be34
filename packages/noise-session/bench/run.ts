// Throughput of the Noise session (version 2, AES-GCM, the default; and version 1,
// ChaChaPoly) next to today's stream-session GMAC session (through
// provider-tcp, which runs it) and a plain node:net socket, same frames, same run, both
// ends in this process on loopback TCP. Rounds alternate the three so machine load hits
// them alike; the per-round ratios (and their median) are what count. Run: npx tsx --conditions=@cep/source bench/run.ts
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tcp } from '@cep/provider-tcp';
import type { ChannelV1 } from '@cep/transport/provider';
import { AllowList, generateKeyPair, secureInitiator, secureResponder } from '../src/index.ts';

const cases = [
  { size: 1024, count: 60_000 },
  { size: 64 * 1024, count: 4_000 },
];
const ROUNDS = Number(process.env['ROUNDS'] ?? 5);

async function socketPair(): Promise<{ client: Socket; server: Socket; close: () => Promise<void> }> {
  let accept!: (s: Socket) => void;
  const accepted = new Promise<Socket>((r) => (accept = r));
  const srv = createServer((s) => accept(s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const client = connect({ host: '127.0.0.1', port: (srv.address() as AddressInfo).port });
  client.setNoDelay(true);
  await new Promise<void>((r) => client.once('connect', () => r()));
  const server = await accepted;
  return { client, server, close: async () => (client.destroy(), server.destroy(), await new Promise<void>((r) => srv.close(() => r()))) };
}

async function plain(size: number, count: number): Promise<number> {
  const { client, server, close } = await socketPair();
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
  for (let i = 0; i < count; i++) if (!client.write(frame)) await new Promise<void>((r) => client.once('drain', () => r()));
  await received;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await close();
  return seconds;
}

async function gmac(size: number, count: number): Promise<number> {
  const key = randomBytes(32);
  const earth = tcp({ localPeer: 'earth', keys: { saturn: key } });
  const saturn = tcp({ localPeer: 'saturn', keys: { earth: key } });
  let accept!: (c: ChannelV1) => void;
  const accepted = new Promise<ChannelV1>((r) => (accept = r));
  const listener = await saturn.listen!({ address: '127.0.0.1:0' }, (c) => accept(c));
  const local = await earth.open({ peer: 'saturn', mode: 'link', mount: 'bench', localNode: 'earth', address: listener.address });
  const remote = await accepted;
  let wake: (() => void) | null = null;
  local.onEvent((e) => {
    if (e.type === 'ready' && wake) {
      const w = wake;
      wake = null;
      w();
    }
  });
  const frame = randomBytes(size);
  const start = process.hrtime.bigint();
  const received = (async () => {
    let n = 0;
    for await (const f of remote.frames()) {
      if (f.length !== size) throw new Error('bad frame');
      if (++n === count) break;
    }
  })();
  for (let i = 0; i < count; i++) if (local.send(frame) === 'backpressure') await new Promise<void>((r) => (wake = r));
  await received;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await earth.close();
  await saturn.close();
  return seconds;
}

const earthKey = generateKeyPair();
const saturnKey = generateKeyPair();

async function noise(size: number, count: number, versions: number[]): Promise<number> {
  const { client, server, close } = await socketPair();
  const [local, remote] = await Promise.all([
    secureInitiator(client, { localName: 'earth', staticKey: earthKey, allowList: new AllowList({ saturn: saturnKey.publicKey }), peer: 'saturn', versions: versions }),
    secureResponder(server, { localName: 'saturn', staticKey: saturnKey, allowList: new AllowList({ earth: earthKey.publicKey }), versions: versions }),
  ]);
  const frame = randomBytes(size);
  const start = process.hrtime.bigint();
  const received = new Promise<void>((resolve, reject) => {
    let n = 0;
    remote.on('data', (f: Buffer) => {
      if (f.length !== size) reject(new Error('bad frame'));
      if (++n === count) resolve();
    });
  });
  for (let i = 0; i < count; i++) if (!local.send(frame)) await new Promise<void>((r) => local.once('drain', () => r()));
  await received;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  local.destroy();
  remote.destroy();
  await close();
  return seconds;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const { size, count } of cases) {
  const times = { plain: [] as number[], gmac: [] as number[], aesgcm: [] as number[], chacha: [] as number[] };
  const ratios = { aesgcm: [] as number[], chacha: [] as number[], plain: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    const p = await plain(size, count);
    const g = await gmac(size, count);
    const a = await noise(size, count, [2]);
    const c = await noise(size, count, [1]);
    times.plain.push(p);
    times.gmac.push(g);
    times.aesgcm.push(a);
    times.chacha.push(c);
    ratios.aesgcm.push(g / a);
    ratios.chacha.push(g / c);
    ratios.plain.push(p / a);
  }
  const mbps = (xs: number[]): string => ((size * count) / median(xs) / 1e6).toFixed(0).padStart(5);
  const list = (xs: number[]): string => xs.map((r) => r.toFixed(2)).join(' ');
  console.log(`${String(size).padStart(6)} B × ${count}: plain ${mbps(times.plain)} MB/s | gmac session ${mbps(times.gmac)} | noise v2 AESGCM ${mbps(times.aesgcm)} | noise v1 ChaChaPoly ${mbps(times.chacha)}`);
  console.log(`         noise v2 / gmac ${median(ratios.aesgcm).toFixed(2)}× (rounds ${list(ratios.aesgcm)})`);
  console.log(`         noise v1 / gmac ${median(ratios.chacha).toFixed(2)}× (rounds ${list(ratios.chacha)})`);
  console.log(`         noise v2 / plain ${median(ratios.plain).toFixed(2)}×`);
}
console.log(`medians of ${ROUNDS} rounds (each round runs the four back to back); load average: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
