/**
 * The seeded, deterministic fate of frames on an unreliable memory channel.
 *
 * Each direction of each channel draws from its own PRNG stream (mulberry32, written
 * inline below), seeded from the sending provider's `seed` and the direction's key
 * (sender peer, receiver peer, mode, mount). Every frame accepted by `send` draws exactly
 * three numbers, in this order — drop, duplicate, reorder — whatever the outcome, so the
 * fate of the n-th frame depends only on (seed, key, n): not on timing, not on when the
 * receiver pulls, not on traffic on other channels.
 */
import { memoryError } from './errors.ts';

/** Probabilities, each 0..1, applied independently to every frame. */
export interface MemorySchedule {
  /** The frame is lost. */
  readonly drop?: number;
  /** The frame is delivered twice (back to back). */
  readonly duplicate?: number;
  /** The frame is held back and delivered right after the next frame that is delivered. */
  readonly reorder?: number;
}

/** What happens to one frame. `drop` wins over the other two. */
export interface Fate {
  readonly drop: boolean;
  readonly duplicate: boolean;
  readonly reorder: boolean;
}

/** Checks the probabilities and fills missing ones with 0. */
export function checkSchedule(schedule: MemorySchedule): Required<MemorySchedule> {
  const out = { drop: schedule.drop ?? 0, duplicate: schedule.duplicate ?? 0, reorder: schedule.reorder ?? 0 };
  for (const [name, p] of Object.entries(out)) {
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) {
      throw memoryError('INVALID_OPTIONS', `schedule.${name} must be a probability between 0 and 1, got ${String(p)}`, { option: `schedule.${name}` });
    }
  }
  return out;
}

/**
 * mulberry32 (Tommy Ettinger's 32-bit generator): one 32-bit state advanced by a Weyl
 * step and scrambled; uniform floats in [0, 1). Small, fast and good enough to simulate
 * a lossy link — not a cryptographic generator.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a over the UTF-16 code units of `text`: a stable 32-bit salt per channel direction. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The fate of each successive frame on one channel direction. */
export class FateStream {
  private readonly random: () => number;

  constructor(
    seed: number,
    private readonly schedule: Required<MemorySchedule>,
    key: string,
  ) {
    this.random = mulberry32((seed ^ fnv1a32(key)) >>> 0);
  }

  /** The fate of the next frame; always consumes three draws so later fates never shift. */
  next(): Fate {
    const d = this.random();
    const u = this.random();
    const r = this.random();
    return { drop: d < this.schedule.drop, duplicate: u < this.schedule.duplicate, reorder: r < this.schedule.reorder };
  }
}

/** The key that names one direction of one channel in the schedule. */
export function directionKey(sender: string, receiver: string, mode: string, mount: string): string {
  return `${sender}\u0000${receiver}\u0000${mode}\u0000${mount}`;
}
