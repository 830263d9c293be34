/**
 * The receiver's pace in `stream` mode: at most one bundle applied per beat per request, and
 * none in a beat whose capture admitted a frame of another mount of the same peer unless the
 * beat before was left to that mount too. Bundles that wait are applied in order, each once, and
 * a replay of the receiver's inbound log gives the same tree after every beat.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createTree, digestHex, text, u64, type Tree } from '@cep/cells';
import { createRuntime, replay, type Runtime } from '@cep/heartbeat';
import { installInvoke } from '@cep/organ-invoke';
import { installMirror, type ApplyEvent } from '@cep/organ-mirror';
import { memory, memoryNetwork } from '@cep/provider-memory';
import { createTransportManager, type TransportManager } from '@cep/transport';
import { branchDigest, field, fileRequest, KEY, settle } from './helpers.ts';

const SRC = '/data/shared';
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
});

function manager(runtime: Runtime, name: string, network = memoryNetwork(), offline = false): TransportManager {
  const m = createTransportManager(runtime, {
    localNode: name,
    providers: [memory({ network, peer: name, mode: 'reliable' })],
    addressOf: (p) => p,
    peerKey: () => KEY,
    ...(offline ? { offline: true } : {}),
  });
  closers.push(() => m.close());
  return m;
}

/** Earth: receives saturn's branch (window 1, up to 8 bundles in flight) and serves `/sig/add` to saturn. */
function setupEarth(runtime: Runtime, m: TransportManager, applies: ApplyEvent[]): void {
  installMirror(runtime, m, { localNode: 'earth', onApply: (e) => void applies.push(e) });
  installInvoke(runtime, m, {}).expose('/sig/add', (call) => ({ status: 'ok', result: u64((call.payload?.type === 'u64' ? call.payload.value : 0n) + 1n) }));
  fileRequest(runtime.tree, 'r1', { window: 1, maxInfl: 8 });
}

const writeSource = (tree: Tree, i: number): void => {
  for (let k = 0; k < 4; k++) tree.set(`${SRC}/g${(i + k) % 5}/f${k}`, text(`beat ${i} edit ${k}`));
};

describe('the receiver applies at most one bundle a beat, and leaves busy beats to other mounts', () => {
  it('bundles admitted together are applied over the next beats, in order, once each; a beat with a call frame applies none unless the one before did not either; the log replays to the same trees', async () => {
    const network = memoryNetwork();
    const saturn = createRuntime();
    const sm = manager(saturn, 'saturn', network);
    installMirror(saturn, sm, { localNode: 'saturn' });
    const caller = installInvoke(saturn, sm, {});
    for (const [f, v] of [
      ['peer', 'earth'],
      ['mount', 'calc'],
      ['local_node', 'saturn'],
    ])
      saturn.tree.set(`/net/organs/invoke/requests/calc/${f}`, text(v!));
    await sm.listen('memory', 'saturn');

    const earth = createRuntime({ tree: createTree() });
    const em = manager(earth, 'earth', network);
    const applies: ApplyEvent[] = [];
    setupEarth(earth, em, applies);
    await em.listen('memory', 'earth');
    // Which of earth's beats admitted a frame of the invoke mount (a call's request).
    const busy = new Set<number>();
    earth.onCommitted((beat, inputs) => {
      if (inputs.some((i) => i.stream.includes('/invoke/'))) busy.add(beat);
    });
    const digests: string[] = [];
    let sawHeld = 0;
    let answered = 0;
    const BEATS = 160;
    for (let i = 0; i < BEATS; i++) {
      writeSource(saturn.tree, i);
      // Calls from saturn on its invoke mount to earth, two beats in three once it is up.
      if (i % 3 !== 0 && saturn.tree.getValue('/net/organs/invoke/requests/calc/state')?.value === 'active')
        caller.submit({ request: 'calc', signal: '/sig/add', payload: u64(BigInt(i)), timeoutBeats: 1000, onComplete: () => void answered++ });
      await settle();
      // Earth runs one beat for every three of saturn's for a while, so bundles queue up for its captures.
      if (i < 60 || i % 3 === 0 || i >= 120) {
        earth.step();
        digests.push(digestHex(earth.tree.root));
        sawHeld = Math.max(sawHeld, Number(field(earth.tree, 'r1', 'held')));
      }
      await settle();
      saturn.step();
    }
    // Quiet again: the receiver catches up.
    for (let i = 0; i < 40; i++) {
      await settle();
      earth.step();
      digests.push(digestHex(earth.tree.root));
      await settle();
      saturn.step();
    }
    expect(answered).toBeGreaterThan(20);
    expect(busy.size).toBeGreaterThan(20);
    expect(sawHeld).toBeGreaterThan(0); // bundles did wait for beats of their own
    expect(branchDigest(earth.tree, SRC)).toBe(branchDigest(saturn.tree, SRC));
    expect(field(earth.tree, 'r1', 'held')).toBe(0n);
    // In order, once each, one a beat.
    const seqs = applies.map((a) => a.seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    const beats = applies.map((a) => a.beat);
    expect(new Set(beats).size).toBe(beats.length);
    // A beat that admitted a call's frame applied a bundle only after a beat that had left it too.
    const inBusy = beats.filter((b) => busy.has(b));
    for (const b of inBusy) expect(busy.has(b - 1)).toBe(true);
    expect(beats.length - inBusy.length).toBeGreaterThan(0);

    const replayedApplies: ApplyEvent[] = [];
    const replayed = replay(earth.inboundLog, {
      tree: createTree(),
      beats: digests.length,
      setup: (r) => setupEarth(r, manager(r, 'earth', memoryNetwork(), true), replayedApplies),
    });
    expect(replayed.digests).toEqual(digests);
    expect(replayedApplies.map((a) => [a.seq, a.beat])).toEqual(applies.map((a) => [a.seq, a.beat]));
  });
});
