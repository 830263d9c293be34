/**
 * The cell tree: one per runtime. Every write is stamped with the tree's current beat;
 * deletes are soft; a batch is all-or-nothing; subscribers hear about committed changes.
 */
import { cellsError } from './errors.ts';
import { CellNode, type Cell, type CellKind, type HistoryEntry } from './cell.ts';
import { acronymId, numericId } from './ids.ts';
import { compareNames, formatPath, name, nameEquals, parsePath, type Name, type PathLike } from './names.ts';
import { valueEquals, type Value } from './values.ts';

/**
 * Serial of the latest batch opened by any tree in this process. Shared by all trees, so a cell
 * moved from another tree never carries a stamp that matches a batch of this one.
 */
let batchSerial = 0;

/** A committed change, as subscribers see it. */
export interface TreeChange {
  readonly type: 'create' | 'update' | 'delete' | 'revive' | 'remove' | 'move';
  readonly cell: Cell;
  readonly beat: number;
  /** The cell's parent; for `remove`, the parent it was removed from (the cell itself no longer has one). */
  readonly parent: Cell | undefined;
  /** The cell's path when the change happened (for `remove`, where it was). */
  readonly path: readonly Name[];
}

/**
 * A change told as its parts (see {@link Tree.watch}): what changed, the cell, and its parent (for
 * `remove`, the parent it was removed from).
 */
export type ChangeWatcher = (type: TreeChange['type'], cell: Cell, parent: Cell | undefined) => void;

/** Options of {@link Tree.subscribe}. */
export interface SubscribeOptions {
  /**
   * `false`: this listener does not read `change.path` (it works from `cell` and `parent`). Every
   * change otherwise carries the path it happened at, built when it happens: an array per change,
   * most of what a change costs to tell. While every listener of the tree passes `false`, the path
   * is built only if read, from the cell's position at that moment (which differs from the path
   * of the change only if the cell or an ancestor was removed or moved in between). Default `true`.
   */
  readonly path?: boolean;
}

/** Options of {@link createTree}. */
export interface TreeOptions {
  /** Past states kept per cell (default 8). Older ones are dropped; `valueAt` then returns `undefined`. */
  readonly historyDepth?: number;
  /** The beat writes are stamped with until `setBeat` is called (default 0). */
  readonly beat?: number;
}

/** What a list child is created as. */
export type NewChild = Value | 'dictionary' | 'list';

/** A cell tree. See the package README for the rules. */
export interface Tree {
  readonly root: Cell;
  /** The beat writes are stamped with. */
  readonly beat: number;
  /** Moves the stamp forward (`BEAT_BACKWARDS` if `beat` is lower than the current one). */
  setBeat(beat: number): void;
  /** A live cell at `path`, or `undefined` (soft-deleted cells count as absent). Follows links on the way. */
  get(path: PathLike): Cell | undefined;
  /** Like {@link Tree.get} but also returns soft-deleted cells. */
  find(path: PathLike): Cell | undefined;
  /** The value at `path`, if a live value cell is there. */
  getValue(path: PathLike): Value | undefined;
  /** Writes a value, creating missing parents as dictionaries. Writing the current value changes nothing. */
  set(path: PathLike, value: Value): Cell;
  /**
   * Writes the value child `child` of `parent` (a cell of this tree) exactly as
   * `set([...parent.path(), child], value)` would — same result, same errors — without walking
   * from the root when `parent` and its ancestors are live: for many fields of one record.
   * `CELL_NOT_FOUND` when `parent` is no longer in this tree (removed, or another tree's cell).
   */
  setChild(parent: Cell, child: Name | string, value: Value): Cell;
  /**
   * Writes many value children of `parent` (a cell of this tree) in one call: the same tree —
   * stamps, history, errors — as `setChild(parent, names[i], values[i])` for each `i` in order
   * inside one batch, so all or nothing: a pattern name, or a child there of another kind, refuses
   * the whole call with setChild's error and nothing written. New names into a live dictionary are
   * made in one pass (one walk up the parents, one stamp of the ancestors), and names that come in
   * order into an empty dictionary are kept as its sorted order (a branch decoded from a sorted
   * source). Events: one per cell written, in order (for new names, once they are all in) —
   * except children it creates under a dictionary created in the same open batch, which are not
   * told on their own: the dictionary's `create`, told at commit, covers them (as `adopt`'s does
   * for its branch). `VALUE_INVALID` when the two arrays differ in length.
   */
  setChildren(parent: Cell, names: readonly Name[], values: readonly Value[]): void;
  /** The dictionary at `path`, created (or revived) if needed, with parents. */
  ensureDictionary(path: PathLike, storeType?: Name): Cell;
  /**
   * The store `child` (a dictionary or a list) of `parent` (a cell of this tree), created or
   * revived if needed, exactly as `ensureDictionary` / `ensureList` of `[...parent.path(), child]`
   * would — same result, same errors — without a walk from the root when `parent` is a live store.
   * `CELL_NOT_FOUND` when `parent` is no longer in this tree.
   */
  ensureChild(parent: Cell, child: Name | string, kind: 'dictionary' | 'list'): Cell;
  /** The list at `path`, created (or revived) if needed, with parents. */
  ensureList(path: PathLike, storeType?: Name): Cell;
  /** Inserts a list child at `index` (0..size); its name is the next numeric unless given. */
  insert(listPath: PathLike, index: number, child: NewChild, childName?: Name): Cell;
  /** Appends a list child. */
  append(listPath: PathLike, child: NewChild): Cell;
  /**
   * Appends a child to `list` (a cell of this tree) exactly as `append(list.path(), child)` would
   * — same result, same errors — without walking from the root when `list` and its ancestors are
   * live: for entries appended to a list in hand. `CELL_NOT_FOUND` when `list` is no longer in this
   * tree (removed, or another tree's cell).
   */
  appendChild(list: Cell, child: NewChild): Cell;
  /** Moves a list child from one index to another. */
  move(listPath: PathLike, from: number, to: number): void;
  /** Creates (or retargets) a link at `path` pointing at `target` (an absolute path). */
  link(path: PathLike, target: PathLike): Cell;
  /** The cell a link points at (following chains), or `undefined` when dangling. */
  resolveLink(cell: Cell): Cell | undefined;
  /** Soft-deletes the cell and everything below it. False when nothing live was there. */
  delete(path: PathLike): boolean;
  /** Removes the cell and everything below it for good. False when nothing was there. */
  remove(path: PathLike): boolean;
  /**
   * {@link remove}, for a branch nobody reads once it is removed (an organ's own finished
   * records): once the removal is told (its batch committed), the removed cells let go of their
   * children, values and history — they keep their names and kinds, nothing else. Why: V8's
   * collector may hold a removed cell that had grown old for seconds (until its next full
   * collection), and with it every younger cell it still reached, each then copied into the old
   * generation as if it were alive.
   */
  discard(path: PathLike): boolean;
  /** Removes every child of the store at `path` for good. */
  clear(path: PathLike): void;
  /**
   * Moves the live cell at `path` in `from` (another tree, which gives it up) to the same path
   * here, where nothing may be (`CELL_EXISTS`); missing parents are created as dictionaries.
   * The branch is not copied: it is built elsewhere (e.g. over several beats) and attached in
   * one step. Its cells are stamped with this tree's beat as if created now, without history;
   * subscribers hear one `create`, for the adopted cell (as `remove` reports only the cell it
   * removes). Undone by a failing batch (then it belongs to neither tree).
   */
  adopt(from: Tree, path: PathLike): Cell;
  /** Runs `fn`; if it throws, every change it made is undone and nobody is told of them. */
  batch<T>(fn: () => T): T;
  /**
   * Hears every committed change; returns the unsubscribe function. With `{ path: false }` the
   * listener says it does not read `change.path`: while every listener says so, a change's path is
   * not built when it happens but when it is read, from where the cell is then (see
   * {@link SubscribeOptions}).
   */
  subscribe(listener: (change: TreeChange) => void, options?: SubscribeOptions): () => void;
  /**
   * Hears every committed change as its parts — `watcher(type, cell, parent)` — when subscribers
   * hear it (after them), in the order the changes happened; returns the stop function. No change
   * object is made for a watcher: the cheap way to listen for one that reads neither the path nor
   * the beat (a runtime's organ tracker hears every write of every call).
   */
  watch(watcher: ChangeWatcher): () => void;
}

