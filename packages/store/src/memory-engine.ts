/**
 * An engine in memory: for tests, and to run a store's code path without a disk. It keeps
 * what was synced apart from what was only appended, so `crash()` can show what a real
 * crash would leave.
 */
import type { JournalContents, StoreEngine } from './engine.ts';

/** What {@link memoryEngine} returns: an engine plus `crash()`. */
export interface MemoryEngine extends StoreEngine {
  /** Forgets every record appended since the last `sync()` (what a power cut does). */
  crash(): void;
}

/** An engine that keeps its bytes in memory. */
export function memoryEngine(): MemoryEngine {
  let snapshot: Uint8Array | undefined;
  let records: Uint8Array[] = [];
  let synced = 0;
  return {
    kind: 'memory',
    readSnapshot: () => snapshot,
    writeSnapshot(next) {
      snapshot = next.slice();
      records = [];
      synced = 0;
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
    },
    close() {},
    crash() {
      records.length = synced;
    },
  };
}
