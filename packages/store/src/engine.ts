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
 * Storage of one store: one snapshot slot and one append-only journal. Calls are
 * synchronous (the heartbeat commits synchronously); an engine that cannot be synchronous
 * buffers and makes `sync()` wait.
 */
export interface StoreEngine {
  /** A short name for reports (`file`, `memory`, …). */
  readonly kind: string;
  /** The newest snapshot written, or `undefined`. */
  readSnapshot(): Uint8Array | undefined;
  /**
   * Replaces the snapshot atomically and durably (after a crash the old one or the new one is
   * found, whole), then empties the journal. A crash between the two leaves old records
   * beside the new snapshot; the store skips records it already contains.
   */
  writeSnapshot(snapshot: Uint8Array): void;
  /** Everything appended and not truncated, as found now. */
  readJournal(): JournalContents;
  /** Appends one record (not yet durable). */
  append(record: Uint8Array): void;
  /** Returns once every record appended so far survives a crash or power loss. */
  sync(): void;
  /** Drops the records from `position` on, durably. */
  truncate(position: number): void;
  /** Releases files and handles. Unsynced records may be lost. */
  close(): void;
}