/** Creates an empty tree (a root dictionary). */
export function createTree(options: TreeOptions = {}): Tree {
  return new CellTree(options);
}

const ROOT_NAME = name(acronymId('/'));
const MAX_LINK_HOPS = 32;

/** A cell's state before a batch changed it, restored if the batch fails. */
interface Snapshot {
  node: CellNode;
  created: number;
  modified: number;
  deleted: number | undefined;
  subtreeModified: number;
  value: Value | undefined;
  storeType: Name | undefined;
  linkTarget: readonly Name[] | undefined;
  past: HistoryEntry[] | undefined;
  nextAuto: number;
}

class CellTree implements Tree {
  readonly root: CellNode;
  beat: number;
  private readonly historyDepth: number;
  /** Each listener, and whether it reads `change.path` (all but those subscribed with `{ path: false }`). */
  private readonly listeners = new Map<(change: TreeChange) => void, boolean>();
  /** How many listeners read `change.path`. */
  private pathListeners = 0;
  /**
   * Open batch: undo steps (newest last), its serial (cells saved in it carry it), buffered events.
   * A step is a saved state (restored), a cell created in the batch (detached) or a function: the
   * two common steps are plain objects rather than closures, one allocation less per step (an
   * invoke's writes make dozens of them).
   */
  private undo: UndoStep[] | undefined;
  /** Steps in `undo` (its slots past this are empty: see {@link spareUndo}). */
  private undoCount = 0;
  private batchId = 0;
  /** The open batch's changes, four slots each: the change object (if a subscriber needs one), type, cell, parent. */
  private pending: unknown[] | undefined;
  /** Slots used in `pending`. */
  private pendingCount = 0;
  /**
   * The two arrays of the last batch, emptied (every slot cleared, the length kept) for the next
   * one. A batch per inbound frame and per submitted call grew two fresh arrays push by push —
   * about three slots allocated per slot kept — and that garbage was a fifth of what a remote
   * call allocated. Cleared slots hold nothing, so a kept array keeps no cell alive.
   */
  private spareUndo: UndoStep[] | undefined;
  private spareEvents: unknown[] | undefined;
  /** Branches the open batch discarded (see {@link Tree.discard}): let go once it has committed and told its changes. */
  private discarded: CellNode[] | undefined;
  /** Watchers ({@link Tree.watch}); replaced, never edited, so a watcher may stop itself while told. */
  private watchers: readonly ChangeWatcher[] = [];

  constructor(options: TreeOptions) {
    this.beat = options.beat ?? 0;
    this.historyDepth = options.historyDepth ?? 8;
    this.root = new CellNode(ROOT_NAME, 'dictionary', undefined, this.beat);
  }

  setBeat(beat: number): void {
    if (!Number.isSafeInteger(beat) || beat < this.beat) {
      throw cellsError('BEAT_BACKWARDS', `cannot move the tree from beat ${this.beat} to beat ${beat}: beats only go forward`, { from: this.beat, to: beat });
    }
    this.beat = beat;
  }

