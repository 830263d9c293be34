/**
 * Applies a bundle's ops to the receiver's copy under `dst`. The caller runs this inside one
 * `tree.batch`, so a bundle (or a batch of bundles) lands whole or not at all. The receiver
 * keeps only live cells: a `del` removes for good, so list positions are plain indices.
 */
import type { Cell, Name, Tree, Value } from '@cep/cells';
import type { StagedCell } from '@cep/serializer';
import { field, readChain } from './message.ts';

/** A bundle's ops could not be applied (the receiver's copy is not what the source assumed). */
export class ApplyError extends Error {}

const fail = (note: string): never => {
  throw new ApplyError(note);
};

/** True when `ops` (a bundle's first part) start by replacing the whole branch: every later op works inside the new one. */
export function replacesBranch(ops: readonly StagedCell[]): boolean {
  const first = ops[0];
  if (first === undefined) return false;
  const kind = field(first, 'op');
  const path = readChain(field(first, 'path'));
  return kind?.kind === 'value' && kind.value?.type === 'text' && kind.value.value === 'put' && Array.isArray(path) && path.length === 0;
}

/** Applies the ops of one bundle part in order. */
export function applyOps(tree: Tree, dst: readonly Name[], ops: readonly StagedCell[]): number {
  let cells = 0;
  for (const op of ops) {
    const kind = field(op, 'op');
    const path = readChain(field(op, 'path'));
    if (typeof path === 'string') fail(path);
    const target = [...dst, ...(path as Name[])];
    const verb = kind?.kind === 'value' && kind.value?.type === 'text' ? kind.value.value : '';
    switch (verb) {
      case 'put':
        cells += put(tree, target, field(op, 'v') ?? fail('put without v'), field(op, 'after'), (path as Name[]).length === 0);
        break;
      case 'add':
        cells += add(tree, target, field(op, 'v') ?? fail('add without v'));
        break;
      case 'del': {
        const names = field(op, 'names');
        if (names === undefined) tree.remove(target);
        else for (const n of names.children) tree.remove([...target, n.name]);
        break;
      }
      case 'mrg':
        cells += merge(tree, target, field(op, 'v') ?? fail('mrg without v'));
        break;
      case 'ord':
        reorder(
          tree,
          target,
          (field(op, 'names') ?? fail('ord without names')).children.map((c) => c.name),
        );
        break;
      default:
        fail(`unknown op ${JSON.stringify(verb)}`);
    }
  }
  return cells;
}

function liveStore(tree: Tree, path: readonly Name[], what: string): Cell {
  const cell = tree.find(path);
  if (cell === undefined || cell.isDeleted || (cell.kind !== 'dictionary' && cell.kind !== 'list')) {
    fail(`${what}: no store at ${path.map((n) => n.tag.text).join('/')} on the receiver`);
  }
  return cell!;
}

function put(tree: Tree, target: Name[], v: StagedCell, after: StagedCell | undefined, isRoot: boolean): number {
  if (isRoot) {
    tree.remove(target);
    return write(tree, target, v);
  }
  const parentPath = target.slice(0, -1);
  const parent = liveStore(tree, parentPath, 'put');
  const own = target[target.length - 1]!;
  const existing = parent.child(own);
  if (parent.kind !== 'list') {
    // A value replacing a value is an update in place; anything else is rebuilt.
    if (existing !== undefined && !existing.isDeleted && existing.kind === 'value' && v.kind === 'value') {
      tree.set(target, v.value!);
      return 1;
    }
    if (existing !== undefined) tree.remove(target);
    return write(tree, target, v);
  }
  if (existing !== undefined) tree.remove(target);
  const anchor = after?.children[0]?.name;
  let index = 0;
  if (anchor !== undefined) {
    const order = parent.children();
    const last = order[order.length - 1];
    index = last !== undefined && last.name.key === anchor.key ? order.length : order.findIndex((c) => c.name.key === anchor.key) + 1;
    if (index === 0) fail(`put: list anchor ${anchor.tag.text} is not on the receiver`);
  }
  return insert(tree, parentPath, index, v, own);
}

function add(tree: Tree, target: Name[], v: StagedCell): number {
  const store = liveStore(tree, target, 'add');
  if (store.kind !== 'list') return writeChildren(tree, store, target, v.children, true);
  let cells = 0;
  for (const child of v.children) {
    if (store.child(child.name) !== undefined) tree.remove([...target, child.name]);
    cells += insert(tree, target, store.children().length, child, child.name);
  }
  return cells;
}

/**
 * Writes staged children into the live dictionary `dict` at `path`; with `replace`, a child of
 * the same name there goes first (an `add`), else nothing is there (a new dictionary). Runs of
 * values go to the tree in one `setChildren` each (most of a snapshot: a record's fields); a
 * store child is flushed behind the values before it, so the writes happen in the same order.
 */
function writeChildren(tree: Tree, dict: Cell, path: Name[], children: readonly StagedCell[], replace: boolean): number {
  let cells = 0;
  // The run of values not written yet: children[from..i) minus stores (none: a store ends a run).
  let names: Name[] = [];
  let values: Value[] = [];
  for (let i = 0; i < children.length; i++) {
    const child = children[i]!;
    if (child.kind === 'value' && !(replace && dict.child(child.name) !== undefined)) {
      names.push(child.name);
      values.push(child.value!);
      continue;
    }
    if (names.length > 0) {
      tree.setChildren(dict, names, values);
      cells += names.length;
      names = [];
      values = [];
    }
    if (replace && dict.child(child.name) !== undefined) tree.remove([...path, child.name]);
    cells += writeChild(tree, dict, path, child);
  }
  if (names.length > 0) {
    tree.setChildren(dict, names, values);
    cells += names.length;
  }
  return cells;
}

