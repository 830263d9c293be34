// provider-tcp frames/s with a public-key identity (the Noise session, each cipher) next to
// the legacy pre-shared-key session (GMAC records) and a plain node:net socket: same frames,
// same run, both ends in this process on loopback TCP. Rounds alternate the four so machine
// load hits them alike; the per-round ratios (and their median) are what count.
// Run from packages/provider-tcp: npx tsx --conditions=@cep/source bench/noise.ts  (ROUNDS=n)
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import type { ChannelV1 } from '@cep/provider-spec';
import { AllowList, generateKeyPair, tcp, type TcpOptions } from '../src/index.ts';

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

const key = randomBytes(32);
const earthKey = generateKeyPair();
const saturnKey = generateKeyPair();

function legacy(): [Partial<TcpOptions>, Partial<TcpOptions>] {
  return [{ keys: { saturn: key } }, { keys: { earth: key } }];
}

function identity(versions: number[]): [Partial<TcpOptions>, Partial<TcpOptions>] {
  return [
    { identity: { staticKey: earthKey, allowList: new AllowList({ saturn: saturnKey.publicKey }), versions } },
    { identity: { staticKey: saturnKey, allowList: new AllowList({ earth: earthKey.publicKey }), versions } },
  ];
}

/** Seconds provider-tcp takes to carry `count` frames of `size` bytes from earth to saturn. */
async function through(size: number, count: number, [earthAuth, saturnAuth]: [Partial<TcpOptions>, Partial<TcpOptions>]): Promise<number> {
  const earth = tcp({ localPeer: 'earth', ...earthAuth });
  const saturn = tcp({ localPeer: 'saturn', ...saturnAuth });
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

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const { size, count } of cases) {
  const times = { plain: [] as number[], gmac: [] as number[], aesgcm: [] as number[], chacha: [] as number[] };
  const ratios = { aesgcm: [] as number[], chacha: [] as number[], plain: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    const p = await plain(size, count);
    const g = await through(size, count, legacy());
    const a = await through(size, count, identity([2]));
    const c = await through(size, count, identity([1]));
    times.plain.push(p);
    times.gmac.push(g);
    times.aesgcm.push(a);
    times.chacha.push(c);
    ratios.aesgcm.push(g / a);
    ratios.chacha.push(g / c);
    ratios.plain.push(p / c);
  }
  const mbps = (xs: number[]): string => ((size * count) / median(xs) / 1e6).toFixed(0).padStart(5);
  const list = (xs: number[]): string => xs.map((r) => r.toFixed(2)).join(' ');
  const fps = (xs: number[]): string => (count / median(xs)).toFixed(0).padStart(7);
  console.log(
    `${String(size).padStart(6)} B × ${count}: frames/s  plain socket ${fps(times.plain)} | tcp legacy GMAC ${fps(times.gmac)} | tcp identity v1 ChaChaPoly ${fps(times.chacha)} | tcp identity v2 AES-GCM ${fps(times.aesgcm)}`,
  );
  console.log(
    `                 MB/s      plain socket ${mbps(times.plain)} | tcp legacy GMAC ${mbps(times.gmac)} | tcp identity v1 ${mbps(times.chacha)} | tcp identity v2 ${mbps(times.aesgcm)}`,
  );
  console.log(`         identity v1 / legacy ${median(ratios.chacha).toFixed(2)}× (rounds ${list(ratios.chacha)})`);
  console.log(`         identity v2 / legacy ${median(ratios.aesgcm).toFixed(2)}× (rounds ${list(ratios.aesgcm)})`);
  console.log(`         identity v1 / plain  ${median(ratios.plain).toFixed(2)}×`);
}
console.log(`medians of ${ROUNDS} rounds (each round runs the four back to back); load average: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
