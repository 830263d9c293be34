/**
 * One side of row b, run as its own OS process (forked by mirror.ts, commands over IPC).
 *
 * - `source`: a runtime with a transport manager (provider-tcp) and the mirror organ, whose
 *   /data/sky holds N cells (groups of 100, a text and a u64 each: the demo's `sky` shape);
 *   it listens and serves whoever subscribes.
 * - `receiver`: files a mirror request for saturn's /data/sky and steps until the whole branch
 *   is there; reports the time from the request going active to the last cell being applied,
 *   the heap peak above its pre-mirror baseline (sampled after every beat) and what the tree
 *   retains after a full GC.
 * - `anchor-source` / `anchor-receiver`: the same data as a plain object, msgpackr `pack` →
 *   one length-prefixed write on a loopback socket → `unpack`.
 *
 * Beats run on a timer (`beatMs` apart, missed slots skipped), as a peer's do.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { getHeapStatistics } from 'node:v8';
import { digestHex, text, u64, type Tree } from '@cep/cells';
import { createRuntime, organStore, type Runtime } from '@cep/heartbeat';
import { installMirror } from '@cep/organ-mirror';
import { tcp } from '@cep/provider-tcp';
import { createTransportManager } from '@cep/transport';
import { pack, unpack } from 'msgpackr';
import { frameSplitter, lengthPrefixed } from './sockets.ts';
import { now } from './stats.ts';

/** A command from the parent. */
export type MirrorCommand =
  | { readonly role: 'source'; readonly cells: number; readonly aead: boolean; readonly beatMs: number; readonly key: string }
  | {
      readonly role: 'receiver';
      readonly cells: number;
      readonly aead: boolean;
      readonly beatMs: number;
      readonly key: string;
      readonly address: string;
      readonly digest: string;
    }
  | { readonly role: 'anchor-source'; readonly cells: number }
  | { readonly role: 'anchor-receiver'; readonly cells: number; readonly address: string };

/** Asked of the source once the receiver is done: its CPU since its first part left. */
export interface CpuQuery {
  readonly role: 'cpu';
}

/** What a child reports. */
export type MirrorReport =
  | { readonly kind: 'source-ready'; readonly address: string; readonly digest: string }
  | {
      readonly kind: 'received';
      readonly ms: number;
      readonly beats: number;
      readonly peakBytes: number;
      readonly retainedBytes: number;
      readonly cells: number;
      /** CPU of this process (user + system) from the request going active to the last cell applied. */
      readonly cpuMs: number;
    }
  | { readonly kind: 'source-cpu'; readonly cpuMs: number }
  | { readonly kind: 'anchor-ready'; readonly address: string }
  | { readonly kind: 'anchor-received'; readonly ms: number; readonly cells: number };

const gc = (globalThis as { gc?: () => void }).gc;
const send = (report: MirrorReport): void => void process.send!(report);
/**
 * V8's heap in use: the same figure as `process.memoryUsage().heapUsed`, which also reads the
 * RSS from the OS (~50 µs a call) — too dear to sample after every beat of the measured run.
 */
const heapUsed = (): number => getHeapStatistics().used_heap_size;

/** The demo's `sky` branch: N cells in groups of 100 under numeric names. */
function fillSky(tree: Tree, cells: number): void {
  tree.batch(() => {
    for (let i = 0; i < cells; i += 2) {
      const group = Math.floor(i / 100);
      tree.set(`/data/sky/${group}/${i % 100}`, text(`star ${i}`));
      if (i + 1 < cells) tree.set(`/data/sky/${group}/${(i % 100) + 1}`, u64(BigInt(i * 7919)));
    }
  });
}

/** The same data as a plain object (what the msgpackr anchor ships). */
function skyObject(cells: number): Record<string, Record<string, string | bigint>> {
  const out: Record<string, Record<string, string | bigint>> = {};
  for (let i = 0; i < cells; i += 2) {
    const group = (out[String(Math.floor(i / 100))] ??= {});
    group[String(i % 100)] = `star ${i}`;
    if (i + 1 < cells) group[String((i % 100) + 1)] = BigInt(i * 7919);
  }
  return out;
}

const lastCell = (cells: number): string => `/data/saturn/sky/${Math.floor((cells - 1) / 100)}/${(cells - 1) % 100}`;

function countCells(tree: Tree, path: string): number {
  let n = 0;
  const walk = (cell: ReturnType<Tree['get']>): void => {
    if (cell === undefined) return;
    const children = cell.children();
    if (children.length === 0) n++;
    for (const child of children) walk(child);
  };
  walk(tree.get(path));
  return n;
}

/** Steps `runtime` every `beatMs` (missed slots skipped), calling `after` after each beat. */
function beatLoop(runtime: Runtime, beatMs: number, after: () => boolean | void): void {
  let next = now();
  const tick = (): void => {
    runtime.step();
    if (after() === true) return;
    next = Math.max(next + beatMs, now());
    setTimeout(tick, Math.max(0, next - now()));
  };
  setTimeout(tick, 0);
}

function managerFor(runtime: Runtime, self: string, other: string, key: Uint8Array, aead: boolean, address?: string) {
  return createTransportManager(runtime, {
    localNode: self,
    providers: [tcp({ localPeer: self, keys: { [other]: key } })],
    addressOf: () => address,
    // AEAD is on for a mount when the manager has a key for the peer (its default policy).
    ...(aead ? { peerKey: () => key } : {}),
  });
}

