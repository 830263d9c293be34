/**
 * An engine in memory: for tests, and to run a store's code path without a disk. It keeps
 * what was synced apart from what was only appended, so `crash()` can show what a real
 * crash would leave.
 */
import type { JournalContents, SnapshotWriter, StoreEngine } from './engine.ts';

/** What {@link memoryEngine} returns: an engine plus `crash()`. */
export interface MemoryEngine extends StoreEngine {
  /** Forgets every record appended since the last `sync()` and any snapshot not committed (what a power cut does). */
  crash(): void;
}

/** An engine that keeps its bytes in memory. */
export function memoryEngine(): MemoryEngine {
  let snapshot: Uint8Array | undefined;
  let records: Uint8Array[] = [];
  let synced = 0;
  // Records before this index were appended before the snapshot being written began.
  let writing: { mark: number; chunks: Uint8Array[]; patches: Array<{ offset: number; bytes: Uint8Array }> } | undefined;
  const drop = (): void => {
    writing = undefined;
  };
  return {
    kind: 'memory',
    readSnapshot: () => snapshot,
    beginSnapshot(): SnapshotWriter {
      if (writing !== undefined) throw new Error('memory engine: a snapshot is being written already');
      const own = { mark: records.length, chunks: [] as Uint8Array[], patches: [] as Array<{ offset: number; bytes: Uint8Array }> };
      writing = own;
      const live = (): void => {
        if (writing !== own) throw new Error('memory engine: this snapshot was dropped (crash, abort or close)');
      };
      return {
        write(bytes) {
          live();
          own.chunks.push(bytes.slice());
        },
        writeAt(offset, bytes) {
          live();
          own.patches.push({ offset, bytes: bytes.slice() });
        },
        commit() {
          live();
          const next = new Uint8Array(own.chunks.reduce((sum, chunk) => sum + chunk.length, 0));
          let at = 0;
          for (const chunk of own.chunks) {
            next.set(chunk, at);
            at += chunk.length;
          }
          for (const { offset, bytes } of own.patches) next.set(bytes, offset);
          snapshot = next;
          const dropped = Math.min(own.mark, records.length);
          records = records.slice(dropped);
          synced = Math.max(0, synced - dropped);
          writing = undefined;
        },
        abort() {
          if (writing === own) drop();
        },
      };
    },
    readJournal(): JournalContents {
      return { records: records.map((bytes, position) => ({ position, bytes })), end: records.length };
    },
    append(record) {
      records.push(record.slice());
    },
    sync() {
      synced = records.length;
    },
    truncate(position) {
      records.length = Math.min(records.length, position);
      synced = Math.min(synced, records.length);
      if (writing !== undefined) writing.mark = Math.min(writing.mark, records.length);
    },
    close: drop,
    crash() {
      records.length = synced;
      drop();
    },
  };
}
