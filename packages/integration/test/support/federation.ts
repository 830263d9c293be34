/**
 * Small federations of real `cep-node` processes for the cross-process tests: configs that
 * reach saturn over TCP or over a Unix socket (`pipe`), saturn's invoke handlers written as
 * modules into the harness folder, polling waits, and a per-test bound. Every failure (a wait
 * that gives up, an assertion, the bound) carries the log tails of every peer the test ran.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BOUNDS, createPeerHarness, reservePort, type PeerHarness, type PeerHarnessOptions, type RunningPeer } from '../harness/peer-process.ts';

/** How earth reaches saturn. */
export type Via = 'tcp' | 'pipe';

/** The key earth and saturn (and luna) share. */
export const KEY = '5c1f0e8a2b7d4c6e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6a';
/** A valid 32-byte key that is not {@link KEY}. */
export const WRONG_KEY = 'a1'.repeat(32);

/** Saturn's mirrored branch, and where earth keeps its copy. */
export const SKY = '/data/sky';
export const COPY = '/data/saturn/sky';

// Handlers run inside a beat on saturn: synchronous, no clock, plain JS values (no imports,
// so they load from the temp folder).
const HANDLERS: Record<string, string> = {
  add: `export default { run(call) {
    if (call.payload?.type !== 'u64') return { status: 'reject', note: 'add expects a u64' };
    return { status: 'ok', result: { type: 'u64', value: call.payload.value + 1n } };
  } };`,
  // Fills /data/sky/stars/<group>/<n> with N cells (texts and u64s), as the demo does.
  sky: `export default { run(call) {
    if (call.payload?.type !== 'u64') return { status: 'reject', note: 'sky expects a u64 cell count' };
    const n = Number(call.payload.value);
    for (let i = 0; i < n; i += 2) {
      const base = '/data/sky/stars/' + (Math.floor(i / 100) + 1) + '/';
      call.tree.set(base + ((i % 100) + 1), { type: 'text', value: 'star ' + i });
      call.tree.set(base + ((i % 100) + 2), { type: 'u64', value: BigInt(i * 7919) });
    }
    return { status: 'ok', result: { type: 'u64', value: BigInt(n) } };
  } };`,
  // Tick k (k = 1, 2, 3, ...): a change of each kind the mirror ships — a new value in a
  // dictionary, the running count overwritten, an entry appended to a list, and tick k-3
  // deleted — so after ticks 1..n the branch is known exactly (see afterTicks).
  tick: `export default { run(call) {
    if (call.payload?.type !== 'u64' || call.payload.value < 1n) return { status: 'reject', note: 'tick expects a u64 ≥ 1' };
    const k = call.payload.value;
    call.tree.set('/data/sky/ticks/' + k, { type: 'u64', value: k * k });
    call.tree.set('/data/sky/count', { type: 'u64', value: k });
    call.tree.ensureList('/data/sky/log');
    call.tree.append('/data/sky/log', { type: 'text', value: 'tick ' + k });
    if (k > 3n) call.tree.delete('/data/sky/ticks/' + (k - 3n));
    return { status: 'ok', result: { type: 'u64', value: k } };
  } };`,
};

/** A loopback peer config: HTTP on an OS port, 5 ms beats. */
export function peerConfig(peer: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { peer, enclave: 'lab', beat_ms: 5, log_level: 'info', http: { host: '127.0.0.1', port: 0 }, ...extra };
}

/**
 * Starts saturn listening on `via` with every handler: on an OS-chosen TCP port, or on a socket
 * in the harness folder. `fixedPort` reserves a TCP port first, so a restart from the same
 * config listens at the same address (a socket path is always the same).
 */
export async function startSaturn(
  harness: PeerHarness,
  via: Via,
  options: { fixedPort?: boolean; extra?: Record<string, unknown> } = {},
): Promise<{ saturn: RunningPeer; address: string; file: string }> {
  for (const [name, source] of Object.entries(HANDLERS)) writeFileSync(join(harness.dir, `${name}.mjs`), source);
  const port = options.fixedPort === true ? await reservePort() : 0;
  const listen = via === 'tcp' ? { tcp: `127.0.0.1:${port}` } : { pipe: join(harness.dir, 'saturn.sock') };
  const file = harness.writeConfig(
    'saturn.json',
    peerConfig('saturn', {
      keys: { earth: { hex: KEY }, luna: { hex: KEY } },
      // earth and luna dial saturn without being listed under its peers: admitted into lab, by name.
      peer_policy: { default_enclave: 'lab' },
      listen,
      invoke: Object.keys(HANDLERS).map((name) => ({ name, module: `./${name}.mjs` })),
      ...options.extra,
    }),
  );
  const saturn = await harness.start(file);
  const listening = await saturn.waitForLog((l) => l['msg'] === 'listening' && l['provider'] === via);
  return { saturn, address: String(listening['address']), file };
}

/** Options of {@link startEarth}. */
export interface EarthOptions {
  /** The key earth holds for saturn (default {@link KEY}). */
  readonly key?: string;
  /** Mirror saturn's {@link SKY} into {@link COPY} (default true). */
  readonly mirror?: boolean;
  /** Config file name (a restart passes the same one to reuse the config). */
  readonly file?: string;
}

