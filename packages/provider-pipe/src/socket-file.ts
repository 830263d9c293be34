import { connect, type Server } from 'node:net';
import type { Stats } from 'node:fs';
import { chmod, lstat, unlink } from 'node:fs/promises';
import { CepError } from '@cep/provider-spec';

/** Longest Unix socket path that fits `sockaddr_un` on Linux and macOS, in bytes. */
export const MAX_SOCKET_PATH_BYTES = 103;

/** Windows named pipes live in their own namespace and leave no file behind. */
function isWindowsPipe(path: string): boolean {
  return path.startsWith('\\\\.\\pipe\\') || path.startsWith('\\\\?\\pipe\\');
}

/** Checks that `address` can name a socket file (or a Windows pipe). */
export function checkPath(address: string): string {
  if (address.length === 0 || address.includes('\0') || (!isWindowsPipe(address) && Buffer.byteLength(address) > MAX_SOCKET_PATH_BYTES)) {
    throw new CepError('ADDRESS_INVALID', `"${address}" is not a usable socket path; give a path of 1..${MAX_SOCKET_PATH_BYTES} bytes`, {
      address,
      max: MAX_SOCKET_PATH_BYTES,
    });
  }
  return address;
}

/** True when something accepts connections at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => {
      probe.destroy();
      resolve(false);
    });
  });
}

/**
 * Removes a socket file left by a process that died without cleaning up, so listen
 * does not fail with EADDRINUSE. A live listener, or a file that is not a socket, is
 * never removed.
 */
export async function clearStale(path: string): Promise<void> {
  if (isWindowsPipe(path)) return;
  let stats: Stats;
  try {
    stats = await lstat(path);
  } catch {
    return;
  }
  if (!stats.isSocket()) {
    throw new CepError('ADDRESS_INVALID', `"${path}" exists and is not a socket; choose another path or remove it`, { address: path });
  }
  if (await answers(path)) {
    throw new CepError('OPEN_FAILED', `another process is listening on "${path}"`, { address: path });
  }
  await unlink(path).catch(() => undefined);
}

/** Binds `server` at `path` with the socket file readable and writable by its owner only. */
export async function bindPath(server: Server, path: string): Promise<string> {
  checkPath(path);
  await clearStale(path);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path }, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  if (!isWindowsPipe(path)) await chmod(path, 0o600);
  return path;
}

/** Deletes the socket file after the server closed (libuv usually did already). */
export async function releasePath(path: string): Promise<void> {
  if (isWindowsPipe(path)) return;
  await unlink(path).catch(() => undefined);
}
