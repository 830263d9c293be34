/**
 * Mirror fan-out over nats: source CPU per bundle with 1, 4 and 16 receivers, the fan-out group
 * beside one publication per receiver (`fanout: false`, the unicast path), in the same run.
 *
 * One process holds the source and every receiver (each with its own nats provider, so its own
 * NATS connection) and one nats-server. Source CPU is `process.cpuUsage()` summed over the
 * source's own beats only (`runtime.step()` runs synchronously, and sealing, packing, encoding
 * and handing frames to the NATS client all happen inside it), so the receivers' work is not
 * counted. Each bundle changes CELLS cells of a BRANCH-cell branch; AEAD is on (fan-out needs it).
 *
 * Run: npx tsx --conditions=@cep/source packages/organ-mirror/bench/fanout.ts
 * Options: BUNDLES (default 150), CELLS (20), BRANCH (500), SIZES (1,4,16).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { digestHex, text, u64 } from '@cep/cells';
import { createRuntime, type Runtime } from '@cep/heartbeat';
import { nats } from '@cep/provider-nats';
import { startNatsServer } from '@cep/provider-nats/testing';
import { createTransportManager, type TransportManager } from '@cep/transport';
import { installMirror, type SendEvent } from '../src/index.ts';

const BUNDLES = Number(process.env.BUNDLES ?? 150);
const CELLS = Number(process.env.CELLS ?? 20);
const BRANCH = Number(process.env.BRANCH ?? 500);
const SIZES = (process.env.SIZES ?? '1,4,16').split(',').map(Number);
const WORDS = 'abcdefghijklmnopqrstuvwxyz';
const word = (i: number): string => `r${WORDS[Math.floor(i / 26)] ?? 'z'}${WORDS[i % 26]}`;

interface Peer {
  readonly runtime: Runtime;
  readonly manager: TransportManager;
}

async function run(url: string, receivers: number, fanout: boolean) {
  const prefix = `bench.${randomBytes(4).toString('hex')}`;
  const names = Array.from({ length: receivers }, (_, i) => word(i));
  const keys = new Map(names.map((n) => [n, randomBytes(32)]));
  const aead = randomBytes(32);
  const sends: SendEvent[] = [];
  const src = createRuntime();
  const srcManager = createTransportManager(src, {
    localNode: 'saturn',
    providers: [nats({ localPeer: 'saturn', keys: Object.fromEntries(keys), servers: url })],
    peerKey: () => aead,
  });
  installMirror(src, srcManager, { localNode: 'saturn', fanout, maxInflight: 64, onSend: (e) => sends.push(e) });
  await srcManager.listen('nats', prefix);
  src.tree.batch(() => {
    for (let i = 0; i < BRANCH; i++) src.tree.set(['data', 'sky', `c${i}`], u64(BigInt(i)));
  });
  const peers: Peer[] = names.map((n) => {
    const runtime = createRuntime();
    const manager = createTransportManager(runtime, {
      localNode: n,
      providers: [nats({ localPeer: n, keys: { saturn: keys.get(n)! }, servers: url })],
      addressOf: () => prefix,
      peerKey: () => aead,
    });
    installMirror(runtime, manager, { localNode: n });
    const at = ['net', 'organs', 'mirror', 'requests', 'sky'];
    runtime.tree.batch(() => {
      runtime.tree.set([...at, 'peer'], text('saturn'));
      runtime.tree.set([...at, 'src_peer'], text('saturn'));
      runtime.tree.set([...at, 'mount'], text('sky'));
      runtime.tree.set([...at, 'src_chan'], text('/data/sky'));
      runtime.tree.set([...at, 'bundle', 'beat_window'], u64(1n));
      runtime.tree.set([...at, 'bundle', 'max_infl'], u64(16n));
    });
    return { runtime, manager };
  });
  let srcCpu = 0;
  const beat = async (): Promise<void> => {
    const before = process.cpuUsage();
    src.step();
    const used = process.cpuUsage(before);
    srcCpu += used.user + used.system;
    for (const p of peers) p.runtime.step();
    await new Promise((r) => setTimeout(r, 1));
  };
  const same = (): boolean => {
    const d = digestHex(src.tree.get('/data/sky')!);
    return peers.every((p) => {
      const c = p.runtime.tree.get('/data/sky');
      return c !== undefined && digestHex(c) === d;
    });
  };
  // Warm up: everyone subscribed, snapshot applied, members on multicast.
  for (let i = 0; i < 3000 && !same(); i++) await beat();
  for (let i = 0; i < 30; i++) await beat();
  if (!same()) throw new Error(`${receivers} receivers did not converge during warm-up`);
  srcCpu = 0;
  const sent = sends.length;
  const seqBefore = sealed(src);
  let k = 0;
  for (let b = 0; b < BUNDLES; b++) {
    src.tree.batch(() => {
      for (let c = 0; c < CELLS; c++) src.tree.set(['data', 'sky', `c${(k++ * 7) % BRANCH}`], u64(BigInt(k)));
    });
    await beat();
  }
  for (let i = 0; i < 2000 && !same(); i++) await beat();
  if (!same()) throw new Error(`${receivers} receivers did not converge`);
  const bundles = sealed(src) - seqBefore;
  const window = sends.slice(sent);
  const result = {
    cpuPerBundleUs: srcCpu / bundles,
    bundles,
    multicast: window.filter((e) => e.via === 'multicast').length,
    unicast: window.filter((e) => e.via === 'unicast').length,
  };
  await Promise.all([srcManager.close(), ...peers.map((p) => p.manager.close())]);
  return result;
}

/** Bundles sealed so far on the source (the group's, or the sum of the receivers' own publications). */
function sealed(src: Runtime): number {
  let total = 0;
  const groups = src.tree.get('/net/organs/mirror/groups');
  for (const g of groups?.children() ?? []) {
    const seq = g.child('seq')?.value;
    if (!g.isDeleted && seq?.type === 'u64') total = Math.max(total, Number(seq.value));
  }
  if (total > 0) return total;
  const serving = src.tree.get('/net/organs/mirror/serving');
  for (const peer of serving?.children() ?? []) {
    for (const mount of peer.children()) {
      const seq = mount.child('seq')?.value;
      if (!mount.isDeleted && seq?.type === 'u64') total = Math.max(total, Number(seq.value));
    }
  }
  return total;
}

