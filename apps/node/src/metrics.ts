/**
 * Prometheus metrics of one peer, with prom-client.
 *
 * Each peer gets its own `Registry` (never prom-client's global one), so two peers
 * in one process — as in tests — never mix their series. Values are read from the
 * tree at scrape time (`collect`), so the telemetry cells stay the only source of
 * truth and nothing is copied on every beat.
 */
import { formatName, type Tree, type Value } from '@cep/cells';
import type { InboundLogStats } from '@cep/heartbeat';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BeatDriverStats } from './beat-driver.ts';

/**
 * Mount telemetry fields (`/net/telemetry/<peer>/<mount>/<field>`) and the counter each is
 * published as, named by the Prometheus convention (`_total` for counters).
 */
export const TELEMETRY_COUNTERS = {
  ready_count: 'cep_mount_ready_total',
  bp_count: 'cep_mount_backpressure_total',
  fatal_count: 'cep_mount_fatal_total',
  frame_count: 'cep_mount_frames_total',
  plain_refused: 'cep_mount_plain_refused_total',
} as const;
/** Mount telemetry fields published as gauges. */
export const TELEMETRY_GAUGES = { bp_flag: 'cep_mount_backpressured' } as const;

/** Seconds buckets of the beat-duration histogram: a beat is meant to take well under its period. */
const BEAT_SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * Beats buckets of the invoke round trip: a call answered at the next beat takes 1 or 2; the
 * default reply wait is 200 beats, so the last finite bucket is past it.
 */
const INVOKE_BEATS_BUCKETS = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128, 256];
/** Seconds buckets of the invoke round trip: a few beats of 10 ms up to a long wait. */
const INVOKE_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Cells buckets of an applied mirror bundle: one changed value up to a whole large branch. */
const BUNDLE_CELLS_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576];
/** Seconds buckets of one bundle's apply at the commit: a few cells up to a whole large branch. */
const BUNDLE_SECONDS_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** One invoke this peer made and that ended, as {@link PeerMetrics.observeInvoke} takes it. */
export interface InvokeObservation {
  /** The peer called. */
  readonly peer: string;
  /** How it ended: `ok`, `reject`, `timeout` or `cancelled`. */
  readonly status: string;
  /** Beats from the submit to the recorded outcome. */
  readonly beats: number;
  /** Wall seconds from the submit to the outcome reaching the caller (observation only: nothing decides on it). */
  readonly seconds: number;
}

/** One mirror bundle this peer applied, as {@link PeerMetrics.observeBundleApply} takes it. */
export interface BundleApplyObservation {
  /** The mirror request it was applied for (its id under `/net/organs/mirror/requests/`). */
  readonly request: string;
  /** Cells the bundle wrote, changed or removed. */
  readonly cells: number;
  /** Wall seconds the apply took at the commit, when measured (observation only). */
  readonly seconds?: number | undefined;
}

/** A peer's metrics. */
export interface PeerMetrics {
  readonly registry: Registry;
  /** The Prometheus text exposition. */
  text(): Promise<string>;
  readonly contentType: string;
  /** Records one beat's `step()` duration (the beat driver calls it). */
  observeBeat(stepMs: number): void;
  /** Records the round trip of one invoke this peer made (the organ wiring calls it when the outcome arrives). */
  observeInvoke(call: InvokeObservation): void;
  /** Records one mirror bundle this peer applied (the mirror organ's `onApply`). */
  observeBundleApply(bundle: BundleApplyObservation): void;
  /** Stops listening to the runtime's CEI facts. */
  close(): void;
}

/** A CEI fact as the metrics need it. */
interface FactLike {
  readonly topic: string;
  readonly severity: string;
  readonly note: string;
  readonly origin: string;
}

function toNumber(value: Value | undefined): number | undefined {
  if (value === undefined) return undefined;
  switch (value.type) {
    case 'u64':
    case 'i64':
      return Number(value.value);
    case 'bool':
      return value.value ? 1 : 0;
    default:
      return undefined;
  }
}

