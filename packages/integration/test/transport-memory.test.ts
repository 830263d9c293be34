/**
 * The transport manager over @cep/provider-memory: a scripted run of 10,000 frames on an
 * unreliable mount (fixed seed: drops, duplicates, reorders) ends in the same `/net` digest
 * every time, and the receiver's inbound log replays offline to the same digest beat by beat.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createTree, digestHex, u64 } from '@cep/cells';
import { replay, type Runtime } from '@cep/heartbeat';
import { createTransportManager, type TransportManager } from '@cep/transport';
import { memory, memoryNetwork, MEMORY_UNRELIABLE_CAPS } from '@cep/provider-memory';
import { beatBoth, side, until, type Side } from './support/pair.ts';

const FRAMES = 10_000;
const PER_BEAT = 50;
let open: Side[] = [];
afterEach(async () => {
  await Promise.all(open.map((s) => s.manager.close()));
  open = [];
});

/** What the receiver does with a frame: counts it by value, in its tree. */
function receive(runtime: Runtime, manager: TransportManager): void {
  manager.onFrame('gauge', ({ branch }) => {
    const n = branch.root.children?.[0]?.value;
    if (n?.type !== 'u64') return;
    const path = `/data/rx/n${n.value % 97n}`;
    const seen = runtime.tree.getValue(path);
    runtime.tree.set(path, u64((seen?.type === 'u64' ? seen.value : 0n) + 1n));
  });
}

async function scriptedRun(seed: number) {
  const network = memoryNetwork();
  const schedule = { drop: 0.1, duplicate: 0.05, reorder: 0.05 };
  const earth = side('earth', memory({ network, peer: 'earth', mode: 'unreliable', seed, schedule }));
  const saturn = side('saturn', memory({ network, peer: 'saturn', mode: 'unreliable', seed, schedule }));
  open.push(earth, saturn);
  receive(saturn.runtime, saturn.manager);
  await saturn.manager.listen('memory', 'saturn');
  const mount = earth.manager.configure({ peer: 'saturn', mode: 'gauge', mount: 'temp', caps: { updLatest: true } });
  await until(earth, saturn, () => mount.state === 'open' && saturn.manager.get('earth', 'gauge', 'temp')?.state === 'open');
  const body = createTree();
  for (let sent = 0; sent < FRAMES; ) {
    for (let i = 0; i < PER_BEAT; i++, sent++) {
      body.set('/g/n', u64(BigInt(sent)));
      mount.sendBranch(body.get('/g')!);
    }
    await beatBoth(earth, saturn);
  }
  for (let i = 0; i < 5; i++) await beatBoth(earth, saturn);
  return { earth, saturn };
}

describe('transport manager over provider-memory (unreliable, seeded)', () => {
  it("10,000 frames: the same seed gives the same /net digest twice, and the receiver's inbound log replays offline to the same tree", async () => {
    const first = await scriptedRun(42);
    const second = await scriptedRun(42);
    const net = (s: Side) => digestHex(s.runtime.tree.get('/net')!);
    const data = (s: Side) => digestHex(s.runtime.tree.get('/data/rx')!);
    expect(net(first.saturn)).toBe(net(second.saturn));
    expect(data(first.saturn)).toBe(data(second.saturn));
    expect(net(first.earth)).toBe(net(second.earth));
    // The schedule really was unreliable: some frames were lost, some duplicated.
    let received = 0n;
    for (const cell of first.saturn.runtime.tree.get('/data/rx')!.children()) received += (cell.value as { value: bigint }).value;
    expect(received).not.toBe(BigInt(FRAMES));
    expect(received).toBeGreaterThan(BigInt(FRAMES * 0.8));

    // Replay the receiver: same tree digest after every beat, with no provider at all.
    const live = first.saturn.runtime;
    const beats = live.beat;
    const replayed = replay(live.inboundLog, {
      tree: createTree(),
      beats,
      setup: (runtime) => {
        const offline = createTransportManager(runtime, {
          localNode: 'saturn',
          offline: true,
          providers: [
            {
              specificationVersion: 'cep-provider-v1',
              id: 'memory',
              caps: MEMORY_UNRELIABLE_CAPS,
              open: () => new Promise(() => undefined),
              close: async () => undefined,
            },
          ],
        });
        receive(runtime, offline);
      },
    });
    expect(replayed.digests.at(-1)).toBe(digestHex(live.tree.root));
  });
});
