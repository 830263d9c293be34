/**
 * A running peer: a `@cep/heartbeat` runtime, wiring (transport, organs), HTTP
 * endpoint and the beat driver that steps the runtime, started all-or-nothing and
 * stopped in the reverse order.
 */
import type { Logger } from 'pino';
import type { Tree } from '@cep/cells';
import { isCepError } from '@cep/errors';
import { nodeError } from './errors.ts';
import { createBeatDriver, type BeatDriver, type BeatDriverStats } from './beat-driver.ts';
import type { PeerConfig } from './config/schema.ts';
import type { LoadedHandler } from './handlers.ts';
import { createRuntime, type Runtime } from '@cep/heartbeat';
import { pruneUsage } from '@cep/security';
import { logCeiFacts } from './cei-log.ts';
import { startHttpServer } from './http.ts';
import { valueToJson } from './tree-json.ts';
import { performance } from 'node:perf_hooks';
import { createPeerMetrics, type PeerMetrics } from './metrics.ts';
import { createShutdownHooks, drainCalls, type ShutdownHook } from './shutdown.ts';
import type { PeerContext } from './wiring/context.ts';
import { createSendGate, type SendGate } from './wiring/held-sends.ts';
import { openPeerStore, type PeerStore } from './wiring/store.ts';
import type { Store } from '@cep/store';
import { wireOrgans, type OrgansHandle } from './wiring/organs.ts';
import { wireSecurity, type SecurityHandle } from './wiring/security.ts';
import { wireTransport, type TransportHandle } from './wiring/transport.ts';
import { youngGc } from './young-gc.ts';

/** Beats of inbound log a running peer keeps (for replaying a recent window when debugging). */
export const INBOUND_LOG_BEATS = 1024;

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || host.startsWith('127.');
}

/** Options of {@link startPeer}. */
export interface StartPeerOptions {
  readonly config: PeerConfig;
  readonly log: Logger;
  /** Handler modules, loaded beforehand with `loadHandlers`. */
  readonly handlers?: readonly LoadedHandler[];
  /** A `@cep/heartbeat` runtime to drive instead of a new `createRuntime()` (tests). */
  readonly runtime?: Runtime;
  /** Monotonic ms clock for the beat driver (tests). */
  readonly clock?: () => number;
  /** Do not start the beat timer (tests step the runtime by hand). */
  readonly manualBeats?: boolean;
  /**
   * The store directory (the config's `data_dir`): locked for this process, the tree restored
   * from it before anything else starts, every beat journaled, sends held until their beat is
   * durable. Absent: the tree lives in memory only (`cep-node run --ephemeral`). Not with `runtime`.
   */
  readonly dataDir?: string;
}

/** Why and how a peer stopped. */
export interface StopResult {
  readonly reason: string;
  /** 0 after a clean stop, 1 after a failed beat. */
  readonly exitCode: number;
  readonly beats: number;
}

/** A started peer. */
export interface Peer {
  readonly name: string;
  readonly config: PeerConfig;
  /** The peer's `@cep/heartbeat` runtime: the beat driver steps it; `/net` and `inspect` read its tree. */
  readonly runtime: Runtime;
  readonly tree: Tree;
  readonly metrics: PeerMetrics;
  /** `http://127.0.0.1:port`, or undefined when `http: false`. */
  readonly httpUrl: string | undefined;
  readonly transport: TransportHandle;
  readonly organs: OrgansHandle;
  /** The policy declared under `/sys/security` and the pipelines approved at start. */
  readonly security: SecurityHandle;
  readonly driverStats: BeatDriverStats;
  /** The store the tree is kept in (undefined: in memory only). */
  readonly store: Store | undefined;
  /** Registers a hook run at shutdown after the last beat (newest first). */
  onShutdown(name: string, hook: ShutdownHook): () => void;
  /**
   * Stops gracefully: takes no new calls (HTTP `POST /invoke` answers 503 `SHUTTING_DOWN`, calls
   * from peers are refused with `INVOKE_SHUTTING_DOWN`), keeps beating until the calls in flight
   * are answered — at most `drain_beats` beats, then the ones still waiting are given up — and
   * then finishes the beat in progress, runs the shutdown hooks (channels close after their
   * frames are flushed) and closes the endpoint. Idempotent.
   */
  stop(reason: string): Promise<StopResult>;
  /** Settles when the peer has stopped, for whatever reason. */
  readonly stopped: Promise<StopResult>;
}

/**
 * Starts a peer from a validated config. If any part fails to start, the parts
 * already started are stopped again and the error is rethrown: never half a peer.
 */
