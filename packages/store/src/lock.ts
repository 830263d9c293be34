/**
 * One process per store directory: a lock file (`LOCK`) created with O_EXCL that holds the
 * owner's pid. Two engines appending to one journal would interleave records and the second
 * snapshot would empty the first one's journal, so the second opener is refused. A lock
 * left by a process that died (kill -9, power cut) is taken over: its pid no longer runs.
 */
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { storeError } from './errors.ts';

/** The lock file's name inside the store directory. */
export const LOCK_FILE = 'LOCK';

/** A held directory lock. */
export interface DirectoryLock {
  /** The lock file. */
  readonly path: string;
  /** A lock left by a dead process that was taken over (its pid), or undefined. */
  readonly tookOverFrom: number | undefined;
  /** Removes the lock file (idempotent). */
  release(): void;
}

/** True while a process with `pid` exists (signal 0 probes without signalling). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, owned by someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Locks `dir` (created if missing) for this process. Throws `STORE_LOCKED` (details: `dir`,
 * `pid`) while another live process holds it; takes over a lock whose pid is dead or
 * unreadable (a crash between creating the file and writing the pid).
 */
export function lockDirectory(dir: string): DirectoryLock {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  let tookOverFrom: number | undefined;
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 2) throw error;
      const owner = readOwner(path);
      if (owner === process.pid || (owner !== undefined && running(owner))) {
        throw storeError(
          'STORE_LOCKED',
          `the store in ${dir} is in use by process ${owner}${owner === process.pid ? ' (this one)' : ''}; stop it first, or give this peer another data directory`,
          { dir, pid: owner },
        );
      }
      // Stale: its owner died without removing it. Remove and try again (O_EXCL decides a race).
      tookOverFrom = owner;
      try {
        unlinkSync(path);
      } catch (unlinkError) {
        if ((unlinkError as NodeJS.ErrnoException).code !== 'ENOENT') throw unlinkError;
      }
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    let released = false;
    return {
      path,
      tookOverFrom,
      release() {
        if (released) return;
        released = true;
        // Only our own lock: never remove one another process took over meanwhile.
        if (readOwner(path) === process.pid) unlinkSync(path);
      },
    };
  }
}