/** One sample per `/net/telemetry/<peer>/<mount>/<field>` that holds a number or a boolean. */
function telemetrySamples(tree: Tree, field: string): { peer: string; mount: string; value: number }[] {
  const out: { peer: string; mount: string; value: number }[] = [];
  const root = tree.get('/net/telemetry');
  if (root === undefined || root.kind !== 'dictionary') return out;
  for (const peer of root.children()) {
    if (peer.isDeleted || peer.kind !== 'dictionary') continue;
    for (const mount of peer.children()) {
      if (mount.isDeleted || mount.kind !== 'dictionary') continue;
      const cell = mount.child(field);
      if (cell === undefined || cell.isDeleted) continue;
      const value = toNumber(cell.value);
      if (value !== undefined) out.push({ peer: formatName(peer.name), mount: formatName(mount.name), value });
    }
  }
  return out;
}

/** Options of {@link createPeerMetrics}. */
export interface PeerMetricsOptions {
  /** This peer's name (label `node` on every series). */
  readonly node: string;
  readonly tree: Tree;
  /** The current beat. */
  readonly beat: () => number;
  /** The beat driver's counters, when one runs. */
  readonly driver?: () => BeatDriverStats;
  /** The runtime's inbound log size and the entries its byte cap dropped, when given. */
  readonly inboundLog?: () => InboundLogStats;
  /** The runtime's CEI facts, counted by topic and severity, and authentication failures. */
  readonly cei?: { onFact(listener: (fact: FactLike) => void): () => void };
  /** Node's default process metrics (CPU, memory, event loop lag, GC); on unless false. */
  readonly processMetrics?: boolean;
}

/** An authentication failure, as the transport words it in `tp_fatal` (mount or listener). */
function isAuthFailure(fact: FactLike): boolean {
  return fact.topic === 'tp_fatal' && fact.note.includes('(AUTH_FAILED)');
}

/** One sample per `/net/listeners/<provider>/rejected`. */
function listenerRefusals(tree: Tree): { provider: string; value: number }[] {
  const out: { provider: string; value: number }[] = [];
  const root = tree.get('/net/listeners');
  if (root === undefined || root.kind !== 'dictionary') return out;
  for (const provider of root.children()) {
    if (provider.isDeleted || provider.kind !== 'dictionary') continue;
    const value = toNumber(provider.child('rejected')?.value);
    if (value !== undefined) out.push({ provider: formatName(provider.name), value });
  }
  return out;
}

