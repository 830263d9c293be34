/**
 * What lets a source carry on after its process restarts, when its tree is durable (a store
 * journals every committed beat). A publication keeps in its serving record, under
 * `/net/organs/<kind>/serving/<peer>/<mount>/`, the little that is not in the branch itself:
 *
 * - `epoch` and `acked` (written already for operators);
 * - `marks/<seq>`: for every bundle from the acknowledged one to the newest whole one, the
 *   source beat whose branch the copy holds once that bundle is applied (the beat its last part
 *   was packed in);
 * - `gone/<n>/{beat, path}`: the cells *removed* from the branch since the oldest mark (a
 *   removed cell leaves no stamp behind; a soft-deleted one does).
 *
 * Everything else is derived from the branch: every cell carries the beat it was created in,
 * last modified in, deleted in, and the newest beat anything below it changed in, and the store
 * restores those stamps exactly. So a receiver that holds bundle `seq` gets, as bundle
 * `seq + 1`, the current state of every cell stamped at or after `marks/<seq>` (the mark's own
 * beat included: changes later in that beat were not in the bundle), every kept removal since
 * then, and the order of every list changed since then. Shipping a cell's current state more
 * than once changes nothing more, so this over-approximation is exact. No wall time, no new
 * store interface: what is written here rides in the journal entry of the beat that decided it,
 * and the frames it describes leave only once that beat is durable (cep-node holds outbound frames
 * until then).
 */
import type { Cell, Name, Tree } from '@cep/cells';
import type { BranchLog } from './delta.ts';
import { v } from './episode.ts';

/** A cell removed from the branch (path relative to it), kept while a receiver may still need to hear of it. */
export interface GoneEntry {
  readonly n: number;
  readonly beat: number;
  readonly rel: readonly Name[];
}

/** A publication found in the tree when the organ is installed (the runtime restarted on its store). */
export interface KeptPublication {
  readonly peer: string;
  readonly mount: string;
  readonly src: string;
  readonly epoch: string;
  readonly acked: number;
  /** seq → the source beat whose branch the copy holds after that bundle. */
  readonly marks: ReadonlyMap<number, number>;
  readonly gone: readonly GoneEntry[];
  /** The dossier of the process that served it. */
  readonly op: string | undefined;
}

/** Reads the serving records a previous process left in the tree. Records missing a field are skipped. */
export function readKept(tree: Tree, servingRoot: readonly Name[]): KeptPublication[] {
  const kept: KeptPublication[] = [];
  for (const peer of live(tree.find(servingRoot))) {
    for (const record of live(peer)) {
      const src = textOf(record.child('src_chan'));
      const epoch = textOf(record.child('epoch'));
      const acked = numberOf(record.child('acked'));
      if (src === undefined || epoch === undefined || acked === undefined) continue;
      const marks = new Map<number, number>();
      for (const mark of live(record.child('marks'))) {
        const seq = Number(mark.name.tag.text);
        const beat = numberOf(mark);
        if (Number.isSafeInteger(seq) && beat !== undefined) marks.set(seq, beat);
      }
      const gone: GoneEntry[] = [];
      for (const entry of live(record.child('gone'))) {
        const n = Number(entry.name.tag.text);
        const beat = numberOf(entry.child('beat'));
        const rel = chain(entry.child('path'));
        if (Number.isSafeInteger(n) && beat !== undefined && rel !== undefined) gone.push({ n, beat, rel });
      }
      kept.push({
        peer: peer.name.tag.text,
        mount: record.name.tag.text,
        src,
        epoch,
        acked,
        marks,
        gone: gone.sort((a, b) => a.n - b.n),
        op: textOf(record.child('op')),
      });
    }
  }
  return kept;
}

/**
 * Where a receiver holding bundle `seq` of `kept`'s epoch continues: `snapshot` (it holds
 * nothing of the epoch yet), the beat its copy is at, or `undefined` (this source no longer
 * knows that point: a new epoch).
 */
export function resumePoint(kept: KeptPublication, seq: number): number | 'snapshot' | undefined {
  if (seq === 0) return kept.acked === 0 ? 'snapshot' : undefined;
  if (seq < kept.acked) return undefined;
  return kept.marks.get(seq);
}

