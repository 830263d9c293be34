import { afterEach, describe, expect, it } from 'vitest';
import { createTree, digestHex, text, type Tree } from '@cep/cells';
import { CepError } from '@cep/errors';
import { createRuntime, replay, type Runtime } from '@cep/heartbeat';
import { encodeBranch } from '@cep/serializer';
import { createTransportManager, readMountSession, type MountEvent, type TransportManager } from '@cep/transport';
import { FakeProvider, settle } from './fake-provider.ts';

const RELIABLE = ['reliable', 'ordered', 'streaming', 'remote_net', 'crc32c', 'deflate', 'aead'];
const KEY = new Uint8Array(32).fill(9);

let managers: TransportManager[] = [];
afterEach(async () => {
  await Promise.all(managers.map((m) => m.close()));
  managers = [];
});

function setup(provider: FakeProvider, runtime: Runtime = createRuntime()) {
  const manager = createTransportManager(runtime, { localNode: 'earth', providers: [provider], addressOf: (peer) => `${peer}.test`, peerKey: () => KEY });
  managers.push(manager);
  const events: MountEvent[] = [];
  manager.onMountEvent((e) => events.push(e));
  return { runtime, manager, tree: runtime.tree, events };
}

async function beat(runtime: Runtime, n = 1): Promise<void> {
  for (let i = 0; i < n; i++) {
    await settle();
    runtime.step();
  }
}

const noteOf = (tree: Tree, topic: string) => {
  const value = tree.getValue(`/net/peers/saturn/ceh/${topic}/note`);
  return value?.type === 'text' ? value.value : undefined;
};

describe('remote session of a mount', () => {
  it('records the session a dialled channel reports, as session and session_seq 1', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    tcp.remoteSession = 'sat-1';
    const { runtime, manager, tree, events } = setup(tcp);
    manager.configure({ peer: 'saturn', mode: 'mirror', mount: 'main' });
    await beat(runtime);
    expect(readMountSession(tree, 'saturn', 'mirror', 'main')).toEqual({ id: 'sat-1', seq: 1n });
    expect(tree.getValue('/net/mounts/saturn/mirror/main/session')).toEqual(text('sat-1'));
    expect(events.map((e) => `${e.type}:${e.session?.seq ?? ''}`)).toEqual(['open:', 'session:1']);
    expect(noteOf(tree, 'tp_newsess')).toBeUndefined();
  });

  it('a reconnect to the same session changes nothing; a new session counts one more, is told and is a mount event', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    tcp.remoteSession = 'sat-1';
    const { runtime, manager, tree, events } = setup(tcp);
    const mount = manager.configure({ peer: 'saturn', mode: 'mirror', mount: 'main' });
    await beat(runtime);
    const channel = tcp.channels[0]!;
    channel.raise({ type: 'reconnecting', attempt: 1, delayMs: 10, reason: 'connection lost' });
    channel.raise({ type: 'session', id: 'sat-1' });
    channel.raise({ type: 'ready' });
    await beat(runtime);
    expect(readMountSession(tree, 'saturn', 'mirror', 'main')).toEqual({ id: 'sat-1', seq: 1n });
    expect(events.filter((e) => e.type === 'session')).toHaveLength(1);
    channel.raise({ type: 'session', id: 'sat-2' });
    channel.raise({ type: 'ready' });
    await beat(runtime);
    expect(readMountSession(tree, 'saturn', 'mirror', 'main')).toEqual({ id: 'sat-2', seq: 2n });
    expect(mount.state).toBe('open');
    const last = events.at(-1)!;
    expect(last.type).toBe('session');
    expect(last.session).toEqual({ id: 'sat-2', seq: 2n });
    expect(last.mount).toBe(mount);
    expect(noteOf(tree, 'tp_newsess')).toContain('saturn/mirror/main');
  });

  it('a provider that reports no session keeps the old behaviour: nothing is recorded, no session event', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const { runtime, manager, tree, events } = setup(tcp);
    manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    await beat(runtime);
    tcp.channels[0]!.raise({ type: 'ready' });
    await beat(runtime);
    expect(readMountSession(tree, 'saturn', 'link', 'main')).toBeUndefined();
    expect(tree.get('/net/mounts/saturn/link/main/session')).toBeUndefined();
    expect(events.map((e) => e.type)).toEqual(['open']);
  });

  it('an accepted channel from a restarted peer raises session_seq on the same mount record', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const { runtime, tree, events } = setup(tcp);
    const manager = managers[0]!;
    await manager.listen('tcp', 'x');
    tcp.remoteSession = 'earth-1';
    const first = tcp.incoming('saturn', 'mirror', 'main');
    await beat(runtime);
    expect(readMountSession(tree, 'saturn', 'mirror', 'main')).toEqual({ id: 'earth-1', seq: 1n });
    first.raise({ type: 'fatal', error: new CepError('CONNECTION_LOST', 'gone') });
    first.raise({ type: 'closed', reason: 'gone' });
    await beat(runtime);
    tcp.remoteSession = 'earth-2';
    tcp.incoming('saturn', 'mirror', 'main');
    await beat(runtime);
    expect(readMountSession(tree, 'saturn', 'mirror', 'main')).toEqual({ id: 'earth-2', seq: 2n });
    expect(events.map((e) => e.type)).toEqual(['accepted', 'session', 'fatal', 'accepted', 'session']);
  });

  it('an id that cannot be a session id (empty, too long) is not recorded', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    tcp.remoteSession = 'x'.repeat(129);
    const { runtime, manager, tree } = setup(tcp);
    manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    await beat(runtime);
    tcp.channels[0]!.raise({ type: 'session', id: '' });
    await beat(runtime);
    expect(readMountSession(tree, 'saturn', 'link', 'main')).toBeUndefined();
  });
});

