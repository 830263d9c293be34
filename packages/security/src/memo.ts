/**
 * Memos for digests of small branches (the policy, a pipeline spec), exact without hashing.
 *
 * A branch's digest depends only on its cells' names and kinds (fixed for a cell object's
 * life), values, store types and link targets (replaced, never edited in place, on every
 * write), deletion marks and child order. The stamp lists exactly those, as identities, in
 * pre-order; two equal stamps mean an equal digest. Comparing a stamp of a few dozen cells
 * costs a small fraction of copying the branch and hashing it, and it sees every way a
 * tree changes, including writes that bypass subscribers (images applied during a replay)
 * and several writes within one beat.
 */
import type { Cell } from '@cep/cells';

/** What a digest of the branches at `cells` depends on, as identities (see the module doc). */
export function stampOf(cells: readonly (Cell | undefined)[]): unknown[] {
  const out: unknown[] = [];
  for (const cell of cells) push(cell, out);
  return out;
}

function push(cell: Cell | undefined, out: unknown[]): void {
  if (cell === undefined) {
    out.push(undefined);
    return;
  }
  const children = cell.children();
  out.push(cell, cell.value, cell.isDeleted, cell.storeType, cell.linkTarget, children.length);
  for (const child of children) push(child, out);
}

/** True when two stamps are the same, element by element. */
export function sameStamp(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
