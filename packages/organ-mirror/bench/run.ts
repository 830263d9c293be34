/**
 * Mirror throughput: a 100,000-cell branch mirrored over provider-tcp between two runtimes in
 * one process (the snapshot, then 50,000 updates as deltas), next to the time a plain node:net
 * socket takes to carry the same encoded bytes; with the serializer's AEAD on (the default when
 * peers share a key) and off. Prints numbers; asserts nothing.
 */
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { digestHex, text, u64, type Cell, type Tree } from '@cep/cells';
import { createRuntime, type Runtime } from '@cep/heartbeat';
import { encodeBranch, type SerializerPolicy } from '@cep/serializer';
import { createTransportManager, deriveMountKey, type TransportManager } from '@cep/transport';
import { tcp } from '@cep/provider-tcp';
import { installMirror, type SealEvent } from '../src/index.ts';

const KEY = new Uint8Array(32).fill(3);
const GROUPS = 1_000;
const PER_GROUP = 99; // 1 + 1,000 × (1 + 99) = 100,001 cells
const ROUNDS = 50;
const PER_ROUND = 1_000;

interface Side {
  runtime: Runtime;
  tree: Tree;
  manager: TransportManager;
}

function side(peer: string, other: string, addresses: Map<string, string>, aead: boolean, onSeal?: (e: SealEvent) => void): Side {
  const runtime = createRuntime();
  const manager = createTransportManager(runtime, {
    localNode: peer,
    providers: [tcp({ localPeer: peer, keys: { [other]: KEY } })],
    addressOf: (p) => addresses.get(p),
    // Without a peer key no mount turns AEAD on (channels stay authenticated by the provider's key).
    ...(aead ? { peerKey: () => KEY } : {}),
  });
  installMirror(runtime, manager, { localNode: peer, ...(onSeal ? { onSeal } : {}) });
  return { runtime, tree: runtime.tree, manager };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function beat(a: Side, b: Side, sample: () => void): Promise<void> {
  for (let i = 0; i < 4; i++) await tick();
  a.runtime.step();
  sample();
  for (let i = 0; i < 4; i++) await tick();
  b.runtime.step();
  sample();
}

async function drive(a: Side, b: Side, done: () => boolean, sample: () => void): Promise<number> {
  let beats = 0;
  while (!done()) {
    await beat(a, b, sample);
    if (++beats > 100_000) throw new Error('the mirror did not converge');
  }
  return beats;
}

/** Pushes `frames` through a plain loopback socket (u32 length prefix); the best of three, in ms. */
async function plainSocket(frames: readonly Uint8Array[]): Promise<number> {
  const total = frames.reduce((n, f) => n + f.length + 4, 0);
  let best = Infinity;
  for (let run = 0; run < 3; run++) {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const received = new Promise<void>((resolve) => {
      server.on('connection', (socket: Socket) => {
        let got = 0;
        socket.on('data', (chunk: Buffer) => {
          got += chunk.length;
          if (got >= total) resolve();
        });
      });
    });
    const client = connect((server.address() as { port: number }).port, '127.0.0.1');
    await once(client, 'connect');
    const start = process.hrtime.bigint();
    for (const frame of frames) {
      const head = Buffer.alloc(4);
      head.writeUInt32LE(frame.length);
      if (!client.write(head) || !client.write(frame)) await once(client, 'drain');
    }
    await received;
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e6);
    client.destroy();
    server.close();
  }
  return best;
}

interface Result {
  aead: boolean;
  cells: number;
  snapshotMs: number;
  snapshotBeats: number;
  snapshotBytes: number;
  snapshotFrames: number;
  plainMs: number;
  deltaMs: number;
  deltaBundles: number;
  deltaBytes: number;
  deltaPlainMs: number;
  heapBaseline: number;
  heapPeak: number;
}

