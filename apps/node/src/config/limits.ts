/**
 * The config's `limits` section: resource bounds for authenticated peers. Every field is
 * optional; its default is the package's named constant, so a peer without the section runs
 * with the safe defaults. All are counted in bytes or records, never time.
 */
import { DEFAULT_INBOUND_LOG_BYTES, DEFAULT_OPS_HISTORY_RETAIN } from '@cep/heartbeat';
import { DEFAULT_MAX_BEAT_WINDOW, DEFAULT_MAX_INFLIGHT } from '@cep/organ-mirror';
import { DEFAULT_INBOUND_BUDGET_BYTES, DEFAULT_INBOUND_BUSY_BYTES, DEFAULT_INBOUND_QUEUED_BYTES_PER_PEER, DEFAULT_MAX_MOUNTS_PER_PEER } from '@cep/transport';
import * as z from 'zod';

/** Largest byte bound the config takes (1 TiB): beyond it a typo, not a bound. */
const MAX_BYTES = 2 ** 40;

const bytes = (fallback: number) => z.number().int().min(1).max(MAX_BYTES).default(fallback);
const count = (fallback: number, max: number) => z.number().int().min(1).max(max).default(fallback);

/** The `limits` section's schema (output: {@link LimitsConfig}). */
export const limitsSection = z.strictObject({
  /** Input data the runtime's inbound log keeps (heartbeat `inboundLogBytes`). */
  inbound_log_bytes: bytes(DEFAULT_INBOUND_LOG_BYTES),
  /** Inbound frame bytes one mount brings into one beat (transport `inboundBudgetBytes`). */
  inbound_beat_bytes: bytes(DEFAULT_INBOUND_BUDGET_BYTES),
  /**
   * Inbound frame bytes one mount hands to its handlers at a capture while its peer has other
   * mounts; bigger frames (a mirror's parts) wait for the end of the beat (transport `inboundBusyBytes`).
   */
  busy_beat_bytes: bytes(DEFAULT_INBOUND_BUSY_BYTES),
  /** Inbound frame bytes all mounts of one peer may have waiting (transport `inboundQueuedBytesPerPeer`). */
  peer_queued_bytes: bytes(DEFAULT_INBOUND_QUEUED_BYTES_PER_PEER),
  /** Mounts one peer may have (transport `maxMountsPerPeer`). */
  mounts_per_peer: count(DEFAULT_MAX_MOUNTS_PER_PEER, 1_000_000),
  /** Unacknowledged bundles this peer, as a mirror source, holds per receiver (organ-mirror `maxInflight`). */
  mirror_max_infl: count(DEFAULT_MAX_INFLIGHT, 1_000_000),
  /** Beats per bundle this peer, as a mirror source, gathers at most (organ-mirror `maxBeatWindow`). */
  mirror_max_window: count(DEFAULT_MAX_BEAT_WINDOW, 1_000_000),
  /** History entries each OPS dossier keeps (heartbeat `opsHistoryRetain`). */
  ops_history: count(DEFAULT_OPS_HISTORY_RETAIN, 1_000_000),
});

/** The validated `limits` section, defaults filled in. */
export type LimitsConfig = z.output<typeof limitsSection>;
