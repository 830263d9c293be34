/**
 * `@cep/provider-nats/testing`: test kit, openly unstable.
 *
 * Starts a real `nats-server` on a loopback port the server picks itself, for tests and
 * benchmarks. Fails loudly (never skips) when the binary is missing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { delimiter, join } from 'node:path';

/** A running server: its client URL and a way to stop it. */
export interface NatsServer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** Where `nats-server` is, or an error that says how to install it. */
export function natsServerBinary(): string {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    const candidate = join(dir, 'nats-server');
    if (dir !== '' && existsSync(candidate)) return candidate;
  }
  throw new Error(
    'nats-server is not installed or not on PATH: these tests need a real NATS server. ' +
      'Install it with `sh tooling/ensure-nats-server.sh` (Debian/Ubuntu: apt-get install -y nats-server), ' +
      'or put a nats-server 2.9+ binary from https://github.com/nats-io/nats-server/releases on PATH.',
  );
}

/** Starts a server; `args` adds flags (`--auth`, `--user`, `-c file`). */
export async function startNatsServer(args: readonly string[] = []): Promise<NatsServer> {
  const child: ChildProcess = spawn(natsServerBinary(), ['-a', '127.0.0.1', '-p', '-1', '--http_port', '0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nats-server did not start within 10 s:\n${log}`)), 10_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const m = /Listening for client connections on [^\s]*:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with ${String(code)} before listening:\n${log}`));
    });
  });
  // Keep draining stderr so the server never blocks on a full pipe.
  child.stderr!.removeAllListeners('data');
  child.stderr!.resume();
  child.removeAllListeners('exit');
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    stop() {
      return new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    },
  };
}

/** A free loopback port (the OS's choice, released again) for a cluster route listener. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts `size` servers routed into one cluster on loopback. Routes form asynchronously:
 * a caller that needs them up waits for a message to cross (see the cluster test).
 */
export async function startNatsCluster(size: number): Promise<NatsServer[]> {
  const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routes = routePorts.map((port) => `nats://127.0.0.1:${port}`).join(',');
  const servers: NatsServer[] = [];
  try {
    for (const port of routePorts) {
      servers.push(await startNatsServer(['--cluster_name', 'cep_test', '--cluster', `nats://127.0.0.1:${port}`, '--routes', routes]));
    }
  } catch (error) {
    await Promise.all(servers.map((s) => s.stop()));
    throw error;
  }
  return servers;
}
