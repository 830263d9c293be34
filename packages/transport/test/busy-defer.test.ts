/**
 * Frames past `inboundBusyBytes` on a mount whose peer has other mounts are handed over at a
 * commit instead of at capture: the capture's own commit when the other mounts neither admitted
 * nor sent a frame in the beat, otherwise a later one (never two busy beats in a row). In arrival
 * order, exactly once, a channel event after them waits for them, and a replay of the inbound log
 * defers the same frames to the same beats.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createTree, digestHex, text } from '@cep/cells';
import { createRuntime, replay, type Runtime } from '@cep/heartbeat';
import { encodeBranch } from '@cep/serializer';
import { createTransportManager, type TransportManager } from '@cep/transport';
import { FakeProvider, settle, type FakeChannel } from './fake-provider.ts';

const RELIABLE = ['reliable', 'ordered', 'streaming', 'remote_net', 'crc32c', 'deflate'];
const BUSY = 1000;

let managers: TransportManager[] = [];
afterEach(async () => {
  await Promise.all(managers.map((m) => m.close()));
  managers = [];
});

/** A frame of `/msg/n = n`, padded to about `pad` bytes (a bulk part) or not (a call). */
function frame(n: string, pad = 0): Uint8Array {
  const tree = createTree();
  tree.set('/msg/n', text(n));
  if (pad > 0) tree.set('/msg/pad', text('x'.repeat(pad)));
  return encodeBranch(tree.get('/msg')!, { deflate: false });
}

/**
 * Hears every frame and mount event as `name@beat/phase`, and writes each frame into the tree (so
 * digests see when). A frame `ask` makes the calls mount send at the commit (as an invoke caller
 * sends the calls submitted at capture).
 */
function wire(runtime: Runtime, manager: TransportManager, seen: string[]): void {
  let ask = false;
  runtime.onCommit(() => {
    if (!ask) return;
    ask = false;
    manager.get('saturn', 'link', 'calls')!.sendFrame(frame('request'));
  });
  manager.onFrame('link', (f) => {
    const n = String(f.branch.root.children.find((c) => c.name.tag.text === 'n')?.value?.value);
    if (n === 'ask') ask = true;
    seen.push(`${n}@${f.beat}/${runtime.phase}`);
    runtime.tree.set(`/data/inbox/${n}`, text(String(f.beat)));
  });
  manager.onMountEvent((e) => {
    if (e.type === 'closed') seen.push(`closed:${e.mount.mount}@${e.beat}/${runtime.phase}`);
  });
}

function offline(runtime: Runtime, seen: string[]): void {
  const manager = createTransportManager(runtime, {
    localNode: 'earth',
    offline: true,
    providers: [new FakeProvider('tcp', RELIABLE)],
    addressOf: (p) => `${p}.test`,
    inboundBusyBytes: BUSY,
  });
  managers.push(manager);
  wire(runtime, manager, seen);
}

describe('inbound frames of a busy peer (inboundBusyBytes)', () => {
  it('defers bulk frames to a commit the other mounts leave quiet (two busy beats in a row at most), in order, exactly once; a replay does the same', async () => {
    const tcp = new FakeProvider('tcp', RELIABLE);
    const runtime = createRuntime();
    const manager = createTransportManager(runtime, {
      localNode: 'earth',
      providers: [tcp],
      addressOf: (p) => `${p}.test`,
      inboundBusyBytes: BUSY,
    });
    managers.push(manager);
    const seen: string[] = [];
    wire(runtime, manager, seen);
    await manager.listen('tcp', 'earth.test');
    const bulk = tcp.incoming('saturn', 'link', 'bulk');
    const calls = tcp.incoming('saturn', 'link', 'calls');
    const lone = tcp.incoming('mars', 'link', 'bulk');
    const digests: string[] = [];
    const step = async (inject: (() => void) | undefined = undefined): Promise<number> => {
      inject?.();
      await settle();
      const beat = runtime.beat;
      runtime.step();
      digests.push(digestHex(runtime.tree.root));
      return beat;
    };
    const send =
      (channel: FakeChannel, ...frames: Uint8Array[]) =>
      () => {
        for (const f of frames) channel.inject(f);
      };
    await step();
    await step();
    const from = seen.length;

    // A quiet beat: the bulk frames (past the budget) go at its own commit, a small one at capture; a peer with one mount is never deferred.
    const a = await step(send(bulk, frame('s1'), frame('b1', 400), frame('b2', 400)));
    const lonely = await step(send(lone, frame('m1', 400)));
    // A call in the beat: the bulk frames wait for the next beat's commit.
    const b = await step(send(bulk, frame('b3', 400), frame('b4', 400)));
    expect(b).toBe(lonely + 1);
    await step(() => {
      calls.inject(frame('c1'));
      bulk.inject(frame('b5', 400));
    });
    const quiet = await step();
    // Calls in two beats in a row: held through the first, handed over in the second.
    const c = await step(() => {
      calls.inject(frame('c2'));
      bulk.inject(frame('b6', 400));
    });
    const d = await step(send(calls, frame('c3')));
    // A send on the calls mount in the beat: held through it.
    const f = await step(send(bulk, frame('ask'), frame('b8', 400)));
    await step();
    // A close right after a held frame: it runs after that frame, never before.
    const e = await step(() => {
      calls.inject(frame('c4'));
      bulk.inject(frame('b7', 400));
      void bulk.close('done');
    });
    await step();
    await step();

    expect(seen.slice(from)).toEqual([
      `s1@${a}/capture`,
      `b1@${a}/commit`,
      `b2@${a}/commit`,
      `m1@${lonely}/capture`,
      `b3@${b}/commit`,
      `b4@${b}/commit`,
      `c1@${b + 1}/capture`,
      `b5@${quiet}/commit`,
      `c2@${c}/capture`,
      `c3@${d}/capture`,
      `b6@${d}/commit`,
      `ask@${f}/capture`,
      `b8@${f + 1}/commit`,
      `c4@${e}/capture`,
      `b7@${e + 1}/commit`,
      `closed:bulk@${e + 1}/commit`,
    ]);

    const replayed: string[] = [];
    const again = replay(runtime.inboundLog, { tree: createTree(), beats: runtime.beat, setup: (r) => offline(r, replayed) });
    expect(replayed).toEqual(seen);
    expect(again.digests.slice(-digests.length)).toEqual(digests);
  });

  it('refuses a busy budget that is not a whole number ≥ 1 (OPTIONS_INVALID)', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => createTransportManager(createRuntime(), { localNode: 'earth', inboundBusyBytes: bad })).toThrow(
        expect.objectContaining({ code: 'OPTIONS_INVALID' }),
      );
    }
  });
});