/**
 * Marks in `log` every place under `root` that may differ from the branch as it was at beat
 * `since`: cells created, modified or deleted at or after it, lists whose order or children
 * changed (their order ships), stores revived, and the kept removals.
 */
export function markSince(log: BranchLog, tree: Tree, root: readonly Name[], since: number, gone: readonly GoneEntry[]): void {
  log.resumeAt(since);
  const branch = tree.find(root);
  if (branch === undefined || changedItself(branch, since)) log.markChanged([]);
  else if (branch.subtreeModified >= since) walk(log, branch, [], since);
  for (const entry of gone) if (entry.beat >= since) log.markChanged(entry.rel);
}

function walk(log: BranchLog, store: Cell, rel: readonly Name[], since: number): void {
  if (store.kind === 'list' && store.modified >= since) log.markReordered(rel);
  for (const child of store.children()) {
    if (child.subtreeModified < since) continue;
    const at = [...rel, child.name];
    if (changedItself(child, since))
      log.markChanged(at); // its current state covers everything below
    else if (!child.isDeleted && (child.kind === 'dictionary' || child.kind === 'list')) walk(log, child, at, since);
  }
}

/**
 * True when the cell as a whole must ship: new, deleted, a value or link that changed, or a
 * store that came back from a delete (the receiver may not have it at all). A store that only
 * gained, lost or reordered children is walked instead.
 */
function changedItself(cell: Cell, since: number): boolean {
  if (cell.created >= since) return true;
  if (cell.deleted !== undefined) return cell.deleted >= since;
  if (cell.modified < since) return false;
  if (cell.kind === 'value' || cell.kind === 'link') return true;
  return cell.history().some((entry) => entry.value === undefined);
}

/** Writes the beat the copy is at after bundle `seq`. */
export function writeMark(tree: Tree, at: readonly (Name | string)[], seq: number, beat: number): void {
  tree.set([...at, 'marks', String(seq)], v.n(beat));
}

/** Forgets the marks of bundles before `seq` (acknowledged: no receiver resumes from them). */
export function dropMarks(tree: Tree, at: readonly (Name | string)[], marks: Map<number, number>, seq: number): void {
  for (const key of [...marks.keys()]) {
    if (key >= seq) continue;
    marks.delete(key);
    tree.remove([...at, 'marks', String(key)]);
  }
}

/** Records a removal. */
export function writeGone(tree: Tree, at: readonly (Name | string)[], entry: GoneEntry): void {
  const base = [...at, 'gone', String(entry.n)];
  tree.batch(() => {
    tree.set([...base, 'beat'], v.n(entry.beat));
    tree.ensureDictionary([...base, 'path', ...entry.rel]);
  });
}

/** Forgets the removals older than `beat` (every receiver that can resume holds a later state). */
export function dropGone(tree: Tree, at: readonly (Name | string)[], gone: GoneEntry[], beat: number): void {
  let keep = 0;
  for (const entry of gone) {
    if (entry.beat >= beat) gone[keep++] = entry;
    else tree.remove([...at, 'gone', String(entry.n)]);
  }
  gone.length = keep;
}

function live(cell: Cell | undefined): Cell[] {
  if (cell === undefined || cell.isDeleted || (cell.kind !== 'dictionary' && cell.kind !== 'list')) return [];
  return cell.children().filter((c) => !c.isDeleted);
}

function textOf(cell: Cell | undefined): string | undefined {
  return cell !== undefined && !cell.isDeleted && cell.value?.type === 'text' ? cell.value.value : undefined;
}

function numberOf(cell: Cell | undefined): number | undefined {
  if (cell === undefined || cell.isDeleted || cell.value?.type !== 'u64') return undefined;
  const n = cell.value.value;
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : undefined;
}

/** A path kept as a chain of single-child dictionaries. */
function chain(cell: Cell | undefined): Name[] | undefined {
  if (cell === undefined || cell.isDeleted || cell.kind !== 'dictionary') return undefined;
  const names: Name[] = [];
  for (let c = live(cell); c.length > 0; c = live(c[0])) {
    if (c.length !== 1) return undefined;
    names.push(c[0]!.name);
  }
  return names;
}