export async function startPeer(options: StartPeerOptions): Promise<Peer> {
  const { config } = options;
  const log = options.log;
  const handlers = options.handlers ?? [];
  if (options.dataDir !== undefined && options.runtime !== undefined) {
    throw nodeError('START_FAILED', 'startPeer: give dataDir or runtime, not both (a durable peer creates its runtime on the restored tree)');
  }
  // The store first: the tree is restored before any organ or provider sees it, and a second
  // process on the same data_dir is refused before it binds a port.
  const peerStore: PeerStore | undefined = options.dataDir === undefined ? undefined : openPeerStore(options.dataDir, config.store, log);
  const runtime =
    options.runtime ??
    createRuntime({
      inboundLogBytes: config.limits.inbound_log_bytes,
      opsHistoryRetain: config.limits.ops_history,
      ...(peerStore !== undefined ? { tree: peerStore.store.tree } : {}),
    });
  const hooks = createShutdownHooks(log);
  let driver: BeatDriver | undefined;
  let stopping: Promise<StopResult> | undefined;
  let draining = false;
  /** Ends a drain early (the driver failed): no beat will come to end it. */
  let endDrain: (() => void) | undefined;
  let resolveStopped!: (result: StopResult) => void;
  const stopped = new Promise<StopResult>((resolve) => {
    resolveStopped = resolve;
  });

  const stop = (reason: string, exitCode = 0): Promise<StopResult> => {
    stopping ??= (async () => {
      draining = true;
      if (organs !== undefined && exitCode === 0) {
        log.info({ reason, beat: runtime.beat, drainBeats: config.drain_beats }, 'peer stopping: taking no new calls, answering those in flight');
        const drain = drainCalls({ runtime, invoke: organs.invoke, beats: config.drain_beats, beating: driver?.running === true, log });
        endDrain = drain.end;
        await drain.done;
      }
      log.info({ reason, beat: runtime.beat }, 'peer stopping: finishing the current beat');
      await driver?.stop();
      await hooks.run();
      await closeHttp?.();
      const result = { reason, exitCode, beats: driver?.stats.beats ?? 0 };
      log.info({ reason, beats: result.beats, lastBeat: runtime.beat - 1 }, 'peer stopped');
      resolveStopped(result);
      return result;
    })();
    return stopping;
  };

  let gate: SendGate | undefined;
  const ctx: PeerContext = {
    config,
    runtime,
    log,
    handlers,
    onShutdown: (name, hook) => void hooks.add(name, hook),
    wrapProvider: (provider) => gate?.wrap(provider) ?? provider,
  };

  let metrics: PeerMetrics;
  let transport: TransportHandle;
  let organs: OrgansHandle | undefined;
  let security: SecurityHandle;
  let httpUrl: string | undefined;
  let closeHttp: (() => Promise<void>) | undefined;
  try {
    // Registered first, so it runs last at shutdown: facts the organs and the transport
    // raise while closing still reach the log.
    hooks.add('cei log', logCeiFacts(runtime, log));
    if (peerStore !== undefined) {
      // Runs after every other hook but the log: the organs' and the transport's last writes are in.
      hooks.add('store', () => peerStore.close());
      peerStore.attach(runtime, () => void stop('store failed', 1));
      const sendGate = createSendGate({ beatOfSend: () => runtime.beat, durableBeat: () => peerStore.store.durableBeat });
      gate = sendGate;
      // After the store's own listener: by now the beat is synced (durability: beat) or not yet (a group).
      runtime.onCommitted(() => sendGate.release());
    }
    // `/net` always exists, so `inspect /net` on a peer with nothing linked yet shows `{}`, not a 404.
    runtime.tree.ensureDictionary('/net');
    // The inbound log (every admitted frame and provider event) is what a replay needs; a
    // long-running peer keeps the last INBOUND_LOG_BEATS beats of it, not all of history.
    runtime.onCommit((beat) => {
      if (beat % 256 === 0 && beat > INBOUND_LOG_BEATS) {
        runtime.clearInboundLog(beat - INBOUND_LOG_BEATS);
        // Per-invoke security usage records whose invokes are long over (a beat-stamped decision, so it replays).
        pruneUsage(runtime.tree, beat - INBOUND_LOG_BEATS);
        // OPS dossiers (one per invoke and mirror episode) closed that long ago.
        runtime.ops.prune(beat - INBOUND_LOG_BEATS);
      }
    });
    // The policy is in the tree before the organs' first check reads it.
    security = wireSecurity(ctx);
    transport = await wireTransport(ctx);
    // The metrics are made below; the observers read them when an invoke ends or a bundle applies.
    organs = await wireOrgans(ctx, transport.manager, {
      onInvokeEnded: (call) => metrics?.observeInvoke(call),
      onBundleApplied: (bundle) => metrics?.observeBundleApply(bundle),
    });
    if (peerStore !== undefined && gate !== undefined) {
      const sendGate = gate;
      // First at shutdown: what the last beats sent leaves before the channels close (a group's tail).
      hooks.add('store flush', () => {
        peerStore.store.flush();
        sendGate.release();
      });
    }
    const driverStats = (): BeatDriverStats => driver?.stats ?? { beats: 0, overruns: 0, missedSlots: 0, worstStepMs: 0, earlyBeats: 0 };
    metrics = createPeerMetrics({
      node: config.peer,
      tree: runtime.tree,
      beat: () => runtime.beat,
      driver: driverStats,
      inboundLog: () => runtime.inboundLogStats,
      cei: runtime.cei,
    });
    hooks.add('metrics', () => metrics.close());
    if (config.http !== false) {
      const endpoint = await startHttpServer({
        host: config.http.host,
        port: config.http.port,
        hosts: config.http.hosts,
        ...(config.http.token !== undefined ? { token: config.http.token } : {}),
        tree: runtime.tree,
        beat: () => runtime.beat,
        metrics,
        log,
        draining: () => draining,
        invoke: async (peer, handler, arg, pipeline, timeoutBeats) => {
          const started = { beat: runtime.beat, at: performance.now() };
          const outcome = await organs!.call(peer, handler, arg, {
            ...(pipeline !== undefined ? { pipeline } : {}),
            ...(timeoutBeats !== undefined ? { timeoutBeats } : {}),
          });
          return {
            id: outcome.id,
            status: outcome.status,
            ...(outcome.result !== undefined ? { result: valueToJson(outcome.result) } : {}),
            ...(outcome.note !== undefined ? { note: outcome.note } : {}),
            ...(outcome.code !== undefined ? { code: outcome.code } : {}),
            beats: outcome.beat - started.beat,
            ms: Math.round((performance.now() - started.at) * 10) / 10,
          };
        },
        commitMirror: (name) => organs!.commitMirror(name),
        console: { peer: config.peer, enclave: config.enclave },
        status: () => ({
          peer: config.peer,
          enclave: config.enclave,
          beat: runtime.beat,
          beatMs: config.beat_ms,
          driver: driverStats(),
          transportWired: transport.wired,
          organsWired: organs?.wired === true,
          stopping: stopping !== undefined,
        }),
      });
      httpUrl = endpoint.url;
      // Closed after every hook, not as one: the endpoint answers until the very end.
      closeHttp = () => endpoint.close();
      log.info({ url: httpUrl }, 'http endpoint listening');
      if (!isLoopback(config.http.host)) {
        log.warn(
          { host: config.http.host },
          'http endpoint is not on loopback: anyone who can reach it and holds http.token reads the whole tree and can invoke handlers',
        );
      }
    }
  } catch (error) {
    log.error({ err: error }, 'peer failed to start; stopping what had started');
    await hooks.run();
    peerStore?.close(); // idempotent: normally its hook has closed it already
    await closeHttp?.();
    if (isCepError(error)) throw error;
    throw nodeError('START_FAILED', `peer failed to start: ${error instanceof Error ? error.message : String(error)}`, {}, error);
  }

  // Small minor GCs between beats instead of long ones inside them (see young-gc.ts).
  const afterStep = config.young_gc_kib > 0 ? youngGc(config.young_gc_kib * 1024) : undefined;
  driver = createBeatDriver({
    runtime,
    periodMs: config.beat_ms,
    log,
    ...(options.clock ? { clock: options.clock } : {}),
    onStep: (stepMs) => metrics?.observeBeat(stepMs),
    // The wall time each beat starts at, recorded as an input: call expiries are decided on it.
    beforeStep: () => organs?.invoke.clock(Date.now()),
    ...(afterStep === undefined ? {} : { afterStep }),
    onFatal: () => {
      endDrain?.();
      void stop('beat failed', 1);
    },
  });
  if (!options.manualBeats) {
    driver.start();
    // An arriving frame or submission starts a beat when none runs, instead of waiting up to
    // beat_ms for the next slot (bounded by the driver: one early beat per slot). Arrival is a
    // recorded input already, so which beat admits it is in the inbound log: a replay decides the same.
    if (config.early_beats) {
      const beating = driver;
      hooks.add(
        'early beats',
        runtime.onInput(() => beating.wake()),
      );
    }
  }
  log.info(
    {
      enclave: config.enclave,
      security: security.declared ? 'declared' : 'none',
      beatMs: config.beat_ms,
      http: httpUrl,
      providers: Object.keys(config.listen),
      store: peerStore?.dir ?? 'ephemeral',
    },
    'peer started',
  );

  return {
    name: config.peer,
    config,
    runtime,
    tree: runtime.tree,
    metrics,
    httpUrl,
    transport,
    organs: organs!,
    security,
    driverStats: driver.stats,
    store: peerStore?.store,
    onShutdown: (name, hook) => hooks.add(name, hook),
    stop: (reason) => stop(reason),
    stopped,
  };
}
