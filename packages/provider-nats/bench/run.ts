// Frames per second on loopback, in one run and one process (one thread does both
// ends' work, as in provider-tcp's one-process layout): provider-nats (acked, and
// at-most-once) through a real nats-server, provider-tcp directly, and the raw NATS
// client publishing the same bytes to one subscriber (no handshake, no tag, no acks,
// no window; it flushes every 256 messages so the server does not cut it off as a slow
// consumer). The raw client is the anchor: ratios say what the provider's protocol costs.
// "nats group" is a group publish (fan-out) to one joined channel: one NATS message per frame,
// at most once, with no tag of the provider's (the layer above seals group frames).
//
// Run: npx tsx --conditions=@cep/source packages/provider-nats/bench/run.ts
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';
import type { ChannelV1, ProviderV1 } from '@cep/provider-spec';
import { tcp } from '@cep/provider-tcp';
import { nats, type NatsDelivery } from '../src/index.ts';
import { startNatsServer } from '../src/testing.ts';

const key = randomBytes(32);
const cases = [
  { size: 64, count: 100_000 },
  { size: 1024, count: 50_000 },
  { size: 64 * 1024, count: 4_000 },
];

function readyWaiter(channel: ChannelV1): () => Promise<void> {
  let wake: (() => void) | null = null;
  channel.onEvent((e) => {
    if ((e.type === 'ready' || e.type === 'closed') && wake) {
      const w = wake;
      wake = null;
      w();
    }
  });
  return () => new Promise<void>((resolve) => (wake = resolve));
}

async function channelPair(earth: ProviderV1, saturn: ProviderV1, address: string) {
  let accept!: (c: ChannelV1) => void;
  const accepted = new Promise<ChannelV1>((r) => (accept = r));
  const listener = await saturn.listen!({ address }, (c) => accept(c));
  const local = await earth.open({ peer: 'saturn', mode: 'link', mount: 'bench', localNode: 'earth', address: listener.address });
  return { local, remote: await accepted, close: async () => (await earth.close(), await saturn.close()) };
}

/** Sends `count` frames, honouring backpressure; returns frames/s received and how many arrived. */
async function viaChannel(make: () => Promise<{ local: ChannelV1; remote: ChannelV1; close(): Promise<void> }>, size: number, count: number, lossy: boolean) {
  const { local, remote, close } = await make();
  const frame = randomBytes(size);
  const waitReady = readyWaiter(local);
  let n = 0;
  let last = process.hrtime.bigint();
  const start = process.hrtime.bigint();
  const received = (async () => {
    for await (const f of remote.frames()) {
      if (f.length !== size) throw new Error('bad frame');
      last = process.hrtime.bigint();
      if (++n === count) break;
    }
  })();
  for (let i = 0; i < count; i++) {
    if (local.send(frame) === 'backpressure') await waitReady();
    else if (lossy && i % 256 === 0) await new Promise((r) => setImmediate(r));
  }
  if (lossy) await Promise.race([received, new Promise((r) => setTimeout(r, 1000))]);
  else await received;
  const seconds = Number(last - start) / 1e9;
  await close();
  return { rate: n / seconds, delivered: n };
}

/** Group publish (fan-out): the listener's channel publishes, the dialled channel joined; at most once. */
async function viaGroup(make: () => Promise<{ local: ChannelV1; remote: ChannelV1; close(): Promise<void> }>, size: number, count: number) {
  const { local, remote, close } = await make();
  const frame = randomBytes(size);
  const sub = local.join!('bench');
  // The join's ordering promise: once the listener hears this frame, the subscription is in place.
  local.send(new Uint8Array(1));
  for await (const _ of remote.frames()) break;
  let n = 0;
  let last = process.hrtime.bigint();
  const start = process.hrtime.bigint();
  const received = (async () => {
    for await (const f of sub.frames()) {
      if (f.length !== size) throw new Error('bad frame');
      last = process.hrtime.bigint();
      if (++n === count) break;
    }
  })();
  for (let i = 0; i < count; i++) {
    remote.publish!('bench', frame);
    if (i % 256 === 255) await new Promise((r) => setImmediate(r));
  }
  await Promise.race([received, new Promise((r) => setTimeout(r, 1000))]);
  const seconds = Number(last - start) / 1e9;
  await close();
  return { rate: n / seconds, delivered: n };
}

async function rawNats(url: string, size: number, count: number) {
  const pub = await connect({ servers: url });
  const sub = await connect({ servers: url });
  const frame = randomBytes(size);
  let n = 0;
  let last = process.hrtime.bigint();
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  sub.subscribe('bench.raw', {
    callback: () => {
      last = process.hrtime.bigint();
      if (++n === count) done();
    },
  });
  await sub.flush();
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    pub.publish('bench.raw', frame);
    if (i % 256 === 255) await pub.flush();
  }
  await Promise.race([all, new Promise((r) => setTimeout(r, 2000))]);
  const seconds = Number(last - start) / 1e9;
  await pub.close();
  await sub.close();
  return { rate: n / seconds, delivered: n };
}

const natsPair = (url: string, delivery: NatsDelivery) => () =>
  channelPair(
    nats({ localPeer: 'earth', keys: { saturn: key }, servers: url, delivery }),
    nats({ localPeer: 'saturn', keys: { earth: key }, servers: url, delivery }),
    `bench.${randomBytes(4).toString('hex')}`,
  );
const tcpPair = () => channelPair(tcp({ localPeer: 'earth', keys: { saturn: key } }), tcp({ localPeer: 'saturn', keys: { earth: key } }), '127.0.0.1:0');

const server = await startNatsServer();
const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
console.log(`load average before: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
console.log('  frame  frames   raw nats f/s   nats acked f/s  (÷raw)   nats at-most-once f/s (delivered)   nats group f/s (delivered)   tcp f/s  (÷raw)');
try {
  for (const { size, count } of cases) {
    const raw = await rawNats(server.url, size, count);
    const acked = await viaChannel(natsPair(server.url, 'acked'), size, count, false);
    const amo = await viaChannel(natsPair(server.url, 'at_most_once'), size, count, true);
    const group = await viaGroup(natsPair(server.url, 'acked'), size, count);
    const viaTcp = await viaChannel(tcpPair, size, count, false);
    const label = size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
    console.log(
      `${label.padStart(7)} ${fmt(count).padStart(7)} ${fmt(raw.rate).padStart(14)}${raw.delivered < count ? ` (${raw.delivered})` : ''} ${fmt(acked.rate).padStart(16)}  (${(acked.rate / raw.rate).toFixed(2)}) ${fmt(amo.rate).padStart(21)} (${amo.delivered}) ${fmt(group.rate).padStart(18)} (${group.delivered}) ${fmt(viaTcp.rate).padStart(15)}  (${(viaTcp.rate / raw.rate).toFixed(2)})`,
    );
  }
} finally {
  await server.stop();
}
console.log(`load average after: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
