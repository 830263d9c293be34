/**
 * The durable store: recovers a tree from an engine (snapshot, then journal), then appends
 * one checksummed entry per committed beat of the runtime it is attached to, syncs per the
 * durability mode, and snapshots every so many beats.
 */
import { applyImages, createTree, trackChanges, type ChangeTracker, type Tree } from '@cep/cells';
import { isCepError, type CepError } from '@cep/errors';
import type { Fact, LoggedInput, Runtime } from '@cep/heartbeat';
import type { SnapshotWriter, StoreEngine } from './engine.ts';
import { storeError, type StoreErrorCode } from './errors.ts';
import { checkEntry, decodeEntry, encodeEntry } from './journal.ts';
import { decodeSnapshot, SnapshotEncoder } from './snapshot.ts';

/**
 * When a beat becomes durable: `'beat'` syncs after every beat; `{ groupBeats: n }` syncs
 * once every `n` beats (and on `flush()`, `snapshot()` and `close()`), trading a window of
 * up to `n` beats lost to a crash for fewer syncs. Hold acknowledgements with
 * {@link Store.whenDurable} in either mode.
 */
export type Durability = 'beat' | { readonly groupBeats: number };

/** Default beats between automatic snapshots. */
export const DEFAULT_SNAPSHOT_EVERY = 1000;

/** Default bytes of snapshot written per beat while a snapshot is in progress. */
export const DEFAULT_SNAPSHOT_SLICE_BYTES = 64 * 1024;

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  readonly engine: StoreEngine;
  /** Default `'beat'`. */
  readonly durability?: Durability;
  /** Beats between automatic snapshots (default {@link DEFAULT_SNAPSHOT_EVERY}); 0 turns them off. */
  readonly snapshotEvery?: number;
  /**
   * Bytes of an automatic snapshot written at the end of each beat (default
   * {@link DEFAULT_SNAPSHOT_SLICE_BYTES}): a snapshot is spread over as many beats as it needs,
   * so no beat pays for the whole tree. A budget in bytes, never time, so replay decides the same.
   */
  readonly snapshotSliceBytes?: number;
  /** A damaged journal tail: `'cut'` it back to the last good beat and report it (default), or `'fail'` with `STORE_CORRUPT`. */
  readonly onCorruptTail?: 'cut' | 'fail';
  /** History depth of the recovered tree (as `createTree`). */
  readonly historyDepth?: number;
  /** Called after each journal beat is replayed during recovery, with the tree as of that beat. */
  readonly onRecoveredBeat?: (beat: number, tree: Tree) => void;
}

/** A damaged journal tail found on open and cut off. */
export interface JournalCut {
  /** The last good beat before the damage (`undefined`: none in the journal). */
  readonly afterBeat: number | undefined;
  /** Where the damage starts, in the engine's positions. */
  readonly position: number;
  /** Records dropped whole (their checksum or content was wrong). */
  readonly droppedRecords: number;
  /** What was wrong. */
  readonly reason: string;
  /** The same, as a CEI fact; {@link Store.attach} emits it unless told not to. */
  readonly fact: Fact;
}

/** What {@link openStore} found. */
export interface RecoveryReport {
  readonly engine: string;
  /** The snapshot's beat (`undefined`: no snapshot). */
  readonly snapshotBeat: number | undefined;
  readonly snapshotCells: number;
  /** Journal beats replayed on top of the snapshot. */
  readonly replayedBeats: number;
  /** The last beat the recovered tree contains (`undefined`: a new store). */
  readonly lastBeat: number | undefined;
  readonly cut: JournalCut | undefined;
}

/** Options of {@link Store.attach}. */
export interface AttachOptions {
  /** Emit the recovery's journal cut (if any) as a CEI fact (default true). */
  readonly reportRecovery?: boolean;
}

/** A snapshot being written, a slice per beat. */
export interface SnapshotProgress {
  /** The beat it began after (its journal's records up to this beat are dropped once it is in place). */
  readonly beat: number;
  readonly cells: number;
  readonly bytes: number;
}

/** An open store. */
export interface Store {
  /** The recovered tree: give it to `createRuntime({ tree })`. */
  readonly tree: Tree;
  readonly recovery: RecoveryReport;
  /** Inputs of the journal's beats (those since the last snapshot), oldest first. */
  readonly recoveredInputs: readonly LoggedInput[];
  /** The last beat appended (`undefined`: none yet). */
  readonly appendedBeat: number | undefined;
  /** The last beat that survives a crash (`undefined`: none yet). */
  readonly durableBeat: number | undefined;
  /** The snapshot being written across beats, if one is (`undefined`: none). */
  readonly snapshotProgress: SnapshotProgress | undefined;
  /** Journals every committed beat of `runtime` (whose tree must be {@link Store.tree}); returns the detacher. */
  attach(runtime: Runtime, options?: AttachOptions): () => void;
  /** Resolves once `beat` is durable; rejects with `STORE_IO` if the store failed first, `STORE_CLOSED` if closed first. */
  whenDurable(beat: number): Promise<void>;
  /** Makes every appended beat durable now. */
  flush(): void;
  /**
   * Writes a snapshot now (between beats), or finishes the one in progress, in one go; then the
   * journal keeps only the beats after the one the snapshot began at.
   */
  snapshot(): void;
  /** Flushes and releases the engine. */
  close(): void;
}

