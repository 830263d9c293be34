/**
 * Sealed ops → bundle parts. Every `put` is frozen (copied) when its part is packed, because
 * the source keeps changing while the bundle waits for its acknowledgement. A part is one frame; a bundle is
 * split into parts only when its estimated size passes the budget (a whole 100,000-cell
 * snapshot does not fit a 4 MiB provider frame). A store too big for one part becomes a
 * `put` of its empty shell followed by `add` ops carrying runs of its children, and children
 * too big on their own recurse. The receiver applies all parts of a bundle at once, so a split
 * bundle is exactly as atomic as a whole one.
 */
import { bytes, name, text, type Cell, type Name, type Value } from '@cep/cells';
import { packCell, packShell, PackedWriter, writeCell } from './compact.ts';
import type { BranchLog, MirrorOp } from './delta.ts';
import { freeze, frozenChain, frozenDict, frozenList, frozenShell, frozenValue, type FrozenCell } from './frozen.ts';

/** Estimated frame bytes per cell (descriptor, manifest entry, name) besides its path and value. */
const CELL_COST = 112;
/** Estimated bytes per path segment in a cell's record key. */
const SEGMENT_COST = 17;

/**
 * Estimated bytes per cell in the packed form (`compact.ts`): the head byte, the name's length
 * and a byte of slack (a store's count); the name's text and the value come on top.
 */
const PACKED_CELL_COST = 3;

