/**
 * What the console knows, merged from `GET /ui/api/state?since=<cursor>` answers: each
 * section's records by key (changed ones replaced, ones missing from `keys` dropped), the
 * telemetry counters' samples for the sparklines, and the newest CEI facts.
 */

/** A branch as the endpoint sends it (tree-json). */
export type Json = string | boolean | null | Json[] | { [key: string]: Json };
/** A record branch. */
export type Rec = { [key: string]: Json };

interface Record_ {
  readonly key: string;
  readonly beat: number;
  readonly value: Json;
  readonly extra?: { [key: string]: Json | number | [number, string][] };
}
interface Section {
  readonly keys: readonly string[];
  readonly changed: readonly Record_[];
}
/** One answer of the state endpoint. */
export interface StateAnswer {
  readonly peer: string;
  readonly enclave: string;
  readonly beat: number;
  readonly cursor: number;
  readonly mounts?: Section;
  readonly telemetry?: Section;
  readonly mirrors?: Section;
  readonly serving?: Section;
  readonly invokes?: Section;
  readonly cei?: readonly Record_[];
}

/** A record kept by the store. */
export interface Kept {
  readonly key: string;
  readonly beat: number;
  readonly value: Rec;
  readonly extra: { [key: string]: Json | number | [number, string][] };
}

/** Samples kept per telemetry record (beats, newest last). */
export const MAX_SAMPLES = 120;
/** CEI facts kept. */
export const MAX_FACTS = 500;

/** The console's state. */
export class Store {
  peer = '';
  enclave = '';
  beat = 0;
  cursor = 0;
  readonly mounts = new Map<string, Kept>();
  readonly telemetry = new Map<string, Kept>();
  readonly mirrors = new Map<string, Kept>();
  readonly serving = new Map<string, Kept>();
  readonly invokes = new Map<string, Kept>();
  readonly facts: Kept[] = [];
  /** Per telemetry key: `[beat, frames]` and `[beat, bp_count]` samples. */
  readonly samples = new Map<string, { frames: [number, number][]; bp: [number, number][] }>();

  /** Merges one answer; returns the names of the sections that changed. */
  apply(answer: StateAnswer): Set<string> {
    const touched = new Set<string>();
    this.peer = answer.peer;
    this.enclave = answer.enclave;
    this.beat = answer.beat;
    this.cursor = answer.cursor;
    for (const name of ['mounts', 'telemetry', 'mirrors', 'serving', 'invokes'] as const) {
      const section = answer[name];
      if (section === undefined) continue;
      touched.add(name);
      const map = this[name];
      const keys = new Set(section.keys);
      for (const key of [...map.keys()]) if (!keys.has(key)) map.delete(key);
      for (const r of section.changed) map.set(r.key, { key: r.key, beat: r.beat, value: asRec(r.value), extra: r.extra ?? {} });
    }
    if (answer.telemetry !== undefined) this.sample(answer.telemetry);
    if (answer.cei !== undefined && answer.cei.length > 0) {
      touched.add('cei');
      const seen = new Set(this.facts.map((f) => f.key));
      for (const r of answer.cei) if (!seen.has(r.key)) this.facts.push({ key: r.key, beat: r.beat, value: asRec(r.value), extra: {} });
      if (this.facts.length > MAX_FACTS) this.facts.splice(0, this.facts.length - MAX_FACTS);
    }
    return touched;
  }

  private sample(section: Section): void {
    for (const key of [...this.samples.keys()]) if (!section.keys.includes(key)) this.samples.delete(key);
    for (const r of section.changed) {
      const kept = this.samples.get(r.key) ?? { frames: [], bp: [] };
      merge(kept.frames, r.extra?.['frames']);
      merge(kept.bp, r.extra?.['bp']);
      this.samples.set(r.key, kept);
    }
  }
}

/** Adds `[beat, "n"]` points newer than the last kept one. */
function merge(into: [number, number][], points: unknown): void {
  if (!Array.isArray(points)) return;
  for (const p of points as [number, string][]) {
    const last = into[into.length - 1];
    if (last !== undefined && p[0] <= last[0]) continue;
    into.push([p[0], Number(p[1])]);
  }
  if (into.length > MAX_SAMPLES) into.splice(0, into.length - MAX_SAMPLES);
}

function asRec(value: Json): Rec {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {};
}

/** A field of a record by path (`transport/provider`), as text, or undefined. */
export function field(rec: Json | undefined, path: string): string | undefined {
  let at: Json | undefined = rec;
  for (const part of path.split('/')) {
    if (typeof at !== 'object' || at === null || Array.isArray(at)) return undefined;
    at = at[part];
  }
  if (at === undefined || at === null) return undefined;
  return typeof at === 'object' ? JSON.stringify(at) : String(at);
}
