import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { digestHex, text, u64 } from '@cep/cells';
import { admitInvokeId, newInvokeId, recordUsage, usageOf } from '@cep/security';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig, validateConfig } from '../src/config/load.ts';
import { createLogger } from '../src/log.ts';
import { startPeer, type Peer } from '../src/peer.ts';
import { runCli } from '../src/program.ts';
import { minimalConfig, tempDir } from './helpers/files.ts';
import { fakeIo, logSink } from './helpers/io.ts';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function folder() {
  const tmp = tempDir();
  cleanups.push(() => tmp.cleanup());
  return tmp;
}

async function durablePeer(dir: string, extra: Record<string, unknown> = {}) {
  const config = validateConfig(minimalConfig({ http: false, ...extra }), join(dir, 'peer.yaml'), dir);
  const sink = logSink();
  const peer = await startPeer({
    config,
    log: createLogger({ level: 'debug', destination: sink.destination, isTTY: false }),
    manualBeats: true,
    dataDir: config.data_dir,
  });
  let stopped = false;
  cleanups.push(() => (stopped ? undefined : peer.stop('test over')));
  return {
    peer,
    logs: sink.lines,
    async stop(): Promise<void> {
      stopped = true;
      await peer.stop('test over');
    },
  };
}

describe('config: data_dir and store', () => {
  it('data_dir defaults to <peer>.data beside the config file; a relative one resolves against its folder', () => {
    const tmp = folder();
    expect(loadConfig(tmp.write('a.yaml', stringify(minimalConfig()))).data_dir).toBe(join(tmp.dir, 'earth.data'));
    expect(loadConfig(tmp.write('b.yaml', stringify(minimalConfig({ data_dir: 'state/earth' })))).data_dir).toBe(join(tmp.dir, 'state/earth'));
    expect(loadConfig(tmp.write('c.yaml', stringify(minimalConfig()))).store).toEqual({
      durability: 'beat',
      snapshot_every: 1000,
      snapshot_slice_bytes: 65536,
    });
    expect(loadConfig(tmp.write('d.yaml', stringify(minimalConfig({ store: { durability: { group_beats: 8 }, snapshot_every: 0 } })))).store).toEqual({
      durability: { group_beats: 8 },
      snapshot_every: 0,
      snapshot_slice_bytes: 65536,
    });
  });

  it.each([
    ['an empty data_dir', { data_dir: '' }, 'data_dir: expected a non-empty'],
    ['an unknown durability', { store: { durability: 'sometimes' } }, 'store.durability: expected "beat" or { group_beats: n }'],
    ['a group of zero beats', { store: { durability: { group_beats: 0 } } }, 'store.durability'],
    ['a negative snapshot period', { store: { snapshot_every: -1 } }, 'store.snapshot_every: expected at least 0'],
    ['an unknown store field', { store: { fsync: true } }, 'store.fsync: unknown field'],
  ])('refuses %s naming the file and the field (exit 3)', async (_what, extra, message) => {
    const tmp = folder();
    const file = tmp.write('peer.yaml', stringify(minimalConfig(extra)));
    expect(() => loadConfig(file)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining(`${file}: ${message}`) }));
    const io = fakeIo();
    expect(await runCli(['node', 'cep-node', 'run', '--config', file], io.deps)).toBe(3);
    expect(io.stderr()).toContain(`${file}: ${message}`);
  });
});

describe('a durable peer', () => {
  it('restores its tree on restart: cells, stamps, invoke ids seen, security usage and OPS dossiers', async () => {
    const tmp = folder();
    const first = await durablePeer(tmp.dir);
    const { peer } = first;
    expect(first.logs.find((l) => l['msg'] === 'store opened (new)')).toMatchObject({ dir: join(tmp.dir, 'earth.data') });
    peer.runtime.step();
    peer.tree.set('/data/sky/count', u64(7n));
    peer.tree.set('/data/sky/name', text('sky'));
    const seenId = newInvokeId();
    expect(admitInvokeId(peer.tree, seenId)).toBe(true);
    recordUsage(peer.tree, seenId, { ioBytes: 100, beats: 3 });
    const op = peer.runtime.ops.start({ verb: 'op/test', target: '/data/sky' });
    peer.runtime.step();
    peer.runtime.step();
    const beat = peer.runtime.beat;
    const digest = digestHex(peer.tree.root);
    await first.stop();
    expect(existsSync(join(tmp.dir, 'earth.data', 'LOCK'))).toBe(false);

    const second = await durablePeer(tmp.dir);
    expect(second.logs.find((l) => l['msg'] === 'store opened: tree restored')).toMatchObject({ lastBeat: beat - 1 });
    const again = second.peer;
    expect(again.runtime.beat).toBe(beat);
    expect(digestHex(again.tree.root)).toBe(digest);
    expect(again.tree.getValue('/data/sky/count')).toEqual(u64(7n));
    // A call run before the restart is refused if its frame is replayed after it.
    expect(admitInvokeId(again.tree, seenId)).toBe(false);
    expect(usageOf(again.tree, seenId)).toMatchObject({ ioBytes: 100, beats: 3 });
    expect(again.tree.find(`/rt/ops/${op}`)).toBeDefined();
    again.runtime.step();
  });

  it('a second peer on the same data_dir is refused with STORE_LOCKED naming the holder, exit 6, and the holder carries on', async () => {
    const tmp = folder();
    const file = tmp.write('peer.yaml', stringify(minimalConfig({ http: false })));
    const holder = await durablePeer(tmp.dir);
    const io = fakeIo();
    expect(await runCli(['node', 'cep-node', 'run', '--config', file], io.deps)).toBe(6);
    expect(io.stderr()).toContain('STORE_LOCKED');
    expect(io.stderr()).toContain(`in use by process ${process.pid}`);
    holder.peer.runtime.step();
    expect(holder.peer.store?.durableBeat).toBe(holder.peer.runtime.beat - 1);
  });

  it('--ephemeral keeps the tree in memory: no data_dir is created', async () => {
    const tmp = folder();
    const file = tmp.write('peer.yaml', stringify(minimalConfig({ http: false })));
    const io = fakeIo({ onPeer: (peer: Peer) => void peer.stop('test over') });
    expect(await runCli(['node', 'cep-node', 'run', '--config', file, '--ephemeral'], io.deps)).toBe(0);
    expect(existsSync(join(tmp.dir, 'earth.data'))).toBe(false);
  });
});