  // ---- reading ----

  find(path: PathLike): CellNode | undefined {
    return this.walk(namesOf(path));
  }

  get(path: PathLike): CellNode | undefined {
    const found = this.walk(namesOf(path));
    return found === undefined || found.deleted !== undefined ? undefined : found;
  }

  getValue(path: PathLike): Value | undefined {
    return this.get(path)?.value;
  }

  resolveLink(cell: Cell): CellNode | undefined {
    let node = cell as CellNode;
    for (let hops = 0; node.kind === 'link'; hops++) {
      if (hops >= MAX_LINK_HOPS) throw cellsError('LINK_CYCLE', `link chain from ${formatPath(cell.path())} is longer than ${MAX_LINK_HOPS} hops (a cycle?)`);
      const next = this.walk(node.linkTarget ?? []);
      if (next === undefined) return undefined;
      node = next;
    }
    return node;
  }

  private walk(names: readonly Name[]): CellNode | undefined {
    let node: CellNode | undefined = this.root;
    for (let i = 0; i < names.length; i++) {
      if (node.kind === 'link') node = this.resolveLink(node);
      node = node?.byKey?.get(names[i]!.key);
      if (node === undefined) return undefined;
    }
    return node;
  }

  // ---- writing ----

  set(path: PathLike, value: Value): CellNode {
    const names = namesOf(path);
    return this.writeLeaf(this.parentForLeaf(names, 'value'), names[names.length - 1]!, value);
  }

  setChild(parent: Cell, child: Name | string, value: Value): CellNode {
    const node = parent as CellNode;
    const leaf = typeof child === 'string' ? name(child) : child;
    // Anything but a live store (a value or link parent, a soft-deleted ancestor to revive) takes set()'s way, errors included.
    if (!this.liveStore(node, 'parent')) return this.set([...node.path(), leaf], value);
    return this.writeLeaf(node, leaf, value);
  }

  setChildren(parent: Cell, names: readonly Name[], values: readonly Value[]): void {
    if (values.length !== names.length) throw cellsError('VALUE_INVALID', `setChildren needs a value per name: ${names.length} names, ${values.length} values`);
    const node = parent as CellNode;
    // A live dictionary and only new, plain names: made in one pass. Anything else (a list, a
    // value, a soft-deleted ancestor, a name there already or given twice, a pattern) is written
    // as setChild writes it, errors included, in one batch.
    if (node.kind !== 'dictionary' || !this.liveStore(node, 'parent') || !this.addValues(node, names, values)) {
      this.batch(() => {
        for (let i = 0; i < names.length; i++) this.setChild(parent, names[i]!, values[i]!);
      });
    }
  }

  /**
   * The one pass of {@link setChildren} into `dict`, a live dictionary: every name new and no
   * pattern, or nothing is done (false). Stamps and undo as `attach` makes them; the events
   * after the cells are all in.
   */
  private addValues(dict: CellNode, names: readonly Name[], values: readonly Value[]): boolean {
    const n = names.length;
    if (n === 0) return true;
    const byKey = dict.byKey!;
    const beat = this.beat;
    const undo = this.undo;
    const undoMark = this.undoCount;
    // Negative: made in this batch (see attach).
    const made = -this.batchId;
    // Sorted once: names that arrive in order into an empty dictionary are its order already.
    const fresh: CellNode[] | undefined = byKey.size === 0 && dict.order === undefined ? [] : undefined;
    // The cells to tell, kept in hand (a listener told of one may change the tree before the next);
    // none under a dictionary this open batch created: its `create`, told at commit, covers them.
    const told =
      (this.listeners.size > 0 || this.watchers.length > 0) && (undo === undefined || dict.savedInBatch !== made) ? new Array<CellNode>() : undefined;
    let sorted = true;
    let previous: Name | undefined;
    for (let i = 0; i < n; i++) {
      const leaf = names[i]!;
      // A name there already (or given twice), or a pattern: take back what this call made.
      if (leaf.tag.glob || leaf.domain.glob || byKey.has(leaf.key)) {
        for (let j = 0; j < i; j++) byKey.delete(names[j]!.key);
        if (undo !== undefined) {
          undo.fill(undefined as unknown as UndoStep, undoMark, this.undoCount);
          this.undoCount = undoMark;
        }
        return false;
      }
      const child = new CellNode(leaf, 'value', dict, beat);
      child.value = values[i]!;
      byKey.set(leaf.key, child);
      if (undo !== undefined) {
        child.savedInBatch = made;
        undo[this.undoCount++] = child;
      }
      if (fresh !== undefined) {
        if (sorted && previous !== undefined && compareNames(previous, leaf) >= 0) sorted = false;
        previous = leaf;
        fresh.push(child);
      }
      told?.push(child);
    }
    this.snapshot(dict);
    if (fresh !== undefined) {
      if (sorted) dict.order = fresh;
    } else if (dict.order !== undefined) {
      for (let i = 0; i < n && dict.order !== undefined; i++) this.appendSorted(dict, byKey.get(names[i]!.key)!);
    }
    dict.modified = beat;
    this.touchAncestors(dict);
    if (told !== undefined) for (let i = 0; i < told.length; i++) this.emit('create', told[i]!);
    return true;
  }

  /** Keeps a dictionary's sorted cache when a new child sorts last (the common bulk-load case); else drops it. */
  private appendSorted(dict: CellNode, child: CellNode): void {
    const order = dict.order!;
    const last = order[order.length - 1];
    if (last === undefined || compareNames(last.name, child.name) < 0) order.push(child);
    else dict.order = undefined;
  }

