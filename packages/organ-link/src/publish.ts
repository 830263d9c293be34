/**
 * What a mount request shows: `state`, `provider`, `error_note`, `retry_beat`, `retries`. These are the organ's outputs,
 * so writing them never re-runs the validator.
 */
import { name, text, u64, type Name, type Tree } from '@cep/cells';

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

/**
 * Writes the redial bookkeeping: `retry_beat` (u64) while a redial is scheduled, soft-deleted
 * otherwise; `retries` (u64) once a break happened (0 again after the mount opens). A request
 * that never broke carries neither.
 */
export function publishRetry(tree: Tree, request: readonly Name[], retryBeat: number | undefined, retries: number): void {
  const beatPath = [...request, name('retry_beat')];
  const countPath = [...request, name('retries')];
  tree.batch(() => {
    if (retryBeat !== undefined) setU64(tree, beatPath, retryBeat);
    else if (tree.get(beatPath) !== undefined) tree.delete(beatPath);
    if (retryBeat !== undefined || tree.get(countPath) !== undefined) setU64(tree, countPath, retries);
  });
}

/**
 * Writes `session_seq` (u64): the mount's `session_seq`, so the request shows when the peer
 * restarted (it counts one more each time the peer came back as a new session).
 */
export function publishSession(tree: Tree, request: readonly Name[], seq: bigint): void {
  setU64(tree, [...request, name('session_seq')], Number(seq));
}

/** Soft-deletes `retry_beat` and `retries` (the request holds no mount any more). */
export function clearRetry(tree: Tree, request: readonly Name[]): void {
  for (const field of ['retry_beat', 'retries']) {
    const path = [...request, name(field)];
    if (tree.get(path) !== undefined) tree.delete(path);
  }
}

/** Writes only when the value changes, so an idle request's history stays quiet. */
function setU64(tree: Tree, path: readonly Name[], value: number): void {
  const now = tree.getValue(path);
  if (now?.type === 'u64' && now.value === BigInt(value)) return;
  tree.set(path, u64(BigInt(value)));
}

/** Soft-deletes `provider` (a request that names no usable mount has none). */
export function clearProvider(tree: Tree, request: readonly Name[]): void {
  const path = [...request, name('provider')];
  if (tree.get(path) !== undefined) tree.delete(path);
}
