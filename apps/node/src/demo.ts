/**
 * `cep-node demo`: two peers, earth and saturn, as separate processes on loopback.
 *
 * 1. saturn and earth start together (two processes spawned at once): saturn with a TCP
 *    listener on a loopback port reserved just before, an invoke handler `sky` that writes a
 *    branch of N cells, and `add`; earth with that address and their shared key: it links
 *    saturn over TCP (authenticated, redialling until saturn listens), mirrors saturn's
 *    /data/sky into /data/saturn/sky, and has an invoke mount;
 * 2. earth invokes `sky` on saturn (saturn fills /data/sky; the mirror ships it in bundles),
 *    then `add 41`, and waits until both branches have the same digest;
 * 3. it prints what happened (mounts, providers, serializer features, bundles, invoke latency,
 *    telemetry) and stops both peers with SIGTERM.
 * Everything it starts is killed, and its temp folder removed, whatever happens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { nodeError } from './errors.ts';
import { MAX_INVOKE_TIMEOUT_BEATS } from './config/schema.ts';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Cells in saturn's mirrored branch (default 3000). */
  readonly cells: number;
  /** Beat period of both peers, ms (default 5). */
  readonly beatMs: number;
  /** Give up after this long, ms (default 60 s). */
  readonly timeoutMs: number;
  /**
   * Keep both peers running after the demo (their web consoles' URLs are printed) until
   * {@link DemoOptions.keepUntil} settles, then stop them as usual.
   */
  readonly keep?: boolean;
  /** With `keep`: settles when the kept peers should stop (default: SIGINT or SIGTERM to this process). */
  readonly keepUntil?: () => Promise<string>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

// The demo's peers run the example handler modules shipped with this package (examples/handlers:
// plain JS, no imports, so they load from anywhere); the path is the same from src/ and dist/.
const handler = (file: string): string => fileURLToPath(new URL(`../examples/handlers/${file}`, import.meta.url));

// biome-ignore lint/suspicious/noExplicitAny: JSON answered by our own peer's HTTP API; the demo reads known fields and a wrong shape fails its checks
type Json = Record<string, any>;

/** Log lines kept per peer (the demo waits for lines logged at start; `tail` shows the last few). */
const MAX_LINES = 2000;

/** What {@link untilSignal} listens on: `process`, or an EventEmitter in tests. */
export interface DemoSignals {
  on(signal: 'SIGINT' | 'SIGTERM', listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: 'SIGINT' | 'SIGTERM', listener: (signal: NodeJS.Signals) => void): unknown;
}

/** Settles with the first of SIGINT and SIGTERM (and stops listening): when a kept demo stops. */
export function untilSignal(signals: DemoSignals = process): Promise<string> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      signals.off('SIGINT', on);
      signals.off('SIGTERM', on);
      resolve(`signal ${signal}`);
    };
    signals.on('SIGINT', on);
    signals.on('SIGTERM', on);
  });
}

/** One peer process and what it has logged. */
class Child {
  readonly lines: Json[] = [];
  private readonly waiters: Array<{ test: (l: Json) => boolean; resolve: (l: Json) => void }> = [];
  private buffered = '';
  readonly exited: Promise<number | null>;
  stderrText = '';

  constructor(
    readonly name: string,
    readonly process: ChildProcess,
  ) {
    process.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.take(chunk));
    process.stderr!.setEncoding('utf8').on('data', (chunk: string) => void (this.stderrText += chunk));
    this.exited = new Promise((resolve) => process.once('exit', (code) => resolve(code)));
  }

  private take(chunk: string): void {
    this.buffered += chunk;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const text = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      let line: Json;
      try {
        line = JSON.parse(text) as Json;
      } catch {
        continue;
      }
      this.lines.push(line);
      // A kept peer logs for as long as it runs: hold on to the recent lines only.
      if (this.lines.length > MAX_LINES) this.lines.splice(0, this.lines.length - MAX_LINES / 2);
      for (const w of [...this.waiters]) {
        if (w.test(line)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  }

  waitFor(test: (l: Json) => boolean, what: string, deadline: number): Promise<Json> {
    const found = this.lines.find(test);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(nodeError('DEMO_FAILED', `${this.name} did not log "${what}" in time`)), Math.max(0, deadline - performance.now()));
      void this.exited.then((code) => reject(nodeError('DEMO_FAILED', `${this.name} exited (code ${code}) before logging "${what}"`)));
      this.waiters.push({ test, resolve: (l) => (clearTimeout(timer), resolve(l)) });
    });
  }

  tail(n = 8): string {
    return this.lines
      .slice(-n)
      .map(
        (l) =>
          `  ${this.name}: ${l['msg']} ${JSON.stringify(Object.fromEntries(Object.entries(l).filter(([k]) => !['level', 'time', 'pid', 'hostname', 'msg', 'peer'].includes(k))))}`,
      )
      .join('\n');
  }
}

