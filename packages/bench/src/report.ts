/**
 * The result table: one row per measured path, ours next to its anchor from the same run.
 *
 * `ratio` is always "how many times worse ours is" in the row's own terms: for a rate
 * (frames/s, calls/s) it is anchor ÷ ours, for a time, a size or a count of beats it is
 * ours ÷ anchor. So 1 means "as good as the anchor" and the targets read "≤ N×".
 */
import { writeFileSync } from 'node:fs';

/** Whether bigger is better (a rate) or smaller is (a time, bytes, beats). */
export type Direction = 'higher' | 'lower';

/** One row of the table and of `bench-results.json`. */
export interface ResultRow {
  /** Which row of the table (a1, b2, …) and what it measures. */
  readonly id: string;
  readonly what: string;
  readonly unit: string;
  readonly direction: Direction;
  readonly ours: number;
  /** What the anchor is (plain socket, msgpackr RPC, …). */
  readonly anchorName: string;
  readonly anchor: number;
  /** Ours relative to the anchor, worse-is-bigger (see the module comment). */
  readonly ratio: number;
  /** The target as the issue states it, e.g. `≤ 3×`, and whether this run meets it. */
  readonly target: string;
  readonly met: boolean | null;
  /** 1-minute load average when the row was measured. */
  readonly load: number;
  /** Anything a reader needs to interpret the numbers (samples, sizes). */
  readonly note?: string;
}

/** Ours relative to the anchor, worse-is-bigger. */
export function ratioOf(direction: Direction, ours: number, anchor: number): number {
  return direction === 'higher' ? anchor / ours : ours / anchor;
}

/** Builds a row whose target is a bound on the ratio (`≤ max×`). */
export function ratioRow(
  fields: Omit<ResultRow, 'ratio' | 'target' | 'met'> & { readonly maxRatio?: number; readonly target?: string; readonly met?: boolean | null },
): ResultRow {
  const ratio = ratioOf(fields.direction, fields.ours, fields.anchor);
  const { maxRatio, ...rest } = fields;
  return {
    ...rest,
    ratio,
    target: fields.target ?? (maxRatio === undefined ? '—' : `≤ ${maxRatio}×`),
    met: fields.met !== undefined ? fields.met : maxRatio === undefined ? null : ratio <= maxRatio,
  };
}

function formatNumber(value: number, unit: string): string {
  if (!Number.isFinite(value)) return String(value);
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 })} ${unit}`;
}

/** The table as text, one line per row. */
export function formatTable(rows: readonly ResultRow[]): string {
  const header = ['row', 'what', 'ours', 'anchor', 'anchor is', 'ratio', 'target', 'met', 'load'];
  const lines = rows.map((r) => [
    r.id,
    r.what,
    formatNumber(r.ours, r.unit),
    formatNumber(r.anchor, r.unit),
    r.anchorName,
    Number.isFinite(r.ratio) ? `${r.ratio.toFixed(r.ratio >= 10 ? 0 : 1)}×` : '—',
    r.target,
    r.met === null ? '' : r.met ? 'yes' : 'no',
    r.load.toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const render = (cells: string[]) =>
    cells
      .map((c, i) => (i >= 2 && i <= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const notes = rows.filter((r) => r.note !== undefined).map((r) => `  ${r.id}: ${r.note}`);
  return [render(header), render(widths.map((w) => '-'.repeat(w))), ...lines.map(render), ...(notes.length > 0 ? ['', 'notes', ...notes] : [])].join('\n');
}

/** Writes the rows (and how the run was made) as JSON. */
export function writeResults(file: string, rows: readonly ResultRow[], run: Record<string, unknown>): void {
  writeFileSync(file, `${JSON.stringify({ ...run, rows }, null, 2)}\n`);
}
