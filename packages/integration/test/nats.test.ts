/**
 * Real `cep-node` processes federated through NATS instead of a TCP mesh: one source
 * (saturn) and several receivers, each dialling only its NATS server. The source's branch
 * changes through invokes; every receiver mirrors it and must converge on the source's
 * digest with every change applied exactly once (the tick log is a list: a doubled or lost
 * bundle shows as a wrong list).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsCluster, startNatsServer, type NatsServer } from '@cep/provider-nats/testing';
import type { PeerHarness, RunningPeer } from './harness/peer-process.ts';
import { COPY, KEY, SKY, peerConfig, requestStates, until, withPeers } from './support/federation.ts';

// Runs in a beat on saturn: tick k sets /data/sky/ticks/<k>, the count, and appends to the log.
const TICK = `export default { run(call) {
  if (call.payload?.type !== 'u64' || call.payload.value < 1n) return { status: 'reject', note: 'tick expects a u64 ≥ 1' };
  const k = call.payload.value;
  call.tree.set('/data/sky/ticks/' + k, { type: 'u64', value: k * k });
  call.tree.set('/data/sky/count', { type: 'u64', value: k });
  call.tree.ensureList('/data/sky/log');
  call.tree.append('/data/sky/log', { type: 'text', value: 'tick ' + k });
  return { status: 'ok', result: { type: 'u64', value: k } };
} };`;

const PREFIX = 'cep.saturn';
/** Receiver names (CEP words have no digits). */
const MOONS = ['io', 'europa', 'ganymede', 'callisto', 'titan', 'rhea', 'dione', 'tethys'];

async function startSource(harness: PeerHarness, servers: string[], receivers: string[]): Promise<RunningPeer> {
  writeFileSync(join(harness.dir, 'tick.mjs'), TICK);
  const file = harness.writeConfig(
    'saturn.json',
    peerConfig('saturn', {
      keys: Object.fromEntries(receivers.map((name) => [name, { hex: KEY }])),
      peer_policy: { default_enclave: 'lab' },
      nats: { servers },
      listen: { nats: PREFIX },
      invoke: [{ name: 'tick', module: './tick.mjs' }],
    }),
  );
  const saturn = await harness.start(file);
  await saturn.waitForLog((l) => l['msg'] === 'listening' && l['provider'] === 'nats');
  return saturn;
}

function startReceiver(harness: PeerHarness, name: string, servers: string[]): Promise<RunningPeer> {
  const file = harness.writeConfig(
    `${name}.json`,
    peerConfig(name, {
      keys: { saturn: { hex: KEY } },
      nats: { servers },
      peers: [{ name: 'saturn', provider: 'nats', address: PREFIX }],
      mirrors: [{ name: 'sky', source: { peer: 'saturn', path: SKY }, target: COPY, bundle: { beat_window: 2, max_infl: 8, commit_mode: 'stream' } }],
    }),
  );
  return harness.start(file);
}

async function tick(caller: RunningPeer, k: number): Promise<void> {
  const answer = await caller.invoke('saturn', 'tick', k);
  if (answer['status'] !== 'ok' || answer['result'] !== String(k)) throw new Error(`tick ${k} answered ${JSON.stringify(answer)}`);
}

/** Waits until every receiver's copy has saturn's digest; then checks the log holds ticks 1..n once each. */
async function untilAllConverged(saturn: RunningPeer, receivers: RunningPeer[], n: number): Promise<void> {
  const source = await until(
    () => saturn.digest(SKY),
    (d) => d.digest !== null,
    "saturn's branch",
  );
  for (const [i, receiver] of receivers.entries()) {
    await until(
      () => receiver.digest(COPY),
      (d) => d.digest === source.digest && d.cells === source.cells,
      `receiver ${i + 1}'s copy to reach saturn's digest`,
      40_000,
    );
    expect((await receiver.net(`${COPY}/log`)).value).toEqual(Array.from({ length: n }, (_, k) => `tick ${k + 1}`));
    expect((await receiver.net(`${COPY}/count`)).value).toBe(String(n));
  }
}

