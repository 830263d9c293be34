/**
 * The children of one dictionary of a tree, bucketed by a beat, so that a sweep for "every child
 * whose beat is below B" visits the buckets below B instead of every child. Derived state only:
 * the tree stays the record, and every candidate is checked against it when visited.
 *
 * Why: the replay guard's sweep and `pruneUsage` read `children()` of dictionaries that hold one
 * entry per invoke of a 1,024-beat window (~150,000 at 128 calls per beat); `children()` sorts a
 * dictionary by name whenever it changed since it was last read, and at that size the sort took
 * ~0.7 s per sweep (measured: a guard sweep beat of 2 s, `pruneUsage` 1–1.8 s, one-at-a-time round
 * trips with a 15–40 ms p99).
 *
 * Exactness. The index holds every committed child, each in a bucket whose key is at most the
 * child's current beat (its key when it was told): the tree tells committed changes only
 * (`Tree.watch`), and a beat told is never undone below. A child is indexed when the index is built
 * (`children()`, once per dictionary cell) and again whenever a committed change reaches it. A
 * visit leaves the child in its bucket unless it is gone from the dictionary: a removal that a
 * failing batch undoes brings the child back, and the next sweep finds it again. Entries told for
 * writes a batch then undid are extra, and a visit that checks the tree skips them. So a sweep
 * visits every child the full scan would have selected, and the caller's check on the tree
 * decides; only the order of the visits differs (bucket order, not name order), which changes no
 * tree content.
 */
import type { Cell, Name, Tree } from '@cep/cells';

export class ChildIndex {
  /** The dictionary cell indexed (re-read from the tree at each use: replaced, it is indexed anew). */
  private dict: Cell | undefined;
  private readonly buckets = new Map<number, Cell[]>();
  /** Children told before they had a key (see add). */
  private unkeyed: Cell[] = [];
  private lastChild: Cell | undefined;
  private lastKey = -1;

  /**
   * `keyOf`: the beat a child is bucketed under, or `undefined` to leave it out (never selected).
   * `depth`: how far below the dictionary a change still counts as a change of its child (1: the
   * child itself).
   */
  constructor(
    private readonly tree: Tree,
    private readonly path: readonly Name[],
    private readonly keyOf: (child: Cell) => number | undefined,
    private readonly depth: number,
  ) {
    tree.watch((type, cell, parent) => {
      const dict = this.dict;
      if (dict === undefined || (type === 'remove' && parent === dict)) return;
      let child = cell;
      let up = parent;
      for (let i = 0; i < this.depth && up !== undefined; i++) {
        if (up === dict) return this.add(child);
        child = up;
        up = up.parent;
      }
    });
  }

  /** The dictionary's cell now, the index rebuilt first if it is another cell than last time. */
  current(): Cell | undefined {
    const dict = this.tree.get(this.path);
    if (dict !== this.dict) {
      this.buckets.clear();
      this.unkeyed = [];
      this.lastChild = undefined;
      this.dict = dict;
      for (const child of dict?.children() ?? []) this.add(child);
    }
    if (this.unkeyed.length > 0) {
      const unkeyed = this.unkeyed;
      this.unkeyed = [];
      // Still without a key (not a stamp): left out, as a scan would leave it; a later write tells it again.
      for (const child of unkeyed) if (child.parent === dict && this.keyOf(child) !== undefined) this.add(child);
    }
    return dict;
  }

  /**
   * Starts (or keeps) following the dictionary: cheap when it is followed already. Called as
   * entries are made, so the index is built while the dictionary is small, not at the first sweep.
   */
  follow(): void {
    if (this.dict === undefined || this.dict.parent === undefined) this.current();
  }

  /**
   * Calls `visit` with each child (still in the dictionary) bucketed below `below`; `visit` checks
   * the tree and may remove it. Call {@link current} first.
   */
  sweep(below: number, visit: (child: Cell) => void): void {
    const dict = this.dict;
    for (const [key, cells] of this.buckets) {
      if (key >= below) continue;
      const kept: Cell[] = [];
      for (const cell of cells) {
        if (cell.parent !== dict) continue;
        kept.push(cell);
        visit(cell);
      }
      // Removed just now: dropped at the next sweep (unless a failing batch put them back).
      if (kept.length === 0) this.buckets.delete(key);
      else this.buckets.set(key, kept);
    }
  }

  private add(child: Cell): void {
    const key = this.keyOf(child);
    if (key === undefined) {
      // Outside a batch a new cell is told before its value is set: its key is read at the next use.
      this.unkeyed.push(child);
      return;
    }
    // A write is told as several changes of one child in a row (a record, its dictionaries, its fields): one entry.
    if (child === this.lastChild && key === this.lastKey) return;
    this.lastChild = child;
    this.lastKey = key;
    const bucket = this.buckets.get(key);
    if (bucket === undefined) this.buckets.set(key, [child]);
    else bucket.push(child);
  }
}

/** One index per tree and dictionary kind (made at first use; it lives as long as its tree). */
export function childIndex(
  indexes: WeakMap<Tree, ChildIndex>,
  tree: Tree,
  path: readonly Name[],
  keyOf: (child: Cell) => number | undefined,
  depth: number,
): ChildIndex {
  let index = indexes.get(tree);
  if (index === undefined) indexes.set(tree, (index = new ChildIndex(tree, path, keyOf, depth)));
  return index;
}
