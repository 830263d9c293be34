import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex, type Readable } from 'node:stream';
import { AllowList, generateKeyPair, type StaticKeyPair } from '../src/index.ts';

export type Kind = 'tcp' | 'unix';
export const KINDS: Kind[] = ['tcp', 'unix'];

const cleanups: (() => Promise<void> | void)[] = [];

/** Registers `fn` to run at the next {@link cleanup}, before what was registered earlier. */
export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

/** Runs and forgets every cleanup registered by the helpers (call in afterEach). */
export async function cleanup(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn();
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A listening server (TCP on 127.0.0.1 port 0, or a Unix socket in a temp dir) that hands each accepted socket to `onSocket`. */
export async function listen(kind: Kind, onSocket: (socket: Socket) => void): Promise<{ address: string | number; dial: () => Promise<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onSocket(socket);
  });
  let address: string | number;
  if (kind === 'unix') {
    const dir = mkdtempSync(join(tmpdir(), 'noise-'));
    address = join(dir, 's');
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    await new Promise<void>((resolve) => server.listen(address as string, resolve));
  } else {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    address = (server.address() as { port: number }).port;
  }
  cleanups.push(() => closeServer(server, sockets));
  const dial = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const socket = typeof address === 'number' ? connect(address, '127.0.0.1') : connect(address);
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.once('connect', () => resolve(socket));
      socket.once('error', reject);
    });
  return { address, dial };
}

/** A connected socket pair over `kind`. */
export async function socketPair(kind: Kind): Promise<{ client: Socket; server: Socket }> {
  let accepted!: (socket: Socket) => void;
  const server = new Promise<Socket>((resolve) => (accepted = resolve));
  const { dial } = await listen(kind, (socket) => accepted(socket));
  const client = await dial();
  return { client, server: await server };
}

/**
 * A forwarding proxy between a dialler and a server socket that keeps every byte the
 * dialler sent, and can hold them back so a test forwards records in its own order.
 */
export async function tappedPair(
  kind: Kind,
): Promise<{ client: Socket; server: Socket; fromClient: () => Buffer; hold: (on: boolean) => void; toServer: (bytes: Uint8Array) => void }> {
  const inner = await socketPair(kind);
  const outer = await socketPair(kind);
  let seen = Buffer.alloc(0);
  let holding = false;
  outer.server.on('data', (chunk: Buffer) => {
    seen = Buffer.concat([seen, chunk]);
    if (!holding) inner.client.write(chunk);
  });
  inner.client.on('data', (chunk: Buffer) => outer.server.write(chunk));
  outer.server.on('end', () => inner.client.end());
  inner.client.on('end', () => outer.server.end());
  inner.client.on('error', () => {});
  outer.server.on('error', () => {});
  inner.server.on('close', () => outer.client.destroy());
  return {
    client: outer.client,
    server: inner.server,
    fromClient: () => seen,
    hold: (on) => (holding = on),
    toServer: (bytes) => inner.client.write(bytes),
  };
}

/** Splits what an initiator sent into its handshake bytes and its records (first version offered, no retry). */
export function initiatorRecords(bytes: Buffer): Buffer[] {
  let at = 5 + bytes[4]!; // "CEPN" | n | n versions
  for (let frame = 0; frame < 2; frame++) at += 2 + bytes.readUInt16BE(at);
  const records: Buffer[] = [];
  while (at + 13 <= bytes.length) {
    const length = 13 + bytes.readUInt32BE(at);
    if (at + length > bytes.length) break;
    records.push(bytes.subarray(at, at + length));
    at += length;
  }
  return records;
}

export interface Node {
  readonly name: string;
  readonly key: StaticKeyPair;
}

export function node(name: string): Node {
  return { name, key: generateKeyPair() };
}

/** An allow-list holding `nodes` under their own names. */
export function allowing(...nodes: Node[]): AllowList {
  return new AllowList(Object.fromEntries(nodes.map((n) => [n.name, n.key.publicKey])));
}

/** Resolves with the error a stream-like emitter reports (or rejects if it closes without one). */
export function errorOf(emitter: NodeJS.EventEmitter): Promise<Error & { code?: string }> {
  return new Promise((resolve, reject) => {
    emitter.once('error', resolve);
    emitter.once('close', () => setImmediate(() => reject(new Error('closed without an error'))));
  });
}

/** A pull reader over a session's messages that leaves the session open between reads. */
export function reader(session: Readable): { next: () => Promise<Buffer>; ended: () => Promise<boolean> } {
  const iterator = session.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>;
  return {
    next: async () => {
      const item = await iterator.next();
      if (item.done) throw new Error('session ended');
      return item.value;
    },
    ended: async () => (await iterator.next()).done === true,
  };
}

/**
 * Two in-memory Duplex ends joined back to back: no socket at all. With `cuts`, every write is
 * re-cut at those lengths (in turn), so records straddle chunks arbitrarily.
 */
export function duplexPair(cuts: readonly number[] = []): [Duplex, Duplex] {
  let left!: Duplex;
  let right!: Duplex;
  let turn = 0;
  const end = (peer: () => Duplex): Duplex =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        if (cuts.length === 0) peer().push(Buffer.from(chunk));
        for (let at = 0; cuts.length > 0 && at < chunk.length; ) {
          const step = Math.max(1, cuts[turn++ % cuts.length]!);
          peer().push(Buffer.from(chunk.subarray(at, at + step)));
          at += step;
        }
        callback();
      },
      final(callback) {
        peer().push(null);
        callback();
      },
    });
  left = end(() => right);
  right = end(() => left);
  return [left, right];
}
