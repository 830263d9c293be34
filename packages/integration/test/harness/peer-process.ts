/**
 * Runs real `cep-node` peers as operating-system processes for cross-process tests.
 *
 * Which binary: by default the BUILT one — `node <apps/node>/<bin cep-node>` (bin/cep-node.js,
 * which runs the bundle dist/cep-node.cjs through its V8 code cache and exits 1 saying how to
 * build when it is missing),
 * found through the `bin` field of `@cep/node-app`'s package.json. That is what ships, it
 * needs no TypeScript loader in the child (faster start, no tsx in the signal path), and
 * `tooling/run-tests.mjs` runs `turbo build` right before this project, so in CI it is
 * always current. Locally, either build first (`npx --yes pnpm@10.34.8 build`) or set
 * `CEP_NODE_BIN=source` to run `node --conditions=@cep/source --import tsx src/cli.ts`
 * from apps/node. A missing build is an error, never a silent switch to source.
 *
 * The child is `node` itself (no shell, no npx wrapper), so a signal sent to its pid
 * reaches the peer. Every child a harness spawns is SIGKILLed by `cleanup()` (call it in
 * afterEach: it runs even when the test failed) and, as a last resort, when the test
 * process exits; temp folders are removed by `cleanup()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** How a child ended. */
export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** One parsed JSON log line of a peer. */
export type LogLine = Record<string, unknown>;

/** `GET /net` answer. */
export interface NetAnswer {
  readonly path: string;
  readonly beat: number;
  readonly value: any;
}

/** A spawned `cep-node` process. */
export interface PeerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The config file it was started with. */
  readonly configFile: string;
  /** Parsed JSON log lines so far (stdout). */
  readonly logs: readonly LogLine[];
  stdout(): string;
  stderr(): string;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  /** True until the process has exited. */
  readonly running: boolean;
  /** The first log line matching `predicate`; rejects if the process exits first or after `timeoutMs`. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Waits for the exit; rejects after `timeoutMs` (the child is left for cleanup to kill). */
  waitForExit(timeoutMs?: number): Promise<ExitInfo>;
  /** Sends a signal (SIGTERM, SIGINT, ...). */
  signal(signal: NodeJS.Signals): void;
  /** kill -9 and wait for the exit. */
  kill9(): Promise<ExitInfo>;
  /** The last `n` log lines (compact: msg and fields) and the end of stderr, for failure messages. */
  tail(n?: number): string;
}

/** A peer whose HTTP endpoint answers. */
export interface RunningPeer extends PeerProcess {
  /** `http://127.0.0.1:<port>` as the peer logged it. */
  readonly url: string;
  /** `GET /net?path=…[&depth=…]` as JSON; rejects on a non-200 answer. */
  net(path?: string, depth?: number): Promise<NetAnswer>;
  /** `GET /status` as JSON. */
  status(): Promise<Record<string, any>>;
  /** `GET /digest?path=…`: the branch's deterministic digest (null when absent) and cell count. */
  digest(path: string): Promise<{ digest: string | null; cells: number; beat: number }>;
  /**
   * `POST /invoke`: runs handler `handler` on `peer` (with an optional u64 `arg`) and answers
   * with the outcome (`{ id, status, result?, note?, beats, ms }`); rejects on a non-200 answer.
   */
  invoke(peer: string, handler: string, arg?: bigint | number): Promise<Record<string, any>>;
}

/** Bounds (ms) of the waits; generous, since they only turn a hang into a failure with output. */
export const BOUNDS = { start: 20_000, log: 15_000, exit: 10_000 } as const;

const require = createRequire(import.meta.url);