  ensureChild(parent: Cell, child: Name | string, kind: 'dictionary' | 'list'): CellNode {
    const node = parent as CellNode;
    const leaf = typeof child === 'string' ? name(child) : child;
    // Anything but a live store parent takes ensureStore()'s way, errors included.
    if (!this.liveStore(node, 'parent')) return this.ensureStore([...node.path(), leaf], kind, undefined);
    const existing = node.byKey!.get(leaf.key);
    if (existing === undefined) return this.attach(node, leaf, kind, undefined);
    this.expectKind(existing, kind);
    if (existing.deleted !== undefined) this.revive(existing, undefined);
    return existing;
  }

  appendChild(list: Cell, child: NewChild): CellNode {
    const node = list as CellNode;
    // Anything but a live list takes append()'s way, errors included.
    if (!this.liveStore(node, 'list') || node.kind !== 'list') return this.append(node.path(), child);
    return this.insertInto(node, node.order!.length, child, undefined);
  }

  /**
   * One pass up the parents: whether `node` is a store that is live all the way to the root.
   * `CELL_NOT_FOUND` when it is not attached to this tree's root at all.
   */
  private liveStore(node: CellNode, role: string): boolean {
    let live = node.byKey !== undefined;
    let top = node;
    for (let current: CellNode | undefined = node; current !== undefined; current = current.parent) {
      if (current.deleted !== undefined) live = false;
      top = current;
    }
    if (top !== this.root) throw cellsError('CELL_NOT_FOUND', `the ${role} cell ${node.name.tag.text} is not in this tree`, { name: node.name.tag.text });
    return live;
  }

  /** Writes `leaf` under `parent`, a live store: the part of {@link set} after the parent is found. */
  private writeLeaf(parent: CellNode, leaf: Name, value: Value): CellNode {
    const existing = parent.byKey!.get(leaf.key);
    if (existing === undefined) {
      const node = this.attach(parent, leaf, 'value', undefined);
      node.value = value;
      return node;
    }
    this.expectKind(existing, 'value');
    if (existing.deleted !== undefined) {
      this.revive(existing, value);
      return existing;
    }
    if (existing.value !== undefined && valueEquals(existing.value, value)) return existing;
    this.snapshot(existing);
    this.pushHistory(existing);
    existing.value = value;
    existing.modified = this.beat;
    this.touchAncestors(existing);
    this.emit('update', existing);
    return existing;
  }

  ensureDictionary(path: PathLike, storeType?: Name): CellNode {
    return this.ensureStore(namesOf(path), 'dictionary', storeType);
  }

  ensureList(path: PathLike, storeType?: Name): CellNode {
    return this.ensureStore(namesOf(path), 'list', storeType);
  }

  private ensureStore(names: readonly Name[], kind: 'dictionary' | 'list', storeType: Name | undefined): CellNode {
    if (names.length === 0) {
      if (kind !== 'dictionary') throw cellsError('CELL_KIND_MISMATCH', 'the root is a dictionary');
      return this.root;
    }
    const parent = this.parentForLeaf(names, kind);
    const leaf = names[names.length - 1]!;
    let node = parent.byKey!.get(leaf.key);
    if (node === undefined) {
      node = this.attach(parent, leaf, kind, undefined);
    } else {
      this.expectKind(node, kind);
      if (node.deleted !== undefined) this.revive(node, undefined);
    }
    if (storeType !== undefined && (node.storeType === undefined || !nameEquals(node.storeType, storeType))) {
      this.snapshot(node);
      node.storeType = storeType;
      node.modified = this.beat;
      this.touchAncestors(node);
      this.emit('update', node);
    }
    return node;
  }

  insert(listPath: PathLike, index: number, child: NewChild, childName?: Name): CellNode {
    const list = this.existing(parsePath(listPath), true);
    this.expectKind(list, 'list');
    return this.insertInto(list, index, child, childName);
  }

  /** {@link insert} into `list`, a live list found already. */
  private insertInto(list: CellNode, index: number, child: NewChild, childName: Name | undefined): CellNode {
    if (!Number.isSafeInteger(index) || index < 0 || index > list.order!.length) {
      throw cellsError('LIST_INDEX_OUT_OF_RANGE', `index ${index} is outside 0..${list.order!.length} of ${formatPath(list.path())}`, { index });
    }
    let childKey: Name;
    if (childName === undefined) {
      childKey = autoName(list.nextAuto);
    } else {
      if (list.byKey!.has(childName.key)) throw cellsError('CELL_EXISTS', `${formatPath([...list.path(), childName])} exists already`);
      childKey = childName;
    }
    this.snapshot(list);
    // Keep automatic names ahead of explicit numeric ones (the reference forgets to, and collides).
    if (childKey.tag.kind === 'numeric') list.nextAuto = Math.max(list.nextAuto, Number(childKey.tag.text) + 1);
    const kind: CellKind = child === 'dictionary' || child === 'list' ? child : 'value';
    const node = this.attach(list, childKey, kind, index);
    if (kind === 'value') node.value = child as Value;
    return node;
  }

  append(listPath: PathLike, child: NewChild): CellNode {
    const list = this.existing(parsePath(listPath), true);
    this.expectKind(list, 'list');
    return this.insert(listPath, list.order!.length, child);
  }

  move(listPath: PathLike, from: number, to: number): void {
    const list = this.existing(parsePath(listPath), true);
    this.expectKind(list, 'list');
    const order = list.order!;
    for (const index of [from, to]) {
      if (!Number.isSafeInteger(index) || index < 0 || index >= order.length) {
        throw cellsError('LIST_INDEX_OUT_OF_RANGE', `index ${index} is outside 0..${order.length - 1} of ${formatPath(list.path())}`, { index });
      }
    }
    if (from === to) return;
    this.snapshot(list);
    const [moved] = order.splice(from, 1);
    order.splice(to, 0, moved!);
    this.onUndo(() => {
      order.splice(to, 1);
      order.splice(from, 0, moved!);
    });
    list.modified = this.beat;
    this.touchAncestors(list);
    this.emit('move', list);
  }

