import { createServer, type Server } from 'node:net';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config/load.ts';
import { createRuntime } from '@cep/heartbeat';
import { createLogger } from '../src/log.ts';
import { startPeer, type Peer } from '../src/peer.ts';
import { runCli } from '../src/program.ts';
import { createShutdownHooks } from '../src/shutdown.ts';
import { tempDir } from './helpers/files.ts';
import { fakeIo, logSink } from './helpers/io.ts';
import { overrideRuntime } from './helpers/runtime.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function quietLog() {
  const sink = logSink();
  return { log: createLogger({ level: 'debug', destination: sink.destination, isTTY: false }), lines: sink.lines };
}

describe('shutdown hooks', () => {
  it('run newest first, once, and go on past a hook that fails or hangs', async () => {
    const { log, lines } = quietLog();
    const hooks = createShutdownHooks(log, 50);
    const order: string[] = [];
    hooks.add('providers', () => void order.push('providers'));
    hooks.add('hangs', () => new Promise(() => order.push('hangs')));
    hooks.add('fails', () => {
      order.push('fails');
      throw new Error('flush failed');
    });
    hooks.add('organs', async () => void order.push('organs'));
    const removed = hooks.add('removed', () => void order.push('removed'));
    removed();
    await hooks.run();
    await hooks.run();
    expect(order).toEqual(['organs', 'fails', 'hangs', 'providers']);
    expect(lines.find((l) => l['msg'] === 'shutdown hook failed; going on')).toMatchObject({ hook: 'fails' });
    expect(lines.find((l) => l['msg'] === 'shutdown hook timed out; going on')).toMatchObject({ hook: 'hangs' });
  });
});

describe('stopping a peer', () => {
  it('finishes the beat in progress before the hooks run, then closes the endpoint', async () => {
    const { log, lines } = quietLog();
    const inner = createRuntime();
    const events: string[] = [];
    let release!: () => void;
    // The real step is synchronous; holding it behind a promise makes "a beat in progress" observable.
    const runtime = overrideRuntime(inner, {
      step() {
        events.push(`start ${inner.beat}`);
        return new Promise<void>((resolve) => {
          release = () => {
            inner.step();
            events.push('end');
            resolve();
          };
        });
      },
    });
    const config = validateConfig({ peer: 'earth', enclave: 'lab', beat_ms: 1, http: { port: 0 } }, 'peer.yaml', '/tmp');
    const peer = await startPeer({ config, log, runtime });
    cleanups.push(() => peer.stop('cleanup'));
    peer.onShutdown('organs', () => void events.push('hook'));
    while (events.length === 0) await new Promise((r) => setTimeout(r, 2));
    const stopping = peer.stop('test');
    await new Promise((r) => setTimeout(r, 10));
    expect(events).toEqual(['start 0']);
    release();
    const result = await stopping;
    expect(events).toEqual(['start 0', 'end', 'hook']);
    expect(result).toEqual({ reason: 'test', exitCode: 0, beats: 1 });
    await expect(fetch(`${peer.httpUrl}/status`)).rejects.toThrow();
    expect(lines.at(-1)).toMatchObject({ msg: 'peer stopped', reason: 'test', beats: 1 });
  });

  it('never starts half a peer: a port in use stops what had started and names the port', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => blocker.close(r)));
    const port = (blocker.address() as { port: number }).port;
    const { log } = quietLog();
    const config = validateConfig({ peer: 'earth', enclave: 'lab', http: { port } }, 'peer.yaml', '/tmp');
    const runtime = createRuntime();
    await expect(startPeer({ config, log, runtime })).rejects.toMatchObject({
      code: 'HTTP_LISTEN_FAILED',
      message: expect.stringContaining(`127.0.0.1:${port} (EADDRINUSE)`),
    });
    await new Promise((r) => setTimeout(r, 30));
    expect(runtime.beat).toBe(0);
  });

  it('stops with exit code 1 when a beat throws', async () => {
    const { log } = quietLog();
    // The real runtime catches enzyme throws; a throw out of step() itself means the runtime is broken.
    const runtime = overrideRuntime(createRuntime(), {
      step: () => {
        throw new Error('runtime broken');
      },
    });
    const config = validateConfig({ peer: 'earth', enclave: 'lab', beat_ms: 1, http: false }, 'peer.yaml', '/tmp');
    const peer = await startPeer({ config, log, runtime });
    expect(await peer.stopped).toMatchObject({ reason: 'beat failed', exitCode: 1 });
  });
});

