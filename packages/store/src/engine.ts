/**
 * The engine contract: where a store keeps its bytes. Small on purpose, so another engine
 * (a database, a remote disk) can be plugged in. The store frames and checksums every
 * record itself; an engine only keeps bytes in order and says what "durable" means.
 */

/** One journal record as the engine read it back. */
export interface JournalRecord {
  /** Where the record starts; {@link StoreEngine.truncate} to it drops it and all later ones. */
  readonly position: number;
  readonly bytes: Uint8Array;
}

/** The journal as found on open. */
export interface JournalContents {
  /** Whole records, in append order (the store still checks each one's checksum). */
  readonly records: readonly JournalRecord[];
  /** Where the next record would start. */
  readonly end: number;
  /** Bytes after the last whole record that do not form one (a write cut short by a crash). */
  readonly torn?: { readonly position: number; readonly bytes: number; readonly reason: string };
}

/**
 * A snapshot being written: invisible until {@link SnapshotWriter.commit}, which makes it the
 * snapshot and drops the journal records appended before it began.
 */
export interface SnapshotWriter {
  /** Appends bytes to the snapshot (durable by `commit()` at the latest). */
  write(bytes: Uint8Array): void;
  /** Overwrites bytes written earlier (the header, once its checksum is known). */
  writeAt(offset: number, bytes: Uint8Array): void;
  /**
   * Replaces the snapshot atomically and durably (after a crash the old one or the new one is
   * found, whole), then drops the journal records appended before `beginSnapshot()`. A crash
   * between the two leaves old records beside the new snapshot; the store skips records it
   * already contains.
   */
  commit(): void;
  /** Drops the snapshot being written; the old one and the whole journal stay. */
  abort(): void;
}

/**
 * Storage of one store: one snapshot slot and one append-only journal. Calls are
 * synchronous (the heartbeat commits synchronously); an engine that cannot be synchronous
 * buffers and makes `sync()` wait.
 */
export interface StoreEngine {
  /** A short name for reports (`file`, `memory`, …). */
  readonly kind: string;
  /** The newest snapshot committed, or `undefined`. */
  readSnapshot(): Uint8Array | undefined;
  /**
   * Starts writing a new snapshot while the journal goes on: records appended from now on are
   * kept when it commits, those appended before are dropped then. At most one at a time.
   */
  beginSnapshot(): SnapshotWriter;
  /** Everything appended and not truncated or dropped, as found now, in append order. */
  readJournal(): JournalContents;
  /** Appends one record (not yet durable). */
  append(record: Uint8Array): void;
  /** Returns once every record appended so far survives a crash or power loss. */
  sync(): void;
  /** Drops the records from `position` on, durably. */
  truncate(position: number): void;
  /** Releases files and handles (a snapshot being written is dropped). Unsynced records may be lost. */
  close(): void;
}