  link(path: PathLike, target: PathLike): CellNode {
    // A batch, so that a cycle found after the link is written undoes the write.
    return this.batch(() => this.writeLink(parsePath(path), target));
  }

  private writeLink(names: readonly Name[], target: PathLike): CellNode {
    const targetNames = parsePath(target);
    if (targetNames.length === 0) throw cellsError('LINK_CYCLE', 'a link cannot point at the root');
    const parent = this.parentForWrite(names);
    const leaf = names[names.length - 1]!;
    let node = parent.byKey!.get(leaf.key);
    if (node === undefined) {
      node = this.attach(parent, leaf, 'link', undefined);
    } else {
      this.expectKind(node, 'link');
      this.snapshot(node);
      if (node.deleted !== undefined) this.revive(node, undefined);
      node.modified = this.beat;
      this.touchAncestors(node);
      this.emit('update', node);
    }
    node.linkTarget = Object.freeze(targetNames);
    this.resolveLink(node);
    return node;
  }

  delete(path: PathLike): boolean {
    const names = parsePath(path);
    if (names.length === 0) throw cellsError('CELL_IS_ROOT', 'the root cannot be deleted');
    const node = this.walkNoLinks(names);
    if (node === undefined || node.deleted !== undefined) return false;
    this.softDelete(node);
    this.touchAncestors(node);
    return true;
  }

  private softDelete(node: CellNode): void {
    if (node.deleted !== undefined) return;
    this.snapshot(node);
    this.pushHistory(node);
    node.deleted = this.beat;
    node.modified = this.beat;
    node.subtreeModified = this.beat;
    this.emit('delete', node);
    if (node.byKey !== undefined) for (const child of node.byKey.values()) this.softDelete(child);
  }

  remove(path: PathLike): boolean {
    return this.detachAt(path) !== undefined;
  }

  discard(path: PathLike): boolean {
    const node = this.detachAt(path);
    if (node === undefined) return false;
    // In a batch the removal may yet be undone: the branch is let go when the batch has committed.
    if (this.undo !== undefined) (this.discarded ??= []).push(node);
    else releaseBranch(node);
    return true;
  }

  /** Detaches the cell at `path` (see {@link remove}); the cell, or undefined when nothing was there. */
  private detachAt(path: PathLike): CellNode | undefined {
    const names = namesOf(path);
    if (names.length === 0) throw cellsError('CELL_IS_ROOT', 'the root cannot be removed');
    const node = this.walkNoLinks(names);
    if (node !== undefined) this.detach(node);
    return node;
  }

  clear(path: PathLike): void {
    const node = this.existing(parsePath(path), false);
    if (node.byKey === undefined) throw cellsError('CELL_KIND_MISMATCH', `${formatPath(node.path())} is a ${node.kind}, not a store`);
    for (const child of [...node.byKey.values()]) this.detach(child);
  }

  adopt(from: Tree, path: PathLike): CellNode {
    const names = parsePath(path);
    if (!(from instanceof CellTree) || from === this) throw cellsError('CELL_NOT_FOUND', 'adopt takes a cell of another tree made by createTree');
    const node = from.walkNoLinks(names);
    if (names.length === 0 || node === undefined || node.deleted !== undefined) {
      throw cellsError('CELL_NOT_FOUND', `no live cell at ${formatPath(names)} in the tree to adopt from`, { path: formatPath(names) });
    }
    this.checkWritable(names);
    if (this.walkNoLinks(names) !== undefined) throw cellsError('CELL_EXISTS', `${formatPath(names)} exists already; remove it before adopting a cell there`);
    from.release(node);
    const parent = this.parentForWrite(names);
    this.snapshot(parent);
    restamp(node, this.beat);
    node.parent = parent;
    parent.byKey!.set(node.name.key, node);
    if (parent.kind === 'list') parent.order!.push(node);
    else parent.order = undefined;
    this.onUndo(() => {
      parent.byKey!.delete(node.name.key);
      if (parent.kind === 'list') parent.order!.splice(parent.order!.indexOf(node), 1);
      else parent.order = undefined;
      node.parent = undefined;
    });
    parent.modified = this.beat;
    this.touchAncestors(node);
    this.emit('create', node);
    return node;
  }

  /** Lets go of `node` without a trace (it moves to another tree): no undo, no event. */
  private release(node: CellNode): void {
    const parent = node.parent!;
    parent.byKey!.delete(node.name.key);
    if (parent.kind === 'list') parent.order!.splice(parent.order!.indexOf(node), 1);
    else if (parent.order !== undefined) parent.order = parent.order.filter((child) => child !== node);
    node.parent = undefined;
  }

  batch<T>(fn: () => T): T {
    if (this.undo !== undefined) return fn(); // nested: the outer batch owns the undo log
    return this.batchUndo(fn);
  }

