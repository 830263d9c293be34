/**
 * Resource bounds for authenticated peers: mounts per peer, inbound bytes queued per peer, and
 * listener refusals coalesced per beat.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createTree, text, type Tree } from '@cep/cells';
import { createRuntime, type Runtime } from '@cep/heartbeat';
import { encodeBranch } from '@cep/serializer';
import {
  createTransportManager,
  DEFAULT_INBOUND_QUEUED_BYTES_PER_PEER,
  DEFAULT_MAX_MOUNTS_PER_PEER,
  EVENT_INPUT,
  type TransportManager,
  type TransportManagerOptions,
} from '@cep/transport';
import { FakeProvider, settle } from './fake-provider.ts';

const RELIABLE = ['reliable', 'ordered', 'streaming', 'remote_net', 'crc32c', 'deflate'];

let managers: TransportManager[] = [];
afterEach(async () => {
  await Promise.all(managers.map((m) => m.close()));
  managers = [];
});

function setup(provider: FakeProvider, options: Partial<TransportManagerOptions> = {}) {
  const runtime = createRuntime();
  const manager = createTransportManager(runtime, { localNode: 'earth', providers: [provider], addressOf: (peer) => `${peer}.test`, ...options });
  managers.push(manager);
  const facts: Array<{ topic: string; note: string; peer?: string }> = [];
  runtime.cei.onFact((f) => void facts.push({ topic: f.topic, note: f.note, ...(f.peer !== undefined ? { peer: f.peer } : {}) }));
  return { runtime, manager, tree: runtime.tree, facts };
}

const read = (tree: Tree, path: string): unknown => tree.getValue(path)?.value;

async function beat(runtime: Runtime, n = 1): Promise<void> {
  for (let i = 0; i < n; i++) {
    await settle();
    runtime.step();
  }
}

describe('mounts per peer', () => {
  it('configure beyond maxMountsPerPeer throws MOUNT_LIMIT, tells tp_limit, counts it in /net, and changes nothing else', async () => {
    const { runtime, manager, tree, facts } = setup(new FakeProvider('tcp', RELIABLE), { maxMountsPerPeer: 2 });
    manager.configure({ peer: 'saturn', mode: 'link', mount: 'a' });
    manager.configure({ peer: 'saturn', mode: 'link', mount: 'b' });
    await beat(runtime);
    expect(() => manager.configure({ peer: 'saturn', mode: 'link', mount: 'c' })).toThrow(expect.objectContaining({ code: 'MOUNT_LIMIT' }));
    // Reconfiguring a mount it has is not a new mount; another peer has its own allowance.
    expect(() => manager.configure({ peer: 'saturn', mode: 'link', mount: 'a', allowUpd: false })).not.toThrow();
    manager.configure({ peer: 'mars', mode: 'link', mount: 'a' });
    expect(manager.mounts().map((m) => `${m.peer}/${m.mount}`)).toEqual(['mars/a', 'saturn/a', 'saturn/b']);
    expect(tree.get('/net/mounts/saturn/link/c')).toBeUndefined();
    expect(read(tree, '/net/peers/saturn/limits/mounts_ref')).toBe(1n);
    expect(facts.filter((f) => f.topic === 'tp_limit')).toEqual([
      expect.objectContaining({ peer: 'saturn', note: expect.stringContaining('maxMountsPerPeer') }),
    ]);
    expect(read(tree, '/net/limits/mounts_peer')).toBe(2n);
  });

  it('a channel the peer opens beyond the cap is closed at admission and never becomes a mount', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const { runtime, manager, tree, facts } = setup(tcp, { maxMountsPerPeer: 3 });
    await manager.listen('tcp', 'earth.test');
    const opened = Array.from({ length: 10 }, (_, i) => tcp.incoming('saturn', 'link', `m${'abcdefghij'[i]}`));
    await beat(runtime, 2);
    expect(manager.mounts().map((m) => m.mount)).toEqual(['ma', 'mb', 'mc']);
    expect(opened.slice(3).every((c) => c.closedWith === 'mount-limit')).toBe(true);
    expect(opened.slice(0, 3).every((c) => c.closedWith === undefined)).toBe(true);
    expect(read(tree, '/net/peers/saturn/limits/mounts_ref')).toBe(7n);
    expect(facts.filter((f) => f.topic === 'tp_limit')).toHaveLength(7);
    expect(tree.get('/net/mounts/saturn/link/md')).toBeUndefined();
  });

  it('defaults to DEFAULT_MAX_MOUNTS_PER_PEER and refuses a cap that is not a whole number ≥ 1', () => {
    const { tree } = setup(new FakeProvider('tcp', RELIABLE));
    expect(read(tree, '/net/limits/mounts_peer')).toBe(BigInt(DEFAULT_MAX_MOUNTS_PER_PEER));
    expect(read(tree, '/net/limits/in_q_bytes')).toBe(BigInt(DEFAULT_INBOUND_QUEUED_BYTES_PER_PEER));
    expect(() => createTransportManager(createRuntime(), { localNode: 'earth', maxMountsPerPeer: 0 })).toThrow(
      expect.objectContaining({ code: 'OPTIONS_INVALID' }),
    );
    expect(() => createTransportManager(createRuntime(), { localNode: 'earth', inboundQueuedBytesPerPeer: 1.5 })).toThrow(
      expect.objectContaining({ code: 'OPTIONS_INVALID' }),
    );
  });
});

describe('inbound bytes queued per peer', () => {
  function frame(mount: string, n: number, size: number): Uint8Array {
    const tree = createTree();
    tree.set('/msg/n', text(`${mount}:${n}`));
    tree.set('/msg/pad', text('x'.repeat(size)));
    return encodeBranch(tree.get('/msg')!, { deflate: false });
  }

  it('all mounts of a peer together never have more than the cap waiting; the rest stays in the channel, and every frame arrives once, in order', async () => {
    const CAP = 250_000;
    const tcp = new FakeProvider('tcp', RELIABLE);
    const { runtime, manager } = setup(tcp, { inboundQueuedBytesPerPeer: CAP, inboundBudgetBytes: 10_000_000 });
    await manager.listen('tcp', 'earth.test');
    const seen: Array<{ id: string; beat: number; bytes: number }> = [];
    manager.onFrame(
      'link',
      (f) => void seen.push({ id: String(f.branch.root.children.find((c) => c.name.tag.text === 'n')?.value?.value), beat: f.beat, bytes: f.bytes.length }),
    );
    const channels = ['a', 'b', 'c'].map((m) => tcp.incoming('saturn', 'link', m));
    await beat(runtime);
    const sent: string[] = [];
    channels.forEach((channel, c) => {
      for (let n = 0; n < 12; n++) {
        channel.inject(frame('abc'[c]!, n, 60_000));
        sent.push(`${'abc'[c]}:${n}`);
      }
    });
    let beats = 0;
    while (seen.length < sent.length && beats++ < 100) {
      await settle();
      runtime.step();
    }
    expect(seen.map((s) => s.id).sort()).toEqual([...sent].sort());
    for (const m of ['a', 'b', 'c']) expect(seen.filter((s) => s.id.startsWith(m)).map((s) => Number(s.id.split(':')[1]))).toEqual([...Array(12).keys()]);
    // Everything a beat admitted had been waiting together: within the cap (the budget per mount is far above it).
    for (const b of new Set(seen.map((s) => s.beat))) {
      const bytes = seen.filter((s) => s.beat === b).reduce((sum, s) => sum + s.bytes, 0);
      expect(bytes).toBeLessThanOrEqual(CAP);
    }
    expect(new Set(seen.map((s) => s.beat)).size).toBeGreaterThanOrEqual(Math.ceil((36 * 60_000) / CAP));
  });
});

describe('listener refusals', () => {
  it('a flood of refusals in one beat is one input, one /net write and one CEI fact, with the exact count', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    let reject: ((r: { code: string; reason: string; claimedPeer?: string }) => void) | undefined;
    tcp.listen = async (options) => {
      reject = options.onReject;
      return { address: 'x', close: async () => undefined };
    };
    const { runtime, manager, tree, facts } = setup(tcp);
    await manager.listen('tcp', 'x');
    for (let i = 0; i < 1000; i++) reject!({ code: 'AUTH_FAILED', reason: `bad proof ${i}` });
    await beat(runtime, 2);
    expect(read(tree, '/net/listeners/tcp/rejected')).toBe(1000n);
    expect(read(tree, '/net/listeners/tcp/last_reject')).toBe('AUTH_FAILED: bad proof 999');
    expect(facts.filter((f) => f.topic === 'tp_fatal')).toEqual([expect.objectContaining({ note: expect.stringContaining('1000 connections') })]);
    expect(runtime.inboundLog.filter((entry) => entry.kind === EVENT_INPUT)).toHaveLength(1);
    for (let i = 0; i < 5; i++) reject!({ code: 'CONNECTION_LOST', reason: 'silent' });
    await beat(runtime, 2);
    expect(read(tree, '/net/listeners/tcp/rejected')).toBe(1005n);
    expect(facts.filter((f) => f.topic === 'tp_fatal')).toHaveLength(2);
  });
});
