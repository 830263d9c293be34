// The alternative the provider did not take, measured: JetStream carrying the same frames
// (publish acknowledged by the stream, pipelined 256 deep; an ordered consumer reading
// them back) next to provider-nats with its own acknowledgements over core NATS, same
// run, same server (started with JetStream on, file storage in a temp folder).
//
// Run: npx tsx --conditions=@cep/source packages/provider-nats/bench/jetstream.ts
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { ChannelV1 } from '@cep/provider-spec';
import { nats } from '../src/index.ts';
import { startNatsServer } from '../src/testing.ts';

const cases = [
  { size: 64, count: 50_000 },
  { size: 1024, count: 30_000 },
  { size: 64 * 1024, count: 2_000 },
];
const key = randomBytes(32);

async function viaJetStream(url: string, size: number, count: number): Promise<number> {
  const nc = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  const name = `BENCH_${randomBytes(4).toString('hex')}`;
  await jsm.streams.add({ name, subjects: [`${name}.>`] });
  const js = jetstream(nc);
  const frame = randomBytes(size);
  const start = process.hrtime.bigint();
  const inflight: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    inflight.push(js.publish(`${name}.f`, frame));
    if (inflight.length >= 256) await Promise.all(inflight.splice(0));
  }
  await Promise.all(inflight);
  const consumer = await js.consumers.get(name);
  const messages = await consumer.consume();
  let n = 0;
  for await (const m of messages) {
    if (m.data.length !== size) throw new Error('bad frame');
    if (++n === count) break;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await jsm.streams.delete(name);
  await nc.close();
  return count / seconds;
}

async function viaProvider(url: string, size: number, count: number): Promise<number> {
  const earth = nats({ localPeer: 'earth', keys: { saturn: key }, servers: url });
  const saturn = nats({ localPeer: 'saturn', keys: { earth: key }, servers: url });
  let accept!: (c: ChannelV1) => void;
  const accepted = new Promise<ChannelV1>((r) => (accept = r));
  const listener = await saturn.listen!({ address: `bench.${randomBytes(4).toString('hex')}` }, (c) => accept(c));
  const local = await earth.open({ peer: 'saturn', mode: 'link', mount: 'bench', localNode: 'earth', address: listener.address });
  const remote = await accepted;
  const frame = randomBytes(size);
  let wake: (() => void) | null = null;
  local.onEvent((e) => {
    if (e.type === 'ready') wake?.();
  });
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
  return count / seconds;
}

const dir = mkdtempSync(join(tmpdir(), 'cep-js-bench-'));
const server = await startNatsServer(['-js', '-sd', dir]);
const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
console.log(`load average before: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
console.log('  frame  frames   jetstream f/s   provider-nats acked f/s   acked ÷ jetstream');
try {
  for (const { size, count } of cases) {
    const js = await viaJetStream(server.url, size, count);
    const acked = await viaProvider(server.url, size, count);
    const label = size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
    console.log(`${label.padStart(7)} ${fmt(count).padStart(7)} ${fmt(js).padStart(15)} ${fmt(acked).padStart(25)} ${(acked / js).toFixed(2).padStart(19)}`);
  }
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`load average after: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