function valueCost(value: Value | undefined, packed = false): number {
  if (value === undefined) return 0;
  switch (value.type) {
    case 'text':
      // Serializer records: UTF-8 worst case, the estimate must not undershoot. Packed: the
      // UTF-16 length (exact for ASCII; at most 3× under, and parts stay far below a frame's limit).
      return packed ? value.value.length + 2 : value.value.length * 3 + 1;
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

/** One part: its ops and their estimated frame bytes. */
export interface PackedPart {
  readonly ops: FrozenCell[];
  readonly estimatedBytes: number;
}

/** Estimated frame bytes of `cell`'s live branch at `depth`: exact up to `cap`, past it some number above `cap` (so a huge store is not walked whole to learn that it is big). */
function sizeUpTo(cell: Cell, depth: number, cap: number, packed = false): number {
  let size = packed
    ? PACKED_CELL_COST + cell.name.tag.text.length + valueCost(cell.value, true) + (cell.linkTarget?.length ?? 0) * SEGMENT_COST
    : CELL_COST + SEGMENT_COST * depth + valueCost(cell.value) + (cell.linkTarget?.length ?? 0) * SEGMENT_COST;
  if (cell.kind === 'dictionary' || cell.kind === 'list') {
    for (const c of cell.children()) {
      if (size > cap) return size;
      if (!c.isDeleted) size += sizeUpTo(c, depth + 1, cap - size, packed);
    }
  }
  return size;
}

/**
 * Estimated bytes a part may carry: a number, or a function read each time a part is cut (the
 * source makes its parts smaller while another mount of its peer is busy; see `source.ts`).
 */
export type PartBudget = number | (() => number);

/** Packs ops into parts of at most about `budget` estimated bytes each (a lone oversized value still gets its own part). */
export function packOps(
  ops: readonly MirrorOp[],
  budget: PartBudget,
  stats: PackStats = { ops: 0, cells: 0, estimatedBytes: 0 },
  packed = false,
): { parts: PackedPart[]; stats: PackStats } {
  return { parts: [...packParts(ops, budget, stats, packed)], stats };
}

/**
 * The same, lazily: each part is frozen when it is pulled, so a caller can spread a huge
 * bundle over many beats. A store's children are listed when the walk reaches it; what
 * changes in the tree after that is the caller's to ship (the source follows with a delta of
 * everything that changed while it walked). Always yields at least one part. With `packed`,
 * the content of `put` and `add` ops is one `vb` value in the packed form of `compact.ts`
 * (for a receiver whose `sub` said it reads it), written straight from the tree.
 */
export function* packParts(ops: readonly MirrorOp[], partBudget: PartBudget, stats: PackStats, packed = false): Generator<PackedPart, void> {
  // Read where a part is cut or a store sized, so a budget that changes between beats applies
  // from the next cut on (the walk itself is the same; only where parts end moves).
  const cap = typeof partBudget === 'number' ? () => partBudget : partBudget;
  let current: FrozenCell[] = [];
  let used = 0;
  let yielded = false;
  function* push(op: FrozenCell, cost: number, cells: number): Generator<PackedPart, void> {
    if (current.length > 0 && used + cost > cap()) {
      const part = { ops: current, estimatedBytes: used };
      current = [];
      used = 0;
      yielded = true;
      yield part;
    }
    current.push(op);
    used += cost;
    stats.ops++;
    stats.cells += cells;
    stats.estimatedBytes += cost;
  }
  const opCost = (path: readonly Name[]): number => CELL_COST * 2 + SEGMENT_COST * path.length * (path.length + 1);

  /** Children of `store` written as `add` ops (split by the budget), big stores among them recursing as `put`s. */
  function* addRuns(
    path: readonly Name[],
    store: Cell,
    children: readonly Cell[],
    previousOf: (child: Cell) => Name | null | undefined,
  ): Generator<PackedPart, void> {
    let run: FrozenCell[] = [];
    // Packed: the run's children written as they are reached (no frozen copy in between).
    let writer = packed ? new PackedWriter() : undefined;
    let runCount = 0;
    let runSize = 0;
    let runCells = 0;
    function* flush(): Generator<PackedPart, void> {
      if (runCount === 0) return;
      const op =
        writer !== undefined ? opCell('add', path, { vb: packShell(V, store, runCount, writer) }) : opCell('add', path, { v: frozenShell('v', store, run) });
      const cost = opCost(path) + CELL_COST + runSize;
      const cells = runCells;
      run = [];
      if (writer !== undefined) writer = new PackedWriter();
      runCount = 0;
      runSize = 0;
      runCells = 0;
      yield* push(op, cost, cells);
    }
    for (const child of children) {
      const budget = cap();
      const childSize = sizeUpTo(child, path.length + 1, budget, packed);
      if (childSize > budget && (child.kind === 'dictionary' || child.kind === 'list')) {
        yield* flush();
        yield* put([...path, child.name], child, previousOf(child));
      } else {
        if (runSize + childSize > budget) yield* flush();
        if (writer !== undefined) runCells += writeCell(writer, child);
        else {
          const copy = freeze(child);
          run.push(copy);
          runCells += countCells(copy);
        }
        runCount++;
        runSize += childSize;
      }
    }
    yield* flush();
  }

  function* put(path: readonly Name[], cell: Cell, after: Name | null | undefined): Generator<PackedPart, void> {
    const budget = cap();
    const size = sizeUpTo(cell, path.length, budget, packed);
    const store = cell.kind === 'dictionary' || cell.kind === 'list';
    if (packed && (!store || size <= budget)) {
      const blob = packCell(cell, V);
      yield* push(opCell('put', path, { vb: blob, after }), opCost(path) + size, liveCells(cell));
      return;
    }
    if (!store || size <= budget) {
      const copy = freeze(cell, 'v');
      yield* push(opCell('put', path, { v: copy, after }), opCost(path) + size, countCells(copy));
      return;
    }
    yield* push(opCell('put', path, { v: frozenShell('v', cell, []), after }), opCost(path) + CELL_COST, 1);
    // The children as they are now; the walk through them may take several beats.
    yield* addRuns(
      path,
      cell,
      cell.children().filter((c) => !c.isDeleted),
      previousIn(cell),
    );
  }

  function* merge(entries: ReadonlyArray<{ readonly path: readonly Name[]; readonly cell: Cell }>): Generator<PackedPart, void> {
    let chunk: Array<{ path: readonly Name[]; cell: Cell }> = [];
    let chunkSize = 0;
    function* flush(): Generator<PackedPart, void> {
      if (chunk.length === 0) return;
      const op = opCell('mrg', [], { v: overlay(chunk) });
      const cost = CELL_COST * 2 + chunkSize;
      const cells = chunk.length;
      chunk = [];
      chunkSize = 0;
      yield* push(op, cost, cells);
    }
    for (const entry of entries) {
      const budget = cap();
      // The value, and (at most) a dictionary on its way for each level.
      const size = sizeUpTo(entry.cell, entry.path.length, budget) + (CELL_COST + SEGMENT_COST * entry.path.length) * entry.path.length;
      if (chunkSize + size > budget) yield* flush();
      chunk.push(entry);
      chunkSize += size;
    }
    yield* flush();
  }

  /**
   * Packed: values set in a dictionary the receiver has travel as an `add` of that dictionary
   * (packed, ~13 bytes a cell) when it has at least {@link PACKED_MERGE_MIN} of them, instead of
   * the overlay's serializer records (~200 bytes a cell, and a seal each with AEAD): a branch
   * filled a few cells at a time (the demo's `sky`) set the second half of a group of 100 in
   * every bundle, half the part's bytes. `add` replaces same-named children and leaves the
   * others, as the overlay does; links and the rest stay in the overlay.
   */
  function* packedMerge(entries: ReadonlyArray<{ readonly path: readonly Name[]; readonly cell: Cell }>): Generator<PackedPart, void> {
    const byParent = new Map<Cell, Array<{ readonly path: readonly Name[]; readonly cell: Cell }>>();
    for (const entry of entries) {
      if (entry.cell.kind !== 'value' || entry.cell.parent === undefined) continue;
      const siblings = byParent.get(entry.cell.parent);
      if (siblings === undefined) byParent.set(entry.cell.parent, [entry]);
      else siblings.push(entry);
    }
    const rest: Array<{ readonly path: readonly Name[]; readonly cell: Cell }> = [];
    const moved = new Set<Cell>();
    for (const [, siblings] of byParent) if (siblings.length >= PACKED_MERGE_MIN) for (const e of siblings) moved.add(e.cell);
    for (const entry of entries) if (!moved.has(entry.cell)) rest.push(entry);
    yield* merge(rest);
    for (const [parent, siblings] of byParent) {
      if (siblings.length < PACKED_MERGE_MIN) continue;
      yield* addRuns(
        siblings[0]!.path.slice(0, -1),
        parent,
        siblings.map((e) => e.cell),
        () => undefined,
      );
    }
  }

  for (const op of ops) {
    switch (op.op) {
      case 'put':
        yield* put(op.path, op.cell, op.after);
        break;
      case 'del':
        yield* push(
          opCell('del', op.path, op.names === undefined ? {} : { names: op.names }),
          opCost(op.path) + (op.names?.length ?? 0) * (CELL_COST + SEGMENT_COST),
          0,
        );
        break;
      case 'mrg':
        if (packed) yield* packedMerge(op.entries);
        else yield* merge(op.entries);
        break;
      case 'add':
        yield* addRuns(op.path, op.store, op.cells, previousIn(op.store));
        break;
      case 'ord':
        yield* push(opCell('ord', op.path, { names: op.names }), opCost(op.path) + op.names.length * (CELL_COST + SEGMENT_COST), 0);
        break;
    }
  }
  if (current.length > 0 || !yielded) yield { ops: current, estimatedBytes: used };
}

/** For a list: each live child's previous live sibling (`null` for the first), where a big child is `put`; nothing for a dictionary. */
function previousIn(store: Cell): (child: Cell) => Name | null | undefined {
  if (store.kind !== 'list') return () => undefined;
  const previous = new Map<Cell, Name | null>();
  let last: Name | null = null;
  for (const c of store.children()) {
    if (c.isDeleted) continue;
    previous.set(c, last);
    last = c.name;
  }
  return (child) => previous.get(child) ?? null;
}

/** Values and links at their paths, under dictionaries named by the path: the `v` of a `mrg` op. */
function overlay(entries: ReadonlyArray<{ readonly path: readonly Name[]; readonly cell: Cell }>): FrozenCell {
  interface Node {
    readonly kids: Map<string, Node>;
    readonly name: Name;
    leaf?: Cell;
  }
  const root: Node = { kids: new Map(), name: entries[0]!.path[0]! };
  for (const { path, cell } of entries) {
    let node = root;
    for (const segment of path) {
      let next = node.kids.get(segment.key);
      if (next === undefined) node.kids.set(segment.key, (next = { kids: new Map(), name: segment }));
      node = next;
    }
    node.leaf = cell;
  }
  const build = (node: Node, as: Name | string): FrozenCell =>
    node.leaf !== undefined
      ? freeze(node.leaf, as)
      : frozenDict(
          as,
          [...node.kids.values()].map((k) => build(k, k.name)),
        );
  return build(root, 'v');
}

/** Values of one dictionary in a `mrg` from which, packed, they travel as an `add` instead (see packedMerge). */
const PACKED_MERGE_MIN = 4;

/** The name of an op's content. */
const V = name('v');

function liveCells(cell: Cell): number {
  let n = 1;
  for (const c of cell.children()) if (!c.isDeleted) n += liveCells(c);
  return n;
}

function countCells(cell: FrozenCell): number {
  let n = 1;
  for (const c of cell.children()) n += countCells(c);
  return n;
}

/**
 * One op as a dictionary: `op` (text), `path` (a chain of single-child dictionaries named by
 * the path's names), `after/<name>` (list anchor), `v` (the content) or `vb` (the same, packed), `names` (a list of
 * empty dictionaries named by the new order).
 */
function opCell(
  kind: 'put' | 'add' | 'del' | 'ord' | 'mrg',
  path: readonly Name[],
  extra: { v?: FrozenCell; vb?: Uint8Array; after?: Name | null | undefined; names?: readonly Name[] },
): FrozenCell {
  const fields: FrozenCell[] = [frozenValue('op', text(kind)), frozenChain('path', path)];
  if (extra.v !== undefined) fields.push(extra.v);
  if (extra.vb !== undefined) fields.push(frozenValue('vb', bytes(extra.vb)));
  if (extra.after !== undefined && extra.after !== null) fields.push(frozenDict('after', [frozenDict(extra.after, [])]));
  if (extra.names !== undefined)
    fields.push(
      frozenList(
        'names',
        extra.names.map((n) => frozenDict(n, [])),
      ),
    );
  // Ops are list children; their names are given by position when the message list is built.
  return frozenDict('op', fields);
}

/** A bundle being packed a part at a time (one part is kept back until the next exists, so the last can be marked). */
export interface Packing {
  /** The walk in progress: the bundle's ops, then each delta pass (see {@link packNext}). */
  parts: Generator<PackedPart, void>;
  ahead: PackedPart | undefined;
  readonly stats: PackStats;
  /** Delta passes started so far. */
  passes?: number;
  /** Content in the packed form (the receiver said it reads it); the delta passes too. */
  readonly packed?: boolean;
}

/**
 * Delta passes packed lazily, part by part, before the last one is packed at once. A branch that
 * grows while its bundle is packed (a handler filling 100,000 cells over 25 beats) left tens of
 * thousands of changed cells for one delta, frozen in one beat of the source; walked like the
 * first pass, each part costs its own beat's budget. Bounded, so a branch that never stops
 * changing still gets its bundle finished.
 */
const LAZY_PASSES = 8;

/**
 * One step of `packing`: hands a finished part to `add` and answers `undefined` while the walk
 * goes on; once it is over, the changes `log` gathered meanwhile follow as a delta, walked the
 * same way (and the changes made during that walk after it, up to {@link LAZY_PASSES} passes;
 * then the rest at once), the last part is marked as such, and the stats of the whole bundle
 * are the answer.
 */
export function packNext(
  packing: Packing,
  log: BranchLog,
  tree: Parameters<BranchLog['seal']>[0],
  partBytes: PartBudget,
  add: (part: PackedPart, last: boolean) => void,
): PackStats | undefined {
  for (;;) {
    const next = packing.parts.next();
    if (!next.done) {
      const previous = packing.ahead;
      packing.ahead = next.value;
      if (previous === undefined) continue;
      add(previous, false);
      return undefined;
    }
    if (log.pending && (packing.passes ?? 0) < LAZY_PASSES) {
      // Like the first pass: each part reads the tree when it is pulled; what changes meanwhile
      // is in the log again for the next pass.
      packing.passes = (packing.passes ?? 0) + 1;
      packing.parts = packParts(log.seal(tree), partBytes, packing.stats, packing.packed === true);
      continue;
    }
    const redo = log.pending ? packOps(log.seal(tree), partBytes, packing.stats, packing.packed === true).parts : [];
    const rest = [packing.ahead!, ...redo];
    rest.forEach((part, i) => add(part, i === rest.length - 1));
    return packing.stats;
  }
}
