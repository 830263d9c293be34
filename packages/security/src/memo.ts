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

/**
 * True when the branches at `cells` still give `stamp` (`stampOf(cells)` equals `stamp`, element by
 * element), compared as the walk goes: no stamp is built. The memos ask this on every invoke,
 * twice per call, and the policy is almost never changed, so building a stamp each time only to
 * find it equal was an array (grown push by push) per check.
 */
export function stampMatches(cells: readonly (Cell | undefined)[], stamp: readonly unknown[]): boolean {
  let at = 0;
  for (const cell of cells) {
    at = matchAt(cell, stamp, at);
    if (at < 0) return false;
  }
  return at === stamp.length;
}

/** Where the stamp of `cell`'s branch ends in `stamp` when it matches from `at` on; -1 when it differs. */
function matchAt(cell: Cell | undefined, stamp: readonly unknown[], at: number): number {
  if (cell === undefined) return at < stamp.length && stamp[at] === undefined ? at + 1 : -1;
  if (at + 6 > stamp.length) return -1;
  const children = cell.children();
  if (
    stamp[at] !== cell ||
    stamp[at + 1] !== cell.value ||
    stamp[at + 2] !== cell.isDeleted ||
    stamp[at + 3] !== cell.storeType ||
    stamp[at + 4] !== cell.linkTarget ||
    stamp[at + 5] !== children.length
  )
    return -1;
  let next = at + 6;
  for (const child of children) {
    next = matchAt(child, stamp, next);
    if (next < 0) return -1;
  }
  return next;
}