/** Writes one staged child of the live dictionary `dict` (at `path`) where nothing is. */
function writeChild(tree: Tree, dict: Cell, path: Name[], child: StagedCell): number {
  if (child.kind === 'value') {
    tree.setChild(dict, child.name, child.value!);
    return 1;
  }
  const where = [...path, child.name];
  // A plain dictionary is found in hand, not walked to from the root.
  if (child.kind === 'dictionary' && child.storeType === undefined)
    return 1 + writeChildren(tree, tree.ensureChild(dict, child.name, 'dictionary'), where, child.children, false);
  return write(tree, where, child);
}

/** Sets the overlay's values and links; the overlay's dictionaries name stores the receiver has. */
function merge(tree: Tree, at: Name[], overlay: StagedCell): number {
  let cells = 0;
  for (const child of overlay.children) {
    const where = [...at, child.name];
    const existing = tree.find(where);
    if (child.kind === 'dictionary') {
      // A dictionary in the overlay only says "go down into this child" (a dictionary or a list).
      if (existing === undefined || existing.isDeleted || (existing.kind !== 'dictionary' && existing.kind !== 'list'))
        fail(`mrg: no store at ${where.map((n) => n.tag.text).join('/')} on the receiver`);
      cells += merge(tree, where, child);
      continue;
    }
    if (existing !== undefined && (existing.isDeleted || existing.kind !== child.kind)) tree.remove(where);
    cells += write(tree, where, child);
  }
  return cells;
}

/** Writes a staged branch at `where` (nothing is there). */
function write(tree: Tree, where: Name[], cell: StagedCell): number {
  switch (cell.kind) {
    case 'value':
      tree.set(where, cell.value!);
      return 1;
    case 'link':
      tree.link(where, [...cell.linkTarget!]);
      return 1;
    case 'dictionary':
      return 1 + writeChildren(tree, tree.ensureDictionary(where, cell.storeType), where, cell.children, false);
    case 'list': {
      tree.ensureList(where, cell.storeType);
      let cells = 1;
      cell.children.forEach((child, i) => (cells += insert(tree, where, i, child, child.name)));
      return cells;
    }
  }
}

/** Inserts a staged branch into a list at `index` under `as`. */
function insert(tree: Tree, list: Name[], index: number, cell: StagedCell, as: Name): number {
  const where = [...list, as];
  switch (cell.kind) {
    case 'value':
      tree.insert(list, index, cell.value!, as);
      return 1;
    case 'link': {
      // The tree appends a new link to a list; move it where it belongs.
      tree.link(where, [...cell.linkTarget!]);
      const length = tree.find(list)!.children().length;
      if (index !== length - 1) tree.move(list, length - 1, index);
      return 1;
    }
    case 'dictionary': {
      tree.insert(list, index, 'dictionary', as);
      if (cell.storeType !== undefined) tree.ensureDictionary(where, cell.storeType);
      let cells = 1;
      for (const child of cell.children) cells += write(tree, [...where, child.name], child);
      return cells;
    }
    case 'list': {
      tree.insert(list, index, 'list', as);
      if (cell.storeType !== undefined) tree.ensureList(where, cell.storeType);
      let cells = 1;
      cell.children.forEach((child, i) => (cells += insert(tree, where, i, child, child.name)));
      return cells;
    }
  }
}

/**
 * Reorders the list at `path` to `names` with few moves: children on a longest increasing
 * run of target positions stay, every other child moves right behind its target predecessor.
 */
function reorder(tree: Tree, path: Name[], names: readonly Name[]): void {
  const list = tree.find(path);
  if (list === undefined || list.isDeleted || list.kind !== 'list') fail('ord: no list on the receiver');
  const target = new Map<string, number>();
  names.forEach((n, i) => target.set(n.key, i));
  const current = list!.children().map((c) => c.name.key);
  if (current.length !== names.length || current.some((key) => !target.has(key))) fail('ord: the receiver list does not hold the same children');
  const keep = longestIncreasing(current.map((key) => target.get(key)!));
  for (let k = 0; k < names.length; k++) {
    const key = names[k]!.key;
    if (keep.has(k)) continue;
    const order = tree.find(path)!.children();
    const from = order.findIndex((c) => c.name.key === key);
    // After removing it, its place is right behind its predecessor in the target order.
    let to = 0;
    if (k > 0) {
      const before = names[k - 1]!.key;
      const at = order.findIndex((c) => c.name.key === before);
      to = at < from ? at + 1 : at;
    }
    if (from !== to) tree.move(path, from, to);
  }
}

/** The target positions (values of `seq`) on one longest strictly increasing subsequence. */
function longestIncreasing(seq: readonly number[]): Set<number> {
  const tails: number[] = [];
  const tailIndex: number[] = [];
  const previous = new Array<number>(seq.length).fill(-1);
  seq.forEach((value, i) => {
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (tails[mid]! < value) lo = mid + 1;
      else hi = mid;
    }
    tails[lo] = value;
    tailIndex[lo] = i;
    previous[i] = lo > 0 ? tailIndex[lo - 1]! : -1;
  });
  const kept = new Set<number>();
  for (let i = tailIndex[tails.length - 1] ?? -1; i >= 0; i = previous[i]!) kept.add(seq[i]!);
  return kept;
}
