/**
 * Who owns an inbound frame's bytes. A channel that says `ownedFrames` never writes a yielded
 * frame again, so the inbound log keeps the frame itself; any other channel may hand out views
 * into a buffer it reuses, so the log keeps a copy. Either way a replay of the log sees exactly
 * what the live run admitted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createTree, digestHex, text, type Tree } from '@cep/cells';
import { createRuntime, replay, type Runtime } from '@cep/heartbeat';
import { encodeBranch } from '@cep/serializer';
import { createTransportManager, type Mount, type TransportManager } from '@cep/transport';
import { FakeProvider, settle } from './fake-provider.ts';

const CAPS = ['reliable', 'ordered', 'streaming', 'remote_net', 'crc32c'];

let managers: TransportManager[] = [];
afterEach(async () => {
  await Promise.all(managers.map((m) => m.close()));
  managers = [];
});

/** A manager whose link handler writes every frame's value into the tree (so the digests follow the bytes). */
function wire(runtime: Runtime, provider: FakeProvider, offline: boolean): { manager: TransportManager; mount: Mount } {
  const manager = createTransportManager(runtime, {
    localNode: 'earth',
    providers: [provider],
    addressOf: (peer) => `${peer}.test`,
    ...(offline ? { offline: true } : {}),
  });
  if (!offline) managers.push(manager);
  let n = 0;
  manager.onFrame('link', (f) => {
    runtime.tree.set(`/data/got/n${++n}`, text(String(f.branch.root.children?.[0]?.value?.value)));
  });
  return { manager, mount: manager.configure({ peer: 'saturn', mode: 'link', mount: 'main' }) };
}

function branch(value: string): ReturnType<Tree['get']> & object {
  const tree = createTree();
  tree.set('/msg/body', text(value));
  return tree.get('/msg')!;
}

/**
 * Runs `beats` beats; in each, two frames arrive. With `reuse`, the channel hands both out as views
 * into one read buffer that it overwrites with the next frames (what the spec allows without
 * `ownedFrames`); otherwise each frame is a buffer of its own.
 */
async function run(owned: boolean, reuse: boolean, beats: number) {
  const provider = new FakeProvider('tcp', CAPS);
  provider.ownedFrames = owned;
  const runtime = createRuntime();
  const { mount } = wire(runtime, provider, false);
  const digests: string[] = [];
  const step = async (): Promise<void> => {
    await settle();
    runtime.step();
    digests.push(digestHex(runtime.tree.root));
  };
  await step();
  const policy = (mount as unknown as { policy: never }).policy;
  const channel = provider.channels[0]!;
  const readBuffer = new Uint8Array(64 * 1024);
  const injected: Uint8Array[] = [];
  for (let b = 0; b < beats; b++) {
    let at = 0;
    for (const value of [`v${b}a`, `v${b}b-longer`]) {
      const frame = encodeBranch(branch(value), policy);
      injected.push(frame);
      if (reuse) {
        readBuffer.set(frame, at);
        channel.inject(readBuffer.subarray(at, at + frame.length));
        at += frame.length;
      } else channel.inject(frame);
    }
    await step();
    if (reuse) readBuffer.fill(0xee); // the provider reads its next chunk into the same buffer
  }
  return { runtime, digests, injected, channel };
}

function replayed(runtime: Runtime, beats: number): string[] {
  return replay(runtime.inboundLog, {
    tree: createTree(),
    beats,
    setup: (rt) => void wire(rt, new FakeProvider('tcp', CAPS), true),
  }).digests;
}

describe('inbound frame ownership', () => {
  it('copies frames of a channel without ownedFrames: its reused read buffer cannot change what the log and replay see', async () => {
    const { runtime, digests, injected } = await run(false, true, 6);
    const frames = runtime.inboundLog.filter((l) => l.kind === 'tp.frame');
    expect(frames.map((l) => [...l.data])).toEqual(injected.map((f) => [...f]));
    expect(runtime.tree.getValue('/data/got/n12')?.value).toBe('v5b-longer');
    expect(replayed(runtime, digests.length)).toEqual(digests);
  });

  it('keeps the frames of an ownedFrames channel as they are (no copy), and replays them exactly', async () => {
    const { runtime, digests, injected } = await run(true, false, 6);
    const frames = runtime.inboundLog.filter((l) => l.kind === 'tp.frame');
    expect(frames).toHaveLength(injected.length);
    frames.forEach((l, i) => expect(l.data).toBe(injected[i]));
    expect(replayed(runtime, digests.length)).toEqual(digests);
  });
});
