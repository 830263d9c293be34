/**
 * Sealed ops → bundle parts. Every `put` is frozen (copied) now, because the source keeps
 * changing while the bundle waits for its acknowledgement. A part is one frame; a bundle is
 * split into parts only when its estimated size passes the budget (a whole 100,000-cell
 * snapshot does not fit a 4 MiB provider frame). A store too big for one part becomes a
 * `put` of its empty shell followed by `add` ops carrying runs of its children, and children
 * too big on their own recurse. The receiver applies all parts of a bundle in one batch, so
 * a split bundle is exactly as atomic as a whole one.
 */
import { text, type Cell, type Name, type Value } from '@cep/cells';
import type { MirrorOp } from './delta.ts';
import { freeze, frozenChain, frozenDict, frozenList, frozenShell, frozenValue, type FrozenCell } from './frozen.ts';

/** Estimated frame bytes per cell (descriptor, manifest entry, name) besides its path and value. */
const CELL_COST = 112;
/** Estimated bytes per path segment in a cell's record key. */
const SEGMENT_COST = 17;

function valueCost(value: Value | undefined): number {
  if (value === undefined) return 0;
  switch (value.type) {
    case 'text':
      return value.value.length * 3 + 1; // UTF-8 worst case; the estimate must not undershoot
    case 'bytes':
    case 'raw':
      return value.value.length;
    default:
      return 8;
  }
}

/** Counts of what a bundle carries (for the dossier and the bench). */
export interface PackStats {
  ops: number;
  cells: number;
  estimatedBytes: number;
}

/** Packs ops into parts of at most about `budget` estimated bytes each (a lone oversized value still gets its own part). */
export function packOps(ops: readonly MirrorOp[], budget: number): { parts: FrozenCell[][]; stats: PackStats } {
  const sizes = new Map<Cell, number>();
  const sizeOf = (cell: Cell, depth: number): number => {
    let size = sizes.get(cell);
    if (size !== undefined) return size;
    size = CELL_COST + SEGMENT_COST * depth + valueCost(cell.value) + (cell.linkTarget?.length ?? 0) * SEGMENT_COST;
    if (cell.kind === 'dictionary' || cell.kind === 'list') for (const c of cell.children()) if (!c.isDeleted) size += sizeOf(c, depth + 1);
    sizes.set(cell, size);
    return size;
  };
  const parts: FrozenCell[][] = [];
  let current: FrozenCell[] = [];
  let used = 0;
  const stats: PackStats = { ops: 0, cells: 0, estimatedBytes: 0 };
  const push = (op: FrozenCell, cost: number, cells: number): void => {
    if (current.length > 0 && used + cost > budget) {
      parts.push(current);
      current = [];
      used = 0;
    }
    current.push(op);
    used += cost;
    stats.ops++;
    stats.cells += cells;
    stats.estimatedBytes += cost;
  };
  const opCost = (path: readonly Name[]): number => CELL_COST * 2 + SEGMENT_COST * path.length * (path.length + 1);

  const put = (path: readonly Name[], cell: Cell, after: Name | null | undefined): void => {
    const size = sizeOf(cell, path.length);
    const store = cell.kind === 'dictionary' || cell.kind === 'list';
    if (!store || size <= budget) {
      const copy = freeze(cell, 'v');
      push(opCell('put', path, { v: copy, after }), opCost(path) + size, countCells(copy));
      return;
    }
    push(opCell('put', path, { v: frozenShell('v', cell, []), after }), opCost(path) + CELL_COST, 1);
    let run: FrozenCell[] = [];
    let runSize = 0;
    let runCells = 0;
    const flush = (): void => {
      if (run.length === 0) return;
      push(opCell('add', path, { v: frozenShell('v', cell, run) }), opCost(path) + CELL_COST + runSize, runCells);
      run = [];
      runSize = 0;
      runCells = 0;
    };
    let previous: Name | null = null;
    for (const child of cell.children()) {
      if (child.isDeleted) continue;
      const childSize = sizeOf(child, path.length + 1);
      if (childSize > budget && (child.kind === 'dictionary' || child.kind === 'list')) {
        flush();
        put([...path, child.name], child, cell.kind === 'list' ? previous : undefined);
      } else {
        if (runSize + childSize > budget) flush();
        const copy = freeze(child);
        run.push(copy);
        runSize += childSize;
        runCells += countCells(copy);
      }
      previous = child.name;
    }
    flush();
  };

  for (const op of ops) {
    if (op.op === 'put') put(op.path, op.cell, op.after);
    else if (op.op === 'del') push(opCell('del', op.path, {}), opCost(op.path), 0);
    else push(opCell('ord', op.path, { names: op.names }), opCost(op.path) + op.names.length * (CELL_COST + SEGMENT_COST), 0);
  }
  if (current.length > 0 || parts.length === 0) parts.push(current);
  return { parts, stats };
}

function countCells(cell: FrozenCell): number {
  let n = 1;
  for (const c of cell.children()) n += countCells(c);
  return n;
}

/**
 * One op as a dictionary: `op` (text), `path` (a chain of single-child dictionaries named by
 * the path's names), `after/<name>` (list anchor), `v` (the content), `names` (a list of
 * empty dictionaries named by the new order).
 */
function opCell(kind: 'put' | 'add' | 'del' | 'ord', path: readonly Name[], extra: { v?: FrozenCell; after?: Name | null | undefined; names?: readonly Name[] }): FrozenCell {
  const fields: FrozenCell[] = [frozenValue('op', text(kind)), frozenChain('path', path)];
  if (extra.v !== undefined) fields.push(extra.v);
  if (extra.after !== undefined && extra.after !== null) fields.push(frozenDict('after', [frozenDict(extra.after, [])]));
  if (extra.names !== undefined) fields.push(frozenList('names', extra.names.map((n) => frozenDict(n, []))));
  // Ops are list children; their names are given by position when the message list is built.
  return frozenDict('op', fields);
}