const server = await startNatsServer();
const fmt = (x: number): string => x.toFixed(0);
console.log(`load average before: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
console.log(`${BUNDLES} bundles of ${CELLS} changed cells (branch of ${BRANCH}), AEAD on, one process, one nats-server`);
console.log('receivers   fan-out µs/bundle (parts: multicast / unicast)   unicast µs/bundle (parts)   unicast ÷ fan-out');
const rows: Array<{ n: number; fan: number }> = [];
try {
  // A discarded first run, so the JIT has compiled the hot paths before anything is compared.
  await run(server.url, 1, true);
  await run(server.url, 1, false);
  for (const n of SIZES) {
    const fan = await run(server.url, n, true);
    const uni = await run(server.url, n, false);
    rows.push({ n, fan: fan.cpuPerBundleUs });
    console.log(
      `${String(n).padStart(9)}   ${fmt(fan.cpuPerBundleUs).padStart(17)} (${fan.multicast} / ${fan.unicast})${' '.repeat(Math.max(1, 20 - `${fan.multicast} / ${fan.unicast}`.length))}${fmt(uni.cpuPerBundleUs).padStart(17)} (${uni.unicast})   ${(uni.cpuPerBundleUs / fan.cpuPerBundleUs).toFixed(2)}`,
    );
  }
} finally {
  await server.stop();
}
const base = rows[0];
if (base !== undefined)
  console.log(`fan-out CPU per bundle relative to ${base.n} receiver(s): ${rows.map((r) => `${r.n}: ${(r.fan / base.fan).toFixed(2)}`).join(', ')}`);
console.log(`load average after: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
process.exit(0);