async function run(aead: boolean): Promise<Result> {
  const addresses = new Map<string, string>();
  const seals: SealEvent[] = [];
  const saturn = side('saturn', 'earth', addresses, aead, (e) => seals.push(e));
  const earth = side('earth', 'saturn', addresses, aead);
  const listener = await saturn.manager.listen('tcp', '127.0.0.1:0');
  addresses.set('saturn', listener.address);

  const s = saturn.tree;
  for (let g = 0; g < GROUPS; g++) {
    for (let i = 0; i < PER_GROUP; i++)
      s.set(['data', 'big', `g${g}`, `f${i}`], i % 2 === 0 ? text(`value ${g}.${i} of the mirrored branch`) : u64(BigInt(g * PER_GROUP + i)));
  }
  const cells = countCells(s.get('/data/big')!);
  const sourceDigest = digestHex(s.get('/data/big')!);

  (globalThis as { gc?: () => void }).gc?.();
  const heapBaseline = process.memoryUsage().heapUsed;
  let heapPeak = heapBaseline;
  const sample = (): void => {
    heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  };

  const request = ['net', 'organs', 'mirror', 'requests', 'big'];
  earth.tree.set([...request, 'peer'], text('saturn'));
  earth.tree.set([...request, 'mount'], text('big'));
  earth.tree.set([...request, 'src_peer'], text('saturn'));
  earth.tree.set([...request, 'src_chan'], text('/data/big'));
  earth.tree.set([...request, 'bundle', 'max_infl'], u64(4n));

  const start = process.hrtime.bigint();
  const snapshotBeats = await drive(earth, saturn, () => earth.tree.getValue([...request, 'bundle_seq'])?.value === 1n, sample);
  const snapshotMs = Number(process.hrtime.bigint() - start) / 1e6;
  if (digestHex(earth.tree.get('/data/big')!) !== sourceDigest) throw new Error('digests differ after the snapshot');

  // The bytes as they went on the wire: the same parts, encoded with the mount's negotiated policy.
  const on = (f: string) => s.getValue(`/net/mounts/earth/mirror/big/serializer/${f}`)?.value === true;
  const policy: SerializerPolicy = {
    crc32c: on('crc32c_ok'),
    deflate: on('deflate_ok'),
    ...(on('aead_ok') ? { aead: { mode: 'xchacha20poly1305' as const, key: deriveMountKey(KEY, 'mirror', 'big') } } : {}),
  };
  const encode = (events: readonly SealEvent[]) => events.flatMap((e) => e.parts.map((part) => encodeBranch(part as Cell, policy)));
  const snapshotFrames = encode(seals.slice(0, 1));
  const snapshotBytes = snapshotFrames.reduce((n, f) => n + f.length, 0);
  const plainMs = await plainSocket(snapshotFrames);

  const deltaStart = process.hrtime.bigint();
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < PER_ROUND; k++) {
      const n = round * PER_ROUND + k;
      s.set(['data', 'big', `g${n % GROUPS}`, `f${(n * 7) % PER_GROUP}`], text(`changed in round ${round}`));
    }
    await beat(earth, saturn, sample);
  }
  const finalDigest = digestHex(s.get('/data/big')!);
  await drive(
    earth,
    saturn,
    () => s.getValue('/net/organs/mirror/serving/earth/big/inflight')?.value === 0n && digestHex(earth.tree.get('/data/big')!) === finalDigest,
    sample,
  );
  const deltaMs = Number(process.hrtime.bigint() - deltaStart) / 1e6;
  const deltaFrames = encode(seals.slice(1));
  const deltaBytes = deltaFrames.reduce((n, f) => n + f.length, 0);
  const deltaPlainMs = await plainSocket(deltaFrames);
  await Promise.all([earth.manager.close(), saturn.manager.close()]);
  return {
    aead,
    cells,
    snapshotMs,
    snapshotBeats,
    snapshotBytes,
    snapshotFrames: snapshotFrames.length,
    plainMs,
    deltaMs,
    deltaBundles: seals.length - 1,
    deltaBytes,
    deltaPlainMs,
    heapBaseline,
    heapPeak,
  };
}

function countCells(cell: Cell): number {
  let n = 1;
  for (const child of cell.children()) if (!child.isDeleted) n += countCells(child);
  return n;
}

const mb = (n: number): string => (n / 1e6).toFixed(1);
const per = (n: number, ms: number): string => Math.round(n / (ms / 1000)).toLocaleString('en-US');

console.log(`@cep/organ-mirror over provider-tcp, two runtimes in one process, Node ${process.version}`);
console.log(
  `branch: ${(1 + GROUPS * (1 + PER_GROUP)).toLocaleString('en-US')} cells (${GROUPS} dictionaries × ${PER_GROUP} values); deltas: ${ROUNDS} beats × ${PER_ROUND} updated values`,
);
console.log('');
console.log('  aead  phase      cells/s    MB/s  wire MB  frames   mirror ms  plain socket ms  ratio');
for (const aead of process.env.AEAD === 'off' ? [false] : [true, false]) {
  const r = await run(aead);
  const row = (phase: string, cells: number, ms: number, bytes: number, frames: number, plain: number) =>
    console.log(
      `  ${aead ? 'on ' : 'off'}   ${phase.padEnd(9)} ${per(cells, ms).padStart(8)} ${mb(bytes / (ms / 1000)).padStart(7)} ${mb(bytes).padStart(8)} ${String(frames).padStart(7)} ${ms.toFixed(0).padStart(11)} ${plain.toFixed(1).padStart(16)} ${(ms / plain).toFixed(0).padStart(5)}x`,
    );
  row('snapshot', r.cells, r.snapshotMs, r.snapshotBytes, r.snapshotFrames, r.plainMs);
  row('deltas', ROUNDS * PER_ROUND, r.deltaMs, r.deltaBytes, r.deltaBundles, r.deltaPlainMs);
  console.log(
    `        heap: peak ${mb(r.heapPeak)} MB, ${mb(r.heapPeak - r.heapBaseline)} MB above the baseline with the source branch built (both runtimes share the process)`,
  );
}
