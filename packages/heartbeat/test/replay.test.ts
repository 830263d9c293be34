import { createTree, digestHex, text, type Tree } from '@cep/cells';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRuntime, replay, type Runtime } from '../src/index.ts';
import { setup } from './app.ts';

function initialTree(): Tree {
  const tree = createTree();
  tree.set('/data/seed', text('same start'));
  return tree;
}

describe('replay', () => {
  it('property: replaying the inbound log reproduces the digest at every beat over 1,000 random beats', () => {
    const beatArb = fc.array(fc.record({ stream: fc.constantFrom('m1', 'm2', 'm3'), data: fc.uint8Array({ minLength: 3, maxLength: 3 }) }), { maxLength: 4 });
    fc.assert(
      fc.property(fc.array(beatArb, { minLength: 1000, maxLength: 1000 }), (beats) => {
        const rt = createRuntime({ tree: initialTree(), ceiRetain: 64 });
        setup(rt);
        const recorded: string[] = [];
        const seqs = new Map<string, number>();
        beats.forEach((inputs) => {
          // push in reverse stream order: admission order must not depend on push order
          for (const input of [...inputs].reverse()) {
            const seq = (seqs.get(input.stream) ?? 0) + 1;
            seqs.set(input.stream, seq);
            rt.pushInput('frame', { stream: input.stream, seq, data: input.data });
          }
          rt.step();
          recorded.push(digestHex(rt.tree.root));
        });
        const { digests } = replay(rt.inboundLog, { tree: initialTree(), setup, beats: beats.length, ceiRetain: 64 });
        expect(digests).toEqual(recorded);
        // not a trivial run: the tree kept changing
        expect(new Set(recorded).size).toBeGreaterThan(50);
      }),
      { numRuns: 3 },
    );
  }, 90_000); // ~7 s alone; CI runs every project at once on 2 cores

  it('replays CPU budget decisions from the log without a clock', () => {
    let now = 0n;
    const app = (rt: Runtime): void => {
      rt.episodes.start({
        budget: { cpuNs: 100n },
        slice: (s) => {
          now += BigInt(s.slice) * 40n;
          s.yield();
        },
      });
    };
    const rt = createRuntime({ tree: initialTree(), cpuClock: () => now });
    app(rt);
    const recorded: string[] = [];
    for (let i = 0; i < 6; i++) {
      rt.step();
      recorded.push(digestHex(rt.tree.root));
    }
    expect(rt.ops.state('1')).toBe('cxl');
    now = 0n;
    const { digests, runtime } = replay(rt.inboundLog, { tree: initialTree(), setup: app, beats: 6 });
    expect(digests).toEqual(recorded);
    expect(runtime.ops.state('1')).toBe('cxl');
  });

  it('replays exactly when the pusher reuses one buffer for every input, and shares the logged bytes without copying them', () => {
    const rt = createRuntime({ tree: initialTree() });
    setup(rt);
    const buffer = new Uint8Array(3);
    const recorded: string[] = [];
    for (let beat = 0; beat < 20; beat++) {
      for (const [i, stream] of ['m1', 'm2'].entries()) {
        buffer.set([(beat + i) % 4, beat % 3, (beat * 7 + i) % 5]);
        rt.pushInput('frame', { stream, seq: beat, data: buffer });
      }
      rt.step();
      recorded.push(digestHex(rt.tree.root));
      buffer.fill(9); // reused after the capture: the log must keep what was admitted
    }
    expect(new Set(recorded).size).toBeGreaterThan(5);
    const { digests, runtime } = replay(rt.inboundLog, { tree: initialTree(), setup, beats: 20 });
    expect(digests).toEqual(recorded);
    expect(runtime.inboundLog.map((l) => l.data)).toEqual(rt.inboundLog.map((l) => l.data));
    runtime.inboundLog.forEach((l, i) => expect(l.data).toBe(rt.inboundLog[i]!.data));
  });

  it('detects a different log: one changed input changes the digests', () => {
    const rt = createRuntime({ tree: initialTree() });
    setup(rt);
    rt.pushInput('frame', { stream: 'm1', seq: 1, data: Uint8Array.of(2, 1, 1) });
    rt.step();
    const recorded = digestHex(rt.tree.root);
    const changed = rt.inboundLog.map((l) => ({ ...l, data: Uint8Array.of(2, 1, 3) }));
    expect(replay(changed, { tree: initialTree(), setup, beats: 1 }).digests[0]).not.toBe(recorded);
    expect(replay(rt.inboundLog, { tree: initialTree(), setup, beats: 1 }).digests[0]).toBe(recorded);
  });
});

describe('onInput: a beat started by arriving input', () => {
  it('tells each push; a runtime stepped on every push (no tick) replays from its log to the same digest every beat', async () => {
    const pushes = [
      ['m1', [1, 2, 3]],
      ['m2', [4, 5, 6]],
      ['m1', [7, 8, 9]],
      ['m3', [1, 1, 1]],
    ] as const;
    // Eager: every push schedules a beat (a microtask), as an embedder would.
    const eager = createRuntime({ tree: initialTree(), ceiRetain: 64 });
    setup(eager);
    const heard: string[] = [];
    let scheduled = false;
    const stop = eager.onInput((kind) => {
      heard.push(kind);
      if (scheduled) return;
      scheduled = true;
      queueMicrotask(() => {
        scheduled = false;
        if (eager.phase === 'idle') eager.step();
      });
    });
    const eagerDigests: string[] = [];
    eager.onCommitted(() => eagerDigests.push(digestHex(eager.tree.root)));
    const seqs = new Map<string, number>();
    for (const [stream, data] of pushes) {
      const seq = (seqs.get(stream) ?? 0) + 1;
      seqs.set(stream, seq);
      eager.pushInput('frame', { stream, seq, data: new Uint8Array(data) });
      await Promise.resolve(); // the microtask runs the beat
      await Promise.resolve();
    }
    expect(heard).toEqual(['frame', 'frame', 'frame', 'frame']);
    expect(eager.beat).toBe(pushes.length); // one beat per push, none waited for a tick
    stop();
    eager.pushInput('frame', { stream: 'm9', seq: 1, data: new Uint8Array([0, 0, 0]) });
    expect(heard).toHaveLength(4);
    // Whatever drove the beats, the log replays to the same digests.
    expect(replay(eager.inboundLog, { tree: initialTree(), setup, beats: pushes.length, ceiRetain: 64 }).digests).toEqual(eagerDigests);
  });
});
