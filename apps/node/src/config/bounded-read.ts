/**
 * Reading small secret files (keys, tokens) named in the config without trusting them to be
 * small: a key file pointing at `/dev/zero`, a FIFO nobody writes or a multi-gigabyte file must
 * not hang or swamp start-up. Only regular files are read, at most `maxBytes`, without blocking.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** Why a bounded read failed: a short reason (`ENOENT`, `not a regular file`, ...) for a config error. */
export class BoundedReadError extends Error {}

/** The content of `file`, at most `maxBytes`; throws {@link BoundedReadError} naming the problem. */
export function readBoundedFile(file: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO with no writer must not wait.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw new BoundedReadError((error as NodeJS.ErrnoException).code ?? String(error));
  }
  try {
    if (!fstatSync(fd).isFile()) throw new BoundedReadError('not a regular file');
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > maxBytes) throw new BoundedReadError(`larger than ${maxBytes} bytes, so not a key or token`);
    }
    return buffer.subarray(0, length);
  } catch (error) {
    if (error instanceof BoundedReadError) throw error;
    throw new BoundedReadError((error as NodeJS.ErrnoException).code ?? String(error));
  } finally {
    closeSync(fd);
  }
}