describe('only what replay can reproduce reaches the tree', () => {
  it('a fatal after edge backpressure does not count the wire queue in its note', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const { runtime, manager, tree } = setup(tcp);
    const mount = manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    await beat(runtime);
    const channel = tcp.channels[0]!;
    channel.answer = 'backpressure';
    for (let i = 0; i < 6; i++) mount.sendFrame(Uint8Array.of(i)); // the first blocks the edge; five wait on the wire queue
    channel.raise({ type: 'fatal', error: new CepError('CONNECTION_LOST', 'peer vanished') });
    await beat(runtime);
    expect(mount.state).toBe('error');
    expect(noteOf(tree, 'tp_fatal')).toContain('peer vanished');
    expect(noteOf(tree, 'tp_fatal')).not.toContain('dropped');
  });

  it('a fatal while the tree holds frames back counts those (the beat queue), which a replay has too', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const { runtime, manager, tree } = setup(tcp);
    const mount = manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    await beat(runtime);
    const channel = tcp.channels[0]!;
    channel.raise({ type: 'backpressure', bufferedBytes: 1 });
    await beat(runtime);
    runtime.step(); // (no inputs) the tree now says bp_flag: sends wait in the beat queue
    for (let i = 0; i < 3; i++) expect(mount.sendFrame(Uint8Array.of(i))).toBe('queued');
    channel.raise({ type: 'fatal', error: new CepError('CONNECTION_LOST', 'peer vanished') });
    await beat(runtime);
    expect(noteOf(tree, 'tp_fatal')).toContain('(3 queued frame(s) dropped)');
  });

  it('replaying a live inbound log across backpressure, edge-blocked sends, reconnects, new sessions and fatals gives the same digest every beat', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    tcp.remoteSession = 'sat-1';
    const policy = (manager: TransportManager) => (manager.get('saturn', 'link', 'main') as unknown as { policy: never }).policy;
    // Sends happen inside beats (organs send in compute), so a replay makes the same ones.
    const wire = (runtime: Runtime, manager: TransportManager) => {
      manager.onFrame('link', (f) => {
        runtime.tree.set(`/data/inbox/n${f.beat}`, text(String(f.bytes.length)));
        if (f.mount.state === 'open') f.mount.sendFrame(Uint8Array.of(f.beat & 0xff));
      });
      manager.onMountEvent((e) => {
        if (e.type === 'session') runtime.tree.set(`/data/sessions/n${e.beat}`, text(e.session!.id));
      });
      manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    };
    const live = setup(tcp);
    wire(live.runtime, live.manager);
    const digests: string[] = [];
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) % 1000) / 1000;
    let session = 1;
    let fatals = 0;
    for (let i = 0; i < 60; i++) {
      await settle();
      const mount = live.manager.get('saturn', 'link', 'main')!;
      const channel = tcp.channels.at(-1);
      if (mount.state === 'error') {
        // Reconfigure (as a redialling organ would) at a beat chosen from the recorded inputs only.
        live.manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
      } else if (channel !== undefined && channel.closedWith === undefined) {
        const r = rand();
        channel.answer = rand() < 0.3 ? 'backpressure' : 'ready';
        if (r < 0.4) channel.inject(encodeBranch(branch('m'.repeat(1 + Math.floor(rand() * 40))), policy(live.manager)));
        else if (r < 0.55) channel.raise({ type: 'backpressure', bufferedBytes: Math.floor(rand() * 1e6) });
        else if (r < 0.7) channel.raise({ type: 'ready' });
        else if (r < 0.8) {
          channel.raise({ type: 'reconnecting', attempt: 1, delayMs: 5, reason: 'lost' });
          channel.raise({ type: 'session', id: rand() < 0.5 ? `sat-${session}` : `sat-${++session}` });
          channel.raise({ type: 'ready' });
        } else if (r < 0.9) {
          fatals++;
          channel.raise({ type: 'fatal', error: new CepError('CONNECTION_LOST', `lost ${i}`) });
          channel.raise({ type: 'closed', reason: 'lost' });
        }
      }
      await settle();
      live.runtime.step();
      digests.push(digestHex(live.runtime.tree.root));
    }
    expect(fatals).toBeGreaterThan(1);
    expect(session).toBeGreaterThan(2);
    expect(readMountSession(live.tree, 'saturn', 'link', 'main')?.seq).toBeGreaterThan(1n);
    const replayed = replay(live.runtime.inboundLog, {
      tree: createTree(),
      beats: 60,
      setup: (runtime) => {
        const manager = createTransportManager(runtime, {
          localNode: 'earth',
          offline: true,
          addressOf: (peer) => `${peer}.test`,
          peerKey: () => KEY,
          providers: [new FakeProvider('tcp', RELIABLE)],
        });
        wire(runtime, manager);
        // The live loop reconfigured an errored mount before a beat; the replay does the same.
        const originalStep = runtime.step.bind(runtime);
        (runtime as { step: () => ReturnType<Runtime['step']> }).step = () => {
          if (manager.get('saturn', 'link', 'main')!.state === 'error') manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
          return originalStep();
        };
      },
    });
    expect(replayed.digests).toEqual(digests);
  });
});

