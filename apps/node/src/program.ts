/**
 * The command line (commander): `run`, `inspect`, `demo`, with `--help` on every
 * command and `--version`. Everything the process touches (output, signals, exit,
 * the log destination) comes in through {@link CliDeps}, so tests run it in-process.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { isCepError } from '@cep/errors';
import type { DestinationStream } from 'pino';
import { loadConfig } from './config/load.ts';
import { LOG_LEVELS } from './config/schema.ts';
import { runDemo, untilSignal } from './demo.ts';
import { EXIT_CODES, exitCodeFor } from './errors.ts';
import { loadHandlers } from './handlers.ts';
import { inspectPeer, type InspectQuery } from './inspect.ts';
import { createLogger, type LogFormat } from './log.ts';
import { startPeer, type Peer } from './peer.ts';

/** Signal source: `process` in the binary, an EventEmitter in tests. */
export interface SignalSource {
  on(signal: 'SIGINT' | 'SIGTERM', listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: 'SIGINT' | 'SIGTERM', listener: (signal: NodeJS.Signals) => void): unknown;
}

/** What the CLI needs from the process. */
export interface CliDeps {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signals: SignalSource;
  /** Ends the process at once (second signal). */
  readonly forceExit: (code: number) => void;
  /** Log destination (stdout by default) and whether it is a terminal. */
  readonly logDestination?: DestinationStream;
  readonly isTTY?: boolean;
  /** Called with the peer once it runs (tests). */
  readonly onPeer?: (peer: Peer) => void;
}

/** The version in package.json (read at run time so src and dist agree). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** The default `--url` of `inspect`. */
export const DEFAULT_INSPECT_URL = 'http://127.0.0.1:9464';

function reportError(deps: CliDeps, command: string, error: unknown): number {
  if (isCepError(error)) {
    deps.stderr(`cep-node ${command}: ${error.code}\n${error.message}\n`);
    return exitCodeFor(error.code);
  }
  deps.stderr(`cep-node ${command}: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return EXIT_CODES.internal;
}

function parseWhole(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number');
  return n;
}

/** Builds the program; `setExitCode` receives each command's exit code. */
export function createProgram(deps: CliDeps, setExitCode: (code: number) => void): Command {
  const program = new Command('cep-node')
    .description(
      'A CEP federation peer: runs a heartbeat runtime from a config file, links, mirrors and invokes other peers, and serves its cell tree over HTTP.',
    )
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: deps.stdout, writeErr: deps.stderr });

  program
    .command('run')
    .description('start a peer from a config file and run it until SIGINT/SIGTERM')
    .requiredOption('-c, --config <file>', 'peer config, YAML (.yaml/.yml) or JSON (.json)')
    .addOption(new Option('-l, --log-level <level>', 'log level (overrides log_level in the config)').choices([...LOG_LEVELS]))
    .addOption(new Option('--log-format <format>', 'log line format: pretty on a terminal, JSON otherwise').choices(['auto', 'json', 'pretty']).default('auto'))
    .option('--ephemeral', 'keep the tree in memory only: no data_dir, nothing survives a restart')
    .addHelpText(
      'after',
      '\nExit codes: 0 clean stop, 3 bad config, 4 failed to start, 6 data_dir in use by another process, 1 beat or store failure, 130 forced by a second signal.',
    )
    .action(async (opts: { config: string; logLevel?: string; logFormat: LogFormat; ephemeral?: boolean }) => {
      setExitCode(await runCommand(deps, opts));
    });

  program
    .command('inspect')
    .description("print a running peer's cell tree branch as JSON (or its metrics / status)")
    .argument('[path]', 'cell path to show', '/net')
    .option('-u, --url <url>', `the peer's HTTP endpoint (default: $CEP_NODE_URL or ${DEFAULT_INSPECT_URL})`)
    .option('-c, --config <file>', "take the endpoint and token from this peer config's http section")
    .option('-d, --depth <n>', 'levels below the path to show', parseWhole)
    .option('--metrics', 'print the Prometheus metrics instead')
    .option('--status', "print the peer's status instead")
    .action(async (path: string, opts: { url?: string; config?: string; depth?: number; metrics?: boolean; status?: boolean }) => {
      setExitCode(await inspectCommand(deps, path, opts));
    });

  program
    .command('demo')
    .description(
      'start two peers (earth and saturn) as separate processes on loopback, link them over TCP, mirror a branch, run remote invokes, print what happened',
    )
    .option('--cells <n>', 'cells in the mirrored branch', parseWhole, 3000)
    .option('--beat-ms <ms>', 'beat period of both peers', parseWhole, 5)
    .option('--timeout <ms>', 'give up after this long', parseWhole, 60_000)
    .option('--keep', 'keep both peers running afterwards and print their web console URLs; Ctrl-C stops them')
    .addHelpText('after', "\nExit codes: 0 when every step worked, 1 otherwise (with the peers' last log lines).")
    .action(async (opts: { cells: number; beatMs: number; timeout: number; keep?: boolean }) => {
      setExitCode(
        await runDemo({
          cells: Math.max(2, opts.cells),
          beatMs: Math.max(1, opts.beatMs),
          timeoutMs: opts.timeout,
          keep: opts.keep === true,
          keepUntil: () => untilSignal(deps.signals),
          stdout: deps.stdout,
          stderr: deps.stderr,
        }),
      );
    });

  return program;
}

async function runCommand(deps: CliDeps, opts: { config: string; logLevel?: string; logFormat: LogFormat; ephemeral?: boolean }): Promise<number> {
  let config: ReturnType<typeof loadConfig>;
  let handlers: Awaited<ReturnType<typeof loadHandlers>>;
  try {
    config = loadConfig(opts.config);
    handlers = await loadHandlers(config, opts.config);
  } catch (error) {
    return reportError(deps, 'run', error);
  }
  const log = createLogger({
    level: opts.logLevel ?? config.log_level,
    format: opts.logFormat,
    base: { peer: config.peer },
    ...(deps.logDestination ? { destination: deps.logDestination } : {}),
    ...(deps.isTTY !== undefined ? { isTTY: deps.isTTY } : {}),
  });
  // Signal handlers go in before anything starts: until a handler exists, SIGTERM's
  // default action kills the process at once, skipping the shutdown of whatever had
  // started (a supervisor may well signal a peer that is still binding its ports).
  let peer: Peer | undefined;
  let stopReason: string | undefined;
  let signalled = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signalled += 1;
    if (signalled === 1) {
      log.info({ signal }, 'signal received: shutting down (send it again to force)');
      stopReason = `signal ${signal}`;
      // During start: the peer stops as soon as it has started (never half a peer).
      if (peer !== undefined) void peer.stop(stopReason);
    } else {
      log.warn({ signal }, 'second signal: forcing exit without finishing shutdown');
      log.flush();
      deps.forceExit(EXIT_CODES.forced);
    }
  };
  deps.signals.on('SIGINT', onSignal);
  deps.signals.on('SIGTERM', onSignal);
  const removeHandlers = (): void => {
    deps.signals.off('SIGINT', onSignal);
    deps.signals.off('SIGTERM', onSignal);
  };
  try {
    peer = await startPeer({ config, log, handlers, ...(opts.ephemeral === true ? {} : { dataDir: config.data_dir }) });
  } catch (error) {
    removeHandlers();
    log.flush();
    // Whatever failed while starting (a provider's LISTEN_FAILED, an organ's own code) is a
    // failure to start: exit 4, as `run --help` promises.
    const code = reportError(deps, 'run', error);
    return code === EXIT_CODES.internal ? EXIT_CODES.start : code;
  }
  if (stopReason !== undefined) void peer.stop(stopReason);
  deps.onPeer?.(peer);
  const result = await peer.stopped;
  removeHandlers();
  log.flush();
  return result.exitCode;
}

