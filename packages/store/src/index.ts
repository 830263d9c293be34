/**
 * @cep/store — makes a runtime durable: a checksummed journal of committed beats plus
 * snapshots, on an engine you choose (plain files by default). See README.md.
 */
export type { StoreErrorCode } from './errors.ts';
export type { StoreEngine, SnapshotWriter, JournalContents, JournalRecord } from './engine.ts';
export { fileEngine, type FileEngineOptions } from './file-engine.ts';
export { lockDirectory, LOCK_FILE, type DirectoryLock } from './lock.ts';
export { memoryEngine, type MemoryEngine } from './memory-engine.ts';
export {
  openStore,
  DEFAULT_SNAPSHOT_EVERY,
  DEFAULT_SNAPSHOT_SLICE_BYTES,
  type SnapshotProgress,
  type Durability,
  type OpenStoreOptions,
  type AttachOptions,
  type JournalCut,
  type RecoveryReport,
  type Store,
} from './store.ts';
