/**
 * `mount.peerBusy`: true during a beat whose capture admitted a frame on another mount of the
 * same peer (what a bulk organ reads to leave that beat to the other mount), and the same in a
 * replay of the inbound log.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createTree, text } from '@cep/cells';
import { createRuntime, replay, type Runtime } from '@cep/heartbeat';
import { encodeBranch } from '@cep/serializer';
import { createTransportManager, type Mount, type TransportManager } from '@cep/transport';
import { FakeProvider, settle } from './fake-provider.ts';

const RELIABLE = ['reliable', 'ordered', 'streaming', 'remote_net', 'crc32c', 'deflate'];

let managers: TransportManager[] = [];
afterEach(async () => {
  await Promise.all(managers.map((m) => m.close()));
  managers = [];
});

function frame(n: number): Uint8Array {
  const tree = createTree();
  tree.set('/msg/n', text(String(n)));
  return encodeBranch(tree.get('/msg')!, { deflate: false });
}

/** Per beat, as an episode slice of that beat reads it: which of saturn's bulk / mars's bulk mount saw its peer busy. */
function watch(runtime: Runtime, manager: TransportManager, seen: string[]): void {
  const find = (peer: string): Mount | undefined => manager.mounts().find((m) => m.peer === peer && m.mount === 'bulk');
  runtime.episodes.start({
    slice: (ctx) => {
      const busy = ['saturn', 'mars'].filter((p) => find(p)?.peerBusy === true);
      seen.push(`${ctx.beat}:${busy.join('+')}`);
      ctx.yield();
    },
  });
}

describe('mount.peerBusy', () => {
  it('is true only in beats that admitted a frame on another mount of the same peer, and a replay reads the same', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const runtime = createRuntime();
    const manager = createTransportManager(runtime, { localNode: 'earth', providers: [tcp], addressOf: (p) => `${p}.test` });
    managers.push(manager);
    manager.onFrame('link', () => undefined);
    await manager.listen('tcp', 'earth.test');
    const saturnBulk = tcp.incoming('saturn', 'link', 'bulk');
    const saturnCalls = tcp.incoming('saturn', 'link', 'calls');
    const marsCalls = tcp.incoming('mars', 'link', 'calls');
    tcp.incoming('mars', 'link', 'bulk');
    const seen: string[] = [];
    watch(runtime, manager, seen);
    const step = async (inject: () => void = () => undefined): Promise<void> => {
      inject();
      await settle();
      runtime.step();
    };
    await step();
    await step();
    const first = runtime.beat;
    await step(() => saturnCalls.inject(frame(1))); // saturn's other mount: saturn busy
    await step(); // nothing admitted
    await step(() => saturnBulk.inject(frame(2))); // the bulk mount's own frame does not count
    await step(() => marsCalls.inject(frame(3))); // another peer's mount: only mars is busy
    await step(() => {
      saturnCalls.inject(frame(4));
      marsCalls.inject(frame(5));
    });
    const live = seen.filter((s) => Number(s.split(':')[0]) >= first);
    expect(live).toEqual([`${first}:saturn`, `${first + 1}:`, `${first + 2}:`, `${first + 3}:mars`, `${first + 4}:saturn+mars`]);

    // The inbound log replayed offline (no provider): the same beats read the same.
    const replayedSeen: string[] = [];
    replay(runtime.inboundLog, {
      tree: createTree(),
      beats: runtime.beat,
      setup: (r) => {
        const m = createTransportManager(r, {
          localNode: 'earth',
          offline: true,
          providers: [new FakeProvider('tcp', RELIABLE)],
          addressOf: (p) => `${p}.test`,
        });
        managers.push(m);
        m.onFrame('link', () => undefined);
        watch(r, m, replayedSeen);
      },
    });
    expect(replayedSeen.filter((s) => Number(s.split(':')[0]) >= first)).toEqual(live);
  });
});