/** Writes earth's config (linked to saturn via `via` at `address`) and starts it. */
export async function startEarth(harness: PeerHarness, via: Via, address: string, options: EarthOptions = {}): Promise<{ earth: RunningPeer; file: string }> {
  const file = harness.writeConfig(
    options.file ?? 'earth.json',
    peerConfig('earth', {
      keys: { saturn: { hex: options.key ?? KEY } },
      peers: [{ name: 'saturn', provider: via, address }],
      mirrors:
        options.mirror === false
          ? []
          : [{ name: 'sky', source: { peer: 'saturn', path: SKY }, target: COPY, bundle: { beat_window: 2, max_infl: 8, commit_mode: 'stream' } }],
    }),
  );
  return { earth: await harness.start(file), file };
}

/** Starts luna: a third peer that only invokes saturn (it drives saturn's changes while earth is down). */
export async function startLuna(harness: PeerHarness, via: Via, address: string): Promise<RunningPeer> {
  const file = harness.writeConfig(
    'luna.json',
    peerConfig('luna', {
      keys: { saturn: { hex: KEY } },
      peers: [{ name: 'saturn', provider: via, address }],
    }),
  );
  return harness.start(file);
}

/**
 * Polls `read` until `ok` holds for its value (a liveness wait that turns a hang into a
 * failure naming `what` and the last value; nothing here asserts speed).
 */
export async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string, boundMs: number = BOUNDS.log): Promise<T> {
  const pauseMs = 25;
  let last: T | string = 'nothing read yet';
  for (let waited = 0; ; waited += pauseMs) {
    try {
      const value = await read();
      if (ok(value)) return value;
      last = value;
    } catch (error) {
      last = `read failed: ${(error as Error).message}`;
    }
    if (waited > boundMs) throw new Error(`${what}: not so after ${boundMs} ms; last value ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, pauseMs));
  }
}

/** The states of earth's requests to saturn: link, invoke and (if any) mirror. */
export async function requestStates(earth: RunningPeer): Promise<Record<string, string | undefined>> {
  const organs = (await earth.net('/net/organs')).value;
  return {
    link: organs.link?.requests?.['1']?.state,
    invoke: organs.invoke?.requests?.saturn?.state,
    ...(organs.mirror?.requests?.['1'] !== undefined ? { mirror: organs.mirror.requests['1'].state } : {}),
  };
}

/** Waits until every request of earth to saturn is `active`. */
export function untilActive(earth: RunningPeer, what = "earth's link, invoke and mirror requests to go active"): Promise<Record<string, string | undefined>> {
  return until(
    () => requestStates(earth),
    (s) => Object.values(s).every((state) => state === 'active'),
    what,
  );
}

/** Waits until earth's copy has saturn's digest (and is not empty); returns both answers. */
export async function untilMirrored(
  earth: RunningPeer,
  saturn: RunningPeer,
  what = "earth's copy to reach saturn's digest",
): Promise<{ digest: string; cells: number }> {
  const both = await until(
    async () => Promise.all([saturn.digest(SKY), earth.digest(COPY)]),
    ([source, copy]) => source.digest !== null && source.digest === copy.digest && source.cells === copy.cells,
    what,
  );
  return { digest: both[0].digest!, cells: both[0].cells };
}

/** Invokes `tick k` on saturn through `caller` for k = from..to, in order; each must answer ok with k. */
export async function drive(caller: RunningPeer, from: number, to: number): Promise<void> {
  for (let k = from; k <= to; k++) {
    const answer = await caller.invoke('saturn', 'tick', k);
    if (answer['status'] !== 'ok' || answer['result'] !== String(k))
      throw new Error(`tick ${k} through ${String(caller.logs[0]?.['peer'])} answered ${JSON.stringify(answer)}`);
  }
}

/** What saturn's copy holds after ticks 1..n (the tick handler's effects). */
export function afterTicks(n: number): { log: string[]; ticks: string[]; count: string } {
  return {
    log: Array.from({ length: n }, (_, i) => `tick ${i + 1}`),
    ticks: Array.from({ length: Math.min(n, 3) }, (_, i) => String(n - Math.min(n, 3) + i + 1)),
    count: String(n),
  };
}

/** The CEI facts `peer` mirrors for `remote` (latest per topic); `{}` when there are none. */
export async function ceh(peer: RunningPeer, remote: string): Promise<Record<string, { beat: string; note: string; severity: string }>> {
  try {
    return (await peer.net(`/net/peers/${remote}/ceh`)).value;
  } catch (error) {
    if (/answered 404/.test((error as Error).message)) return {};
    throw error;
  }
}

/**
 * A test body with peers: it gets its own harness (so tests may run concurrently), runs within
 * `ms` — past it the test fails, before vitest's own timeout, which would say nothing about the
 * peers —, any failure carries the log tails of every peer it started, and every peer is
 * killed and the temp folder removed whatever happens.
 */
export function withPeers(ms: number, body: (harness: PeerHarness) => Promise<void>, options: PeerHarnessOptions = {}): () => Promise<void> {
  return async () => {
    const harness = createPeerHarness(options);
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the test did not finish within its ${ms} ms bound`)), ms);
    });
    try {
      await Promise.race([body(harness), bound]);
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      e.message += `\n--- peers:\n${harness.tails()}`;
      throw e;
    } finally {
      clearTimeout(timer);
      await harness.cleanup();
    }
  };
}
