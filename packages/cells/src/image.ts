/**
 * Cell images: a cell's whole state (stamps, value, history, list order) as plain data,
 * so a tree can be saved and rebuilt exactly — beat stamps included, not only the digest.
 *
 * - {@link imageOf} / {@link exportTree}: read images (a snapshot is every cell, parents first).
 * - {@link applyImages}: write images (and removals) into a tree, bypassing the stamping
 *   rules, because the stamps come from the images. Applying the same images twice is
 *   harmless: an image says what a cell is, not what to do to it.
 * - {@link trackChanges}: the images a tree changed since the last `take()` — what a durable
 *   store appends per beat.
 */
import { CellNode, type Cell, type CellKind, type HistoryEntry } from './cell.ts';
import { cellsError } from './errors.ts';
import { formatPath, type Name } from './names.ts';
import type { Tree, TreeChange } from './tree.ts';
import type { Value } from './values.ts';

const NO_HISTORY: readonly HistoryEntry[] = Object.freeze([]);

/** A cell's full state. `path` is empty for the root. */
export interface CellImage {
  readonly path: readonly Name[];
  readonly kind: CellKind;
  readonly created: number;
  readonly modified: number;
  readonly deleted: number | undefined;
  readonly subtreeModified: number;
  readonly value: Value | undefined;
  readonly storeType: Name | undefined;
  readonly linkTarget: readonly Name[] | undefined;
  /** Past states, newest first (as {@link Cell.history}). */
  readonly history: readonly HistoryEntry[];
  /** Next automatic numeric name of a list's children (1 for other kinds). */
  readonly nextAuto: number;
  /** A list's children in list order; `undefined` for other kinds (dictionaries sort by name). */
  readonly order: readonly Name[] | undefined;
}

/** A cell removed for good (with everything below it). */
export interface CellRemoval {
  readonly removed: readonly Name[];
}

/** One entry of a change set: an image to write, or a removal. */
export type CellEdit = CellImage | CellRemoval;

/** True when `edit` is a removal. */
export function isRemoval(edit: CellEdit): edit is CellRemoval {
  return 'removed' in edit;
}

/** The image of `cell`, with `path` given when the caller knows it already. */
export function imageOf(cell: Cell, path: readonly Name[] = cell.path()): CellImage {
  const node = cell as CellNode;
  return {
    path,
    kind: node.kind,
    created: node.created,
    modified: node.modified,
    deleted: node.deleted,
    subtreeModified: node.subtreeModified,
    value: node.value,
    storeType: node.storeType,
    linkTarget: node.linkTarget,
    history: node.past === undefined ? NO_HISTORY : node.past.slice(),
    nextAuto: node.nextAuto,
    order: node.kind === 'list' ? node.order!.map((child) => child.name) : undefined,
  };
}

/** Every cell of `tree` (soft-deleted ones included), root first, each parent before its children. */
export function* exportTree(tree: Tree): Generator<CellImage> {
  const stack: Array<{ node: CellNode; path: readonly Name[] }> = [{ node: tree.root as CellNode, path: [] }];
  while (stack.length > 0) {
    const { node, path } = stack.pop()!;
    yield imageOf(node, path);
    const children = node.children();
    for (let i = children.length - 1; i >= 0; i--) stack.push({ node: children[i]!, path: [...path, children[i]!.name] });
  }
}

/** List cells whose child order is settled once every cell is in place. */
type PendingOrders = Array<{ node: CellNode; order: readonly Name[] }>;

/** Gives `node` the state `image` records (stamps, value, history); a list's order waits in `lists`. */
function fillNode(node: CellNode, image: CellImage, lists: PendingOrders): void {
  node.created = image.created;
  node.modified = image.modified;
  node.deleted = image.deleted;
  node.subtreeModified = image.subtreeModified;
  node.value = image.value;
  node.storeType = image.storeType;
  node.linkTarget = image.linkTarget === undefined ? undefined : Object.freeze([...image.linkTarget]);
  node.past = image.history.length === 0 ? undefined : image.history.slice();
  node.nextAuto = image.nextAuto;
  if (image.order !== undefined && node.kind === 'list') lists.push({ node, order: image.order });
}

/**
 * Writes `edits` into `tree` in order: a removal detaches the cell at its path (nothing if
 * absent); an image creates or overwrites the cell at its path, whose parent must exist by
 * then (`CELL_NOT_FOUND` otherwise — give parents before children). List orders are
 * settled after the last edit. Subscribers are not told: this rebuilds state, it does not
 * change it. The tree's beat is left alone.
 */
export function applyImages(tree: Tree, edits: Iterable<CellEdit>): void {
  const root = tree.root as CellNode;
  const lists: PendingOrders = [];
  for (const edit of edits) {
    if (isRemoval(edit)) {
      const node = walk(root, edit.removed);
      if (node !== undefined && node !== root) detach(node);
      continue;
    }
    let node: CellNode;
    if (edit.path.length === 0) {
      node = root;
    } else {
      const parentPath = edit.path.slice(0, -1);
      const parent = walk(root, parentPath);
      if (parent === undefined || parent.byKey === undefined) {
        throw cellsError('CELL_NOT_FOUND', `cannot restore ${formatPath(edit.path)}: no store at ${formatPath(parentPath)}`, { path: formatPath(edit.path) });
      }
      const leaf = edit.path[edit.path.length - 1]!;
      let existing = parent.byKey.get(leaf.key);
      if (existing !== undefined && existing.kind !== edit.kind) {
        detach(existing);
        existing = undefined;
      }
      if (existing === undefined) {
        existing = new CellNode(leaf, edit.kind, parent, edit.created);
        parent.byKey.set(leaf.key, existing);
        if (parent.kind === 'list') parent.order!.push(existing);
        else parent.order = undefined;
      }
      node = existing;
    }
    fillNode(node, edit, lists);
  }
  for (const { node, order } of lists) settleOrder(node, order);
}

