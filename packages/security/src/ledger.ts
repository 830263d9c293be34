/**
 * What the edge measured, recorded before it is charged. CPU time, IO bytes and wall
 * time are read by the caller (the only place a clock is read) and written here; the
 * decision reads them back from the tree, so a replay of the tree decides the same.
 * Also the replay guard: each invoke id is accepted once.
 */
import { randomFillSync } from 'node:crypto';
import { beatValue, name, referenceId, u64, type Cell, type Name, type Tree } from '@cep/cells';
import { childIndex, type ChildIndex } from './child-index.ts';
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

/** The guard's ids by their stamp, and the ledger's records by their last change (see child-index.ts). */
const seenIndexes = new WeakMap<Tree, ChildIndex>();
const ledgerIndexes = new WeakMap<Tree, ChildIndex>();
const stampOf = (child: Cell): number | undefined => (child.value?.type === 'u64' ? Number(child.value.value) : undefined);
const touchedAt = (child: Cell): number => child.subtreeModified;
/** A usage record's changes are told as changes of a field (usage/<field>), of `usage`, or of the record: 3 levels. */
const LEDGER_DEPTH = 3;

/**
 * How many usage records (`/journal/decisions/sec/<id>`) a runtime keeps at most by default: one
 * per invoke on each side, so 1,024 beats of 256 calls each, with room to spare. See
 * {@link recordUsage}.
 */
export const DEFAULT_MAX_USAGE_RECORDS = 1 << 19;

/**
 * How many invoke ids the replay guard (`/rt/security/seen`) holds at most by default: the ids of
 * a whole 1,024-beat window (and the eighth its sweep lags) at 256 calls per beat, with room to
 * spare. See {@link admitInvokeIdVerdict}.
 */