  private batchUndo<T>(fn: () => T): T {
    // The spare arrays are taken while in use: a batch opened by a listener told of this one's
    // changes (below) gets fresh ones, never the array being read.
    const steps = this.spareUndo ?? [];
    const events = this.spareEvents ?? [];
    this.spareUndo = undefined;
    this.spareEvents = undefined;
    this.undo = steps;
    this.undoCount = 0;
    this.batchId = ++batchSerial;
    this.pending = events;
    this.pendingCount = 0;
    this.discarded = undefined;
    let result: T;
    try {
      result = fn();
    } catch (error) {
      const count = this.undoCount;
      this.undo = undefined;
      this.pending = undefined;
      this.discarded = undefined; // the undo puts them back
      try {
        for (let i = count - 1; i >= 0; i--) undoStep(steps[i]!);
      } finally {
        this.spareUndoSteps(steps, count);
        this.spareEventSlots(events, this.pendingCount);
      }
      throw error;
    }
    const told = this.pendingCount;
    const discarded = this.discarded as CellNode[] | undefined; // set by fn() (the narrowing above does not know)
    this.discarded = undefined;
    this.undo = undefined;
    this.pending = undefined;
    this.spareUndoSteps(steps, this.undoCount);
    try {
      for (let i = 0; i < told; i += 4) {
        this.notify(events[i] as TreeChange | undefined, events[i + 1] as TreeChange['type'], events[i + 2] as CellNode, events[i + 3] as CellNode | undefined);
      }
    } finally {
      this.spareEventSlots(events, told);
      // After the changes are told: a watcher gets the removed cell as it was.
      if (discarded !== undefined) for (let i = 0; i < discarded.length; i++) releaseBranch(discarded[i]!);
    }
    return result;
  }

  /** Clears the first `count` slots of a batch's undo steps and keeps the array for the next batch (see {@link spareUndo}). */
  private spareUndoSteps(steps: UndoStep[], count: number): void {
    steps.fill(undefined as unknown as UndoStep, 0, count);
    if (steps.length <= SPARE_SLOTS) this.spareUndo = steps;
  }

  /** The same for a batch's change slots, once they have been told. */
  private spareEventSlots(events: unknown[], count: number): void {
    events.fill(undefined, 0, count);
    if (events.length <= SPARE_SLOTS) this.spareEvents = events;
  }

  subscribe(listener: (change: TreeChange) => void, options?: SubscribeOptions): () => void {
    // One entry per listener, as a set holds it (subscribing it again only updates its options).
    this.listeners.set(listener, options?.path !== false);
    this.countPathListeners();
    return () => {
      const removed = this.listeners.delete(listener);
      this.countPathListeners();
      return removed;
    };
  }

  watch(watcher: ChangeWatcher): () => void {
    this.watchers = [...this.watchers, watcher];
    return () => {
      const at = this.watchers.indexOf(watcher);
      if (at >= 0) this.watchers = [...this.watchers.slice(0, at), ...this.watchers.slice(at + 1)];
    };
  }

  private countPathListeners(): void {
    let n = 0;
    for (const wantsPath of this.listeners.values()) if (wantsPath) n++;
    this.pathListeners = n;
  }

  // ---- internals ----

  /** The live parent of `names`' last segment, creating or reviving dictionaries on the way. */
  private parentForWrite(names: readonly Name[]): CellNode {
    if (names.length === 0) throw cellsError('CELL_IS_ROOT', 'the root cannot be written to; name a cell under it');
    this.checkWritable(names);
    let node = this.root;
    for (let i = 0; i < names.length - 1; i++) {
      const segment = names[i]!;
      let next = node.byKey!.get(segment.key);
      if (next === undefined) {
        next = this.attach(node, segment, 'dictionary', undefined);
      } else {
        if (next.byKey === undefined) {
          throw cellsError('CELL_KIND_MISMATCH', `${formatPath(names.slice(0, i + 1))} is a ${next.kind}; it cannot hold children`, {
            path: formatPath(names),
          });
        }
        if (next.deleted !== undefined) this.revive(next, undefined);
      }
      node = next;
    }
    return node;
  }

  /**
   * The live parent of `names`' last segment, as {@link parentForWrite} gives it, in one walk when
   * every ancestor is there and alive (the common case: a field of an existing record). Refuses,
   * before anything changes, a path through a cell that cannot hold children or a leaf that
   * exists as another kind.
   */
  private parentForLeaf(names: readonly Name[], kind: CellKind): CellNode {
    const last = names.length - 1;
    let node = this.root;
    let depth = 0;
    let revive = false;
    for (; depth < last; depth++) {
      const next = node.byKey!.get(names[depth]!.key);
      if (next === undefined) break;
      if (next.byKey === undefined) {
        throw cellsError('CELL_KIND_MISMATCH', `${formatPath(names.slice(0, depth + 1))} is a ${next.kind}; it cannot hold children`, {
          path: formatPath(names),
        });
      }
      if (next.deleted !== undefined) revive = true;
      node = next;
    }
    if (last >= 0 && depth === last) {
      const existing = node.byKey!.get(names[last]!.key);
      if (existing !== undefined) this.expectKind(existing, kind);
      if (!revive) return node;
    }
    // Ancestors to create or revive (or the root itself named): the general path.
    return this.parentForWrite(names);
  }

  /** Refuses a write before anything changes: every existing ancestor must be able to hold children. */
  private checkWritable(names: readonly Name[]): void {
    let node: CellNode | undefined = this.root;
    for (let i = 0; i < names.length - 1 && node !== undefined; i++) {
      node = node.byKey!.get(names[i]!.key);
      if (node !== undefined && node.byKey === undefined) {
        throw cellsError('CELL_KIND_MISMATCH', `${formatPath(names.slice(0, i + 1))} is a ${node.kind}; it cannot hold children`, { path: formatPath(names) });
      }
    }
  }

  private walkNoLinks(names: readonly Name[]): CellNode | undefined {
    let node: CellNode | undefined = this.root;
    for (const segment of names) {
      node = node.byKey?.get(segment.key);
      if (node === undefined) return undefined;
    }
    return node;
  }