function branch(value: string) {
  const tree = createTree();
  tree.set('/msg/body', text(value));
  return tree.get('/msg')!;
}

describe('a peer that refuses us', () => {
  it('AUTH_FAILED again is told at warn after the first (error); the code reaches organs; another kind of failure starts over', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE, false);
    const { runtime, manager, tree, events } = setup(tcp);
    const severities: string[] = [];
    runtime.cei.onFact((f) => f.topic === 'tp_fatal' && severities.push(f.severity));
    const configure = () => manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' });
    for (let i = 0; i < 3; i++) {
      configure();
      tcp.opens.at(-1)!.reject(new CepError('AUTH_FAILED', 'wrong key'));
      await beat(runtime);
    }
    expect(severities).toEqual(['error', 'warn', 'warn']);
    expect(events.filter((e) => e.type === 'error').map((e) => e.code)).toEqual(['AUTH_FAILED', 'AUTH_FAILED', 'AUTH_FAILED']);
    configure();
    tcp.opens.at(-1)!.reject(new CepError('OPEN_FAILED', 'refused'));
    await beat(runtime);
    configure();
    tcp.opens.at(-1)!.reject(new CepError('AUTH_FAILED', 'wrong key'));
    await beat(runtime);
    expect(severities.slice(3)).toEqual(['error', 'error']);
    expect(tree.getValue('/net/mounts/saturn/link/main/state')).toEqual(text('error'));
  });
});
