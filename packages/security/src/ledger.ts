/**
 * What the edge measured, recorded before it is charged. CPU time, IO bytes and wall
 * time are read by the caller (the only place a clock is read) and written here; the
 * decision reads them back from the tree, so a replay of the tree decides the same.
 * Also the replay guard: each invoke id is accepted once.
 */
import { randomFillSync } from 'node:crypto';
import { name, referenceId, u64, type Name, type Tree } from '@cep/cells';
import { securityError } from './errors.ts';
import type { Usage } from './decide.ts';

// Paths as names made once: each invoke records usage on both sides and is admitted once, and a
// text segment is looked up in the name memo on every use.
const LEDGER: readonly Name[] = [name('journal'), name('decisions'), name('sec')];
const SEEN: readonly Name[] = [name('rt'), name('security'), name('seen')];
/** The cutoff beat the seen ids were last scanned for (see {@link admitInvokeId}). */
const SEEN_CUT: readonly Name[] = [name('rt'), name('security'), name('seen_cut')];
const USAGE = name('usage');
const USAGE_FIELDS = [
  ['beats', 'beats', name('beats')],
  ['cpuNs', 'cpu_ns', name('cpu_ns')],
  ['ioBytes', 'io_bytes', name('io_bytes')],
  ['wallMs', 'wall_ms', name('wall_ms')],
] as const;

/** Ids drawn per call into the OS random source: one call for many ids, as `crypto.randomUUID` does. */
const IDS_PER_DRAW = 256;
const idEntropy = Buffer.alloc(16 * IDS_PER_DRAW);
let idOffset = idEntropy.length;

/** A fresh invoke id: 128 random bits as 32 hex digits after `inv-` (a reference name). */
export function newInvokeId(): string {
  // A call into the random source per id was ~3% of an invoke's CPU; the bytes are the same
  // CSPRNG output, each handed out once.
  if (idOffset === idEntropy.length) {
    randomFillSync(idEntropy);
    idOffset = 0;
  }
  const id = `inv-${idEntropy.toString('hex', idOffset, idOffset + 16)}`;
  idOffset += 16;
  return id;
}

const INVOKE_ID = /^inv-[0-9a-f]{32}$/;

/** True when `id` has the shape {@link newInvokeId} produces. */
export function isInvokeId(id: unknown): id is string {
  return typeof id === 'string' && INVOKE_ID.test(id);
}

/**
 * The cell name of an invoke id (a reference). Made outside the memo `name()` keeps for names that
 * repeat: every invoke has its own id, so each would take a slot there (two, with the text → id
 * memo) and be held, garbage, until the memo fills and is cleared. Any other text gets `name()`'s
 * usual treatment (and its errors).
 */
export function invokeIdName(invokeId: string): Name {
  return isInvokeId(invokeId) ? name(referenceId(invokeId)) : name(invokeId);
}

/**
 * Adds measured usage to the invoke's ledger (`/journal/decisions/sec/<id>/usage`) and returns
 * the totals (all four fields, as {@link usageOf} would read them right after).
 *
 * The ledger holds only what was measured: a field is written when something non-zero is added
 * to it (or when it holds something else than a u64, which is rewritten as the total), never to
 * store a 0. A missing field reads as 0 — here, in {@link usageOf} and in `checkInvoke` alike —
 * so a stored 0 said nothing, and on a busy runtime those zeros were three of the six cells the
 * sender's ledger created per call and two of the receiver's. The `usage` dictionary itself is
 * created at an invoke's first record, whatever it adds, so every invoke has its entry.
 */