  private existing(names: readonly Name[], live: boolean): CellNode {
    const node = this.walkNoLinks(names);
    if (node === undefined || (live && node.deleted !== undefined)) {
      throw cellsError('CELL_NOT_FOUND', `no cell at ${formatPath(names)}`, { path: formatPath(names) });
    }
    return node;
  }

  private expectKind(node: CellNode, kind: CellKind): void {
    if (node.kind !== kind) {
      throw cellsError('CELL_KIND_MISMATCH', `${formatPath(node.path())} is a ${node.kind}, not a ${kind}`, {
        path: formatPath(node.path()),
        kind: node.kind,
        wanted: kind,
      });
    }
  }

  private attach(parent: CellNode, childName: Name, kind: CellKind, index: number | undefined): CellNode {
    if (childName.tag.glob || childName.domain.glob) {
      throw cellsError('NAME_GLOB', `${childName.tag.text} is a pattern ('*'); cells cannot be named with patterns`);
    }
    this.snapshot(parent);
    const node = new CellNode(childName, kind, parent, this.beat);
    // A cell made inside a batch needs no snapshot: undoing the batch detaches it (below), and
    // nothing in the tree reaches it after that. Counting it as saved skips a snapshot (an object
    // and a closure) per new cell, most of an invoke's ~40 new cells' undo cost.
    // Negative: made in this batch (not only saved in it), see setChildren.
    if (this.undo !== undefined) node.savedInBatch = -this.batchId;
    parent.byKey!.set(childName.key, node);
    const order = parent.order;
    if (parent.kind === 'list') {
      order!.splice(index ?? order!.length, 0, node);
    } else if (order !== undefined) {
      this.appendSorted(parent, node);
    }
    // Undone by detaching the cell (see undoStep): the cell itself is the step, no closure.
    if (this.undo !== undefined) this.undo[this.undoCount++] = node;
    parent.modified = this.beat;
    this.touchAncestors(node);
    this.emit('create', node);
    return node;
  }

  private detach(node: CellNode): void {
    const parent = node.parent!;
    this.snapshot(parent);
    parent.byKey!.delete(node.name.key);
    let at = -1;
    if (parent.kind === 'list') {
      at = parent.order!.indexOf(node);
      parent.order!.splice(at, 1);
    } else {
      // A dictionary's sorted order is a cache: drop it (re-sorted once, when next read) rather
      // than copy it without this child. A sweep that removes k of n children cost k copies of n.
      parent.order = undefined;
    }
    this.onUndo(() => {
      parent.byKey!.set(node.name.key, node);
      if (parent.kind === 'list') parent.order!.splice(at, 0, node);
      else parent.order = undefined;
      node.parent = parent;
    });
    node.parent = undefined;
    parent.modified = this.beat;
    parent.subtreeModified = this.beat;
    this.touchAncestors(parent);
    // The removed cell no longer has a path; subscribers get it with its old parent for context.
    this.emit('remove', node, parent);
  }

  private revive(node: CellNode, value: Value | undefined): void {
    this.snapshot(node);
    this.addPast(node, { beat: node.deleted!, value: undefined });
    node.deleted = undefined;
    if (value !== undefined) node.value = value;
    node.modified = this.beat;
    this.touchAncestors(node);
    this.emit('revive', node);
  }

  /** Keeps the current state in history before it is replaced (one state per beat). */
  private pushHistory(node: CellNode): void {
    if (node.kind !== 'value') return;
    if (node.modified === this.beat && node.deleted === undefined) return; // same beat: only the last state counts
    this.addPast(node, { beat: node.modified, value: node.value });
  }

  /**
   * Puts `entry` in front of `node`'s past states, keeping at most `historyDepth`. A new array,
   * never an edit of the old one: a batch's snapshot keeps the old array as it is (no copy per
   * snapshot), and `history()` results handed out before stay as they were.
   */
  private addPast(node: CellNode, entry: HistoryEntry): void {
    const old = node.past;
    const keep = old === undefined ? 0 : Math.min(old.length, this.historyDepth - 1);
    const past: HistoryEntry[] = [entry];
    for (let i = 0; i < keep; i++) past.push(old![i]!);
    node.past = past;
  }

  private touchAncestors(node: CellNode): void {
    for (let current: CellNode | undefined = node; current !== undefined; current = current.parent) {
      if (current.subtreeModified === this.beat && current !== node) break;
      this.snapshot(current);
      current.subtreeModified = this.beat;
    }
  }

  private snapshot(node: CellNode): void {
    if (this.undo === undefined || node.savedInBatch === this.batchId || node.savedInBatch === -this.batchId) return;
    node.savedInBatch = this.batchId;
    const saved: Snapshot = {
      node,
      created: node.created,
      modified: node.modified,
      deleted: node.deleted,
      subtreeModified: node.subtreeModified,
      value: node.value,
      storeType: node.storeType,
      linkTarget: node.linkTarget,
      past: node.past, // never edited in place (see addPast)
      nextAuto: node.nextAuto,
    };
    this.undo[this.undoCount++] = saved;
  }

  private onUndo(step: UndoStep): void {
    if (this.undo !== undefined) this.undo[this.undoCount++] = step;
  }

  private emit(type: TreeChange['type'], cell: CellNode, formerParent?: CellNode): void {
    if (this.listeners.size === 0 && this.watchers.length === 0) return;
    const parent = formerParent ?? cell.parent;
    // A change object only for subscribers; watchers take the parts (see Tree.watch).
    let change: TreeChange | undefined;
    if (this.listeners.size === 0) change = undefined;
    else if (this.pathListeners > 0) {
      const path = formerParent === undefined ? cell.path() : [...formerParent.path(), cell.name];
      change = { type, cell, beat: this.beat, parent, path };
    } else {
      change = new UnbuiltPathChange(type, cell, this.beat, parent, formerParent !== undefined);
    }
    const pending = this.pending;
    if (pending !== undefined) {
      const at = this.pendingCount;
      pending[at] = change;
      pending[at + 1] = type;
      pending[at + 2] = cell;
      pending[at + 3] = parent;
      this.pendingCount = at + 4;
    } else this.notify(change, type, cell, parent);
  }