/** The command that runs `cep-node`, built (default) or from source (`CEP_NODE_BIN=source`). */
export function cepNodeCommand(): { args: string[]; cwd: string; mode: 'dist' | 'source' } {
  const manifest = require.resolve('@cep/node-app/package.json');
  const appDir = dirname(manifest);
  if (process.env['CEP_NODE_BIN'] === 'source') {
    return { args: ['--conditions=@cep/source', '--import', 'tsx', join(appDir, 'src', 'cli.ts')], cwd: appDir, mode: 'source' };
  }
  const bin = (require(manifest) as { bin: Record<string, string> }).bin['cep-node'];
  if (bin === undefined) throw new Error(`${manifest} has no bin "cep-node"`);
  const file = join(appDir, bin);
  if (!existsSync(file)) {
    throw new Error(`${file} does not exist: build first (npx --yes pnpm@10.34.8 build) or set CEP_NODE_BIN=source to run cep-node from its TypeScript source`);
  }
  return { args: [file], cwd: appDir, mode: 'dist' };
}

/**
 * A TCP port the OS just handed out on 127.0.0.1 and that is free again: for configs that
 * must name a peer's address before that peer runs (two peers pointing at each other).
 */
export async function reservePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const live = new Set<ChildProcess>();
// Last resort if the test process ends without cleanup (a crash, a timeout kill of the worker).
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

function spawnProcess(configFile: string, extraArgs: readonly string[]): PeerProcess {
  const command = cepNodeCommand();
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  // The child runs exactly the chosen binary: no loader or condition inherited from the test runner.
  delete env['NODE_OPTIONS'];
  const child = spawn(process.execPath, [...command.args, 'run', '--config', configFile, '--log-format', 'json', ...extraArgs], {
    cwd: command.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  if (child.pid === undefined) throw new Error(`could not spawn ${process.execPath} ${command.args.join(' ')}`);
  live.add(child);
  let out = '';
  let err = '';
  let partial = '';
  const logs: LogLine[] = [];
  const listeners = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        // not a log line: kept in stdout()
      }
    }
    for (const l of [...listeners]) l();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  let running = true;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      live.delete(child);
      resolve({ code, signal });
    });
  });
  // 'exit' can come before the last stdout data: "ended" is the exit plus both streams drained.
  const closed = (s: NodeJS.ReadableStream) => new Promise<void>((resolve) => s.once('close', () => resolve()));
  const ended = Promise.all([exited, closed(child.stdout!), closed(child.stderr!)]).then(([info]) => info);
  const describe = () => `cep-node --config ${configFile} (pid ${child.pid})\n--- stdout:\n${out}--- stderr:\n${err}`;
  const tail = (n = 12): string => {
    const skip = new Set(['level', 'time', 'pid', 'hostname', 'msg']);
    const lines = logs.slice(-n).map((l) => `  ${String(l['msg'])} ${JSON.stringify(Object.fromEntries(Object.entries(l).filter(([k]) => !skip.has(k))))}`);
    return `cep-node --config ${configFile} (pid ${child.pid}, ${running ? 'running' : 'exited'}), last ${lines.length} log lines:\n${lines.join('\n')}${err === '' ? '' : `\n  stderr: ${err.slice(-1500)}`}`;
  };

  const waitForLog = (predicate: (line: LogLine) => boolean, timeoutMs: number = BOUNDS.log): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        listeners.delete(check);
        fn();
      };
      const check = () => {
        const found = logs.find(predicate);
        if (found !== undefined) settle(() => resolve(found));
      };
      const timer = setTimeout(() => settle(() => reject(new Error(`no matching log line within ${timeoutMs} ms from ${describe()}`))), timeoutMs);
      listeners.add(check);
      check();
      void ended.then((info) => {
        check();
        settle(() => reject(new Error(`exited (${JSON.stringify(info)}) before the log line; ${describe()}`)));
      });
    });

  const waitForExit = (timeoutMs: number = BOUNDS.exit): Promise<ExitInfo> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`still running after ${timeoutMs} ms: ${describe()}`)), timeoutMs);
      void ended.then((info) => {
        clearTimeout(timer);
        resolve(info);
      });
    });

  return {
    child,
    pid: child.pid,
    configFile,
    logs,
    stdout: () => out,
    stderr: () => err,
    exited,
    get running() {
      return running;
    },
    waitForLog,
    waitForExit,
    signal(signal) {
      child.kill(signal);
    },
    async kill9() {
      if (running) child.kill('SIGKILL');
      return ended;
    },
    tail,
  };
}

