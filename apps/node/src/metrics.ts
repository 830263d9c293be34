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
import { Counter, Gauge, Registry } from 'prom-client';
import type { BeatDriverStats } from './beat-driver.ts';

/** The telemetry fields published as counters (`cep_telemetry_<field>`). */
export const TELEMETRY_COUNTERS = ['ready_count', 'bp_count', 'fatal_count', 'frame_count'] as const;
/** The telemetry fields published as gauges. */
export const TELEMETRY_GAUGES = ['bp_flag'] as const;

/** A peer's metrics. */
export interface PeerMetrics {
  readonly registry: Registry;
  /** The Prometheus text exposition. */
  text(): Promise<string>;
  readonly contentType: string;
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
}

/** Creates the peer's registry and its metrics. */
export function createPeerMetrics(options: PeerMetricsOptions): PeerMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node: options.node });
  const registers = [registry];
  for (const field of TELEMETRY_COUNTERS) {
    new Counter({
      name: `cep_telemetry_${field}`,
      help: `Transport telemetry ${field} of each mount (/net/telemetry/<peer>/<mount>/${field}).`,
      labelNames: ['peer', 'mount'],
      registers,
      collect() {
        this.reset();
        for (const s of telemetrySamples(options.tree, field)) this.inc({ peer: s.peer, mount: s.mount }, s.value);
      },
    });
  }
  for (const field of TELEMETRY_GAUGES) {
    new Gauge({
      name: `cep_telemetry_${field}`,
      help: `Transport telemetry ${field} of each mount (1 = set).`,
      labelNames: ['peer', 'mount'],
      registers,
      collect() {
        this.reset();
        for (const s of telemetrySamples(options.tree, field)) this.set({ peer: s.peer, mount: s.mount }, s.value);
      },
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
  return { registry, text: () => registry.metrics(), contentType: registry.contentType };
}