function untilActive(peer: RunningPeer, what: string): Promise<unknown> {
  return until(
    () => requestStates(peer),
    (s) => Object.values(s).every((state) => state === 'active'),
    what,
    40_000,
  );
}

describe('one source and eight receivers through one nats-server', () => {
  let server: NatsServer;
  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it(
    'every receiver links, mirrors and converges on the source, each tick applied once',
    withPeers(150_000, async (harness) => {
      const names = MOONS;
      const saturn = await startSource(harness, [server.url], names);
      // One after another: nine processes starting at once on a busy 2-core machine can miss the harness's start bound.
      const receivers: RunningPeer[] = [];
      for (const name of names) receivers.push(await startReceiver(harness, name, [server.url]));
      for (const [i, r] of receivers.entries()) await untilActive(r, `receiver ${i + 1}'s link, invoke and mirror to go active`);
      const mount = (await receivers[0]!.net('/net/mounts/saturn/mirror/sky')).value;
      expect(mount).toMatchObject({ state: 'open', transport: { provider: 'nats' } });
      const n = 10;
      for (let k = 1; k <= n; k++) await tick(receivers[k % receivers.length]!, k);
      await untilAllConverged(saturn, receivers, n);

      // Fan-out: saturn serves the eight from one group; once every member is on multicast, each
      // further bundle is encoded and published once for all of them and none goes to one alone.
      type Group = Record<string, string>;
      const group = async (): Promise<Group> => Object.values((await saturn.net('/net/organs/mirror/groups')).value as Record<string, Group>)[0]!;
      await until(
        () => saturn.net('/net/organs/mirror/serving'),
        (a) => names.every((name) => a.value?.[name]?.sky?.via === 'multicast'),
        'every receiver served by multicast',
        40_000,
      );
      const before = await group();
      expect(before['members']).toBe(String(names.length));
      const more = 6;
      for (let k = n + 1; k <= n + more; k++) await tick(receivers[k % receivers.length]!, k);
      await untilAllConverged(saturn, receivers, n + more);
      const after = await group();
      const bundles = Number(after['seq']) - Number(before['seq']);
      expect(after['epoch']).toBe(before['epoch']);
      expect(bundles).toBeGreaterThan(0);
      // One part per bundle here (a few cells each): published once, not once per receiver.
      expect(Number(after['published']) - Number(before['published'])).toBe(bundles);
      expect(after['unicast']).toBe(before['unicast']);
    }),
    160_000,
  );
});

describe('a three-server NATS cluster losing a server mid-mirror', () => {
  let cluster: NatsServer[];
  beforeAll(async () => {
    cluster = await startNatsCluster(3);
  });
  afterAll(async () => {
    await Promise.all((cluster ?? []).map((s) => s.stop()));
  });

  it(
    'receivers on the lost server fail over to another one, and all converge with nothing lost or doubled',
    withPeers(150_000, async (harness) => {
      const [a, b, c] = cluster.map((s) => s.url) as [string, string, string];
      const saturn = await startSource(harness, [a], ['io', 'europa', 'titan']);
      // europa and titan start on server c, the one that will be killed (c alone: the client
      // shuffles a list), and fail over to a server they learn from the cluster; io stays on b.
      const receivers = await Promise.all([startReceiver(harness, 'io', [b]), startReceiver(harness, 'europa', [c]), startReceiver(harness, 'titan', [c])]);
      for (const [i, r] of receivers.entries()) await untilActive(r, `receiver ${i + 1}'s link, invoke and mirror to go active`);
      const n = 12;
      for (let k = 1; k <= n; k++) {
        await tick(receivers[0]!, k);
        if (k === n / 2) await cluster[2]!.stop();
      }
      await untilAllConverged(saturn, receivers, n);
    }),
    160_000,
  );
});
