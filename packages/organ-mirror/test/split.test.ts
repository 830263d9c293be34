/**
 * Bundles split across beats: the source sends about `beatBytes` of frames per beat, the
 * receiver stages them as they come and applies the bundle whole. Random part and beat
 * budgets, channel breaks and receiver restarts; a replay of the receiver's inbound log; an
 * invoke on another mount while a large mirror streams.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createTree, digestHex, text, u64, type Tree } from '@cep/cells';
import { createRuntime, replay, type Runtime } from '@cep/heartbeat';
import { installInvoke } from '@cep/organ-invoke';
import { installMirror, type ApplyEvent, type MirrorOptions } from '@cep/organ-mirror';
import { memory, memoryHooks, memoryNetwork, type MemoryNetwork } from '@cep/provider-memory';
import { applyBranch, decodeBranch, encodeBranch } from '@cep/serializer';
import { createTransportManager, type TransportManager } from '@cep/transport';
import type { ProviderV1 } from '@cep/transport/provider';
import { branchDigest, earthChannel, field, fileRequest, KEY, memoryPair, saturnChannel, settle, type Pair } from './helpers.ts';

const SRC = '/data/shared';
const SERVING = '/net/organs/mirror/serving/earth/main';

interface Peer {
  runtime: Runtime;
  tree: Tree;
  manager: TransportManager;
  provider: ProviderV1;
}

const closers: Array<() => Promise<void>> = [];
let pair: Pair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
});

/** What the mirror owns on the receiver: the copy, the request records, the dossiers, the mount records. */
function mirrorDigest(tree: Tree): string {
  return ['/data/shared', '/net/organs/mirror', '/rt/ops', '/net/mounts'].map((p) => branchDigest(tree, p)).join(',');
}

/** A field of bundle `seq` in the source's dossier for earth's subscription. */
function sourceBundle(saturn: Peer, seq: number, name: string): number | undefined {
  const op = saturn.tree.getValue(`${SERVING}/op`)?.value;
  const value = typeof op === 'string' ? saturn.tree.getValue(`/rt/ops/${op}/bundles/${seq}/${name}`)?.value : undefined;
  return typeof value === 'bigint' ? Number(value) : undefined;
}

/**
 * Steps both peers until earth's request r1 has applied bundle 1 (at most `steps` rounds),
 * checking on the way that nothing of the bundle shows before it is whole.
 */
async function stepUntilFirstBundle(earth: Peer, saturn: Peer, steps: number): Promise<void> {
  for (let i = 0; i < steps && field(earth.tree, 'r1', 'bundle_seq') !== 1n; i++) {
    await settle();
    earth.runtime.step();
    if (field(earth.tree, 'r1', 'bundle_seq') !== 1n) expect(earth.tree.get(SRC)).toBeUndefined();
    await settle();
    saturn.runtime.step();
  }
}

function peer(name: string, network: MemoryNetwork, options: MirrorOptions, tree?: Tree): Peer {
  const runtime = createRuntime(tree === undefined ? {} : { tree });
  const provider = memory({ network, peer: name, mode: 'reliable' });
  const manager = createTransportManager(runtime, { localNode: name, providers: [provider], addressOf: (p) => p, peerKey: () => KEY });
  installMirror(runtime, manager, { localNode: name, ...options });
  closers.push(() => manager.close());
  return { runtime, tree: runtime.tree, manager, provider };
}

/** Serves `/sig/add` (payload + 1) on `runtime`'s invoke organ; `onRun` hears the beat each call runs in. */
function exposeAdd(runtime: Runtime, manager: TransportManager, onRun?: (beat: number) => void): void {
  installInvoke(runtime, manager, {}).expose('/sig/add', (call) => {
    onRun?.(call.beat);
    return { status: 'ok', result: u64((call.payload?.type === 'u64' ? call.payload.value : 0n) + 1n) };
  });
}

/** Earth's invoke organ with a request `calc` on saturn (the mount beside the mirror's). */
function calcCaller(earth: Peer): ReturnType<typeof installInvoke> {
  const invoke = installInvoke(earth.runtime, earth.manager, {});
  for (const [f, v] of [
    ['peer', 'saturn'],
    ['mount', 'calc'],
    ['local_node', 'earth'],
  ])
    earth.tree.set(`/net/organs/invoke/requests/calc/${f}`, text(v!));
  return invoke;
}

/** Whether earth's `calc` mount is up (calls submitted before go nowhere). */
const calcActive = (earth: Peer): boolean => earth.tree.getValue('/net/organs/invoke/requests/calc/state')?.value === 'active';

