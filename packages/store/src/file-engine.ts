/**
 * The default engine: two files in a directory, no server and no native addon.
 *
 * - `journal.cepj`: records back to back, each `length u32 LE · bytes`; appended with one
 *   write per record and made durable with fdatasync.
 * - `snapshot.ceps`: written to `snapshot.ceps.tmp`, fsynced, renamed over (atomic on POSIX
 *   filesystems), and the directory fsynced so the rename itself survives.
 */
import {
  closeSync, existsSync, fdatasyncSync, fsyncSync, ftruncateSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { JournalContents, JournalRecord, StoreEngine } from './engine.ts';
import { storeError } from './errors.ts';

/** Options of {@link fileEngine}. */
export interface FileEngineOptions {
  /** The directory (created if missing). One store per directory. */
  readonly dir: string;
}

/** Records larger than this are taken as a damaged length, not a real record. */
const MAX_RECORD = 1 << 30;
const JOURNAL = 'journal.cepj';
const SNAPSHOT = 'snapshot.ceps';

/** An engine over plain files in `dir` (see the module comment for the layout). */
export function fileEngine(options: FileEngineOptions): StoreEngine {
  return new FileEngine(options.dir);
}

class FileEngine implements StoreEngine {
  readonly kind = 'file';
  private fd: number | undefined;
  private size: number;
  private readonly header = new Uint8Array(4);

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.fd = openSync(join(dir, JOURNAL), existsSync(join(dir, JOURNAL)) ? 'r+' : 'w+');
    this.size = fstatSync(this.fd).size;
  }

  private handle(): number {
    if (this.fd === undefined) throw storeError('STORE_CLOSED', `the file engine in ${this.dir} is closed`);
    return this.fd;
  }

  readSnapshot(): Uint8Array | undefined {
    const path = join(this.dir, SNAPSHOT);
    if (!existsSync(path)) return undefined;
    const data = readFileSync(path);
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }

  writeSnapshot(snapshot: Uint8Array): void {
    const fd = this.handle();
    const temp = join(this.dir, `${SNAPSHOT}.tmp`);
    const out = openSync(temp, 'w');
    try {
      for (let at = 0; at < snapshot.length;) at += writeSync(out, snapshot, at, snapshot.length - at);
      fsyncSync(out);
    } finally {
      closeSync(out);
    }
    renameSync(temp, join(this.dir, SNAPSHOT));
    this.syncDir();
    ftruncateSync(fd, 0);
    fsyncSync(fd);
    this.size = 0;
  }

  private syncDir(): void {
    const dirFd = openSync(this.dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }

  readJournal(): JournalContents {
    const fd = this.handle();
    const size = fstatSync(fd).size;
    const data = new Uint8Array(size);
    for (let at = 0; at < size;) {
      const read = readSync(fd, data, at, size - at, at);
      if (read === 0) break;
      at += read;
    }
    const view = new DataView(data.buffer);
    const records: JournalRecord[] = [];
    let at = 0;
    while (at < size) {
      if (at + 4 > size) return { records, end: at, torn: { position: at, bytes: size - at, reason: 'a record length cut short' } };
      const length = view.getUint32(at, true);
      if (length === 0 || length > MAX_RECORD) return { records, end: at, torn: { position: at, bytes: size - at, reason: `an impossible record length ${length}` } };
      if (at + 4 + length > size) return { records, end: at, torn: { position: at, bytes: size - at, reason: `a record of ${length} bytes with only ${size - at - 4} written` } };
      records.push({ position: at, bytes: data.subarray(at + 4, at + 4 + length) });
      at += 4 + length;
    }
    return { records, end: at };
  }

  append(record: Uint8Array): void {
    const fd = this.handle();
    new DataView(this.header.buffer).setUint32(0, record.length, true);
    // One write of length and bytes together, so a crash cuts at most the tail record.
    const framed = new Uint8Array(4 + record.length);
    framed.set(this.header);
    framed.set(record, 4);
    for (let at = 0; at < framed.length;) at += writeSync(fd, framed, at, framed.length - at, this.size + at);
    this.size += framed.length;
  }

  sync(): void {
    fdatasyncSync(this.handle());
  }

  truncate(position: number): void {
    const fd = this.handle();
    ftruncateSync(fd, position);
    fsyncSync(fd);
    this.size = position;
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}