async function inspectCommand(
  deps: CliDeps,
  path: string,
  opts: { url?: string; config?: string; depth?: number; metrics?: boolean; status?: boolean },
): Promise<number> {
  try {
    let base = opts.url ?? deps.env['CEP_NODE_URL'] ?? DEFAULT_INSPECT_URL;
    // The endpoint's bearer token: $CEP_NODE_TOKEN, else the config's http.token.
    let token = deps.env['CEP_NODE_TOKEN'];
    if (opts.url === undefined && opts.config !== undefined) {
      const config = loadConfig(opts.config);
      if (config.http === false) {
        deps.stderr(`cep-node inspect: ${opts.config}: http: the peer has no HTTP endpoint (http: false)\n`);
        return EXIT_CODES.config;
      }
      const host = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
      base = `http://${host}:${config.http.port}`;
      token ??= config.http.token;
    }
    const query: InspectQuery = opts.metrics
      ? { kind: 'metrics' }
      : opts.status
        ? { kind: 'status' }
        : { kind: 'net', path, ...(opts.depth !== undefined ? { depth: opts.depth } : {}) };
    const body = await inspectPeer(base, query, undefined, token);
    deps.stdout(query.kind === 'metrics' ? body : JSON.stringify(JSON.parse(body), null, 2) + '\n');
    return EXIT_CODES.ok;
  } catch (error) {
    return reportError(deps, 'inspect', error);
  }
}

/** Parses `argv` (as `process.argv`) and runs the command; resolves to the exit code. */
export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  let code: number = EXIT_CODES.ok;
  const program = createProgram(deps, (c) => {
    code = c;
  });
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) {
      // help and version exit 0; usage errors (unknown option, missing argument) exit 2.
      return error.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage;
    }
    return reportError(deps, 'run', error);
  }
  return code;
}