/** What {@link restoreTree} returns: adds cells top-down without paths (the fast way to load a snapshot). */
export interface TreeRestorer {
  /** Sets the root's state from `image` (its path is ignored) and returns the root. */
  root(image: CellImage): Cell;
  /** Adds `image` as the child `childName` of `parent` (a cell this restorer returned) and returns it. */
  child(parent: Cell, childName: Name, image: CellImage): Cell;
  /** Settles list orders; call once after the last cell. */
  finish(): void;
}

/**
 * Rebuilds cells into an empty `tree` in pre-order, parent handles instead of paths — what a
 * snapshot loader does for a million cells. Same result as {@link applyImages}, less work.
 */
export function restoreTree(tree: Tree): TreeRestorer {
  const lists: PendingOrders = [];
  const fill = (node: CellNode, image: CellImage): CellNode => {
    fillNode(node, image, lists);
    return node;
  };
  return {
    root: (image) => fill(tree.root as CellNode, image),
    child(parent, childName, image) {
      const store = parent as CellNode;
      if (store.byKey === undefined || store.byKey.has(childName.key)) {
        throw cellsError('CELL_EXISTS', `cannot restore ${childName.tag.text} under ${formatPath(store.path())}: not a store, or the name is taken`);
      }
      const node = new CellNode(childName, image.kind, store, image.created);
      store.byKey.set(childName.key, node);
      if (store.kind === 'list') store.order!.push(node);
      else store.order = undefined;
      return fill(node, image);
    },
    finish() {
      for (const { node, order } of lists.splice(0)) settleOrder(node, order);
    },
  };
}

/** Puts a list's children in `order`; children the order does not name keep their relative place at the end. */
function settleOrder(list: CellNode, order: readonly Name[]): void {
  const placed: CellNode[] = [];
  const seen = new Set<CellNode>();
  for (const childName of order) {
    const child = list.byKey!.get(childName.key);
    if (child !== undefined && !seen.has(child)) {
      placed.push(child);
      seen.add(child);
    }
  }
  for (const child of list.order!) if (!seen.has(child)) placed.push(child);
  list.order = placed;
}

function walk(root: CellNode, path: readonly Name[]): CellNode | undefined {
  let node: CellNode | undefined = root;
  for (const segment of path) {
    node = node.byKey?.get(segment.key);
    if (node === undefined) return undefined;
  }
  return node;
}

function detach(node: CellNode): void {
  const parent = node.parent!;
  parent.byKey!.delete(node.name.key);
  if (parent.kind === 'list') parent.order = parent.order!.filter((child) => child !== node);
  else parent.order = undefined;
  node.parent = undefined;
}

/** Adds every cell below `node` to `into`, parents before children. */
function addSubtree(node: CellNode, into: Set<CellNode>): void {
  const stack: CellNode[] = [node];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (next.byKey === undefined || next.byKey.size === 0) continue;
    for (const child of (next as Cell).children() as CellNode[]) {
      into.add(child);
      stack.push(child);
    }
  }
}

/** What {@link trackChanges} returns. */
export interface ChangeTracker {
  /**
   * The edits since the last call, in an order {@link applyImages} accepts: removals first,
   * then images of every changed cell and its ancestors (whose stamps moved too), parents
   * before children. Cells removed later in the same window are left out.
   */
  take(): CellEdit[];
  /** Stops listening. */
  stop(): void;
}

/** Starts collecting what `tree` changes (committed changes only: an undone batch leaves nothing). */
export function trackChanges(tree: Tree): ChangeTracker {
  const root = tree.root as CellNode;
  let touched = new Set<CellNode>();
  let removed: Array<readonly Name[]> = [];
  // Created cells that may have arrived with a subtree: `adopt` attaches a whole branch built
  // elsewhere and reports one `create`, for its top cell only.
  let created: CellNode[] = [];
  const stop = tree.subscribe((change: TreeChange) => {
    if (change.type === 'remove') {
      removed.push(change.path);
      if (change.parent !== undefined) touched.add(change.parent as CellNode);
    } else {
      touched.add(change.cell as CellNode);
      if (change.type === 'create' && (change.cell as CellNode).byKey !== undefined) created.push(change.cell as CellNode);
    }
  });
  return {
    take(): CellEdit[] {
      const cells = touched;
      const removals = removed;
      for (const node of created) addSubtree(node, cells);
      touched = new Set();
      removed = [];
      created = [];
      // Close over ancestors (their subtree stamps moved) and keep only cells still attached.
      const depth = new Map<CellNode, number>();
      const depthOf = (node: CellNode): number | undefined => {
        const known = depth.get(node);
        if (known !== undefined) return known;
        if (node === root) {
          depth.set(node, 0);
          return 0;
        }
        if (node.parent === undefined) return undefined;
        const parentDepth = depthOf(node.parent);
        if (parentDepth === undefined) return undefined;
        depth.set(node, parentDepth + 1);
        return parentDepth + 1;
      };
      for (const node of cells) depthOf(node);
      const ordered = [...depth.entries()].sort((a, b) => a[1] - b[1]);
      const edits: CellEdit[] = removals.map((path) => ({ removed: path }));
      // Parents come first, so each path is its parent's plus one name.
      const paths = new Map<CellNode, readonly Name[]>();
      for (const [node] of ordered) {
        const path = node === root ? [] : [...paths.get(node.parent!)!, node.name];
        paths.set(node, path);
        edits.push(imageOf(node, path));
      }
      return edits;
    },
    stop,
  };
}