  private notify(change: TreeChange | undefined, type: TreeChange['type'], cell: CellNode, parent: CellNode | undefined): void {
    if (change !== undefined) for (const listener of this.listeners.keys()) listener(change);
    for (const watcher of this.watchers) watcher(type, cell, parent);
  }
}

/** A change told only to listeners that do not read its path: the path is built if read. */
class UnbuiltPathChange implements TreeChange {
  constructor(
    readonly type: TreeChange['type'],
    readonly cell: CellNode,
    readonly beat: number,
    readonly parent: CellNode | undefined,
    private readonly removed: boolean,
  ) {}

  get path(): readonly Name[] {
    const parent = this.parent as CellNode | undefined;
    return this.removed && parent !== undefined ? [...parent.path(), this.cell.name] : this.cell.path();
  }
}

/** The automatic names of list children 1..AUTO_NAMES, made once (names are immutable). */
const AUTO_NAMES = 4096;
const autoNames: Name[] = [];

/**
 * The numeric name `n` of an appended list child. Short lists (an OPS dossier's history, a log)
 * take theirs from a table: making one was five objects (a bigint or two, the id, its key, the name).
 */
function autoName(n: number): Name {
  if (n > AUTO_NAMES) return name(numericId(n));
  return (autoNames[n] ??= name(numericId(n)));
}

/**
 * `path` as names, for a lookup or write that keeps none of them: an array that holds names only
 * is used as it is (parsePath copies it, an array per tree call — records are written from paths
 * made of names once); anything else is parsed.
 */
function namesOf(path: PathLike): readonly Name[] {
  if (typeof path === 'string') return parsePath(path);
  for (let i = 0; i < path.length; i++) if (typeof path[i] === 'string') return parsePath(path);
  return path as readonly Name[];
}

/**
 * Empties a discarded branch (see {@link Tree.discard}), children first: each cell lets go of its
 * value, history and children, and reads as an empty store from then on.
 */
function releaseBranch(node: CellNode): void {
  node.value = undefined;
  node.past = undefined;
  node.linkTarget = undefined;
  const byKey = node.byKey;
  if (byKey === undefined) return;
  // Each entry's value overwritten in place: the slot is cleared (a table grown old would otherwise
  // reach the child until the next full collection) and, unlike a deletion, nothing shrinks the
  // table (V8 rehashes it then, and the table it replaces keeps the entries left in it).
  if (byKey.size > 0) byKey.forEach(releaseEntry);
  node.byKey = RELEASED_CHILDREN;
  const order = node.order;
  if (order !== undefined) order.fill(undefined as unknown as CellNode);
  node.order = node.kind === 'list' ? RELEASED_ORDER : undefined;
}

function releaseEntry(child: CellNode, key: string, byKey: Map<string, CellNode>): void {
  releaseBranch(child);
  byKey.set(key, undefined as unknown as CellNode);
}

/** The children of every discarded store: none (shared; nothing writes to a detached cell's children). */
const RELEASED_CHILDREN: Map<string, CellNode> = new Map();
const RELEASED_ORDER: CellNode[] = Object.freeze([]) as unknown as CellNode[];

/** Stamps a moved branch as created at `beat`, with no past states. */
function restamp(node: CellNode, beat: number): void {
  node.created = beat;
  node.modified = beat;
  node.subtreeModified = beat;
  if (node.deleted !== undefined) node.deleted = beat;
  node.past = undefined;
  // The order array when there is one (a list, a sorted dictionary): an indexed walk, no iterator.
  const order = node.order;
  if (order !== undefined) for (let i = 0; i < order.length; i++) restamp(order[i]!, beat);
  else if (node.byKey !== undefined) for (const child of node.byKey.values()) restamp(child, beat);
}

/**
 * The longest batch arrays a tree keeps for its next batch (slots): a frame of a few hundred
 * calls fits; the arrays of a bulk load (a mirror's 100,000 cells) are let go rather than held
 * for the tree's life.
 */
const SPARE_SLOTS = 1 << 15;

/** One step of a batch's undo log: see `CellTree.undo`. */
type UndoStep = Snapshot | CellNode | (() => void);

function undoStep(step: UndoStep): void {
  if (typeof step === 'function') step();
  else if (step instanceof CellNode) undoAttach(step);
  else restoreSnapshot(step);
}

/**
 * Undoes the creation of `node` (see `attach`). Steps are undone newest first, so its parent's
 * children are as right after the attach: a list finds it where it was inserted.
 */
function undoAttach(node: CellNode): void {
  const parent = node.parent;
  if (parent === undefined) return; // given to another tree since (adopt): not ours to undo
  parent.byKey!.delete(node.name.key);
  if (parent.kind === 'list') parent.order!.splice(parent.order!.indexOf(node), 1);
  else parent.order = undefined;
  node.parent = undefined;
}

function restoreSnapshot(saved: Snapshot): void {
  const node = saved.node;
  node.created = saved.created;
  node.modified = saved.modified;
  node.deleted = saved.deleted;
  node.subtreeModified = saved.subtreeModified;
  node.value = saved.value;
  node.storeType = saved.storeType;
  node.linkTarget = saved.linkTarget;
  node.past = saved.past;
  node.nextAuto = saved.nextAuto;
}