/** Creates the peer's registry and its metrics. */
export function createPeerMetrics(options: PeerMetricsOptions): PeerMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node: options.node });
  const registers = [registry];
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'cep_' });
  for (const [field, metric] of Object.entries(TELEMETRY_COUNTERS)) {
    new Counter({
      name: metric,
      help: `Mount telemetry ${field} of each mount (/net/telemetry/<peer>/<mount>/${field}).`,
      labelNames: ['peer', 'mount'],
      registers,
      collect() {
        this.reset();
        for (const s of telemetrySamples(options.tree, field)) this.inc({ peer: s.peer, mount: s.mount }, s.value);
      },
    });
  }
  for (const [field, metric] of Object.entries(TELEMETRY_GAUGES)) {
    new Gauge({
      name: metric,
      help: `Mount telemetry ${field} of each mount (1 = set).`,
      labelNames: ['peer', 'mount'],
      registers,
      collect() {
        this.reset();
        for (const s of telemetrySamples(options.tree, field)) this.set({ peer: s.peer, mount: s.mount }, s.value);
      },
    });
  }
  new Counter({
    name: 'cep_listener_refusals_total',
    help: 'Inbound connections a listener refused (garbage, wrong key, unknown peer, limits), per provider (/net/listeners/<provider>/rejected).',
    labelNames: ['provider'],
    registers,
    collect() {
      this.reset();
      for (const s of listenerRefusals(options.tree)) this.inc({ provider: s.provider }, s.value);
    },
  });
  const beatSeconds = new Histogram({
    name: 'cep_beat_duration_seconds',
    help: 'Wall time of each beat (the runtime step: inputs, organs, commit).',
    buckets: BEAT_SECONDS_BUCKETS,
    registers,
  });
  const invokeBeats = new Histogram({
    name: 'cep_invoke_round_trip_beats',
    help: 'Beats from submitting an invoke to its recorded outcome, on the caller, by called peer and status (ok, reject, timeout, cancelled).',
    labelNames: ['peer', 'status'],
    buckets: INVOKE_BEATS_BUCKETS,
    registers,
  });
  const invokeSeconds = new Histogram({
    name: 'cep_invoke_round_trip_seconds',
    help: 'Wall time from submitting an invoke to its outcome reaching the caller, by called peer and status.',
    labelNames: ['peer', 'status'],
    buckets: INVOKE_SECONDS_BUCKETS,
    registers,
  });
  const bundleCells = new Histogram({
    name: 'cep_mirror_bundle_applied_cells',
    help: 'Cells each applied mirror bundle wrote, changed or removed on this peer (the receiver), by mirror request; _count is the bundles applied.',
    labelNames: ['request'],
    buckets: BUNDLE_CELLS_BUCKETS,
    registers,
  });
  const bundleSeconds = new Histogram({
    name: 'cep_mirror_bundle_apply_seconds',
    help: 'Wall seconds this peer (the receiver) spent applying each mirror bundle at its commit, by mirror request.',
    labelNames: ['request'],
    buckets: BUNDLE_SECONDS_BUCKETS,
    registers,
  });
  let stopFacts = (): void => {};
  if (options.cei !== undefined) {
    const facts = new Counter({
      name: 'cep_cei_facts_total',
      help: 'CEI facts the runtime recorded, by topic and severity (tp_* transport, sec.* security, ...).',
      labelNames: ['topic', 'severity'],
      registers,
    });
    const authFailures = new Counter({
      name: 'cep_auth_failures_total',
      help: 'Authentication failures recorded as tp_fatal facts: a mount whose handshake failed (side=mount), or a beat whose last listener refusal was a wrong key (side=listener; the listener coalesces its refusals to one fact per beat, every refusal is in cep_listener_refusals_total).',
      labelNames: ['side'],
      registers,
    });
    // Both labels exist from the start, so a rate() over them never starts from nothing.
    authFailures.inc({ side: 'listener' }, 0);
    authFailures.inc({ side: 'mount' }, 0);
    stopFacts = options.cei.onFact((fact) => {
      facts.inc({ topic: fact.topic, severity: fact.severity });
      if (isAuthFailure(fact)) authFailures.inc({ side: fact.origin === 'tp/listen' ? 'listener' : 'mount' });
    });
  }
  new Gauge({
    name: 'cep_beat',
    help: 'The beat the runtime runs next.',
    registers,
    collect() {
      this.set(options.beat());
    },
  });
  const driver = options.driver;
  if (driver !== undefined) {
    new Counter({
      name: 'cep_beat_overruns_total',
      help: 'Beats that ended after the next slot of the beat timer.',
      registers,
      collect() {
        this.reset();
        this.inc(driver().overruns);
      },
    });
    new Counter({
      name: 'cep_beat_missed_slots_total',
      help: 'Beat timer slots skipped because of overruns.',
      registers,
      collect() {
        this.reset();
        this.inc(driver().missedSlots);
      },
    });
    new Counter({
      name: 'cep_beat_early_total',
      help: 'Beats started early by an arriving frame or submission (at most one per slot).',
      registers,
      collect() {
        this.reset();
        this.inc(driver().earlyBeats);
      },
    });
  }
  const inboundLog = options.inboundLog;
  if (inboundLog !== undefined) {
    new Gauge({
      name: 'cep_inbound_log_bytes',
      help: 'Input data bytes the inbound log holds (bounded by limits.inbound_log_bytes).',
      registers,
      collect() {
        this.set(inboundLog().bytes);
      },
    });
    new Counter({
      name: 'cep_inbound_log_trimmed_total',
      help: 'Inbound log entries dropped, oldest first, because the log passed its byte bound.',
      registers,
      collect() {
        this.reset();
        this.inc(inboundLog().trimmed);
      },
    });
  }
  return {
    registry,
    text: () => registry.metrics(),
    contentType: registry.contentType,
    observeBeat: (stepMs) => beatSeconds.observe(stepMs / 1000),
    observeInvoke: ({ peer, status, beats, seconds }) => {
      invokeBeats.observe({ peer, status }, beats);
      invokeSeconds.observe({ peer, status }, seconds);
    },
    observeBundleApply: ({ request, cells, seconds }) => {
      bundleCells.observe({ request }, cells);
      if (seconds !== undefined) bundleSeconds.observe({ request }, seconds);
    },
    close: () => stopFacts(),
  };
}
