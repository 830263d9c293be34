/**
 * Frozen cells: small immutable copies that implement the read-only `Cell` interface, so a
 * protocol message (and the branch content it carries) can be handed to `mount.sendBranch`
 * without a scratch tree. A sealed bundle keeps its frozen copy until it is acknowledged:
 * the source may change meanwhile, and a resend after a reconnect must carry the same bytes'
 * worth of content (re-encoded with whatever serializer policy the new channel negotiated).
 */
import { compareNames, name, type Cell, type CellKind, type HistoryEntry, type Name, type Value } from '@cep/cells';

/** A detached, immutable cell. */
export class FrozenCell implements Cell {
  readonly parent: Cell | undefined = undefined;
  readonly deleted: number | undefined = undefined;
  readonly isDeleted = false;

  constructor(
    readonly name: Name,
    readonly kind: CellKind,
    private readonly kids: readonly FrozenCell[],
    readonly value: Value | undefined,
    readonly storeType: Name | undefined,
    readonly linkTarget: readonly Name[] | undefined,
    readonly created: number,
    readonly modified: number,
  ) {}

  get subtreeModified(): number {
    return this.modified;
  }

  get size(): number {
    return this.kids.length;
  }

  child(n: Name | string): Cell | undefined {
    const key = typeof n === 'string' ? name(n).key : n.key;
    return this.kids.find((c) => c.name.key === key);
  }

  children(): readonly FrozenCell[] {
    return this.kids;
  }

  path(): Name[] {
    return [this.name];
  }

  valueAt(): Value | undefined {
    return this.value;
  }

  history(): readonly HistoryEntry[] {
    return [];
  }
}

/** A value cell. */
export function frozenValue(n: Name | string, value: Value): FrozenCell {
  return new FrozenCell(typeof n === 'string' ? name(n) : n, 'value', [], value, undefined, undefined, 0, 0);
}

/** A dictionary (children sorted by name, as a tree would keep them). */
export function frozenDict(n: Name | string, children: readonly FrozenCell[], storeType?: Name): FrozenCell {
  const sorted = [...children].sort((a, b) => compareNames(a.name, b.name));
  return new FrozenCell(typeof n === 'string' ? name(n) : n, 'dictionary', sorted, undefined, storeType, undefined, 0, 0);
}

/** A list (children in the given order; their names are kept). */
export function frozenList(n: Name | string, children: readonly FrozenCell[], storeType?: Name): FrozenCell {
  return new FrozenCell(typeof n === 'string' ? name(n) : n, 'list', children, undefined, storeType, undefined, 0, 0);
}

/** A store with the kind and store type of `cell` and the given children, named `as`. */
export function frozenShell(as: Name | string, cell: Cell, children: readonly FrozenCell[]): FrozenCell {
  const n = typeof as === 'string' ? name(as) : as;
  return new FrozenCell(n, cell.kind, children, undefined, cell.storeType, undefined, cell.created, cell.modified);
}

/** A copy of the live branch below `cell` (soft-deleted cells left out), named `as`. */
export function freeze(cell: Cell, as: Name | string = cell.name): FrozenCell {
  const n = typeof as === 'string' ? name(as) : as;
  switch (cell.kind) {
    case 'value':
      return new FrozenCell(n, 'value', [], cell.value, undefined, undefined, cell.created, cell.modified);
    case 'link':
      return new FrozenCell(n, 'link', [], undefined, undefined, cell.linkTarget, cell.created, cell.modified);
    default: {
      const kids: FrozenCell[] = [];
      for (const child of cell.children()) if (!child.isDeleted) kids.push(freeze(child));
      return new FrozenCell(n, cell.kind, kids, undefined, cell.storeType, undefined, cell.created, cell.modified);
    }
  }
}

/** A path as a chain of single-child dictionaries under `as` (names travel exactly, whatever their kind). */
export function frozenChain(as: string, path: readonly Name[]): FrozenCell {
  let inner: FrozenCell[] = [];
  for (let i = path.length - 1; i >= 0; i--) inner = [frozenDict(path[i]!, inner)];
  return frozenDict(as, inner);
}
