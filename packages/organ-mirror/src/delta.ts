/**
 * What changed in a source branch since the last bundle, as the ops that turn the receiver's
 * copy (the state at the last bundle) into the source's current state.
 *
 * The log only remembers *where* something changed (from `tree.subscribe`); at seal time the
 * ops are computed from the current tree. That keeps a window's many writes to one cell down
 * to one op, and it is exact because of three facts:
 * - a changed cell that is live now is shipped whole (`put`), one that is gone is deleted
 *   (`del`); either covers every change below it;
 * - a list child is placed after its previous *live* sibling in the current order: that
 *   sibling either did not change (so the receiver has it, in the same relative order) or is
 *   placed earlier in the same bundle (puts go in current list order);
 * - a list `move` event names only the list, so a reordered list ships its whole order (`ord`),
 *   applied after the puts and deletes.
 */
import type { Cell, Name, Tree, TreeChange } from '@cep/cells';

/** One op on the receiver's copy; paths are relative to the mirrored branch. */
export type MirrorOp =
  /** Replace the cell at `path` with `cell`'s live branch. `after`: list anchor (`null` = first; absent = dictionary parent). */
  | { readonly op: 'put'; readonly path: readonly Name[]; readonly cell: Cell; readonly after?: Name | null }
  /** Remove the children `names` of `path`; without `names`, remove `path` itself (nothing if absent). */
  | { readonly op: 'del'; readonly path: readonly Name[]; readonly names?: readonly Name[] }
  /** Set values and links inside dictionaries the receiver has (one overlay for many small changes). */
  | { readonly op: 'mrg'; readonly entries: ReadonlyArray<{ readonly path: readonly Name[]; readonly cell: Cell }> }
  /** Write `cells` into the store at `path` (`store` is its source cell), replacing same-named children; a list appends them. */
  | { readonly op: 'add'; readonly path: readonly Name[]; readonly store: Cell; readonly cells: readonly Cell[] }
  /** Reorder the list at `path` to exactly `names`. */
  | { readonly op: 'ord'; readonly path: readonly Name[]; readonly names: readonly Name[] };

const SEP = '\u0001';
const keyOf = (path: readonly Name[]): string => path.map((n) => n.key).join(SEP);

/** The change log of one mirrored branch. */
export class BranchLog {
  /** The next seal ships the whole branch (a new epoch, or nothing shipped yet). */
  snapshot = true;
  /** Beat of the oldest change not shipped yet. */
  firstChange: number | undefined;
  private readonly dirty = new Map<string, readonly Name[]>();
  private readonly reordered = new Map<string, readonly Name[]>();
  private readonly rootKeys: readonly string[];

  constructor(readonly root: readonly Name[]) {
    this.rootKeys = root.map((n) => n.key);
  }

  /** True when a seal would ship something. */
  get pending(): boolean {
    return this.snapshot || this.dirty.size > 0 || this.reordered.size > 0;
  }

  /** Paths logged as changed since the last seal (a path under one already logged is not logged again). */
  get marked(): number {
    return this.dirty.size;
  }

  /** Notes a committed change; returns true when it concerns the branch. */
  notice(change: TreeChange): boolean {
    const path = change.path;
    const keys = this.rootKeys;
    const n = Math.min(path.length, keys.length);
    for (let i = 0; i < n; i++) if (path[i]!.key !== keys[i]) return false;
    if (path.length < keys.length) {
      // An ancestor of the branch appeared, vanished or came back: the branch itself may have.
      if (change.type === 'update' || change.type === 'move') return false;
      this.mark(this.dirty, []);
    } else if (change.type === 'move') {
      this.mark(this.reordered, path.slice(keys.length));
    } else {
      this.mark(this.dirty, path.slice(keys.length));
    }
    this.firstChange ??= change.beat;
    return true;
  }

  /** Forgets everything and ships the whole branch next (a new epoch). */
  reset(): void {
    this.snapshot = true;
    this.dirty.clear();
    this.reordered.clear();
    this.firstChange = undefined;
  }

  /**
   * Starts a catch-up instead of a snapshot: the receiver holds the branch as it was at `beat`,
   * and {@link markChanged} / {@link markReordered} say where it has changed since.
   */
  resumeAt(beat: number): void {
    this.snapshot = false;
    this.firstChange = beat;
  }

  /** `rel` (relative to the branch) may differ from the receiver's copy: the next seal ships its current state. */
  markChanged(rel: readonly Name[]): void {
    this.mark(this.dirty, rel);
  }

  /** The list at `rel` may be in another order on the receiver: the next seal ships its order. */
  markReordered(rel: readonly Name[]): void {
    this.mark(this.reordered, rel);
  }

  /** The ops that bring the last shipped state to the tree's current one; clears the log. */
  seal(tree: Tree): MirrorOp[] {
    const ops = this.snapshot ? this.whole(tree) : this.delta(tree);
    this.snapshot = false;
    this.dirty.clear();
    this.reordered.clear();
    this.firstChange = undefined;
    return ops;
  }

  private mark(into: Map<string, readonly Name[]>, rel: readonly Name[]): void {
    if (this.snapshot) return; // the snapshot will read the current state anyway
    if (into === this.dirty) {
      // A path under one already marked changed is shipped with it (the seal keeps every
      // marked path or a marked ancestor of it, and a kept path covers its whole branch): not
      // logging it keeps a writer filling a new store (the demo's `sky`: a group created, then
      // 100 cells under it) from growing the log, and the seal's sort and walk, by a cell each.
      const key = coveredOrKey(this.dirty, rel);
      if (key !== undefined && !into.has(key)) into.set(key, rel);
      return;
    }
    const key = keyOf(rel);
    if (!into.has(key)) into.set(key, rel);
  }

