/**
 * Row a: frames/s through the transport manager over provider-tcp (both managers in this
 * process, beats stepped as fast as the loop turns), next to a node:net socket pair carrying
 * the very frame bytes the manager received, length-prefixed, with the receiver splitting
 * them back into frames. Both ends of both runs share this one thread.
 */
import { randomBytes } from 'node:crypto';
import { bytes, createTree } from '@cep/cells';
import { createRuntime } from '@cep/heartbeat';
import { tcp } from '@cep/provider-tcp';
import { createTransportManager } from '@cep/transport';
import { inFreshProcess } from './fresh.ts';
import { frameSplitter, lengthPrefixed, socketPair } from './sockets.ts';
import { median, now, turn } from './stats.ts';

const HERE = new URL(import.meta.url);
const FORMAT_FLOOR = new URL('./format-floor.ts', import.meta.url);

/** Payload sizes and the target ratio for each. */
export const TRANSPORT_SIZES = [
  { size: 64, target: 3 },
  { size: 1024, target: 3 },
  { size: 64 * 1024, target: 1.5 },
] as const;

/** Frames kept in flight by the sender (both runs), at most ~8 MiB of payload. */
const windowFor = (size: number): number => Math.max(16, Math.min(2048, Math.floor((8 << 20) / size)));

/** A run through the managers: frames/s, the bytes of one frame as received, and the value it carries. */
interface ManagerRun {
  readonly perSecond: number;
  readonly frame: Uint8Array;
  readonly payload: Uint8Array;
}

/**
 * One run through two transport managers: frames are sent for `seconds`, then the run ends when
 * every frame sent has arrived. Returns frames/s and the bytes of one frame as received.
 */
export async function throughManager(size: number, seconds: number): Promise<ManagerRun> {
  const key = new Uint8Array(randomBytes(32));
  const addresses = new Map<string, string>();
  const earthRuntime = createRuntime();
  const saturnRuntime = createRuntime();
  const earth = createTransportManager(earthRuntime, {
    localNode: 'earth',
    providers: [tcp({ localPeer: 'earth', keys: { saturn: key } })],
    addressOf: (p) => addresses.get(p),
  });
  const saturn = createTransportManager(saturnRuntime, {
    localNode: 'saturn',
    providers: [tcp({ localPeer: 'saturn', keys: { earth: key } })],
    addressOf: (p) => addresses.get(p),
  });
  let received = 0;
  let sample: Uint8Array | undefined;
  saturn.onFrame('link', (f) => {
    if (sample === undefined) sample = f.bytes.slice();
    received++;
  });
  addresses.set('saturn', (await saturn.listen('tcp', '127.0.0.1:0')).address);
  // Only the checksum: the anchor carries the same bytes and does no more work on them.
  const mount = earth.configure({ peer: 'saturn', mode: 'link', mount: 'main', serializer: { crc32c: true, deflate: false, aead: false } });
  while (mount.state !== 'open') {
    earthRuntime.step();
    saturnRuntime.step();
    await turn();
  }
  const tree = createTree();
  const payload = new Uint8Array(randomBytes(size));
  tree.set('/m/v', bytes(payload));
  const cell = tree.get('/m')!;
  const window = windowFor(size);
  let sent = 0;
  const t0 = now();
  const stopAt = t0 + seconds * 1000;
  let sending = true;
  while (sending || received < sent) {
    if (sending && now() >= stopAt) sending = false;
    while (sending && sent - received < window) {
      mount.sendBranch(cell);
      sent++;
    }
    earthRuntime.step();
    await turn();
    saturnRuntime.step();
  }
  const ms = now() - t0;
  await earth.close();
  await saturn.close();
  return { perSecond: received / (ms / 1000), frame: sample!, payload };
}

/** The same frames over a plain node:net socket pair, length-prefixed and split at the receiver, for `seconds`; frames/s. */
export async function throughSocket(frame: Uint8Array, seconds: number): Promise<number> {
  const { client, server, close } = await socketPair();
  const wire = lengthPrefixed(frame);
  const window = windowFor(frame.length);
  let received = 0;
  let sent = 0;
  let sending = true;
  let wake: (() => void) | null = null;
  server.on(
    'data',
    frameSplitter((f) => {
      if (f.length !== frame.length) throw new Error('anchor: a frame of the wrong length');
      received++;
      if (wake !== null && (received === sent || sent - received < window / 2)) {
        const w = wake;
        wake = null;
        w();
      }
    }),
  );
  const t0 = now();
  const stopAt = t0 + seconds * 1000;
  while (sending || received < sent) {
    if (sending && now() >= stopAt) sending = false;
    while (sending && sent - received < window) {
      sent++;
      if (!client.write(wire)) break;
    }
    if (received < sent) await new Promise<void>((resolve) => (wake = resolve));
  }
  const ms = now() - t0;
  await close();
  return received / (ms / 1000);
}

/** One timed run through the managers in this process, after an unmeasured run as long (a fresh process starts cold). */
export async function managerRun(size: number, seconds: number): Promise<ManagerRun> {
  await throughManager(size, seconds);
  return throughManager(size, seconds);
}

/** One timed run of the plain socket with `frame`, after an unmeasured run as long. */
export async function socketRun(frame: Uint8Array, seconds: number): Promise<number> {
  await throughSocket(frame, seconds);
  return throughSocket(frame, seconds);
}

/**
 * Medians of `repeats` runs of `seconds` each of both, interleaved, every run (with its own
 * warm-up) in a fresh process (fresh.ts says why); the anchor carries the frame ours sent.
 * `floorUs` is the format's mandatory work for that frame, encode plus decode (format-floor.ts).
 */
export async function measureTransport(size: number, seconds: number, repeats: number): Promise<{ ours: number; anchor: number; floorUs: number }> {
  const ours: number[] = [];
  const anchor: number[] = [];
  let last: ManagerRun | undefined;
  for (let i = 0; i < repeats; i++) {
    last = await inFreshProcess<ManagerRun>(HERE, 'managerRun', size, seconds);
    ours.push(last.perSecond);
    anchor.push(await inFreshProcess<number>(HERE, 'socketRun', last.frame, seconds));
  }
  const floorUs = await inFreshProcess<number>(FORMAT_FLOOR, 'formatFloorUs', last!.frame, last!.payload);
  return { ours: median(ours), anchor: median(anchor), floorUs };
}