async function getJson(url: string): Promise<Json> {
  const res = await fetch(url);
  return (await res.json()) as Json;
}

async function postJson(url: string, body: Json): Promise<Json> {
  const res = await fetch(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const answer = (await res.json()) as Json;
  if (res.status !== 200) throw nodeError('DEMO_FAILED', `POST ${url}: ${answer['error']?.code}: ${answer['error']?.message}`);
  return answer;
}

/**
 * A loopback TCP port the OS just handed out and that is free again: saturn listens on it, and
 * earth's config names it, so the two can start together.
 */
async function reservePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Polls `probe` (every 50 ms) until it returns a value; fails at the deadline with `what`. */
async function poll<T>(probe: () => Promise<T | undefined>, what: string, deadline: number): Promise<T> {
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw nodeError('DEMO_FAILED', `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const net = async (url: string, path: string): Promise<Json[string]> => (await getJson(`${url}/net?path=${encodeURIComponent(path)}`))['value'];

/** Runs the demo; resolves with the exit code (0 when every step worked). */
export async function runDemo(options: DemoOptions): Promise<number> {
  const out = options.stdout;
  const started = performance.now();
  const deadline = started + options.timeoutMs;
  const dir = mkdtempSync(join(tmpdir(), 'cep-demo-'));
  const children: Child[] = [];
  const key = randomBytes(32).toString('hex');
  // The same loader flags (tsx when run from source) and entry point as this process.
  const spawnPeer = (name: string, config: Json): Child => {
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify(config, null, 2));
    // Kept peers get a process group of their own: Ctrl-C in the terminal reaches only the demo,
    // which then stops each peer with one SIGTERM (a second signal would force their exit).
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, 'run', '--config', file, '--log-format', 'json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.keep === true,
    });
    const peer = new Child(name, child);
    children.push(peer);
    return peer;
  };
  try {
    out(`cep-node demo: two peers on loopback, earth and saturn (temp folder ${dir})\n`);

    // Both peers start at once: saturn's tcp port is reserved here first, so earth's config can
    // name it before saturn runs (earth redials until saturn listens).
    const saturnTcp = `127.0.0.1:${await reservePort()}`;
    const saturn = spawnPeer('saturn', {
      peer: 'saturn',
      enclave: 'lab',
      beat_ms: options.beatMs,
      log_level: 'info',
      http: { host: '127.0.0.1', port: 0 },
      keys: { earth: { hex: key } },
      listen: { tcp: saturnTcp },
      // earth dials saturn without being listed under saturn's peers: admitted into saturn's own enclave, by name.
      peer_policy: { default_enclave: 'lab' },
      invoke: [
        { name: 'sky', module: handler('sky.mjs') },
        { name: 'add', module: handler('add.mjs') },
      ],
    });
    const earth = spawnPeer('earth', {
      peer: 'earth',
      enclave: 'lab',
      beat_ms: options.beatMs,
      log_level: 'info',
      http: { host: '127.0.0.1', port: 0 },
      keys: { saturn: { hex: key } },
      peers: [{ name: 'saturn', provider: 'tcp', address: saturnTcp }],
      mirrors: [
        {
          name: 'sky',
          source: { peer: 'saturn', path: '/data/sky' },
          target: '/data/saturn/sky',
          bundle: { beat_window: 2, max_infl: 8, commit_mode: 'stream' },
        },
      ],
    });
    const httpUrl = async (peer: Child): Promise<string> =>
      (await peer.waitFor((l) => l['msg'] === 'http endpoint listening', 'http endpoint listening', deadline))['url'] as string;
    const [saturnUrl, earthUrl] = await Promise.all([httpUrl(saturn), httpUrl(earth)]);
    await saturn.waitFor((l) => l['msg'] === 'listening' && l['provider'] === 'tcp', 'listening (tcp)', deadline);
    out(`  saturn  pid ${saturn.process.pid}, tcp ${saturnTcp}, http ${saturnUrl}\n`);
    out(`  earth   pid ${earth.process.pid}, http ${earthUrl}\n`);

    // Link, invoke and mirror requests go active once their mounts are open and authenticated.
    const linkedAt = await poll(
      async () => {
        const organs = await net(earthUrl, '/net/organs');
        const states = [organs.link.requests['1']?.state, organs.invoke.requests.saturn?.state, organs.mirror.requests['1']?.state];
        return states.every((s) => s === 'active') ? performance.now() : undefined;
      },
      'the link, invoke and mirror requests to go active',
      deadline,
    );
    out(`  linked  earth → saturn over tcp, authenticated, in ${Math.round(linkedAt - started)} ms\n\n`);

    const timeoutBeats = (): number => callTimeoutBeats(deadline - performance.now(), options.beatMs);
    const sky = await postJson(`${earthUrl}/invoke`, { peer: 'saturn', handler: 'sky', arg: String(options.cells), timeout_beats: timeoutBeats() });
    if (sky['status'] !== 'ok') throw nodeError('DEMO_FAILED', `invoke sky was ${sky['status']}: ${sky['note'] ?? ''}`);

    // The mirror is over when earth's copy holds saturn's whole branch and saturn has no bundle
    // unacknowledged: `add 41` is then the only thing either peer works on, as a user reading
    // "after the mirror" expects. (An invoke while a mirror runs waits behind the beats that
    // encode and apply its bundles: that is `bench:compare` row f, not the demo.)
    const mirrored = await poll(
      async () => {
        const [source, copy] = await Promise.all([getJson(`${saturnUrl}/digest?path=/data/sky`), getJson(`${earthUrl}/digest?path=/data/saturn/sky`)]);
        // The whole branch: sky answers after its first 256 cells and writes the rest in later
        // beats, so an equal digest of a branch still filling is not the end.
        if (source['digest'] === null || source['digest'] !== copy['digest'] || source['cells'] !== skyCells(options.cells)) return undefined;
        const serving = await net(saturnUrl, '/net/organs/mirror/serving/earth/sky');
        return mirrorQuiet(serving) ? { source, copy, at: performance.now() } : undefined;
      },
      `earth's /data/saturn/sky to reach the digest of saturn's /data/sky, every bundle acknowledged`,
      deadline,
    );
    // Read before the call is submitted: the call's beat is this one or later.
    const [addAtBeat, mirrorDone] = await Promise.all([
      getJson(`${earthUrl}/status`).then((s) => Number(s['beat'])),
      net(earthUrl, '/net/organs/mirror/requests/1/commit_beat'),
    ]);
    const add = await postJson(`${earthUrl}/invoke`, { peer: 'saturn', handler: 'add', arg: '41', timeout_beats: timeoutBeats() });
    if (add['status'] !== 'ok' || add['result'] !== '42') throw nodeError('DEMO_FAILED', `invoke add 41 gave ${JSON.stringify(add)}`);

    // The summary, read from both peers' trees.
    const [earthMounts, saturnMounts, telemetry, mirrorRequest] = await Promise.all([
      net(earthUrl, '/net/mounts/saturn'),
      net(saturnUrl, '/net/mounts/earth'),
      net(earthUrl, '/net/telemetry/saturn'),
      net(earthUrl, '/net/organs/mirror/requests/1'),
    ]);
    out('mounts (earth → saturn)\n');
    for (const [mode, mounts] of Object.entries(earthMounts as Json)) {
      for (const [mount, m] of Object.entries(mounts as Json)) {
        const s = m.serializer ?? {};
        const features = ['crc32c', 'deflate', 'aead'].filter((f) => s[`${f}_ok`] === true).join(' + ') || 'none';
        out(`  ${`${mode}/${mount}`.padEnd(14)} ${String(m.state).padEnd(7)} provider ${m.transport?.provider}   serializer ${features}\n`);
      }
    }
    const accepted = Object.entries(saturnMounts as Json).flatMap(([mode, mounts]) => Object.keys(mounts as Json).map((mount) => `${mode}/${mount}`));
    out(`  saturn accepted: ${accepted.join(', ')}\n\n`);
    out(`mirror  saturn:/data/sky → earth:/data/saturn/sky\n`);
    out(`  ${mirrored.source['cells']} cells, digest ${String(mirrored.source['digest']).slice(0, 16)}… equal on both peers\n`);
    out(`  bundles applied ${mirrorRequest.bundle_seq}, last commit at beat ${mirrorRequest.commit_beat}, resume token ${mirrorRequest.pend_resum}\n\n`);
    out(`invoke  earth → saturn\n`);
    out(`  sky ${options.cells}  → ${sky['result']} cells written  (${sky['beats']} beats, ${sky['ms']} ms)\n`);
    out(
      `  add 41    → ${add['result']}  (${add['beats']} beats, ${add['ms']} ms)  issued at earth beat ${addAtBeat}, after the mirror's last commit at beat ${mirrorDone}\n\n`,
    );
    out('telemetry (earth, per mount to saturn)\n');
    out('  mount      frames  ready  bp  fatal  last_event\n');
    for (const [mount, t] of Object.entries(telemetry as Json)) {
      out(
        `  ${mount.padEnd(10)} ${String(t.frame_count).padStart(6)} ${String(t.ready_count).padStart(6)} ${String(t.bp_count).padStart(3)} ${String(t.fatal_count).padStart(6)}  ${t.last_event}\n`,
      );
    }
    if (Object.values(telemetry as Json).some((t) => Number(t.fatal_count) > 0)) {
      out('  (a fatal is expected when earth dialled before saturn listened: the peers start together and earth redials)\n');
    }

    if (options.keep === true) {
      out(`\nconsole  earth   ${earthUrl}/ui/\n         saturn  ${saturnUrl}/ui/\n`);
      out(`both peers keep running (configs in ${dir}); Ctrl-C stops them\n`);
      const why = await Promise.race([
        (options.keepUntil ?? (() => untilSignal()))(),
        ...children.map((c) => c.exited.then((code) => `${c.name} exited (code ${code})`)),
      ]);
      out(`stopping: ${why}\n`);
    }

    for (const child of children) if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGTERM');
    const codes = await Promise.all(children.map((c) => c.exited));
    out(`\nstopped both peers with SIGTERM (exit codes ${codes.join(', ')}); demo took ${Math.round(performance.now() - started)} ms\n`);
    return codes.every((c) => c === 0) ? 0 : 1;
  } catch (error) {
    options.stderr(`cep-node demo failed: ${(error as Error).message}\n`);
    for (const child of children) options.stderr(`${child.tail()}\n${child.stderrText ? `  ${child.name} stderr: ${child.stderrText.slice(-2000)}\n` : ''}`);
    return 1;
  } finally {
    for (const child of children) if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The `timeout_beats` of a demo call with `remainingMs` of the demo left: as many beats as fit in
 * that time, never fewer than the peer's default 200 nor more than the endpoint accepts. Why: a
 * call's expiry is its beats × `beatMs`, and on a loaded machine beats run longer than `beatMs`,
 * so with 200 beats of 5 ms a call reaching saturn 0.75 s late was refused `INVOKE_EXPIRED`
 * although the demo would have waited. (The demo's own deadline still bounds the wait.)
 */
export function callTimeoutBeats(remainingMs: number, beatMs: number): number {
  return Math.min(MAX_INVOKE_TIMEOUT_BEATS, Math.max(200, Math.ceil(remainingMs / beatMs)));
}

/**
 * True when saturn's serving record of the mirror has every bundle it sealed acknowledged
 * (`acked` = `seq`, nothing in flight): earth has applied the last one and saturn knows it.
 */
export function mirrorQuiet(serving: Json | undefined): boolean {
  return serving !== undefined && serving !== null && serving['inflight'] === '0' && serving['acked'] === serving['seq'];
}

/** Cells of /data/sky once `sky n` is done: its values (n, rounded up to even: two per step), their groups of 100, the branch. */
function skyCells(n: number): number {
  const values = n + (n % 2);
  return values + Math.ceil(values / 100) + 1;
}
