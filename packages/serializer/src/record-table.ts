/**
 * A verified frame's records as a table of offsets into the frame (see frame-reader.ts), and
 * the views and key strings made from it on demand.
 */
import { latin1Slicer } from './bytes.ts';
import type { TrailerInfo } from './frame-format.ts';

/** A verified frame's records as offsets into `frame` (row i is record i; columns have one entry per record). */
export interface RecordTable {
  readonly frame: Uint8Array;
  readonly types: readonly number[];
  /** Each record's version and flags: only from `decodeFrame` (1 and 0 unless a rule was relaxed). */
  readonly versions: readonly number[] | undefined;
  readonly flags: readonly number[] | undefined;
  /** Where each record starts (its header). */
  readonly starts: readonly number[];
  readonly keyStarts: readonly number[];
  /** Where each body starts (its key ends there). */
  readonly bodyStarts: readonly number[];
  /** Where each body ends (its CRC starts there). */
  readonly ends: readonly number[];
  /** With `keepToc` false its `toc` is empty (the TOC was still checked). */
  readonly trailer: TrailerInfo;
  /** The keys as latin1 strings, once {@link recordKeys} or the reader made them. */
  keyStrings: string[] | undefined;
}

/** Record `i`'s key (a view into the frame). */
export function recordKey(table: RecordTable, i: number): Uint8Array {
  return table.frame.subarray(table.keyStarts[i]!, table.bodyStarts[i]!);
}

/** Record `i`'s body (a view into the frame). */
export function recordBody(table: RecordTable, i: number): Uint8Array {
  return table.frame.subarray(table.bodyStarts[i]!, table.ends[i]!);
}

/**
 * Each record's key as a latin1 string (see `latin1Slicer`): the Merkle sort key of large
 * frames and the indexed decoder's map key. Made once per table, on first use: a small frame
 * in writer order never needs them.
 */
export function recordKeys(table: RecordTable): string[] {
  if (table.keyStrings !== undefined) return table.keyStrings;
  const count = table.types.length;
  const keys: string[] = new Array<string>(count);
  const slice = latin1Slicer(table.frame);
  for (let i = 0; i < count; i++) keys[i] = slice(table.keyStarts[i]!, table.bodyStarts[i]!);
  table.keyStrings = keys;
  return keys;
}
