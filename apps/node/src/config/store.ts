/**
 * The config's durability fields: `data_dir` (where the peer's store lives; default a folder
 * `<peer>.data` beside the config file) and the `store` section (when a beat is durable, how
 * often a snapshot is written). `cep-node run --ephemeral` ignores both and keeps the tree in
 * memory only. Everything is counted in beats, never time.
 */
import { DEFAULT_SNAPSHOT_EVERY, DEFAULT_SNAPSHOT_SLICE_BYTES } from '@cep/store';
import { join } from 'node:path';
import * as z from 'zod';

/** Largest `group_beats` / `snapshot_every` taken: beyond it a typo, not a setting. */
const MAX_BEATS = 100_000_000;

/** The `store` section's schema (output: {@link StoreConfig}). */
export const storeSection = z.strictObject({
  /**
   * `beat`: every beat is synced before the next one starts (and before anything it sends
   * leaves the peer); `{ group_beats: n }`: one sync every n beats, sends wait for the group.
   */
  durability: z
    .union([z.literal('beat'), z.strictObject({ group_beats: z.number().int().min(1).max(MAX_BEATS) })], {
      error: 'expected "beat" or { group_beats: n } with n a whole number ≥ 1',
    })
    .default('beat'),
  /** Beats between snapshots (0: never); also how many beats of inbound inputs the store keeps for replay. */
  snapshot_every: z.number().int().min(0).max(MAX_BEATS).default(DEFAULT_SNAPSHOT_EVERY),
  /** Bytes of a snapshot written per beat: a snapshot spreads over as many beats as it needs. */
  snapshot_slice_bytes: z
    .number()
    .int()
    .min(1024)
    .max(1 << 30)
    .default(DEFAULT_SNAPSHOT_SLICE_BYTES),
});

/** The validated `store` section, defaults filled in. */
export type StoreConfig = z.output<typeof storeSection>;

/** The default data directory of peer `peer` whose config is in `configDir`. */
export function defaultDataDir(configDir: string, peer: string): string {
  return join(configDir, `${peer}.data`);
}