describe('cep-node run and signals (in-process)', () => {
  async function runPeer() {
    const tmp = tempDir();
    cleanups.push(() => tmp.cleanup());
    const file = tmp.write('peer.yaml', stringify({ peer: 'earth', enclave: 'lab', beat_ms: 5, http: { port: 0 } }));
    const io = fakeIo();
    let peer!: Peer;
    const ready = new Promise<void>((resolve) => {
      (io.deps as { onPeer?: (p: Peer) => void }).onPeer = (p) => {
        peer = p;
        resolve();
      };
    });
    const exit = runCli(['node', 'cep-node', 'run', '--config', file], io.deps);
    cleanups.push(async () => {
      await peer?.stop('cleanup');
      await exit;
    });
    await ready;
    return { io, exit, peer: () => peer };
  }

  it('SIGTERM finishes the beat, stops the peer and exits 0 with a final log line', async () => {
    const { io, exit, peer } = await runPeer();
    while (peer().runtime.beat < 3) await new Promise((r) => setTimeout(r, 5));
    io.signals.emit('SIGTERM', 'SIGTERM');
    expect(await exit).toBe(0);
    expect(io.forced).toEqual([]);
    expect(io.logs.find((l) => l['msg'] === 'signal received: shutting down (send it again to force)')).toMatchObject({ signal: 'SIGTERM', peer: 'earth' });
    expect(io.logs.at(-1)).toMatchObject({ msg: 'peer stopped', reason: 'signal SIGTERM', peer: 'earth' });
    expect(io.signals.listenerCount('SIGTERM')).toBe(0);
  });

  it('a signal that arrives while the peer is starting stops it right after the start, exit 0', async () => {
    const tmp = tempDir();
    cleanups.push(() => tmp.cleanup());
    const file = tmp.write('peer.yaml', stringify({ peer: 'earth', enclave: 'lab', beat_ms: 5, http: { port: 0 } }));
    const io = fakeIo();
    const logs: Record<string, unknown>[] = [];
    // The endpoint is up but startPeer has not returned: the moment a supervisor's SIGTERM
    // used to find no handler (and the OS default killed the process).
    (io.deps as { logDestination: { write(line: string): void } }).logDestination = {
      write(line) {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry['msg'] === 'http endpoint listening') io.signals.emit('SIGTERM', 'SIGTERM');
      },
    };
    expect(await runCli(['node', 'cep-node', 'run', '--config', file, '--ephemeral'], io.deps)).toBe(0);
    expect(logs.map((l) => l['msg'])).toEqual([
      'organs wired',
      'http endpoint listening',
      'signal received: shutting down (send it again to force)',
      'peer started',
      'peer stopping: taking no new calls, answering those in flight',
      'peer stopping: finishing the current beat',
      'peer stopped',
    ]);
    expect(logs.at(-1)).toMatchObject({ reason: 'signal SIGTERM' });
    expect(io.signals.listenerCount('SIGTERM')).toBe(0);
  });

  /** A config file whose `field(port)` names a loopback port something else holds. */
  async function configOnBusyPort(field: (port: number) => Record<string, unknown>): Promise<string> {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => blocker.close(r)));
    const port = (blocker.address() as { port: number }).port;
    const tmp = tempDir();
    cleanups.push(() => tmp.cleanup());
    return tmp.write('peer.yaml', stringify({ peer: 'earth', enclave: 'lab', ...field(port) }));
  }

  it('removes its signal handlers when the peer fails to start', async () => {
    const file = await configOnBusyPort((port) => ({ http: { port } }));
    const io = fakeIo();
    expect(await runCli(['node', 'cep-node', 'run', '--config', file], io.deps)).toBe(4);
    expect(io.stderr()).toContain('HTTP_LISTEN_FAILED');
    expect(io.signals.listenerCount('SIGTERM') + io.signals.listenerCount('SIGINT')).toBe(0);
  });

  it('exits 4 when a transport listener cannot bind (LISTEN_FAILED), and stops what had started', async () => {
    const file = await configOnBusyPort((port) => ({ http: { port: 0 }, listen: { tcp: `127.0.0.1:${port}` } }));
    const io = fakeIo();
    expect(await runCli(['node', 'cep-node', 'run', '--config', file], io.deps)).toBe(4);
    expect(io.stderr()).toContain('LISTEN_FAILED');
  });

  it('a second signal forces exit 130 without waiting for the hooks', async () => {
    const { io, exit, peer } = await runPeer();
    let releaseHook!: () => void;
    peer().onShutdown('slow flush', () => new Promise<void>((r) => (releaseHook = r)));
    io.signals.emit('SIGINT', 'SIGINT');
    await new Promise((r) => setTimeout(r, 20));
    io.signals.emit('SIGINT', 'SIGINT');
    expect(io.forced).toEqual([130]);
    expect(io.logs.find((l) => l['msg'] === 'second signal: forcing exit without finishing shutdown')).toBeDefined();
    releaseHook();
    expect(await exit).toBe(0);
  });
});

describe('a wiring step that fails', () => {
  it('is reported as START_FAILED with its cause, after the hooks registered so far ran', async () => {
    const { log } = quietLog();
    const inner = createRuntime();
    // A tree that refuses the first write under /net/organs stands in for a wiring step that throws.
    const tree = new Proxy(inner.tree, {
      get(target, prop, receiver) {
        if (prop === 'batch')
          return () => {
            throw new TypeError('disk on fire');
          };
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const runtime = overrideRuntime(inner, { tree });
    const config = validateConfig(
      {
        peer: 'earth',
        enclave: 'lab',
        http: { port: 0 },
        keys: { saturn: { hex: '00'.repeat(32) } },
        peers: [{ name: 'saturn', provider: 'tcp', address: '127.0.0.1:1' }],
      },
      'peer.yaml',
      '/tmp',
    );
    await expect(startPeer({ config, log, runtime })).rejects.toMatchObject({
      code: 'START_FAILED',
      message: 'peer failed to start: disk on fire',
      cause: expect.any(TypeError),
    });
    expect(inner.beat).toBe(0);
  });
});
