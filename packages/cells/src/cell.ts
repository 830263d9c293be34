/**
 * The cell node. Reading is public (the {@link Cell} interface); every mutation goes
 * through the tree, which stamps beats, keeps history, records undo for batches and
 * tells subscribers.
 */
import { compareNames, name, type Name } from './names.ts';
import type { Value } from './values.ts';

/** What a cell is: a value, a dictionary (children sorted by name), a list (insertion order) or a link. */
export type CellKind = 'value' | 'dictionary' | 'list' | 'link';

/** One past state of a cell: its value from `beat` on (`undefined` = deleted or not yet there). */
export interface HistoryEntry {
  readonly beat: number;
  readonly value: Value | undefined;
}

/** A cell, read-only. Mutate it through its {@link Tree}. */
export interface Cell {
  readonly name: Name;
  readonly kind: CellKind;
  readonly parent: Cell | undefined;
  /** Beat the cell was created in. */
  readonly created: number;
  /** Beat of the last change to this cell (its value, or for stores its set or order of children). */
  readonly modified: number;
  /** Beat of the soft delete, or `undefined` while alive. */
  readonly deleted: number | undefined;
  readonly isDeleted: boolean;
  /** Newest beat in which this cell or anything below it changed. */
  readonly subtreeModified: number;
  /** The value of a value cell. */
  readonly value: Value | undefined;
  /** Optional store type of a dictionary or list (organ roots carry `organ/<kind>`). */
  readonly storeType: Name | undefined;
  /** Absolute path a link points at. */
  readonly linkTarget: readonly Name[] | undefined;
  /** Number of children, soft-deleted ones included. */
  readonly size: number;
  /** A child by name (soft-deleted children too: check `isDeleted`). */
  child(name: Name | string): Cell | undefined;
  /** Children in order: by name for a dictionary, list order for a list. Includes soft-deleted ones. */
  children(): readonly Cell[];
  /** Names from the root (exclusive) to this cell. */
  path(): Name[];
  /** The value this cell had at the end of `beat`, from its (bounded) history. */
  valueAt(beat: number): Value | undefined;
  /** Past states, newest first (bounded by the tree's `historyDepth`). */
  history(): readonly HistoryEntry[];
}

export class CellNode implements Cell {
  parent: CellNode | undefined;
  created: number;
  modified: number;
  deleted: number | undefined = undefined;
  subtreeModified: number;
  value: Value | undefined = undefined;
  storeType: Name | undefined = undefined;
  linkTarget: readonly Name[] | undefined = undefined;
  /** Past states, newest first. */
  past: HistoryEntry[] | undefined = undefined;
  /** Children by name key (stores only). */
  byKey: Map<string, CellNode> | undefined;
  /** List order; for dictionaries a sorted cache, `undefined` when stale. */
  order: CellNode[] | undefined;
  /** Next automatic numeric name for list children. */
  nextAuto = 1;
  /**
   * The tree batch (a process-wide serial, see tree.ts) that already saved this cell's state for
   * its undo; 0 when none. A stamp on the cell instead of a set of saved cells per batch: an
   * inbound frame of a few hundred invokes is one batch creating thousands of cells, and growing
   * that set was a measurable share of each call's CPU and garbage. Negative when the batch
   * created the cell (nothing to save either; the tree's bulk write tells such cells' new
   * children with their parent's `create`).
   */
  savedInBatch = 0;

  constructor(
    readonly name: Name,
    readonly kind: CellKind,
    parent: CellNode | undefined,
    beat: number,
  ) {
    this.parent = parent;
    this.created = beat;
    this.modified = beat;
    this.subtreeModified = beat;
    if (kind === 'dictionary' || kind === 'list') {
      this.byKey = new Map();
      this.order = kind === 'list' ? [] : undefined;
    }
  }

  get isDeleted(): boolean {
    return this.deleted !== undefined;
  }

  get size(): number {
    return this.byKey?.size ?? 0;
  }

  child(n: Name | string): CellNode | undefined {
    if (this.byKey === undefined) return undefined;
    return this.byKey.get(typeof n === 'string' ? keyOfText(n) : n.key);
  }

  children(): readonly CellNode[] {
    if (this.byKey === undefined) return [];
    if (this.order === undefined) this.order = [...this.byKey.values()].sort((a, b) => compareNames(a.name, b.name));
    return this.order;
  }

  path(): Name[] {
    const names: Name[] = [];
    for (let node: CellNode | undefined = this; node?.parent !== undefined; node = node.parent) names.push(node.name);
    return names.reverse();
  }

  valueAt(beat: number): Value | undefined {
    if (beat < this.created) return undefined;
    const currentBeat = this.deleted ?? this.modified;
    if (currentBeat <= beat) return this.deleted === undefined ? this.value : undefined;
    for (const entry of this.past ?? []) if (entry.beat <= beat) return entry.value;
    return undefined;
  }

  history(): readonly HistoryEntry[] {
    return this.past ?? [];
  }
}

function keyOfText(text: string): string {
  return name(text).key;
}
