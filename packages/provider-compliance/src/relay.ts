/**
 * A byte relay for stream providers (TCP `host:port`, or a Unix socket path): the suite dials
 * through it so it can cut every connection abruptly — nothing, not even a goodbye, reaches
 * either side afterwards, as when a network breaks or a process is killed — and point it at a
 * restarted listener.
 */
import { connect, createServer, type Socket } from 'node:net';
import { endpoint, hostPort } from './endpoint.ts';

/** A relay in front of a listener. */
export interface Relay {
  /** Where a dialler reaches the relay (same syntax as the target). */
  readonly address: string;
  /** Destroys every connection through the relay at once; new ones are relayed as before. */
  cut(): void;
  /** Connections made from now on go to `target`. */
  retarget(target: string): void;
  close(): Promise<void>;
}

/**
 * Starts a relay listening at `listenAddress` (`127.0.0.1:0`, or a socket path) that forwards
 * every connection to `target`.
 */
export async function streamRelay(target: string, listenAddress: string): Promise<Relay> {
  let to = target;
  const pairs = new Set<[Socket, Socket]>();
  const server = createServer((inbound) => {
    const outbound = connect(endpoint(to));
    const pair: [Socket, Socket] = [inbound, outbound];
    pairs.add(pair);
    const drop = (): void => {
      pairs.delete(pair);
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
    inbound.pipe(outbound);
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
  const cut = (): void => {
    for (const [a, b] of [...pairs]) {
      // Stop forwarding first, so nothing written after the cut (a goodbye) crosses.
      a.unpipe();
      b.unpipe();
      a.destroy();
      b.destroy();
    }
    pairs.clear();
  };
  return {
    address,
    cut,
    retarget(next) {
      to = next;
    },
    close() {
      cut();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
