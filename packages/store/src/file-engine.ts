/**
 * The default engine: files in a directory, no server and no native addon.
 *
 * - `journal.cepj`: records back to back, each `length u32 LE · bytes`; appended with one
 *   write per record and made durable with fdatasync.
 * - `journal.old.cepj`: while a snapshot is being written, the records appended before it
 *   began (the journal is renamed to it then); deleted once the snapshot is in place. Read
 *   before `journal.cepj` on open.
 * - `snapshot.ceps`: written to `snapshot.ceps.tmp` (a slice at a time, synced every 4 MiB),
 *   renamed over (atomic on POSIX filesystems), and the directory fsynced so the rename itself
 *   survives.
 */
import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fsyncSync,
  ftruncateSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { JournalContents, JournalRecord, SnapshotWriter, StoreEngine } from './engine.ts';
import { storeError } from './errors.ts';

/** Options of {@link fileEngine}. */
export interface FileEngineOptions {
  /** The directory (created if missing). One store per directory. */
  readonly dir: string;
}

/** Records larger than this are taken as a damaged length, not a real record. */
const MAX_RECORD = 1 << 30;
const JOURNAL = 'journal.cepj';
const OLD_JOURNAL = 'journal.old.cepj';
const SNAPSHOT = 'snapshot.ceps';
const SNAPSHOT_TEMP = `${SNAPSHOT}.tmp`;
/** Bytes of snapshot written between two syncs of its temporary file. */
const SNAPSHOT_SYNC_BYTES = 4 << 20;

/** An engine over plain files in `dir` (see the module comment for the layout). */
export function fileEngine(options: FileEngineOptions): StoreEngine {
  return new FileEngine(options.dir);
}

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at, position + at);
}

function readAll(fd: number): Uint8Array {
  const size = fstatSync(fd).size;
  const data = new Uint8Array(size);
  for (let at = 0; at < size; ) {
    const read = readSync(fd, data, at, size - at, at);
    if (read === 0) return data.subarray(0, at);
    at += read;
  }
  return data;
}