/** One beat of each peer, earth first, with the frames between them delivered. */
async function stepPair(earth: Peer, saturn: { runtime: Runtime }): Promise<void> {
  await settle();
  earth.runtime.step();
  await settle();
  saturn.runtime.step();
}

/**
 * Saturn serving a mirror with 16,000-byte parts and beats, 1,500 bytes while busy, and `/sig/add`
 * beside it; earth with the `calc` request open to it. `sent` gets each part: its beat and frame bytes.
 */
async function busyPartsPair(onRun?: (beat: number) => void) {
  const network = memoryNetwork();
  const sent: Array<{ beat: number; bytes: number }> = [];
  const saturn: Peer = peer('saturn', network, {
    partBytes: 16000,
    beatBytes: 16000,
    busyBeatBytes: 1500,
    onSend: (e) => void sent.push({ beat: saturn.runtime.beat, bytes: e.bytes }),
  });
  const earth = peer('earth', network, {});
  await saturn.manager.listen('memory', 'saturn');
  exposeAdd(saturn.runtime, saturn.manager, onRun);
  return { saturn, earth, invoke: calcCaller(earth), sent };
}

/** A copy of a whole tree, as a receiver that persisted its tree restarts with. */
function copyTree(tree: Tree): Tree {
  const copy = createTree({ beat: tree.beat });
  for (const child of tree.root.children()) if (!child.isDeleted) applyBranch(copy, [child.name], decodeBranch(encodeBranch(child)));
  return copy;
}

/** A branch of `groups` dictionaries of `per` values, and a list. */
function seed(tree: Tree, groups: number, per: number): void {
  tree.batch(() => {
    for (let g = 0; g < groups; g++) for (let i = 0; i < per; i++) tree.set(`${SRC}/g${g}/f${i}`, i % 2 === 0 ? text(`value ${g}.${i}`) : u64(BigInt(i)));
    tree.ensureList(`${SRC}/log`);
    for (let i = 0; i < per; i++) tree.append(`${SRC}/log`, text(`entry ${i}`));
  });
}

/** One edit of the source: updates, new and removed children, list appends and moves. */
function edit(tree: Tree, [kind, a, b]: readonly [number, number, number]): void {
  const group = `${SRC}/g${a % 6}`;
  switch (kind) {
    case 0:
      tree.set(`${group}/f${b % 12}`, text(`edit ${a}.${b}`));
      return;
    case 1:
      tree.set(`${group}/n${b % 5}`, u64(BigInt(a)));
      return;
    case 2:
      tree.remove(`${group}/f${b % 12}`);
      return;
    case 3:
      if (tree.get(`${SRC}/log`) !== undefined) tree.append(`${SRC}/log`, text(`more ${a}`));
      return;
    default: {
      const log = tree.get(`${SRC}/log`);
      if (log !== undefined && log.children().length > 1) tree.move(`${SRC}/log`, a % log.children().length, b % log.children().length);
    }
  }
}

