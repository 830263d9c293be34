/**
 * Transport manager throughput over provider-tcp on loopback, next to an anchor measured in the
 * same run: a node:net socket carrying the very same frame bytes (4-byte length prefix), whose
 * receiver splits the stream back into frames.
 *
 * Ours: two runtimes in this process with free-running beats (step both, one setImmediate turn).
 * The sender encodes and sends at commit (`mount.sendBranch`), keeping a window of frames in
 * flight; the receiver counts frames its `onFrame` handler gets (decoded and verified).
 * Prints frames/s and the ratio (ours ÷ anchor, in time per frame). Asserts nothing.
 *
 * With POLICY=plain it also prints the serializer alone: CPU µs to encode and decode the same
 * branch with the same policy in a loop, no transport at all. That is the floor of ours (every
 * frame is encoded once and decoded once), so `serializer ÷ socket` is the best ratio the
 * transport path could reach if it cost nothing, and `ours − serializer` is its own share.
 *
 * Run: npx tsx --conditions=@cep/source packages/transport/bench/run.ts
 *   SIZES=64,1024,65536  POLICY=plain|defaults (plain: crc32c only; defaults: crc32c+deflate+aead)
 */
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { bytes, createTree, type Cell } from '@cep/cells';
import { createRuntime, type Runtime } from '@cep/heartbeat';
import { decodeBranch, encodeBranch } from '@cep/serializer';
// A relative import, not a dependency: provider-tcp depends on this package, and a devDependency
// back would make the workspace graph cyclic. The bench only needs its source.
import { tcp } from '../../provider-tcp/src/index.ts';
import { createTransportManager, type TransportManager } from '../src/index.ts';

const KEY = new Uint8Array(randomBytes(32));
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const POLICY = process.env.POLICY ?? 'plain';
const serializer = POLICY === 'defaults' ? {} : { crc32c: true, deflate: false, aead: false };

interface Side {
  runtime: Runtime;
  manager: TransportManager;
}

function payloadCell(size: number): Cell {
  const tree = createTree();
  tree.set('/m/v', bytes(new Uint8Array(randomBytes(size))));
  return tree.get('/m')!;
}

/** Frames per second of wall time, and CPU µs (user + system, this process: both ends) per frame. */
interface Rate {
  perSecond: number;
  cpuMicros: number;
}

const cpuNow = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function ours(size: number, frames: number): Promise<Rate> {
  const addresses = new Map<string, string>();
  const mk = (name: string, peer: string): Side => {
    const runtime = createRuntime();
    const manager = createTransportManager(runtime, {
      localNode: name,
      providers: [tcp({ localPeer: name, keys: { [peer]: KEY } })],
      addressOf: (p) => addresses.get(p),
      // A keyed peer's mounts are sealed or do not open: only the `defaults` policy (with AEAD) gets the key.
      ...(POLICY === 'defaults' ? { peerKey: () => KEY } : {}),
    });
    return { runtime, manager };
  };
  const earth = mk('earth', 'saturn');
  const saturn = mk('saturn', 'earth');
  addresses.set('saturn', (await saturn.manager.listen('tcp', '127.0.0.1:0')).address);
  let received = 0;
  saturn.manager.onFrame('link', () => void received++);
  const mount = earth.manager.configure({ peer: 'saturn', mode: 'link', mount: 'main', serializer });
  let running = true;
  const loop = (async () => {
    while (running) {
      earth.runtime.step();
      saturn.runtime.step();
      await turn();
    }
  })();
  while (mount.state !== 'open') await turn();
  const cell = payloadCell(size);
  // Frames in flight: enough to keep the socket busy, bounded so a queue never grows without end.
  const window = Math.max(8, Math.min(4096, Math.floor((4 << 20) / size)));
  let sent = 0;
  const start = process.hrtime.bigint();
  const cpu0 = cpuNow();
  const off = earth.runtime.onCommit(() => {
    while (sent < frames && sent - received < window && mount.queuedFrames === 0) {
      mount.sendBranch(cell);
      sent++;
    }
  });
  while (received < frames) await turn();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpuMicros = (cpuNow() - cpu0) / frames;
  off();
  running = false;
  await loop;
  await earth.manager.close();
  await saturn.manager.close();
  return { perSecond: frames / seconds, cpuMicros };
}