async function getJson(url: string, init: RequestInit = {}): Promise<any> {
  const res = await fetch(url, { signal: AbortSignal.timeout(BOUNDS.log), ...init });
  const body = await res.text();
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${url} answered ${res.status}: ${body}`);
  return JSON.parse(body);
}

/** Spawns peers and cleans all of them up. One per test file; call `cleanup` in afterEach. */
export interface PeerHarness {
  /** A temp folder for configs, created on first use and removed by cleanup. */
  readonly dir: string;
  /** Writes `doc` as JSON to `<dir>/<name>` (a string is written as is) and returns the path. */
  writeConfig(name: string, doc: unknown): string;
  /** Spawns `cep-node run --config <file>` without waiting for anything. */
  spawn(configFile: string, extraArgs?: readonly string[]): PeerProcess;
  /** Spawns it and resolves once its HTTP endpoint answers `/status` (the config must enable `http`). */
  start(configFile: string, extraArgs?: readonly string[]): Promise<RunningPeer>;
  /** Every process spawned so far. */
  readonly spawned: readonly PeerProcess[];
  /** SIGKILLs every child still running, waits for their exits, removes the temp folder. */
  cleanup(): Promise<void>;
  /** `tail(n)` of every process spawned so far: what a failed or hung test shows. */
  tails(n?: number): string;
}

/** Options of {@link createPeerHarness}. */
export interface PeerHarnessOptions {
  /**
   * Run peers with their store (`data_dir`, by default `<peer>.data` beside the config in the
   * harness folder). Default false: every peer gets `--ephemeral`, the in-memory peer the other
   * tests were written for (a restart comes back empty).
   */
  readonly durable?: boolean;
}

/** Creates a harness with a fresh temp folder. */
export function createPeerHarness(options: PeerHarnessOptions = {}): PeerHarness {
  const modeArgs: readonly string[] = options.durable === true ? [] : ['--ephemeral'];
  let dir: string | undefined;
  const ensureDir = (): string => (dir ??= mkdtempSync(join(tmpdir(), 'cep-integration-')));
  const spawned: PeerProcess[] = [];

  const harness: PeerHarness = {
    get dir() {
      return ensureDir();
    },
    writeConfig(name, doc) {
      const file = join(ensureDir(), name);
      writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc, null, 2));
      return file;
    },
    spawn(configFile, extraArgs = []) {
      const peer = spawnProcess(configFile, [...modeArgs, ...extraArgs]);
      spawned.push(peer);
      return peer;
    },
    async start(configFile, extraArgs = []) {
      const peer = harness.spawn(configFile, extraArgs);
      const listening = await peer.waitForLog((l) => l['msg'] === 'http endpoint listening', BOUNDS.start);
      const url = String(listening['url']);
      await peer.waitForLog((l) => l['msg'] === 'peer started', BOUNDS.start);
      // The endpoint answers (not only "is bound"): the peer is ready for the test.
      await getJson(`${url}/status`);
      return {
        ...peer,
        get running() {
          return peer.running;
        },
        url,
        net: (path = '/net', depth) => getJson(`${url}/net?path=${encodeURIComponent(path)}${depth === undefined ? '' : `&depth=${depth}`}`),
        status: () => getJson(`${url}/status`),
        digest: (path) => getJson(`${url}/digest?path=${encodeURIComponent(path)}`),
        invoke: (peerName, handler, arg) =>
          getJson(`${url}/invoke`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ peer: peerName, handler, ...(arg === undefined ? {} : { arg: String(arg) }) }),
          }),
      };
    },
    get spawned() {
      return spawned;
    },
    tails(n = 12) {
      return spawned.map((p) => p.tail(n)).join('\n');
    },
    async cleanup() {
      const all = spawned.splice(0);
      await Promise.all(all.map((p) => p.kill9()));
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    },
  };
  return harness;
}