export const DEFAULT_MAX_SEEN_IDS = 1 << 19;

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
  // The last id asked for, and its name: each side asks for the same id two or three times in a
  // row (the record, the ledger, the guard), and each time made the name again and tested the id
  // against its pattern. Names are immutable, so handing out the same one is exact.
  if (invokeId === lastId) return lastName!;
  const made = isInvokeId(invokeId) ? name(referenceId(invokeId)) : name(invokeId);
  lastId = invokeId;
  lastName = made;
  return made;
}
let lastId: string | undefined;
let lastName: Name | undefined;

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
export function recordUsage(tree: Tree, invokeId: string, usage: Usage, maxRecords = DEFAULT_MAX_USAGE_RECORDS): Usage {
  // Every field is checked before anything is written, so bad input changes nothing.
  for (const [key] of USAGE_FIELDS) {
    const add = usage[key];
    if (add !== undefined && (!Number.isSafeInteger(add) || add < 0)) {
      throw securityError('SEC_USAGE_INVALID', `usage.${key} must be a whole number ≥ 0, got ${String(add)}`, { field: key });
    }
  }
  const idName = invokeIdName(invokeId);
  // One walk to the ledger, then down by name: what tree.get of the record's usage path finds
  // (the ledger and its records are dictionaries, never links), and the ledger for the bound.
  // Current values are read from the usage dictionary itself, not by walking from the root per field.
  const ledger = tree.get(LEDGER);
  const entry = ledger?.child(idName);
  const below = entry === undefined || entry.kind === 'link' ? undefined : entry.child(USAGE);
  const found = entry?.kind === 'link' ? tree.get([...LEDGER, idName, USAGE]) : below === undefined || below.isDeleted ? undefined : below;
  const total: Record<string, number> = {};
  tree.batch(() => {
    // A new record may take the ledger over its bound: the oldest go first (see evictOldest).
    if (found === undefined && ledger !== undefined && ledger.size >= maxRecords) evictOldest(tree, ledger, maxRecords);
    // Written from the record's cell (created, with its parents, the first time), as set() on each field's path would.
    const record = found ?? newRecord(tree, ledger, idName);
    // A first record: the ledger is followed from now on (see pruneUsage), built while it is small.
    if (found === undefined) childIndex(ledgerIndexes, tree, LEDGER, touchedAt, LEDGER_DEPTH).follow();
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
 * The usage dictionary of a new ledger record, with its parents, as `ensureDictionary` of its
 * path makes it: from the ledger's cell `recordUsage` found live (no second walk from the root).
 */
function newRecord(tree: Tree, ledger: Cell | undefined, idName: Name): Cell {
  if (ledger === undefined || ledger.kind !== 'dictionary') return tree.ensureDictionary([...LEDGER, idName, USAGE]);
  return tree.ensureChild(tree.ensureChild(ledger, idName, 'dictionary'), USAGE, 'dictionary');
}

/**
 * Keeps the usage ledger under `maxRecords` (called when a new record would reach it): removes the
 * records created in the oldest beats, whole beats at a time, until at most seven eighths of
 * `maxRecords` are left — so the scan, which reads every record, runs once per eighth of the bound
 * at most, not once per record. Deterministic: it reads only the records' creation beats, so a
 * replay removes the same records at the same moment. What it removes is bookkeeping of calls
 * whose checks are done (a record is read only by the check of the beat that writes it, and by the
 * charge of a measured run one beat later, which keeps what it measured: see organ-invoke), and
 * never decides whether a call runs: the replay guard ({@link admitInvokeIdVerdict}) does.
 */
function evictOldest(tree: Tree, ledger: Cell, maxRecords: number): void {
  const keep = maxRecords - Math.max(1, maxRecords >> 3);
  const entries = ledger.children();
  const perBeat = new Map<number, number>();
  for (const entry of entries) perBeat.set(entry.created, (perBeat.get(entry.created) ?? 0) + 1);
  const beats = [...perBeat.keys()].sort((a, b) => a - b);
  let left = entries.length;
  let below = -Infinity; // records created before this beat go
  for (const beat of beats) {
    if (left <= keep) break;
    left -= perBeat.get(beat)!;
    below = beat + 1;
  }
  for (const entry of [...entries]) if (entry.created < below) tree.remove([...LEDGER, entry.name]);
}

/**
 * Removes the usage records of invokes untouched since before `beforeBeat` (their budget
 * checks are over). Deterministic: it reads only beat stamps, so a replay prunes the same
 * entries at the same beat. Returns how many were removed.
 */
export function pruneUsage(tree: Tree, beforeBeat: number): number {
  const index = childIndex(ledgerIndexes, tree, LEDGER, touchedAt, LEDGER_DEPTH);
  if (index.current() === undefined) return 0;
  // The records changed before `beforeBeat`, from the index (not a sorted walk of every record);
  // one removed is gone from the dictionary when a second entry of it comes up, and is skipped.
  let removed = 0;
  tree.batch(() =>
    index.sweep(beforeBeat, (entry) => {
      if (entry.subtreeModified < beforeBeat && tree.remove([...LEDGER, entry.name])) removed++;
    }),
  );
  return removed;
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

/** What the replay guard says of an invoke id (see {@link admitInvokeIdVerdict}). */
export type InvokeIdVerdict = 'fresh' | 'seen' | 'malformed' | 'full';

/**
 * Accepts an invoke id once; true only for a fresh id (see {@link admitInvokeIdVerdict}, which
 * also says why not).
 */
export function admitInvokeId(tree: Tree, id: string, windowBeats = 1024, maxIds = DEFAULT_MAX_SEEN_IDS): boolean {
  return admitInvokeIdVerdict(tree, id, windowBeats, maxIds) === 'fresh';
}

/**
 * The replay guard: accepts an invoke id once. Ids are remembered for `windowBeats` beats (default
 * 1024), then forgotten so the guard stays bounded; within that window a second frame with the
 * same id is refused (`seen`). Ids that do not look like {@link newInvokeId}'s are refused too
 * (`malformed`), so a peer cannot pick guessable ones. Past the window, the authenticated channel
 * (per-session keys and sequence numbers) is what refuses a replayed frame.
 *
 * **Bounded in records too**: the guard holds at most `maxIds` ids. It never forgets an id inside
 * the window to make room — that would let a replay of it run again — so when it holds `maxIds`
 * ids of the window, a new id is refused (`full`) and **not** remembered: the call must not run
 * (nothing ran; the caller may send it again, and the same id is then judged afresh, as it was
 * never admitted). The bound therefore never lets a call run twice; it only turns away work beyond
 * `maxIds` calls per window. Deterministic: it counts records and beat stamps only.
 *
 * The decision is exact at every beat (an id stamped before the cutoff counts as forgotten
 * even while its record is still there); the records themselves are swept in batches, at most
 * one sweep per `windowBeats / 8` beats (and, when the guard is full, at most once per beat), so
 * the guard holds at most the ids of `windowBeats + windowBeats / 8` beats, and never more than
 * `maxIds`.
 */
export function admitInvokeIdVerdict(tree: Tree, id: string, windowBeats = 1024, maxIds = DEFAULT_MAX_SEEN_IDS): InvokeIdVerdict {
  if (!isInvokeId(id)) return 'malformed';
  const seen = tree.ensureDictionary(SEEN);
  const cutoff = tree.beat - windowBeats;
  // Forget ids older than the window. A sweep walks every remembered id, so it runs only when
  // the cutoff has moved a whole step past the one last swept for: sweeping every beat made
  // each beat cost the size of the window (a tenth of an invoke's CPU at a few thousand calls
  // per second). The cutoff swept for is kept in the tree, so a replay sweeps at the same
  // moments; the verdict below does not depend on when the sweep ran.
  const step = Math.max(1, windowBeats >> 3);
  const swept = tree.getValue(SEEN_CUT);
  const sweptAt = swept?.type === 'u64' ? Number(swept.value) : undefined;
  // A full guard sweeps as soon as the cutoff moved at all: room may have come free.
  if (sweptAt === undefined || cutoff >= sweptAt + step || (seen.size >= maxIds && cutoff > sweptAt)) {
    // The ids stamped before the cutoff, from the index of stamps (not a sorted walk of every id).
    const index = childIndex(seenIndexes, tree, SEEN, stampOf, 1);
    index.current();
    index.sweep(cutoff, (child) => {
      const at = child.value;
      if (at?.type === 'u64' && Number(at.value) < cutoff) tree.remove([...SEEN, child.name]);
    });
    tree.set(SEEN_CUT, u64(BigInt(Math.max(0, cutoff))));
  }
  // A well-formed id (checked above): named without testing it again, and kept as invokeIdName's
  // last, since the receiver's ledger asks for it next.
  const idName = id === lastId ? lastName! : name(referenceId(id));
  lastId = id;
  lastName = idName;
  const known = seen.child(idName);
  if (known !== undefined) {
    const at = known.value;
    if (at?.type !== 'u64' || Number(at.value) >= cutoff) return 'seen';
  } else if (seen.size >= maxIds) return 'full';
  // One shared, frozen stamp per beat (beatValue): every id admitted in a beat holds the same value (a cell's
  // value is replaced, never edited), instead of an object and a bigint per id kept for the window.
  tree.setChild(seen, idName, beatValue(tree.beat));
  return 'fresh';
}
