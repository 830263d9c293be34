/**
 * What a mount request shows: `state`, `provider`, `error_note`. These are the organ's outputs,
 * so writing them never re-runs the validator.
 */
import { name, text, type Name, type Tree } from '@cep/cells';

/** The states a mount request goes through (SPEC §7). */
export type RequestState = 'pending' | 'active' | 'error' | 'removed';

/** Writes the request's state; `note` only with `error` (otherwise a stale note is soft-deleted, its history kept). */
export function publishState(tree: Tree, request: readonly Name[], state: RequestState, detail: { provider?: string | undefined; note?: string } = {}): void {
  tree.batch(() => {
    tree.set([...request, name('state')], text(state));
    const notePath = [...request, name('error_note')];
    if (detail.note !== undefined) tree.set(notePath, text(detail.note));
    else if (tree.get(notePath) !== undefined) tree.delete(notePath);
    if (detail.provider !== undefined) tree.set([...request, name('provider')], text(detail.provider));
  });
}

/** Soft-deletes `provider` (a request that names no usable mount has none). */
export function clearProvider(tree: Tree, request: readonly Name[]): void {
  const path = [...request, name('provider')];
  if (tree.get(path) !== undefined) tree.delete(path);
}
