/**
 * Rows d, e, f: real `cep-node` peers as OS processes (the BUILT peer, found through the
 * `bin` of @cep/node-app, as a user runs it), driven over their HTTP endpoints. Invoke
 * latencies are the peers' own (`beats` and `ms` of the `/invoke` answer).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { median, now, quantile, sleep } from './stats.ts';

const require = createRequire(import.meta.url);

let peerOverride: string | undefined;

/** Runs rows d–f with this file as the peer instead of the package's bin (to compare builds). */
export function usePeerFile(file: string | undefined): void {
  peerOverride = file;
}

/** The app folder and the file its `cep-node` bin runs (or the `--peer` file). */
export function cepNodeBin(): { appDir: string; bin: string } {
  const manifest = require.resolve('@cep/node-app/package.json');
  const appDir = dirname(manifest);
  const bin = peerOverride ?? join(appDir, (require(manifest) as { bin: Record<string, string> }).bin['cep-node']!);
  if (!existsSync(bin)) throw new Error(`${bin} does not exist: build the peer first (npx --yes pnpm@10.34.8 build)`);
  return { appDir, bin };
}

type Json = Record<string, any>;

/** A spawned peer and its parsed JSON log lines. */
interface Peer {
  readonly child: ChildProcess;
  readonly lines: Json[];
  waitFor(test: (l: Json) => boolean, what: string, timeoutMs?: number): Promise<Json>;
  readonly exited: Promise<void>;
}

function spawnPeer(dir: string, name: string, config: Json): Peer {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(config));
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  const child = spawn(
    process.execPath,
    [cepNodeBin().bin, 'run', '--config', file, '--log-format', 'json', ...(process.env['BENCH_EPHEMERAL'] === '1' ? ['--ephemeral'] : [])],
    { stdio: ['ignore', 'pipe', 'pipe'], env },
  );
  const lines: Json[] = [];
  const listeners = new Set<() => void>();
  let partial = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p) as Json);
      } catch {
        // not a log line
      }
    }
    for (const l of [...listeners]) l();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => void (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    lines,
    exited,
    waitFor: (test, what, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find(test);
          if (found === undefined) return;
          listeners.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`${name} did not log "${what}" in ${timeoutMs} ms; stderr: ${stderr.slice(-1500)}`));
        }, timeoutMs);
        listeners.add(check);
        void exited.then(() => {
          if (listeners.delete(check)) {
            clearTimeout(timer);
            reject(new Error(`${name} exited before logging "${what}"; stderr: ${stderr.slice(-1500)}`));
          }
        });
        check();
      }),
  };
}

