import { afterEach, describe, expect, it } from 'vitest';
import { createTree, name, text } from '@cep/cells';
import { createRuntime, replay, type Runtime } from '@cep/heartbeat';
import { createTransportManager, type InboundFrame, type TransportManager } from '@cep/transport';
import { FakeProvider, settle } from './fake-provider.ts';

const CAPS = ['reliable', 'ordered', 'multicast', 'remote_net', 'crc32c', 'deflate', 'aead'];
const GROUP_KEY = new Uint8Array(32).fill(7);
const OTHER_KEY = new Uint8Array(32).fill(8);

let managers: TransportManager[] = [];
afterEach(async () => {
  await Promise.all(managers.map((m) => m.close()));
  managers = [];
});

function peer(provider: FakeProvider, peerKey: Uint8Array | undefined, runtime: Runtime = createRuntime()) {
  const manager = createTransportManager(runtime, {
    localNode: 'earth',
    providers: [provider],
    addressOf: (p) => `${p}.test`,
    ...(peerKey !== undefined ? { peerKey: () => peerKey } : {}),
  });
  managers.push(manager);
  const frames: InboundFrame[] = [];
  manager.onFrame('mirror', (f) => frames.push(f));
  return { runtime, manager, frames };
}

async function beat(runtime: Runtime, n = 1): Promise<void> {
  for (let i = 0; i < n; i++) {
    await settle();
    runtime.step();
  }
}

function message(body: string) {
  const tree = createTree();
  tree.set(['m', 'body'], text(body));
  return tree.get([name('m')])!;
}

const bodyOf = (f: InboundFrame) => {
  const v = f.branch.root.children.find((c) => c.name.tag.text === 'body')?.value;
  return v?.type === 'text' ? v.value : undefined;
};

describe('group frames', () => {
  it('an accepted AEAD mount publishes once through its channel; frames are sealed under the group key, not the mount key', async () => {
    const source = new FakeProvider('nats', CAPS);
    const { runtime, manager } = peer(source, new Uint8Array(32).fill(1));
    await manager.listen('nats', 'fake');
    const channel = source.incoming('earth', 'mirror', 'm');
    await beat(runtime);
    const mount = manager.get('earth', 'mirror', 'm')!;
    expect(mount.groupScope).toBe('nats:fake-listener');
    const frame = mount.encodeForGroup(message('hi'), GROUP_KEY);
    expect(mount.publish('g1', frame)).toBe('sent');
    expect(channel.published).toEqual([['g1', frame]]);
    expect(channel.sent).toHaveLength(0);
    // Not the bytes the mount's own key makes.
    expect(Buffer.from(frame).equals(Buffer.from(mount.encodeBranch(message('hi'))))).toBe(false);
  });

  it('a mount without AEAD has no group scope and refuses to make or publish group frames', async () => {
    const source = new FakeProvider('nats', CAPS);
    const { runtime, manager } = peer(source, undefined);
    await manager.listen('nats', 'fake');
    source.incoming('earth', 'mirror', 'm');
    await beat(runtime);
    const mount = manager.get('earth', 'mirror', 'm')!;
    expect(mount.groupScope).toBeUndefined();
    expect(() => mount.encodeForGroup(message('x'), GROUP_KEY)).toThrow(expect.objectContaining({ code: 'GROUP_UNSEALED' }));
    expect(() => mount.publish('g1', new Uint8Array(8))).toThrow(expect.objectContaining({ code: 'GROUP_UNSUPPORTED' }));
  });

  it('a joined mount opens group frames with the group key only, marks them, drops them after leaving, and replays alike', async () => {
    const maker = new FakeProvider('nats', CAPS);
    const src = peer(maker, new Uint8Array(32).fill(1));
    await src.manager.listen('nats', 'fake');
    maker.incoming('saturn', 'mirror', 'm');
    await beat(src.runtime);
    const sealer = src.manager.get('saturn', 'mirror', 'm')!;

    const dialler = new FakeProvider('nats', CAPS);
    const rx = peer(dialler, new Uint8Array(32).fill(1));
    const mount = rx.manager.configure({ peer: 'saturn', mode: 'mirror', mount: 'm' });
    await beat(rx.runtime);
    mount.joinGroup('g1', GROUP_KEY);
    const channel = dialler.channels[0]!;
    const deliver = channel.joined.get('g1')!;
    deliver(sealer.encodeForGroup(message('good'), GROUP_KEY));
    deliver(sealer.encodeForGroup(message('forged'), OTHER_KEY));
    deliver(sealer.encodeBranch(message('mount key')));
    await beat(rx.runtime);
    expect(rx.frames.map(bodyOf)).toEqual(['good']);
    expect(rx.frames[0]!.group).toBe('g1');

    mount.leaveGroup('g1');
    expect(channel.joined.has('g1')).toBe(false);
    deliver(sealer.encodeForGroup(message('late'), GROUP_KEY));
    await beat(rx.runtime);
    expect(rx.frames.map(bodyOf)).toEqual(['good']);

    // An offline replay of the receiver's inputs sees the same frames (the key comes from the organ's join, here by hand).
    const seen: string[] = [];
    replay(rx.runtime.inboundLog, {
      tree: createTree(),
      beats: 3,
      setup: (runtime) => {
        const off = createTransportManager(runtime, {
          localNode: 'earth',
          offline: true,
          providers: [new FakeProvider('nats', CAPS)],
          addressOf: (p) => `${p}.test`,
          peerKey: () => new Uint8Array(32).fill(1),
        });
        managers.push(off);
        off.onFrame('mirror', (f) => seen.push(`${bodyOf(f)}@${f.group}`));
        const offMount = off.configure({ peer: 'saturn', mode: 'mirror', mount: 'm' });
        const step = runtime.step.bind(runtime);
        let beats = 0;
        (runtime as { step: () => ReturnType<Runtime['step']> }).step = () => {
          // Live, the join came after the first beat, and the leave after the second.
          if (beats === 1) offMount.joinGroup('g1', GROUP_KEY);
          if (beats === 2) offMount.leaveGroup('g1');
          beats++;
          return step();
        };
      },
    });
    expect(seen).toEqual(['good@g1']);
  });
});
