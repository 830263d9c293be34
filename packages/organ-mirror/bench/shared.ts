/** What both processes of `compare.ts` share: the branch's shape, the key, a timed beat loop. */
import { text, u64, type Value } from '@cep/cells';
import type { Runtime } from '@cep/heartbeat';

export const KEY = new Uint8Array(32).fill(3);
export const GROUPS = 1_000;
export const PER_GROUP = 99; // 1 + 1,000 × (1 + 99) = 100,001 cells

/** The value of `g<g>/f<i>`: texts and numbers, half and half. */
export function cellValueOf(g: number, i: number): Value {
  return i % 2 === 0 ? text(`value ${g}.${i} of the mirrored branch`) : u64(BigInt(g * PER_GROUP + i));
}

/** The same data as plain JavaScript (the anchor packs this). */
export function plainBranch(): Record<string, Record<string, string | number>> {
  const out: Record<string, Record<string, string | number>> = {};
  for (let g = 0; g < GROUPS; g++) {
    const group: Record<string, string | number> = {};
    for (let i = 0; i < PER_GROUP; i++) group[`f${i}`] = i % 2 === 0 ? `value ${g}.${i} of the mirrored branch` : g * PER_GROUP + i;
    out[`g${g}`] = group;
  }
  return out;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Beat period in ms (`BEAT_MS`, default 2; 0 = free-running: one step per event-loop turn). */
export const BEAT_MS = Number(process.env.BEAT_MS ?? 2);

/**
 * A paced heartbeat, as a peer runs one: a step every `BEAT_MS` (a late beat is followed at
 * once by the next, missed slots are skipped), timing every step.
 */
export class BenchBeats {
  private slot = performance.now();
  private durations: number[] = [];
  /** The longest beats: ms, inputs admitted, slices run. */
  private longest: Array<[number, number, number]> = [];

  constructor(private readonly runtime: Runtime) {}

  async step(): Promise<number> {
    const start = process.hrtime.bigint();
    if (BEAT_MS > 0) {
      const wait = this.slot - performance.now();
      if (wait > 0.5) await sleep(wait);
      this.slot = Math.max(this.slot + BEAT_MS, performance.now());
    }
    const report = this.runtime.step();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    this.durations.push(ms);
    if (this.longest.length < 5 || ms > this.longest[4]![0]) {
      this.longest.push([ms, report.inputs, report.slices]);
      this.longest.sort((a, b) => b[0] - a[0]);
      this.longest.length = Math.min(this.longest.length, 5);
    }
    await turn();
    this.lastInputs = report.inputs;
    return ms;
  }

  /** Inputs the last step admitted. */
  lastInputs = 0;

  reset(): void {
    this.durations = [];
    this.longest = [];
  }

  summary(): { count: number; max: number; p99: number; p50: number; total: number; longest: string } {
    const sorted = [...this.durations].sort((a, b) => a - b);
    const q = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
    return {
      count: sorted.length,
      max: sorted.at(-1) ?? 0,
      p99: q(0.99),
      p50: q(0.5),
      total: sorted.reduce((a, b) => a + b, 0),
      longest: this.longest.map(([ms, inputs, slices]) => `${ms.toFixed(0)}ms/${inputs}in/${slices}sl`).join(' '),
    };
  }
}

/** p-quantile of numbers. */
export function quantile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}