class FileEngine implements StoreEngine {
  readonly kind = 'file';
  private fd: number | undefined;
  private size: number;
  private readonly header = new Uint8Array(4);
  private writing: { fd: number } | undefined;

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.fd = openSync(this.path(JOURNAL), existsSync(this.path(JOURNAL)) ? 'r+' : 'w+');
    this.size = fstatSync(this.fd).size;
  }

  private path(file: string): string {
    return join(this.dir, file);
  }

  private handle(): number {
    if (this.fd === undefined) throw storeError('STORE_CLOSED', `the file engine in ${this.dir} is closed`);
    return this.fd;
  }

  readSnapshot(): Uint8Array | undefined {
    const path = this.path(SNAPSHOT);
    if (!existsSync(path)) return undefined;
    const data = readFileSync(path);
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }

  beginSnapshot(): SnapshotWriter {
    const fd = this.handle();
    if (this.writing !== undefined) throw storeError('STORE_IO', `the file engine in ${this.dir} is writing a snapshot already`);
    // The records so far must outlive the snapshot's commit only if it never commits: move them
    // aside, so commit drops them with one unlink and appends go on into a fresh journal.
    fdatasyncSync(fd);
    const old = this.path(OLD_JOURNAL);
    if (existsSync(old)) {
      // A snapshot begun earlier never committed (crash or close): its records stay first.
      const oldFd = openSync(old, 'r+');
      try {
        writeAll(oldFd, readAll(fd), fstatSync(oldFd).size);
        fdatasyncSync(oldFd);
      } finally {
        closeSync(oldFd);
      }
      ftruncateSync(fd, 0);
      fsyncSync(fd);
    } else {
      closeSync(fd);
      this.fd = undefined;
      renameSync(this.path(JOURNAL), old);
      this.fd = openSync(this.path(JOURNAL), 'w+');
      this.syncDir();
    }
    this.size = 0;
    const own = { fd: openSync(this.path(SNAPSHOT_TEMP), 'w') };
    this.writing = own;
    let size = 0;
    let syncedSize = 0;
    const live = (): number => {
      if (this.writing !== own) throw storeError('STORE_CLOSED', `the snapshot being written in ${this.dir} was dropped`);
      return own.fd;
    };
    return {
      write: (bytes) => {
        const out = live();
        writeAll(out, bytes, size);
        size += bytes.length;
        // Synced every few MiB, in the beat that crosses the mark: the commit's sync then has
        // at most that much left to flush, and most beats pay for no sync of the snapshot.
        if (size - syncedSize >= SNAPSHOT_SYNC_BYTES) {
          fdatasyncSync(out);
          syncedSize = size;
        }
      },
      writeAt: (offset, bytes) => {
        writeAll(live(), bytes, offset);
      },
      commit: () => {
        const out = live();
        fsyncSync(out);
        closeSync(out);
        this.writing = undefined;
        renameSync(this.path(SNAPSHOT_TEMP), this.path(SNAPSHOT));
        this.syncDir();
        if (existsSync(old)) {
          unlinkSync(old);
          this.syncDir();
        }
      },
      abort: () => {
        if (this.writing !== own) return;
        this.dropSnapshot();
      },
    };
  }

  private dropSnapshot(): void {
    const writing = this.writing;
    if (writing === undefined) return;
    this.writing = undefined;
    closeSync(writing.fd);
    if (existsSync(this.path(SNAPSHOT_TEMP))) unlinkSync(this.path(SNAPSHOT_TEMP));
  }

  private syncDir(): void {
    const dirFd = openSync(this.dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }

  private oldSize(): number {
    const old = this.path(OLD_JOURNAL);
    if (!existsSync(old)) return 0;
    const fd = openSync(old, 'r');
    try {
      return fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
  }

  readJournal(): JournalContents {
    const fd = this.handle();
    // Positions run on from the old journal into the current one, as if they were one file.
    const old = this.path(OLD_JOURNAL);
    const before = existsSync(old) ? new Uint8Array(readFileSync(old)) : new Uint8Array(0);
    const records: JournalRecord[] = [];
    const fromOld = scan(before, 0, records);
    if (fromOld.torn !== undefined) return fromOld;
    const current = scan(readAll(fd), before.length, records);
    return current;
  }

  append(record: Uint8Array): void {
    const fd = this.handle();
    new DataView(this.header.buffer).setUint32(0, record.length, true);
    // One write of length and bytes together, so a crash cuts at most the tail record.
    const framed = new Uint8Array(4 + record.length);
    framed.set(this.header);
    framed.set(record, 4);
    writeAll(fd, framed, this.size);
    this.size += framed.length;
  }

  sync(): void {
    fdatasyncSync(this.handle());
  }

  truncate(position: number): void {
    const fd = this.handle();
    const oldSize = this.oldSize();
    if (position < oldSize) {
      const oldFd = openSync(this.path(OLD_JOURNAL), 'r+');
      try {
        ftruncateSync(oldFd, position);
        fsyncSync(oldFd);
      } finally {
        closeSync(oldFd);
      }
      position = oldSize;
    }
    ftruncateSync(fd, position - oldSize);
    fsyncSync(fd);
    this.size = position - oldSize;
  }

  close(): void {
    if (this.fd === undefined) return;
    this.dropSnapshot();
    closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Splits `data` into records, positions offset by `base`; stops at a torn tail. */
function scan(data: Uint8Array, base: number, records: JournalRecord[]): JournalContents {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const size = data.length;
  let at = 0;
  while (at < size) {
    const torn = (reason: string): JournalContents => ({ records, end: base + at, torn: { position: base + at, bytes: size - at, reason } });
    if (at + 4 > size) return torn('a record length cut short');
    const length = view.getUint32(at, true);
    if (length === 0 || length > MAX_RECORD) return torn(`an impossible record length ${length}`);
    if (at + 4 + length > size) return torn(`a record of ${length} bytes with only ${size - at - 4} written`);
    records.push({ position: base + at, bytes: data.subarray(at + 4, at + 4 + length) });
    at += 4 + length;
  }
  return { records, end: base + at };
}