export function recordUsage(tree: Tree, invokeId: string, usage: Usage): Usage {
  // Every field is checked before anything is written, so bad input changes nothing.
  for (const [key] of USAGE_FIELDS) {
    const add = usage[key];
    if (add !== undefined && (!Number.isSafeInteger(add) || add < 0)) {
      throw securityError('SEC_USAGE_INVALID', `usage.${key} must be a whole number ≥ 0, got ${String(add)}`, { field: key });
    }
  }
  const base = [...LEDGER, invokeIdName(invokeId), USAGE];
  // Current values are read from the usage dictionary itself, not by walking from the root per field.
  const found = tree.get(base);
  const total: Record<string, number> = {};
  tree.batch(() => {
    // Written from the record's cell (created, with its parents, the first time), as set() on each field's path would.
    const record = found ?? tree.ensureDictionary(base);
    for (const [key, , fieldName] of USAGE_FIELDS) {
      const add = usage[key] ?? 0;
      const current = found?.child(fieldName);
      const live = current !== undefined && !current.isDeleted;
      const known = live && current.value?.type === 'u64';
      const sum = (known ? Number(current.value!.value) : 0) + add;
      if (add !== 0 || (live && !known)) tree.setChild(record, fieldName, u64(sum));
      total[key] = sum;
    }
  });
  return total;
}

/**
 * Removes the usage records of invokes untouched since before `beforeBeat` (their budget
 * checks are over). Deterministic: it reads only beat stamps, so a replay prunes the same
 * entries at the same beat. Returns how many were removed.
 */
export function pruneUsage(tree: Tree, beforeBeat: number): number {
  const ledger = tree.get(LEDGER);
  if (ledger === undefined) return 0;
  const stale = ledger.children().filter((entry) => entry.subtreeModified < beforeBeat);
  if (stale.length === 0) return 0;
  tree.batch(() => {
    for (const entry of stale) tree.remove([...LEDGER, entry.name]);
  });
  return stale.length;
}

/**
 * The usage recorded for an invoke so far: all four fields once it has a ledger entry (a field
 * not stored reads as 0, see {@link recordUsage}); `{}` for an invoke never recorded.
 */
export function usageOf(tree: Tree, invokeId: string): Usage {
  const record = tree.get([...LEDGER, invokeIdName(invokeId), USAGE]);
  if (record === undefined) return {};
  const out: Record<string, number> = {};
  for (const [key, , fieldName] of USAGE_FIELDS) {
    const field = record.child(fieldName);
    const value = field === undefined || field.isDeleted ? undefined : field.value;
    out[key] = value?.type === 'u64' ? Number(value.value) : 0;
  }
  return out;
}

/**
 * Accepts an invoke id once. Ids are remembered for `windowBeats` beats (default 1024),
 * then forgotten so the guard stays bounded; within that window a second frame with the
 * same id is refused (returns false). Ids that do not look like {@link newInvokeId}'s are
 * refused too, so a peer cannot pick guessable ones. Past the window, the authenticated
 * channel (per-session keys and sequence numbers) is what refuses a replayed frame.
 *
 * The decision is exact at every beat (an id stamped before the cutoff counts as forgotten
 * even while its record is still there); the records themselves are swept in batches, at most
 * one sweep per `windowBeats / 8` beats, so the guard holds at most the ids of
 * `windowBeats + windowBeats / 8` beats.
 */
export function admitInvokeId(tree: Tree, id: string, windowBeats = 1024): boolean {
  if (!isInvokeId(id)) return false;
  const seen = tree.ensureDictionary(SEEN);
  const cutoff = tree.beat - windowBeats;
  // Forget ids older than the window. A sweep walks every remembered id, so it runs only when
  // the cutoff has moved a whole step past the one last swept for: sweeping every beat made
  // each beat cost the size of the window (a tenth of an invoke's CPU at a few thousand calls
  // per second). The cutoff swept for is kept in the tree, so a replay sweeps at the same
  // moments; the verdict below does not depend on when the sweep ran.
  const step = Math.max(1, windowBeats >> 3);
  const swept = tree.getValue(SEEN_CUT);
  if (swept?.type !== 'u64' || cutoff >= Number(swept.value) + step) {
    for (const child of [...seen.children()]) {
      const at = child.value;
      if (at?.type === 'u64' && Number(at.value) < cutoff) tree.remove(child.path());
    }
    tree.set(SEEN_CUT, u64(BigInt(Math.max(0, cutoff))));
  }
  const idName = name(referenceId(id)); // a well-formed id (checked above): see invokeIdName
  const known = seen.child(idName);
  if (known !== undefined) {
    const at = known.value;
    if (at?.type !== 'u64' || Number(at.value) >= cutoff) return false;
  }
  tree.setChild(seen, idName, u64(tree.beat));
  return true;
}