interface Waiter {
  readonly beat: number;
  resolve(): void;
  reject(error: Error): void;
}

/** Opens a store: recovers its tree from the engine, ready to {@link Store.attach}. */
export function openStore(options: OpenStoreOptions): Store {
  const durability = options.durability ?? 'beat';
  const groupBeats = durability === 'beat' ? 1 : durability.groupBeats;
  if (!Number.isSafeInteger(groupBeats) || groupBeats < 1) {
    throw storeError('STORE_OPTION_INVALID', `durability.groupBeats must be an integer ≥ 1, got ${String(groupBeats)}`, { option: 'durability.groupBeats' });
  }
  const snapshotEvery = options.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY;
  if (!Number.isSafeInteger(snapshotEvery) || snapshotEvery < 0) {
    throw storeError('STORE_OPTION_INVALID', `snapshotEvery must be an integer ≥ 0, got ${String(snapshotEvery)}`, { option: 'snapshotEvery' });
  }
  const sliceBytes = options.snapshotSliceBytes ?? DEFAULT_SNAPSHOT_SLICE_BYTES;
  if (!Number.isSafeInteger(sliceBytes) || sliceBytes < 1) {
    throw storeError('STORE_OPTION_INVALID', `snapshotSliceBytes must be an integer ≥ 1, got ${String(sliceBytes)}`, { option: 'snapshotSliceBytes' });
  }
  const { tree, report, inputs } = recover(options);
  return new DurableStore(options.engine, tree, report, inputs, groupBeats, snapshotEvery, sliceBytes);
}

function recover(options: OpenStoreOptions): { tree: Tree; report: RecoveryReport; inputs: LoggedInput[] } {
  const { engine } = options;
  const treeOptions = options.historyDepth === undefined ? {} : { historyDepth: options.historyDepth };
  const snapshotBytes = engine.readSnapshot();
  let tree: Tree;
  let snapshotBeat: number | undefined;
  let snapshotCells = 0;
  let snapshotComplete = -1;
  if (snapshotBytes === undefined) {
    tree = createTree(treeOptions);
  } else {
    const decoded = decodeSnapshot(snapshotBytes, treeOptions);
    tree = decoded.tree;
    snapshotBeat = decoded.beat < 0 ? undefined : decoded.beat;
    snapshotCells = decoded.cells;
    snapshotComplete = decoded.complete;
  }
  const journal = engine.readJournal();
  let lastBeat = snapshotBeat;
  let replayedBeats = 0;
  const inputs: LoggedInput[] = [];
  let cutAt: { position: number; index: number; reason: string } | undefined;
  for (let index = 0; index < journal.records.length; index++) {
    const record = journal.records[index]!;
    let beat: number;
    try {
      beat = checkEntry(record.bytes);
    } catch (error) {
      cutAt = { position: record.position, index, reason: (error as Error).message };
      break;
    }
    if (snapshotBeat !== undefined && beat <= snapshotBeat && replayedBeats === 0) continue; // from before the snapshot
    if (lastBeat !== undefined && beat <= lastBeat) {
      cutAt = { position: record.position, index, reason: `beat ${beat} follows beat ${lastBeat}; beats only go forward` };
      break;
    }
    const entry = decodeOrCut(record.bytes);
    if (typeof entry === 'string') {
      cutAt = { position: record.position, index, reason: entry };
      break;
    }
    // A checksummed entry that does not apply is a bug or tampering, not a torn write:
    // the tree may be half-changed now, so refuse rather than guess.
    try {
      applyImages(tree, entry.edits);
    } catch (error) {
      throw storeError('STORE_CORRUPT', `the journal entry of beat ${beat} passed its checksum but does not apply: ${(error as Error).message}`, { beat });
    }
    tree.setBeat(beat);
    for (const input of entry.inputs) inputs.push(input);
    lastBeat = beat;
    replayedBeats++;
    options.onRecoveredBeat?.(beat, tree);
  }
  if (cutAt === undefined && journal.torn !== undefined) {
    cutAt = { position: journal.torn.position, index: journal.records.length, reason: `${journal.torn.bytes} bytes at the end hold ${journal.torn.reason}` };
  }
  // A snapshot written across beats holds states up to the beat it completed at; short of that
  // beat in the journal the tree would mix beats. The journal is synced before the snapshot is
  // put in place, so only a damaged journal gets here: refuse, touching nothing.
  if (snapshotComplete > (lastBeat ?? -1)) {
    throw storeError(
      'STORE_CORRUPT',
      `the snapshot completed at beat ${snapshotComplete} but the journal's good records end at ${lastBeat === undefined ? 'no beat' : `beat ${lastBeat}`}${cutAt === undefined ? '' : ` (${cutAt.reason})`}`,
      { complete: snapshotComplete, lastBeat },
    );
  }
  let cut: JournalCut | undefined;
  if (cutAt !== undefined) {
    const droppedRecords = journal.records.length - cutAt.index;
    const note = `store journal (${engine.kind}) damaged after ${lastBeat === undefined ? 'no beat' : `beat ${lastBeat}`}: ${cutAt.reason}; cut back to the last good beat (${droppedRecords} record(s) dropped)`;
    if (options.onCorruptTail === 'fail') {
      throw storeError('STORE_CORRUPT', `${note.replace('; cut back', '; not cut back (onCorruptTail: fail)')}`, {
        position: cutAt.position,
        afterBeat: lastBeat,
      });
    }
    engine.truncate(cutAt.position);
    cut = {
      afterBeat: lastBeat,
      position: cutAt.position,
      droppedRecords,
      reason: cutAt.reason,
      fact: { topic: 'store/journal_cut', severity: 'warn', note, origin: 'store' },
    };
  }
  if (lastBeat !== undefined) tree.setBeat(lastBeat + 1);
  return { tree, report: { engine: engine.kind, snapshotBeat, snapshotCells, replayedBeats, lastBeat, cut }, inputs };
}