  private live(tree: Tree, rel: readonly Name[]): Cell | undefined {
    const cell = tree.find([...this.root, ...rel]);
    return cell === undefined || cell.isDeleted ? undefined : cell;
  }

  private whole(tree: Tree): MirrorOp[] {
    const cell = this.live(tree, []);
    return [cell === undefined ? { op: 'del', path: [] } : { op: 'put', path: [], cell }];
  }

  private delta(tree: Tree): MirrorOp[] {
    // Shallow first, so a kept path's ancestors have been decided before it.
    const entries = [...this.dirty.entries()].sort((a, b) => a[1].length - b[1].length || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const kept = new Set<string>();
    const first: MirrorOp[] = [];
    const dels = new Map<string, { path: readonly Name[]; names: Name[] }>();
    const merges: Array<{ path: readonly Name[]; cell: Cell }> = [];
    const groups = new Map<string, { path: readonly Name[]; parent: Cell; items: Array<{ rel: readonly Name[]; cell: Cell }> }>();
    for (const [key, rel] of entries) {
      if (isCovered(kept, rel)) continue;
      kept.add(key);
      const cell = this.live(tree, rel);
      if (rel.length === 0) {
        first.push(cell === undefined ? { op: 'del', path: rel } : { op: 'put', path: rel, cell });
        continue;
      }
      const parentPath = rel.slice(0, -1);
      const parentKey = keyOf(parentPath);
      if (cell === undefined) {
        const group = dels.get(parentKey) ?? { path: parentPath, names: [] };
        group.names.push(rel[rel.length - 1]!);
        dels.set(parentKey, group);
      } else if (cell.parent!.kind === 'dictionary' && (cell.kind === 'value' || cell.kind === 'link')) {
        merges.push({ path: rel, cell });
      } else {
        const group = groups.get(parentKey) ?? { path: parentPath, parent: cell.parent!, items: [] };
        group.items.push({ rel, cell });
        groups.set(parentKey, group);
      }
    }
    const ops: MirrorOp[] = [...first];
    for (const key of [...dels.keys()].sort()) ops.push({ op: 'del', ...dels.get(key)! });
    if (merges.length > 0) ops.push({ op: 'mrg', entries: merges });
    for (const key of [...groups.keys()].sort()) {
      const { path, parent, items } = groups.get(key)!;
      if (parent.kind !== 'list') {
        ops.push({ op: 'add', path, store: parent, cells: items.map((i) => i.cell) });
        continue;
      }
      const order = parent.children();
      const index = new Map<Cell, number>();
      order.forEach((c, i) => index.set(c, i));
      items.sort((a, b) => index.get(a.cell)! - index.get(b.cell)!);
      // Changed children at the end of the list (appends, mostly) travel as one `add`.
      const changed = new Set(items.map((i) => i.cell));
      let tail = order.length;
      while (tail > 0 && (order[tail - 1]!.isDeleted || changed.has(order[tail - 1]!))) tail--;
      const appended = order.slice(tail).filter((c) => !c.isDeleted);
      // The others go in current list order, each after its previous live sibling.
      for (const { rel, cell } of items) {
        if (index.get(cell)! >= tail) continue;
        let after: Name | null = null;
        for (let i = index.get(cell)! - 1; i >= 0; i--) {
          if (!order[i]!.isDeleted) {
            after = order[i]!.name;
            break;
          }
        }
        ops.push({ op: 'put', path: rel, cell, after });
      }
      if (appended.length > 0) ops.push({ op: 'add', path, store: parent, cells: appended });
    }
    for (const [key, rel] of [...this.reordered.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
      if (kept.has(key) || isCovered(kept, rel)) continue;
      const list = this.live(tree, rel);
      if (list?.kind !== 'list') continue;
      ops.push({
        op: 'ord',
        path: rel,
        names: list
          .children()
          .filter((c) => !c.isDeleted)
          .map((c) => c.name),
      });
    }
    return ops;
  }
}

/** True when a proper ancestor of `rel` (the branch root included) is in `kept`. */
function isCovered(kept: ReadonlySet<string>, rel: readonly Name[]): boolean {
  if (rel.length === 0) return false;
  if (kept.has('')) return true;
  let key = '';
  for (let i = 0; i < rel.length - 1; i++) {
    key = i === 0 ? rel[0]!.key : key + SEP + rel[i]!.key;
    if (kept.has(key)) return true;
  }
  return false;
}

/**
 * `rel`'s key, or undefined when `rel` or a proper ancestor of it (the branch root included) is
 * already in `marked`; the ancestors' keys are built as the key is, so a mark costs one join.
 */
function coveredOrKey(marked: ReadonlyMap<string, unknown>, rel: readonly Name[]): string | undefined {
  if (marked.has('')) return undefined;
  let key = '';
  for (let i = 0; i < rel.length; i++) {
    key = i === 0 ? rel[0]!.key : key + SEP + rel[i]!.key;
    if (i < rel.length - 1 && marked.has(key)) return undefined;
  }
  return marked.has(key) ? undefined : key;
}