async function source(cmd: Extract<MirrorCommand, { role: 'source' }>): Promise<void> {
  const runtime = createRuntime();
  const manager = managerFor(runtime, 'saturn', 'earth', Buffer.from(cmd.key, 'hex'), cmd.aead);
  // Observation only: the source's CPU counts from its first part sent.
  let cpuAtFirstPart: NodeJS.CpuUsage | undefined;
  // `MIRROR_DEFLATE=1`: the source's mounts try deflate, as before the mirror turned it off (an A/B in one checkout).
  const deflate = process.env['MIRROR_DEFLATE'] === '1';
  installMirror(runtime, manager, { localNode: 'saturn', deflate, onSend: () => void (cpuAtFirstPart ??= process.cpuUsage()) });
  process.on('message', (m: MirrorCommand | CpuQuery) => {
    if (m.role !== 'cpu') return;
    const used = process.cpuUsage(cpuAtFirstPart);
    send({ kind: 'source-cpu', cpuMs: cpuAtFirstPart === undefined ? 0 : (used.user + used.system) / 1000 });
  });
  fillSky(runtime.tree, cmd.cells);
  const { address } = await manager.listen('tcp', '127.0.0.1:0');
  runtime.step();
  send({ kind: 'source-ready', address, digest: digestHex(runtime.tree.get('/data/sky')!) });
  beatLoop(runtime, cmd.beatMs, () => {});
}

async function receiver(cmd: Extract<MirrorCommand, { role: 'receiver' }>): Promise<void> {
  const runtime = createRuntime();
  const manager = managerFor(runtime, 'earth', 'saturn', Buffer.from(cmd.key, 'hex'), cmd.aead, cmd.address);
  installMirror(runtime, manager, { localNode: 'earth' });
  runtime.step();
  gc?.();
  gc?.();
  const baseline = heapUsed();
  const tree = runtime.tree;
  const r = '/net/organs/mirror/requests';
  tree.ensureDictionary(r, organStore('mirror'));
  tree.set(`${r}/bench/peer`, text('saturn'));
  tree.set(`${r}/bench/src_peer`, text('saturn'));
  tree.set(`${r}/bench/mount`, text('sky'));
  tree.set(`${r}/bench/mode`, text('mirror'));
  tree.set(`${r}/bench/src_chan`, text('/data/sky'));
  tree.set(`${r}/bench/dst_chan`, text('/data/saturn/sky'));
  // The demo's bundle settings.
  tree.set(`${r}/bench/bundle/beat_window`, u64(2n));
  tree.set(`${r}/bench/bundle/max_infl`, u64(8n));
  tree.set(`${r}/bench/bundle/commit_mode`, text('stream'));
  const last = lastCell(cmd.cells);
  let activeAt: number | undefined;
  let activeCpu: NodeJS.CpuUsage | undefined;
  let activeBeat = 0;
  let peak = 0;
  beatLoop(runtime, cmd.beatMs, () => {
    peak = Math.max(peak, heapUsed() - baseline);
    if (activeAt === undefined) {
      if (tree.getValue(`${r}/bench/state`)?.value === 'active') {
        activeAt = now();
        activeCpu = process.cpuUsage();
        activeBeat = runtime.beat;
      }
      return;
    }
    if (tree.get(last) === undefined) return;
    const ms = now() - activeAt;
    const cpu = process.cpuUsage(activeCpu);
    const beats = runtime.beat - activeBeat;
    if (digestHex(tree.get('/data/saturn/sky')!) !== cmd.digest) return; // not all there yet
    const cells = countCells(tree, '/data/saturn/sky');
    gc?.();
    gc?.();
    const retainedBytes = heapUsed() - baseline;
    send({ kind: 'received', ms, beats, peakBytes: peak, retainedBytes, cells, cpuMs: (cpu.user + cpu.system) / 1000 });
    return true;
  });
}

async function anchorSource(cmd: Extract<MirrorCommand, { role: 'anchor-source' }>): Promise<void> {
  const data = skyObject(cmd.cells);
  const server = createServer((socket: Socket) => {
    socket.setNoDelay(true);
    socket.once('data', () => {
      // Timed by the receiver: from its request to the unpacked object.
      socket.write(lengthPrefixed(pack(data)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  send({ kind: 'anchor-ready', address: `127.0.0.1:${(server.address() as AddressInfo).port}` });
}

async function anchorReceiver(cmd: Extract<MirrorCommand, { role: 'anchor-receiver' }>): Promise<void> {
  const [host, port] = cmd.address.split(':') as [string, string];
  const socket = connect({ host, port: Number(port) });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.setNoDelay(true);
  const t0 = now();
  const got = await new Promise<Record<string, Record<string, unknown>>>((resolve) => {
    socket.on(
      'data',
      frameSplitter((frame) => resolve(unpack(frame) as Record<string, Record<string, unknown>>)),
    );
    socket.write('g');
  });
  const ms = now() - t0;
  let cells = 0;
  for (const group of Object.values(got)) cells += Object.keys(group).length;
  socket.destroy();
  send({ kind: 'anchor-received', ms, cells });
}

process.once('message', (cmd: MirrorCommand) => {
  const run = { source, receiver, 'anchor-source': anchorSource, 'anchor-receiver': anchorReceiver }[cmd.role] as (c: MirrorCommand) => Promise<void>;
  run(cmd).catch((error: unknown) => {
    process.stderr.write(`mirror bench ${cmd.role}: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
});
// The parent ends a child with SIGTERM: exit normally, so `--cpu-prof` writes the profile.
process.once('SIGTERM', () => process.exit(0));
// Run on its own (not forked), it would wait forever for a command.
if (process.send === undefined) {
  process.stderr.write('mirror-peer.ts is forked by the bench (mirror.ts); it does nothing on its own\n');
  process.exit(2);
}