function decodeOrCut(bytes: Uint8Array): ReturnType<typeof decodeEntry> | string {
  try {
    return decodeEntry(bytes);
  } catch (error) {
    if (isCepError(error, 'STORE_CORRUPT')) return error.message;
    throw error;
  }
}

class DurableStore implements Store {
  appendedBeat: number | undefined;
  durableBeat: number | undefined;
  private readonly tracker: ChangeTracker;
  private waiters: Waiter[] = [];
  private attached: Runtime | undefined;
  private detachListener: (() => void) | undefined;
  private beatsSinceSync = 0;
  private beatsSinceSnapshot = 0;
  private failure: CepError<StoreErrorCode> | undefined;
  private closed = false;
  private writing: { encoder: SnapshotEncoder; writer: SnapshotWriter } | undefined;

  constructor(
    private readonly engine: StoreEngine,
    readonly tree: Tree,
    readonly recovery: RecoveryReport,
    readonly recoveredInputs: readonly LoggedInput[],
    private readonly groupBeats: number,
    private readonly snapshotEvery: number,
    private readonly sliceBytes: number,
  ) {
    this.appendedBeat = recovery.lastBeat;
    this.durableBeat = recovery.lastBeat;
    // The journal's beats count towards the next snapshot, or a peer restarted more often than
    // every snapshotEvery beats would never snapshot and its journal (and restart time) would grow.
    this.beatsSinceSnapshot = recovery.replayedBeats;
    // From now on, so writes made before attach() join the first journaled beat.
    this.tracker = trackChanges(tree);
  }

  attach(runtime: Runtime, options: AttachOptions = {}): () => void {
    this.checkOpen();
    if (this.attached !== undefined) throw storeError('STORE_ATTACH', 'this store is attached to a runtime already; detach it first');
    if (runtime.tree !== this.tree)
      throw storeError('STORE_ATTACH', "the runtime does not run on this store's tree; create it with createRuntime({ tree: store.tree })");
    if (this.appendedBeat !== undefined && runtime.beat <= this.appendedBeat) {
      throw storeError('STORE_ATTACH', `the runtime is at beat ${runtime.beat} but the store holds beats up to ${this.appendedBeat}`, {
        beat: runtime.beat,
        appended: this.appendedBeat,
      });
    }
    this.attached = runtime;
    this.detachListener = runtime.onCommitted((beat, inputs) => this.commit(beat, inputs));
    if (options.reportRecovery !== false && this.recovery.cut !== undefined) runtime.cei.emit(this.recovery.cut.fact);
    return () => {
      if (this.attached !== runtime) return;
      this.detachListener?.();
      this.detachListener = undefined;
      this.attached = undefined;
    };
  }

