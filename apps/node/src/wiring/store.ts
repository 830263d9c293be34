/**
 * Wiring of the peer's store: locks `data_dir`, recovers the tree from it (last snapshot plus
 * the journal, a damaged tail cut back and reported), and journals every beat once the
 * runtime runs on that tree. Also the durability gate of outbound frames ({@link holdSends}).
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Runtime } from '@cep/heartbeat';
import { fileEngine, lockDirectory, openStore, type DirectoryLock, type Store } from '@cep/store';
import type { StoreConfig } from '../config/store.ts';

/** An open, locked store of a peer. */
export interface PeerStore {
  readonly dir: string;
  readonly store: Store;
  /** Journals `runtime` (created on {@link Store.tree}); reports a recovery cut as CEI; calls `onFailure` once if a write or sync fails. */
  attach(runtime: Runtime, onFailure: (error: Error) => void): void;
  /** Flushes, closes and unlocks (idempotent). */
  close(): void;
}

/**
 * Locks and opens the store in `dir`. Throws `STORE_LOCKED` when another process has it,
 * `STORE_CORRUPT` when its snapshot is damaged; never leaves the lock behind on failure.
 */
export function openPeerStore(dir: string, config: StoreConfig, log: Logger): PeerStore {
  const started = performance.now();
  const lock: DirectoryLock = lockDirectory(dir);
  if (lock.tookOverFrom !== undefined) log.warn({ dir, pid: lock.tookOverFrom }, 'store lock left by a process that is gone; taken over');
  let store: Store;
  try {
    store = openStore({
      engine: fileEngine({ dir }),
      durability: config.durability === 'beat' ? 'beat' : { groupBeats: config.durability.group_beats },
      snapshotEvery: config.snapshot_every,
      snapshotSliceBytes: config.snapshot_slice_bytes,
    });
  } catch (error) {
    lock.release();
    throw error;
  }
  const { recovery } = store;
  log.info(
    {
      dir,
      snapshotBeat: recovery.snapshotBeat,
      snapshotCells: recovery.snapshotCells,
      replayedBeats: recovery.replayedBeats,
      lastBeat: recovery.lastBeat,
      ms: Math.round(performance.now() - started),
    },
    recovery.lastBeat === undefined ? 'store opened (new)' : 'store opened: tree restored',
  );
  if (recovery.cut !== undefined)
    log.warn(
      { dir, afterBeat: recovery.cut.afterBeat, droppedRecords: recovery.cut.droppedRecords, reason: recovery.cut.reason },
      'store journal tail damaged: cut back to the last good beat',
    );
  let closed = false;
  let detach: (() => void) | undefined;
  let failed = false;
  return {
    dir,
    store,
    attach(runtime, onFailure) {
      detach = store.attach(runtime);
      // The heartbeat keeps running when a committed listener throws; a peer whose store failed
      // must not (it would acknowledge beats that are not durable), so the failure is handed up.
      const remove = runtime.onCommitted((beat) => {
        if (failed) return;
        store.whenDurable(beat).catch((error: Error) => {
          if (failed || closed) return;
          failed = true;
          log.fatal({ err: error, beat }, 'store failed: stopping the peer');
          onFailure(error);
        });
      });
      const storeDetach = detach;
      detach = () => {
        remove();
        storeDetach();
      };
    },
    close() {
      if (closed) return;
      closed = true;
      detach?.();
      try {
        store.close();
      } finally {
        lock.release();
      }
      log.info({ dir, lastBeat: store.appendedBeat }, 'store closed');
    },
  };
}
