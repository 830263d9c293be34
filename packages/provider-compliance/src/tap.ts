/**
 * Taps for the suite's replay and reordering checks: a dialer goes through one, and the suite
 * keeps, holds back and re-injects what the dialer sends to the listener — as an attacker on
 * the path could. The tap knows nothing of the provider's protocol: it moves whole chunks of
 * bytes (streams) or whole datagrams, so a provider is checked on its real wire format.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Socket } from 'node:net';
import { endpoint, hostPort } from './endpoint.ts';
import { isIP } from 'node:net';

/** A man in the middle between a dialer and a listener; only the dialer → listener direction is touched. */
export interface Tap {
  /** Where a dialer reaches the tap (same syntax as the target). */
  readonly address: string;
  /** From now on, keeps a copy of everything the dialer sends (still forwarding it). */
  capture(): void;
  /** From now on, keeps everything the dialer sends and forwards none of it. */
  hold(): void;
  /**
   * What was kept since the last call, then forgets it: one buffer holding all the bytes for a
   * stream tap (chunk boundaries mean nothing there), one entry per datagram for a datagram tap.
   */
  take(): Uint8Array[];
  /** Sends `unit` to the listener on the newest dialer's connection, as if the dialer had sent it. */
  inject(unit: Uint8Array): void;
  /** Back to plain forwarding; anything held and not taken is dropped. */
  pass(): void;
  close(): Promise<void>;
}

type Mode = 'pass' | 'capture' | 'hold';

function joined(chunks: Uint8Array[]): Uint8Array[] {
  if (chunks.length === 0) return [];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return [out];
}

/**
 * A tap for stream providers, listening at `listenAddress` (`127.0.0.1:0`, or a socket path)
 * and forwarding each connection to `target`.
 */
export async function streamTap(target: string, listenAddress: string): Promise<Tap> {
  let mode: Mode = 'pass';
  let kept: Uint8Array[] = [];
  let newest: Socket | undefined;
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = connect(endpoint(target));
    newest = outbound;
    for (const s of [inbound, outbound]) sockets.add(s);
    const drop = (): void => {
      inbound.destroy();
      outbound.destroy();
      sockets.delete(inbound);
      sockets.delete(outbound);
    };
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
    inbound.on('data', (chunk: Buffer) => {
      if (mode !== 'pass') kept.push(Uint8Array.from(chunk));
      if (mode !== 'hold') outbound.write(chunk);
    });
    outbound.pipe(inbound);
  });
  const where = endpoint(listenAddress);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if ('path' in where) server.listen(where.path, resolve);
    else server.listen(where.port, where.host, resolve);
  });
  const bound = server.address();
  const address = typeof bound === 'string' ? bound : hostPort((where as { host: string }).host, bound!.port);
  return {
    address,
    capture: () => void (mode = 'capture'),
    hold: () => void (mode = 'hold'),
    take() {
      const out = joined(kept);
      kept = [];
      return out;
    },
    inject(unit) {
      newest?.write(unit);
    },
    pass() {
      mode = 'pass';
      kept = [];
    },
    close() {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A tap for datagram providers (`ip:port`): one local socket faces the dialers, and each
 * dialer's source address gets its own socket towards `target`, so the listener still tells
 * dialers apart and its answers find their way back.
 */
export async function datagramTap(target: string): Promise<Tap> {
  const to = endpoint(target) as { host: string; port: number };
  const family = isIP(to.host) === 6 ? 'udp6' : 'udp4';
  let mode: Mode = 'pass';
  let kept: Uint8Array[] = [];
  let newest: UdpSocket | undefined;
  const upstreams = new Map<string, UdpSocket>();
  const front = createSocket(family);
  front.on('error', () => {});

  function upstream(from: RemoteInfo): UdpSocket {
    const id = `${from.address}|${from.port}`;
    let socket = upstreams.get(id);
    if (socket === undefined) {
      const made = createSocket(family);
      made.on('error', () => {});
      made.on('message', (answer) => front.send(answer, from.port, from.address));
      made.bind(0, family === 'udp6' ? '::1' : '127.0.0.1');
      upstreams.set(id, made);
      socket = made;
    }
    newest = socket;
    return socket;
  }

  front.on('message', (datagram, from) => {
    const socket = upstream(from);
    if (mode !== 'pass') kept.push(Uint8Array.from(datagram));
    if (mode !== 'hold') socket.send(datagram, to.port, to.host);
  });
  await new Promise<void>((resolve) => front.bind(0, to.host, () => resolve()));
  const port = front.address().port;
  return {
    address: hostPort(to.host, port),
    capture: () => void (mode = 'capture'),
    hold: () => void (mode = 'hold'),
    take() {
      const out = kept;
      kept = [];
      return out;
    },
    inject(unit) {
      newest?.send(unit, to.port, to.host);
    },
    pass() {
      mode = 'pass';
      kept = [];
    },
    async close() {
      const all = [front, ...upstreams.values()];
      upstreams.clear();
      await Promise.all(all.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
    },
  };
}