describe('bundles split across beats', () => {
  it('apply whole and exactly once: random part and beat budgets, breaks and receiver restarts', async () => {
    const step = fc.record({
      edits: fc.array(fc.tuple(fc.nat(4), fc.nat(40), fc.nat(40)), { maxLength: 4 }),
      // 1 in 10 beats breaks the channel, 1 in 14 restarts the receiver on its saved tree.
      brk: fc.nat(9).map((n) => n === 0),
      restart: fc.nat(13).map((n) => n === 0),
      // A restarted receiver may read the packed form or not (a packed epoch is then not resumed).
      packed: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 10, maxLength: 40 }),
        // Below the snapshot's size in either content form, so it always travels in several parts.
        fc.integer({ min: 300, max: 1200 }),
        fc.integer({ min: 1, max: 8000 }),
        fc.constantFrom(1, 2),
        fc.constantFrom(1, 3),
        fc.constantFrom('stream', 'stream', 'batch'),
        async (steps, partBytes, beatBytes, window, maxInfl, commitMode) => {
          const network = memoryNetwork();
          const applies: ApplyEvent[] = [];
          const sealed = new Set<string>(['absent']);
          let multiBeat = 0;
          const saturn = peer('saturn', network, {
            partBytes,
            beatBytes,
            // The state each bundle carries: the receiver may only ever show one of these.
            onSeal: (e) => {
              sealed.add(branchDigest(saturn.tree, SRC));
              if (e.parts.length > 1) multiBeat++;
            },
          });
          await saturn.manager.listen('memory', 'saturn');
          const receiverOptions: MirrorOptions = { retry: { first: 1, max: 2 }, onApply: (e) => applies.push(e) };
          let earth = peer('earth', network, receiverOptions);
          seed(saturn.tree, 6, 12);
          fileRequest(earth.tree, 'r1', { window, maxInfl, commitMode });
          const beat = async (): Promise<void> => {
            await settle();
            earth.runtime.step();
            // All or nothing: between beats the copy is the state of some sealed bundle, never a mix.
            expect(sealed).toContain(branchDigest(earth.tree, SRC));
            await settle();
            saturn.runtime.step();
          };
          for (const s of steps) {
            for (const e of s.edits) edit(saturn.tree, e);
            if (s.brk) {
              const channel = memoryHooks(earth.provider)
                .channels()
                .find((c) => c.info.mount === 'main');
              if (channel !== undefined) memoryHooks(earth.provider).raise(channel, { type: 'fatal' });
            }
            if (s.restart) {
              const saved = copyTree(earth.tree);
              await earth.manager.close();
              earth = peer('earth', network, { ...receiverOptions, packedContent: s.packed }, saved);
            }
            await beat();
          }
          for (let i = 0; i < 400; i++) {
            if (
              field(earth.tree, 'r1', 'state') === 'active' &&
              saturn.tree.getValue(`${SERVING}/inflight`)?.value === 0n &&
              branchDigest(earth.tree, SRC) === branchDigest(saturn.tree, SRC)
            )
              break;
            await beat();
          }
          expect(branchDigest(earth.tree, SRC)).toBe(branchDigest(saturn.tree, SRC));
          const counts = new Map<string, number>();
          for (const a of applies) counts.set(`${a.epoch}:${a.seq}`, (counts.get(`${a.epoch}:${a.seq}`) ?? 0) + 1);
          expect([...counts.values()].every((n) => n === 1)).toBe(true);
          // No observeClock given: no clock was read, nothing timed.
          expect(applies.every((a) => a.seconds === undefined)).toBe(true);
          expect(multiBeat).toBeGreaterThan(0); // the snapshot (about 160 cells) never fits one part
          for (const close of closers.splice(0).reverse()) await close();
        },
      ),
      { numRuns: 25, seed: Number(process.env.MIRROR_SEED ?? 20261202) },
    );
  }, 120_000);

  it('a snapshot larger than the beat budget is sent over several beats and staged as it arrives', async () => {
    const network = memoryNetwork();
    const saturn = peer('saturn', network, { partBytes: 2000, beatBytes: 2000 });
    await saturn.manager.listen('memory', 'saturn');
    const applies: ApplyEvent[] = [];
    // A clock for observers only: each read moves it 0.25 s, so one apply reads it twice (0.25 s).
    let clockReads = 0;
    const observeClock = (): number => 0.25 * clockReads++;
    // Serializer records per cell (the sizes below are theirs); the packed form has its own test.
    const earth = peer('earth', network, { onApply: (e) => applies.push(e), observeClock, packedContent: false });
    seed(saturn.tree, 10, 20);
    fileRequest(earth.tree, 'r1');
    await stepUntilFirstBundle(earth, saturn, 200);
    expect(branchDigest(earth.tree, SRC)).toBe(branchDigest(saturn.tree, SRC));
    expect(applies).toHaveLength(1);
    expect(applies[0]!.seconds).toBe(0.25);
    expect(clockReads).toBe(2); // read around the apply only, never while deciding a beat
    expect(sourceBundle(saturn, 1, 'parts')).toBeGreaterThan(5);
    // One part per beat: the last one went out beats after the seal.
    expect(sourceBundle(saturn, 1, 'sent_beat')! - sourceBundle(saturn, 1, 'started_beat')!).toBeGreaterThan(4);
    // The staged branch was adopted at the commit beat: its cells carry that beat.
    const commit = Number(field(earth.tree, 'r1', 'commit_beat'));
    expect(earth.tree.get(`${SRC}/g3/f7`)!.created).toBe(commit);
  });

  it('packed content: a snapshot split over beats is staged part by part and applied once, and frames are several times smaller', async () => {
    const bytesBy = { packed: 0, records: 0 };
    const run = async (packedContent: boolean): Promise<void> => {
      const network = memoryNetwork();
      const saturn = peer('saturn', network, {
        partBytes: 600,
        beatBytes: 600,
        onSend: (e) => void (bytesBy[packedContent ? 'packed' : 'records'] += e.bytes),
      });
      await saturn.manager.listen('memory', 'saturn');
      const applies: ApplyEvent[] = [];
      const earth = peer('earth', network, { onApply: (e) => applies.push(e), packedContent });
      seed(saturn.tree, 10, 20);
      fileRequest(earth.tree, 'r1');
      await stepUntilFirstBundle(earth, saturn, 400);
      expect(branchDigest(earth.tree, SRC)).toBe(branchDigest(saturn.tree, SRC));
      expect(applies).toHaveLength(1);
      expect(sourceBundle(saturn, 1, 'parts')).toBeGreaterThan(3);
      expect(sourceBundle(saturn, 1, 'sent_beat')! - sourceBundle(saturn, 1, 'started_beat')!).toBeGreaterThan(2);
    };
    await run(true);
    await run(false);
    expect(bytesBy.packed * 3).toBeLessThan(bytesBy.records);
  });

  it('a receiver restarted without the packed form does not resume a packed epoch; one with it does', async () => {
    const epochAfterRestart = async (packedAgain: boolean): Promise<{ before: string; after: string }> => {
      const network = memoryNetwork();
      const saturn = peer('saturn', network, { partBytes: 600, beatBytes: 600 });
      await saturn.manager.listen('memory', 'saturn');
      let earth = peer('earth', network, { retry: { first: 1, max: 2 } });
      seed(saturn.tree, 4, 10);
      fileRequest(earth.tree, 'r1', { maxInfl: 3 });
      const beat = async (): Promise<void> => {
        await settle();
        earth.runtime.step();
        await settle();
        saturn.runtime.step();
      };
      for (let i = 0; i < 200 && field(earth.tree, 'r1', 'bundle_seq') !== 1n; i++) await beat();
      const before = String(field(earth.tree, 'r1', 'pend_resum')).split(':')[0]!;
      // A change sealed and (partly) sent, then the receiver stops and comes back on its saved tree.
      saturn.tree.set(`${SRC}/g1/f1`, text('changed'));
      await beat();
      await beat();
      const saved = copyTree(earth.tree);
      await earth.manager.close();
      earth = peer('earth', network, { retry: { first: 1, max: 2 }, packedContent: packedAgain }, saved);
      for (let i = 0; i < 300 && branchDigest(earth.tree, SRC) !== branchDigest(saturn.tree, SRC); i++) await beat();
      expect(branchDigest(earth.tree, SRC)).toBe(branchDigest(saturn.tree, SRC));
      for (const close of closers.splice(0).reverse()) await close();
      return { before, after: String(field(earth.tree, 'r1', 'pend_resum')).split(':')[0]! };
    };
    const kept = await epochAfterRestart(true);
    expect(kept.after).toBe(kept.before);
    const fresh = await epochAfterRestart(false);
    expect(fresh.after).not.toBe(fresh.before);
  });

  it('the per-beat budget counts encoded frame bytes: parts go until beatBytes is reached, no further', async () => {
    const network = memoryNetwork();
    // A 900-byte part estimate encodes to several KB here, so counting estimates would send ~30 parts a beat.
    const BUDGET = 25_000;
    const saturn = peer('saturn', network, { partBytes: 900, beatBytes: BUDGET });
    await saturn.manager.listen('memory', 'saturn');
    const earth = peer('earth', network, { packedContent: false });
    seed(saturn.tree, 20, 20);
    fileRequest(earth.tree, 'r1');
    const sent = new Map<number, number[]>();
    let watched: unknown;
    for (let i = 0; i < 300 && field(earth.tree, 'r1', 'bundle_seq') !== 1n; i++) {
      const mount = saturn.manager.mounts().find((m) => m.mode === 'mirror');
      if (mount !== undefined && mount !== watched) {
        watched = mount;
        const send = mount.sendFrame.bind(mount);
        mount.sendFrame = (frame, options) => {
          const beat = saturn.runtime.beat;
          sent.set(beat, [...(sent.get(beat) ?? []), frame.length]);
          return send(frame, options);
        };
      }
      await settle();
      earth.runtime.step();
      await settle();
      saturn.runtime.step();
    }
    expect(branchDigest(earth.tree, SRC)).toBe(branchDigest(saturn.tree, SRC));
    expect(sourceBundle(saturn, 1, 'parts')).toBeGreaterThan(20);
    const perBeat = [...sent.values()];
    // Before its last frame, a beat had sent less than the budget (a control frame may ride along).
    for (const frames of perBeat) expect(frames.slice(0, -1).reduce((a, b) => a + b, 0)).toBeLessThan(BUDGET + 4_000);
    // And the budget is used: some beats send several parts, up to it.
    expect(perBeat.some((frames) => frames.length >= 2 && frames.reduce((a, b) => a + b, 0) >= BUDGET)).toBe(true);
  });

  it('a branch that grows while its bundle is packed: what changed meanwhile is walked part by part too, not packed in one beat', async () => {
    const network = memoryNetwork();
    const sealedAt = new Map<number, number>();
    const sentAt: Array<{ seq: number; beat: number }> = [];
    const saturn = peer('saturn', network, {
      partBytes: 900,
      beatBytes: 25_000,
      onSeal: (e) => void sealedAt.set(e.seq, e.beat),
      onSend: (e) => void sentAt.push({ seq: e.seq, beat: saturn.runtime.beat }),
    });
    await saturn.manager.listen('memory', 'saturn');
    const earth = peer('earth', network, { packedContent: false });
    seed(saturn.tree, 2, 20);
    fileRequest(earth.tree, 'r1');
    // Like a handler that fills a branch over many beats (the demo's sky): a new group of 40
    // cells each beat for 30 beats, faster than the ~3 parts a beat the budget lets go.
    let grown = 0;
    for (let i = 0; i < 600 && (grown < 30 || branchDigest(earth.tree, SRC) !== branchDigest(saturn.tree, SRC)); i++) {
      if (sealedAt.size === 0 && sentAt.length > 0 && grown < 30) {
        const g = grown++;
        saturn.tree.batch(() => {
          for (let k = 0; k < 40; k++) saturn.tree.set(`${SRC}/grown${g}/f${k}`, text(`cell ${g}.${k}`));
        });
      }
      await settle();
      earth.runtime.step();
      await settle();
      saturn.runtime.step();
    }
    expect(grown).toBeGreaterThan(3);
    expect(branchDigest(earth.tree, SRC)).toBe(branchDigest(saturn.tree, SRC));
    expect(saturn.tree.get(`${SRC}/grown${grown - 1}/f39`)).toBeDefined();
    // Bundle 1 carried what grew while it was packed, in many parts …
    const parts1 = sentAt.filter((e) => e.seq === 1);
    expect(parts1.length).toBeGreaterThan(40);
    // … packed as they went: when its last part was packed, at most the part held back and that
    // last one were left to send (packed at once, the changes made during the first walk left
    // dozens of frozen parts queued behind one long beat of the source).
    expect(parts1.filter((e) => e.beat > sealedAt.get(1)!).length).toBeLessThanOrEqual(2);
    // Applied whole, once: the copy went from nothing to a state of the source in one step.
    expect(field(earth.tree, 'r1', 'bundle_seq')).toBeGreaterThanOrEqual(1n);
  });

  it('a replay of the receiver inbound log gives the same tree digest after every beat, across a break and a source restart', async () => {
    const network = memoryNetwork();
    // beatBytes counts encoded frames: about three of these parts (~10 KB each with the test's policy) per beat.
    const saturn = peer('saturn', network, { partBytes: 900, beatBytes: 30_000 });
    await saturn.manager.listen('memory', 'saturn');
    seed(saturn.tree, 6, 15);
    const setup = (runtime: Runtime, manager: TransportManager): void => {
      installMirror(runtime, manager, { localNode: 'earth', retry: { first: 1, max: 2 } });
      fileRequest(runtime.tree, 'r1', { window: 2, maxInfl: 2 });
    };
    const runtime = createRuntime({ tree: createTree() });
    const provider = memory({ network, peer: 'earth', mode: 'reliable' });
    const manager = createTransportManager(runtime, { localNode: 'earth', providers: [provider], addressOf: (p) => p, peerKey: () => KEY });
    closers.push(() => manager.close());
    setup(runtime, manager);
    const digests: string[] = [];
    const ownDigests: string[] = [];
    const BEATS = 90;
    const BREAK = 30;
    const RESTART = 60;
    let staged = false;
    for (let i = 0; i < BEATS; i++) {
      for (let k = 0; k < 3; k++) edit(saturn.tree, [i % 5, i * 7 + k, i * 3 + k]);
      if (i === BREAK) {
        // A break while the source streams a split bundle.
        const channel = memoryHooks(provider)
          .channels()
          .find((c) => c.info.mount === 'main');
        memoryHooks(provider).raise(channel!, { type: 'fatal' });
      }
      if (i === RESTART) {
        // The channel reconnected to a source that restarted: a new session, a resubscription.
        const channel = memoryHooks(provider)
          .channels()
          .find((c) => c.info.mount === 'main');
        memoryHooks(provider).raise(channel!, { type: 'session', id: 'saturn.restarted' });
      }
      await settle();
      runtime.step();
      digests.push(digestHex(runtime.tree.root));
      ownDigests.push(mirrorDigest(runtime.tree));
      const op = runtime.tree.getValue('/net/organs/mirror/requests/r1/op')?.value;
      if (runtime.tree.getValue(`/rt/ops/${String(op)}/bundles/1/staged`)?.value === true) staged = true;
      await settle();
      saturn.runtime.step();
    }
    expect(Number(field(runtime.tree, 'r1', 'bundle_seq'))).toBeGreaterThan(1); // in the epoch after the restart
    expect(field(runtime.tree, 'r1', 'state')).toBe('active');
    expect(staged).toBe(true); // the snapshot went through the scratch tree
    const replayedOwn: string[] = [];
    const replayed = replay(runtime.inboundLog, {
      tree: createTree(),
      beats: BEATS,
      setup: (r) => {
        const m = createTransportManager(r, {
          localNode: 'earth',
          offline: true,
          addressOf: (p) => p,
          peerKey: () => KEY,
          providers: [memory({ network: memoryNetwork(), peer: 'earth', mode: 'reliable' })],
        });
        setup(r, m);
        r.onCommit(() => void 0);
        const step = r.step.bind(r);
        (r as { step: () => ReturnType<Runtime['step']> }).step = () => {
          const report = step();
          replayedOwn.push(mirrorDigest(r.tree));
          return report;
        };
      },
    });
    // The whole tree replays exactly, beat by beat, across the break and the new session (the
    // break's CEI note counts only what the tree decided, never the live wire queue).
    expect(runtime.tree.getValue('/net/mounts/saturn/mirror/main/session_seq')?.value).toBe(2n);
    expect(replayed.digests).toEqual(digests);
    expect(ownDigests).toEqual(replayedOwn);
  });

  it('an invoke on another mount completes while a large mirror is still streaming', async () => {
    const network = memoryNetwork();
    // The beats in which saturn sent mirror parts, and the beat its handler ran the call.
    const partBeats: number[] = [];
    let ranAt: number | undefined;
    const saturn: Peer = peer('saturn', network, { partBytes: 1500, beatBytes: 1500, onSend: () => void partBeats.push(saturn.runtime.beat) });
    const earth = peer('earth', network, {});
    await saturn.manager.listen('memory', 'saturn');
    exposeAdd(saturn.runtime, saturn.manager, (beat) => void (ranAt = beat));
    const invoke = calcCaller(earth);
    seed(saturn.tree, 20, 20);
    fileRequest(earth.tree, 'r1');
    const beat = (): Promise<void> => stepPair(earth, saturn);
    // Wait until the snapshot is on its way: some parts sent, the bundle not applied yet.
    for (let i = 0; i < 100; i++) {
      const started = sourceBundle(saturn, 1, 'started_beat');
      if (started !== undefined && saturn.runtime.beat > started + 3 && calcActive(earth)) break;
      await beat();
    }
    expect(field(earth.tree, 'r1', 'bundle_seq')).toBe(0n);
    expect(sourceBundle(saturn, 1, 'sent_beat')).toBeUndefined(); // still sending
    const submitted = earth.runtime.beat;
    let doneBeat: number | undefined;
    let mirrorSeq: unknown;
    invoke.submit({
      request: 'calc',
      signal: '/sig/add',
      payload: u64(41n),
      timeoutBeats: 1000,
      onComplete: (outcome) => {
        doneBeat = outcome.beat;
        mirrorSeq = field(earth.tree, 'r1', 'bundle_seq');
        expect(outcome.status).toBe('ok');
      },
    });
    for (let i = 0; i < 400 && field(earth.tree, 'r1', 'bundle_seq') !== 1n; i++) await beat();
    expect(field(earth.tree, 'r1', 'bundle_seq')).toBe(1n);
    expect(doneBeat).toBeDefined();
    expect(mirrorSeq).toBe(0n); // the call finished before the mirror's snapshot was applied
    expect(doneBeat! - submitted).toBeLessThanOrEqual(5);
    // The beat that admitted the call was left to it (no part encoded before its reply went), and
    // the mirror went on in the beats around it.
    expect(ranAt).toBeDefined();
    expect(partBeats).not.toContain(ranAt);
    expect(partBeats).toContain(ranAt! - 1);
    expect(partBeats).toContain(ranAt! + 1);
    expect(branchDigest(earth.tree, SRC)).toBe(branchDigest(saturn.tree, SRC));
  });

  it('while another mount of the peer is busy, parts are cut and sent within busyBeatBytes; 16 beats after its last frame, within beatBytes again', async () => {
    let ranAt: number | undefined;
    const { saturn, earth, invoke, sent } = await busyPartsPair((beat) => void (ranAt = beat));
    seed(saturn.tree, 600, 20);
    fileRequest(earth.tree, 'r1');
    const beat = (): Promise<void> => stepPair(earth, saturn);
    for (let i = 0; i < 200 && !(sent.length >= 3 && calcActive(earth)); i++) await beat();
    expect(field(earth.tree, 'r1', 'bundle_seq')).toBe(0n);
    let done = false;
    invoke.submit({ request: 'calc', signal: '/sig/add', payload: u64(41n), timeoutBeats: 1000, onComplete: () => void (done = true) });
    for (let i = 0; i < 2000 && field(earth.tree, 'r1', 'bundle_seq') !== 1n; i++) await beat();
    expect(done).toBe(true);
    expect(field(earth.tree, 'r1', 'bundle_seq')).toBe(1n);
    expect(branchDigest(earth.tree, SRC)).toBe(branchDigest(saturn.tree, SRC));
    const before = sent.filter((s) => s.beat < ranAt!);
    // Cut while busy: the parts from the second beat after the call on (the part packed ahead,
    // and the op already read for the one after it, were cut before the call came).
    const busy = sent.filter((s) => s.beat > ranAt! + 2 && s.beat <= ranAt! + 16);
    // The first part cut after the window is cut in full again (the one packed ahead of it may still be small).
    const after = sent.filter((s) => s.beat > ranAt! + 19);
    expect(before.length).toBeGreaterThan(0);
    expect(busy.length).toBeGreaterThan(4);
    expect(after.length).toBeGreaterThan(0);
    const max = (xs: typeof sent) => Math.max(...xs.map((x) => x.bytes));
    // Parts cut while busy are a fraction of the others (a sealed frame's fixed overhead, ~5.5 KB
    // here, on top of the 1,500 estimated bytes) ...
    expect(max(busy)).toBeLessThan(0.5 * Math.min(max(before), max(after)));
    // ... and go one a beat (a second one would cross the 1,500-byte budget).
    expect(new Set(busy.map((s) => s.beat)).size).toBe(busy.length);
  });

  it('a bundle whose branch is written faster than busy parts carry it goes back to full parts after two delta passes, and ends', async () => {
    const { saturn, earth, invoke, sent } = await busyPartsPair();
    seed(saturn.tree, 20, 20);
    fileRequest(earth.tree, 'r1');
    let written = 0;
    // Every beat: a call (the peer stays busy) and 40 new values, more than a 1,500-byte part carries.
    const beat = async (write: boolean): Promise<void> => {
      if (calcActive(earth)) invoke.submit({ request: 'calc', signal: '/sig/add', payload: u64(1n), timeoutBeats: 1000 });
      if (write)
        saturn.tree.batch(() => {
          for (let i = 0; i < 40; i++, written++)
            saturn.tree.set(`${SRC}/w${Math.floor(written / 50)}/v${written % 50}`, text(`written ${written} `.repeat(3)));
        });
      await stepPair(earth, saturn);
    };
    for (let i = 0; i < 30; i++) await beat(false);
    const first = sent.length;
    for (let i = 0; i < 150; i++) await beat(true);
    const during = sent.slice(first);
    // Small parts while busy, then, the bundle falling behind the writes, full ones again though the calls go on.
    expect(during.some((s) => s.bytes < 8000)).toBe(true);
    expect(during.some((s) => s.bytes > 12000)).toBe(true);
    // The bundles end while the writes go on (none grows until the writer stops), and the copy catches up after.
    expect(saturn.tree.getValue(`${SERVING}/seq`)?.value).toBeGreaterThan(2n);
    for (let i = 0; i < 300 && branchDigest(earth.tree, SRC) !== branchDigest(saturn.tree, SRC); i++) await beat(false);
    expect(branchDigest(earth.tree, SRC)).toBe(branchDigest(saturn.tree, SRC));
  });

  it('a replay of the source inbound log, with calls on another mount during the mirror, leaves the same beats and gives the same digests', async () => {
    const network = memoryNetwork();
    const options: MirrorOptions = { partBytes: 1500, beatBytes: 3000 };
    const partBeats: number[] = [];
    const serve = (runtime: Runtime, manager: TransportManager, parts?: number[]): void => {
      installMirror(runtime, manager, { localNode: 'saturn', ...options, ...(parts ? { onSend: () => void parts.push(runtime.beat) } : {}) });
      exposeAdd(runtime, manager);
      seed(runtime.tree, 12, 20);
    };
    const runtime = createRuntime({ tree: createTree() });
    const provider = memory({ network, peer: 'saturn', mode: 'reliable' });
    const manager = createTransportManager(runtime, { localNode: 'saturn', providers: [provider], addressOf: (p) => p, peerKey: () => KEY });
    closers.push(() => manager.close());
    serve(runtime, manager, partBeats);
    await manager.listen('memory', 'saturn');
    const earth = peer('earth', network, {});
    const invoke = calcCaller(earth);
    fileRequest(earth.tree, 'r1');
    const digests: string[] = [];
    let done = 0;
    const BEATS = 120;
    for (let i = 0; i < BEATS; i++) {
      // A call every third beat once the invoke mount is up: the mirror leaves some beats to them.
      if (i % 3 === 0 && calcActive(earth))
        invoke.submit({ request: 'calc', signal: '/sig/add', payload: u64(BigInt(i)), timeoutBeats: 1000, onComplete: () => void done++ });
      await settle();
      earth.runtime.step();
      await settle();
      runtime.step();
      digests.push(mirrorDigest(runtime.tree));
    }
    expect(field(earth.tree, 'r1', 'bundle_seq')).toBe(1n);
    expect(branchDigest(earth.tree, SRC)).toBe(branchDigest(runtime.tree, SRC));
    expect(done).toBeGreaterThan(5);
    // Some beats were left to the calls while parts were still due (a beat without parts between two with).
    const gaps = partBeats.filter((b, i) => i > 0 && b - partBeats[i - 1]! === 2);
    expect(gaps.length).toBeGreaterThan(0);
    const replayedParts: number[] = [];
    const replayedDigests: string[] = [];
    const replayed = replay(runtime.inboundLog, {
      tree: createTree(),
      beats: BEATS,
      setup: (r) => {
        const m = createTransportManager(r, {
          localNode: 'saturn',
          offline: true,
          addressOf: (p) => p,
          peerKey: () => KEY,
          providers: [memory({ network: memoryNetwork(), peer: 'saturn', mode: 'reliable' })],
        });
        serve(r, m, replayedParts);
        const step = r.step.bind(r);
        (r as { step: () => ReturnType<Runtime['step']> }).step = () => {
          const report = step();
          replayedDigests.push(mirrorDigest(r.tree));
          return report;
        };
      },
    });
    expect(replayed.digests).toHaveLength(BEATS);
    // The same parts in the same beats (the same beats left to the calls), and the same records every beat.
    expect(replayedParts).toEqual(partBeats);
    expect(replayedDigests).toEqual(digests);
  });

  it('a split bundle delivered again after it was applied is acknowledged at its first part', async () => {
    pair = await memoryPair({ saturn: { partBytes: 700 } });
    const p = pair;
    p.saturn.tree.set(`${SRC}/n`, u64(0n));
    fileRequest(p.earth.tree, 'r1');
    await p.until(() => p.earth.applies.length === 1 && p.saturn.tree.getValue(`${SERVING}/acked`)?.value === 1n, 20);
    const out = memoryHooks(p.saturn.provider);
    out.capture(saturnChannel(p));
    // Large enough for several parts of 700 bytes in either form (packed values of one dictionary travel as an `add`).
    for (let i = 0; i < 12; i++) p.saturn.tree.set(`${SRC}/k${'abcdefghijkl'[i]}`, text(`value ${i} `.repeat(24)));
    await p.until(() => sourceBundle(p.saturn as unknown as Peer, 2, 'sent_beat') !== undefined, 20);
    const parts = out.takeOutbound(saturnChannel(p));
    expect(parts.length).toBeGreaterThan(2);
    out.capture(saturnChannel(p), false);
    const inn = memoryHooks(p.earth.provider);
    for (const part of parts) inn.inject(earthChannel(p), part);
    await p.until(() => p.earth.applies.length === 2, 10);
    // The first part again, as after a provider reconnect that lost the ack: the source would
    // send only two beats' budget more, so the receiver acknowledges at once, and applies nothing.
    inn.capture(earthChannel(p));
    inn.inject(earthChannel(p), parts[0]!);
    await p.beats(1);
    expect(inn.takeOutbound(earthChannel(p))).toHaveLength(1);
    expect(p.earth.applies).toHaveLength(2);
    inn.capture(earthChannel(p), false);
  });
});