async function getJson(url: string, init: RequestInit = {}): Promise<Json> {
  const res = await fetch(url, { signal: AbortSignal.timeout(60_000), ...init });
  const body = (await res.json()) as Json;
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** `POST /invoke` on `url`: the outcome with the peer's own `beats` and `ms`. */
async function invoke(url: string, handler: string, arg: number): Promise<{ beats: number; ms: number; result: string; timedOut: boolean }> {
  const answer = await getJson(`${url}/invoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ peer: 'saturn', handler, arg: String(arg) }),
  });
  // A call stuck behind a large bundle may hit the peer's reply deadline (200 beats), or reach
  // the callee after the expiry that deadline gave it (refused, INVOKE_EXPIRED): that is a
  // measurement (its beats and ms are the deadline's), not a failure of the bench.
  const timedOut = answer['status'] === 'timeout' || answer['code'] === 'INVOKE_EXPIRED';
  if (answer['status'] !== 'ok' && !timedOut) throw new Error(`invoke ${handler} ${arg}: ${answer['status']} ${answer['note'] ?? ''}`);
  return { beats: Number(answer['beats']), ms: Number(answer['ms']), result: String(answer['result']), timedOut };
}

/** Two peers like the demo's: saturn (tcp listener, handlers sky and add), earth (mirrors saturn's /data/sky, invokes). */
async function demoPair(beatMs: number): Promise<{ earth: string; saturn: string; stop(): Promise<void> }> {
  const { appDir } = cepNodeBin();
  const dir = mkdtempSync(join(tmpdir(), 'cep-bench-'));
  const key = randomBytes(32).toString('hex');
  const handler = (file: string) => join(appDir, 'examples', 'handlers', file);
  const peers: Peer[] = [];
  const stop = async () => {
    for (const p of peers) p.child.kill('SIGKILL');
    await Promise.all(peers.map((p) => p.exited));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const common = { enclave: 'lab', beat_ms: beatMs, log_level: 'info', http: { host: '127.0.0.1', port: 0 } };
    const saturn = spawnPeer(dir, 'saturn', {
      ...common,
      peer: 'saturn',
      keys: { earth: { hex: key } },
      listen: { tcp: '127.0.0.1:0' },
      // earth dials without being listed under saturn's peers: admitted into saturn's own enclave (as in the demo).
      peer_policy: { default_enclave: 'lab' },
      invoke: [
        { name: 'sky', module: handler('sky.mjs') },
        { name: 'add', module: handler('add.mjs') },
      ],
    });
    peers.push(saturn);
    const tcpAddress = String((await saturn.waitFor((l) => l['msg'] === 'listening' && l['provider'] === 'tcp', 'listening'))['address']);
    const earth = spawnPeer(dir, 'earth', {
      ...common,
      peer: 'earth',
      keys: { saturn: { hex: key } },
      peers: [{ name: 'saturn', provider: 'tcp', address: tcpAddress }],
      mirrors: [
        {
          name: 'sky',
          source: { peer: 'saturn', path: '/data/sky' },
          target: '/data/saturn/sky',
          bundle: { beat_window: 2, max_infl: 8, commit_mode: 'stream' },
        },
      ],
    });
    peers.push(earth);
    const [earthUrl, saturnUrl] = await Promise.all(
      [earth, saturn].map(async (p) => String((await p.waitFor((l) => l['msg'] === 'http endpoint listening', 'http endpoint listening'))['url'])),
    );
    const deadline = now() + 30_000;
    for (;;) {
      const organs = (await getJson(`${earthUrl}/net?path=${encodeURIComponent('/net/organs')}`))['value'];
      const states = [organs?.invoke?.requests?.saturn?.state, organs?.mirror?.requests?.['1']?.state];
      if (states.every((s) => s === 'active')) break;
      if (now() > deadline) throw new Error(`bench peers: requests not active in 30 s (${states.join(', ')})`);
      await sleep(20);
    }
    return { earth: earthUrl!, saturn: saturnUrl!, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** True when earth's copy holds saturn's whole `sky` branch of `cells` cells. */
async function mirrored(earth: string, saturn: string, cells: number): Promise<boolean> {
  const last = `/data/saturn/sky/${Math.floor((cells - 1) / 100)}/${(cells - 1) % 100}`;
  const probe = await fetch(`${earth}/net?path=${encodeURIComponent(last)}`);
  if (!probe.ok || ((await probe.json()) as Json)['value'] == null) return false;
  const [a, b] = await Promise.all([getJson(`${saturn}/digest?path=/data/sky`), getJson(`${earth}/digest?path=/data/saturn/sky`)]);
  return a['digest'] !== null && a['digest'] === b['digest'];
}

/** True when saturn's mirror source has every bundle it sealed acknowledged (nothing in flight). */
async function sourceQuiet(saturn: string): Promise<boolean> {
  const serving = (await getJson(`${saturn}/net?path=${encodeURIComponent('/net/organs/mirror/serving/earth/sky')}`))['value'];
  return serving != null && serving['inflight'] === '0' && serving['acked'] === serving['seq'];
}

/**
 * Row d, the demo's order: `sky N`, wait until earth holds saturn's whole branch and saturn has
 * every bundle acknowledged, then `add 41`; next to the same call before the mirror. Also the
 * call sent right after `sky` (the demo's order before), while the mirror still runs (row f's
 * case, one call): reported, not the target. Medians over rounds.
 */
export async function addAfterMirror(cells: number, rounds: number, beatMs: number) {
  type Call = { beats: number; ms: number; timedOut: boolean };
  const before: Call[] = [];
  const during: Call[] = [];
  const after: Call[] = [];
  for (let round = 0; round < rounds; round++) {
    const pair = await demoPair(beatMs);
    try {
      for (let i = 0; i < 3; i++) before.push(await invoke(pair.earth, 'add', 41));
      // A sky reply that misses its deadline still filled saturn's branch (the handler ran).
      await invoke(pair.earth, 'sky', cells);
      const early = await invoke(pair.earth, 'add', 41);
      if (!early.timedOut && early.result !== '42') throw new Error(`add 41 gave ${early.result}`);
      during.push(early);
      const deadline = now() + 60_000;
      while (!((await mirrored(pair.earth, pair.saturn, cells)) && (await sourceQuiet(pair.saturn)))) {
        if (now() > deadline) throw new Error('row d: the mirror did not complete in 60 s');
        await sleep(50);
      }
      const add = await invoke(pair.earth, 'add', 41);
      if (!add.timedOut && add.result !== '42') throw new Error(`add 41 gave ${add.result}`);
      after.push(add);
    } finally {
      await pair.stop();
    }
  }
  const m = (xs: Call[], k: 'beats' | 'ms') => median(xs.map((x) => x[k]));
  return {
    before: { beats: m(before, 'beats'), ms: m(before, 'ms') },
    during: { beats: m(during, 'beats'), ms: m(during, 'ms') },
    after: { beats: m(after, 'beats'), ms: m(after, 'ms') },
    samples: after.length,
    timedOut: after.filter((a) => a.timedOut).length,
    duringTimedOut: during.filter((a) => a.timedOut).length,
  };
}

/** Unmeasured `add` calls row f makes before its measured ones (the code of the invoke path runs cold in them). */
const WARM_CALLS = 3;

/** Row f: sequential `add` calls while `sky N` is mirrored, next to the same calls before (after {@link WARM_CALLS} unmeasured ones); p99 beats and ms. */
export async function invokeDuringMirror(cells: number, idleCalls: number, beatMs: number) {
  const pair = await demoPair(beatMs);
  try {
    // The first calls after start run the invoke path's code for the first time on both peers
    // (72 ms and 7 beats for the first, 10-20 ms from the third on, at load 5): the anchor is the
    // calls after them, and the first is reported on its own.
    const first: { beats: number; ms: number }[] = [];
    for (let i = 0; i < WARM_CALLS; i++) first.push(await invoke(pair.earth, 'add', i));
    const idle: { beats: number; ms: number; timedOut: boolean }[] = [];
    for (let i = 0; i < idleCalls; i++) idle.push(await invoke(pair.earth, 'add', i));
    const t0 = now();
    // A sky reply that misses its deadline (stuck behind the mirror) still filled the branch.
    const sky = await invoke(pair.earth, 'sky', cells);
    const during: { beats: number; ms: number; timedOut: boolean }[] = [];
    const deadline = now() + 240_000;
    let checks = 0;
    for (;;) {
      during.push(await invoke(pair.earth, 'add', during.length));
      // The digest costs both peers a walk of the branch: look only every few calls.
      if (++checks % 4 === 0 && (await mirrored(pair.earth, pair.saturn, cells))) break;
      if (now() > deadline) throw new Error('row f: the mirror did not complete in 240 s');
    }
    const mirrorMs = now() - t0;
    // Each peer's beat driver over the whole run (beats, early ones, longest step): where the calls' ms went.
    const driver = async (url: string) => {
      const d = (await getJson(`${url}/status`))['driver'] as Json;
      return { beats: Number(d['beats']), early: Number(d['earlyBeats'] ?? 0), overruns: Number(d['overruns']), worstStepMs: Number(d['worstStepMs']) };
    };
    const drivers = { earth: await driver(pair.earth), saturn: await driver(pair.saturn) };
    const p99 = (xs: { beats: number; ms: number }[], k: 'beats' | 'ms') =>
      quantile(
        xs.map((x) => x[k]),
        0.99,
      );
    return {
      first: first[0]!,
      during: { beats: p99(during, 'beats'), ms: p99(during, 'ms') },
      idle: { beats: p99(idle, 'beats'), ms: p99(idle, 'ms') },
      samples: during.length,
      timedOut: during.filter((d) => d.timedOut).length,
      skyTimedOut: sky.timedOut,
      mirrorMs,
      // The typical call too (p99 of a few dozen calls is the slowest one or two).
      p50ms: quantile(
        during.map((d) => d.ms),
        0.5,
      ),
      p90ms: quantile(
        during.map((d) => d.ms),
        0.9,
      ),
      drivers,
      // Which calls were slow (their order during the mirror): early ones wait behind code the mirror runs for the first time.
      slowest: during
        .map((d, i) => ({ i: i + 1, beats: d.beats, ms: d.ms }))
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 3),
    };
  } finally {
    await pair.stop();
  }
}

/** Row e: ms from spawning a peer to its HTTP endpoint answering `/status`, next to `node -e 0` (spawn to exit); medians. */
export async function readyTime(runs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'cep-bench-'));
  const ours: number[] = [];
  const anchor: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const t0 = now();
      const bare = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
      await new Promise((resolve) => bare.once('exit', resolve));
      anchor.push(now() - t0);

      const t1 = now();
      const peer = spawnPeer(dir, `solo${i}`, { peer: 'solo', enclave: 'lab', log_level: 'info', http: { host: '127.0.0.1', port: 0 } });
      try {
        const url = String((await peer.waitFor((l) => l['msg'] === 'http endpoint listening', 'http endpoint listening'))['url']);
        await getJson(`${url}/status`);
        ours.push(now() - t1);
      } finally {
        peer.child.kill('SIGKILL');
        await peer.exited;
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { ours: median(ours), anchor: median(anchor) };
}