  private commit(beat: number, inputs: readonly LoggedInput[]): void {
    if (this.failure !== undefined || this.closed) return;
    try {
      this.engine.append(encodeEntry(beat, this.tracker.take(), inputs));
      this.appendedBeat = beat;
      this.beatsSinceSnapshot++;
      if (++this.beatsSinceSync >= this.groupBeats) this.sync();
      if (this.writing === undefined && this.snapshotEvery > 0 && this.beatsSinceSnapshot >= this.snapshotEvery) this.beginSnapshot();
      if (this.writing !== undefined) this.writeSlice(this.sliceBytes);
    } catch (error) {
      this.fail(error);
      throw this.failure;
    }
  }

  private sync(): void {
    this.engine.sync();
    this.beatsSinceSync = 0;
    this.markDurable(this.appendedBeat);
  }

  private markDurable(beat: number | undefined): void {
    this.durableBeat = beat;
    if (beat === undefined || this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => w.beat <= beat);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.beat > beat);
    for (const waiter of ready) waiter.resolve();
  }

  private fail(error: unknown): void {
    this.dropSnapshot();
    this.failure = isCepError<StoreErrorCode>(error, 'STORE_IO', 'STORE_CLOSED')
      ? error
      : storeError(
          'STORE_IO',
          `the ${this.engine.kind} engine failed: ${(error as Error)?.message ?? String(error)}; beats after ${this.durableBeat ?? 'none'} are not durable`,
          { durableBeat: this.durableBeat },
        );
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.reject(this.failure);
  }

  whenDurable(beat: number): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.durableBeat !== undefined && beat <= this.durableBeat) return Promise.resolve();
    if (this.closed) return Promise.reject(storeError('STORE_CLOSED', `beat ${beat} was never made durable: the store is closed`));
    return new Promise((resolve, reject) => this.waiters.push({ beat, resolve, reject }));
  }

  flush(): void {
    this.checkOpen();
    if (this.appendedBeat === this.durableBeat) return;
    try {
      this.sync();
    } catch (error) {
      this.fail(error);
      throw this.failure;
    }
  }

  get snapshotProgress(): SnapshotProgress | undefined {
    if (this.writing === undefined) return undefined;
    const { encoder } = this.writing;
    return { beat: encoder.beat, cells: encoder.cells, bytes: encoder.bytes };
  }

  snapshot(): void {
    this.checkOpen();
    if (this.attached !== undefined && this.attached.phase !== 'idle' && this.attached.phase !== 'commit') {
      throw storeError('STORE_ATTACH', `cannot snapshot during the ${this.attached.phase} of a beat`);
    }
    try {
      if (this.writing === undefined) this.beginSnapshot();
      while (this.writing !== undefined) this.writeSlice(Number.POSITIVE_INFINITY);
    } catch (error) {
      this.fail(error);
      throw this.failure;
    }
  }

  /**
   * Starts a snapshot of the tree as of the last appended beat; the journal's records so far
   * are dropped once it is in place, the beats from now on stay (they bring it up to date).
   */
  private beginSnapshot(): void {
    const beat = this.appendedBeat ?? this.tree.beat - 1;
    this.writing = { encoder: new SnapshotEncoder(this.tree, beat), writer: this.engine.beginSnapshot() };
    this.beatsSinceSnapshot = 0;
  }

  /** Writes about `budget` bytes of the snapshot in progress; puts it in place once it is whole. */
  private writeSlice(budget: number): void {
    const { encoder, writer } = this.writing!;
    writer.write(encoder.next(budget));
    if (!encoder.done) return;
    // The snapshot holds states up to the last appended beat: that beat must be durable in the
    // journal before the snapshot replaces the old one, or a power cut could leave a snapshot
    // ahead of its journal.
    if (this.appendedBeat !== this.durableBeat) this.sync();
    const { trailer, header } = encoder.finish(this.appendedBeat ?? encoder.beat);
    writer.write(trailer);
    writer.writeAt(0, header);
    writer.commit();
    this.writing = undefined;
  }

  private dropSnapshot(): void {
    const writing = this.writing;
    this.writing = undefined;
    try {
      writing?.writer.abort();
    } catch {
      // Dropping a half-written snapshot only frees a temporary file; the journal is intact.
    }
  }

  close(): void {
    if (this.closed) return;
    if (this.failure === undefined) {
      // A snapshot in progress is finished: a peer restarted more often than a snapshot takes
      // would otherwise never complete one, and its journal (and restart time) would grow.
      if (this.writing !== undefined) this.snapshot();
      this.flush();
    }
    this.closed = true;
    this.dropSnapshot();
    this.detachListener?.();
    this.attached = undefined;
    this.tracker.stop();
    this.engine.close();
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.reject(storeError('STORE_CLOSED', `beat ${waiter.beat} was never made durable: the store is closed`));
  }

  private checkOpen(): void {
    if (this.closed) throw storeError('STORE_CLOSED', 'this store is closed; open it again');
    if (this.failure !== undefined) throw this.failure;
  }
}