/** The anchor: the same frame bytes over a bare socket, length-prefixed, split by the receiver. */
async function anchor(frame: Uint8Array, frames: number): Promise<Rate> {
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const server = createServer((socket: Socket) => {
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      let buf = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let at = 0;
      while (buf.length - at >= 4) {
        const len = buf.readUInt32BE(at);
        if (buf.length - at - 4 < len) break;
        const view = buf.subarray(at + 4, at + 4 + len);
        if (view.length !== len) throw new Error('short frame');
        at += 4 + len;
        if (++received === frames) done();
      }
      pending = at === buf.length ? Buffer.alloc(0) : buf.subarray(at);
      buf = pending;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const client = connect(port, '127.0.0.1');
  client.setNoDelay(true);
  await new Promise<void>((resolve) => client.once('connect', resolve));
  const header = Buffer.alloc(4);
  header.writeUInt32BE(frame.length);
  const start = process.hrtime.bigint();
  const cpu0 = cpuNow();
  for (let i = 0; i < frames; i++) {
    client.write(header);
    if (!client.write(frame)) await new Promise<void>((resolve) => client.once('drain', resolve));
  }
  await finished;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpuMicros = (cpuNow() - cpu0) / frames;
  client.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return { perSecond: frames / seconds, cpuMicros };
}

/** The serializer alone: CPU µs per frame to encode `cell` and decode the result, with the policy `plain` negotiates. */
function serializerOnly(cell: Cell, frames: number): number {
  const policy = { crc32c: true };
  const cpu0 = cpuNow();
  for (let i = 0; i < frames; i++) decodeBranch(encodeBranch(cell, policy, { beat: i }), policy);
  return (cpuNow() - cpu0) / frames;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sizes = (process.env.SIZES ?? '64,1024,65536').split(',').map(Number);
const runs = Number(process.env.RUNS ?? 3);
console.log(`policy ${POLICY} (${JSON.stringify(serializer)}), medians of ${runs}; load ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
console.log('On a busy machine the wall-clock rates swing; CPU per frame (both ends, this process) is the steadier ratio.');
console.log(
  'payload   frame B    ours frames/s   plain socket frames/s   ratio (wall)   ours CPU µs/frame   socket CPU µs/frame   ratio (CPU)   serializer alone CPU µs/frame   its ratio to the socket (CPU)',
);
for (const size of sizes) {
  const frames = size >= 65536 ? 2000 : size >= 1024 ? 20_000 : 40_000;
  const cell = payloadCell(size);
  const frame = encodeBranch(cell, { crc32c: true });
  await ours(size, Math.min(frames, 2000)); // warm-up
  await anchor(frame, Math.min(frames, 2000));
  const o: Rate[] = [];
  const a: Rate[] = [];
  const s: number[] = [];
  if (POLICY === 'plain') serializerOnly(cell, Math.min(frames, 2000)); // warm-up
  for (let r = 0; r < runs; r++) {
    o.push(await ours(size, frames));
    a.push(await anchor(frame, frames));
    if (POLICY === 'plain') s.push(serializerOnly(cell, frames));
  }
  const cs = s.length > 0 ? median(s) : Number.NaN;
  const mo = median(o.map((x) => x.perSecond));
  const ma = median(a.map((x) => x.perSecond));
  const co = median(o.map((x) => x.cpuMicros));
  const ca = median(a.map((x) => x.cpuMicros));
  console.log(
    [
      String(size).padEnd(9),
      String(frame.length).padEnd(9),
      Math.round(mo).toLocaleString('en-US').padStart(15),
      Math.round(ma).toLocaleString('en-US').padStart(23),
      `${(ma / mo).toFixed(2)}×`.padStart(14),
      co.toFixed(1).padStart(19),
      ca.toFixed(1).padStart(21),
      `${(co / ca).toFixed(2)}×`.padStart(13),
      (Number.isNaN(cs) ? '—' : cs.toFixed(1)).padStart(31),
      (Number.isNaN(cs) ? '—' : `${(cs / ca).toFixed(2)}×`).padStart(31),
    ].join(' '),
  );
}
console.log(`load after: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
