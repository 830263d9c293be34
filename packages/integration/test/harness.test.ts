import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { cepNodeCommand, createPeerHarness } from './harness/peer-process.ts';

// The harness's promise to every other test: whatever a test leaves running is killed.

const outer = createPeerHarness();
afterEach(() => outer.cleanup());

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

describe('the peer-process harness', () => {
  it('cleanup SIGKILLs every child it spawned, running or starting, and removes its temp folder', async () => {
    const harness = createPeerHarness();
    try {
      const file = harness.writeConfig('earth.json', { peer: 'earth', enclave: 'lab', http: { host: '127.0.0.1', port: 0 } });
      const running = await harness.start(file);
      const starting = harness.spawn(file);
      expect(alive(running.pid)).toBe(true);
      const dir = harness.dir;
      expect(existsSync(dir)).toBe(true);
      await harness.cleanup();
      expect(alive(running.pid)).toBe(false);
      expect(alive(starting.pid)).toBe(false);
      expect(await running.exited).toEqual({ code: null, signal: 'SIGKILL' });
      expect(running.running).toBe(false);
      expect(existsSync(dir)).toBe(false);
      expect(harness.spawned).toEqual([]);
    } finally {
      await harness.cleanup();
    }
  });

  it('runs the built cep-node unless CEP_NODE_BIN=source, and says how to build when it is missing', () => {
    const command = cepNodeCommand();
    expect(command.mode).toBe(process.env['CEP_NODE_BIN'] === 'source' ? 'source' : 'dist');
    expect(command.args.at(-1)).toMatch(process.env['CEP_NODE_BIN'] === 'source' ? /apps\/node\/src\/cli\.ts$/ : /apps\/node\/bin\/cep-node\.js$/);
  });

  it('start() rejects with the output when the peer exits before its endpoint answers', async () => {
    const file = outer.writeConfig('quiet.json', { peer: 'earth', enclave: 'lab', http: false });
    // http: false → the peer never logs "http endpoint listening": start() must not hang on it.
    const spawnedBefore = outer.spawned.length;
    const started = outer.start(file).catch((error: Error) => error);
    // SIGTERM the child once it is up so the wait ends by exit rather than by the bound.
    const child = outer.spawned[spawnedBefore]!;
    await child.waitForLog((l) => l['msg'] === 'peer started');
    child.signal('SIGTERM');
    const error = await started;
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/exited \(\{"code":0,"signal":null\}\) before the log line/);
    expect((error as Error).message).toContain('"msg":"peer stopped"');
  });
});
