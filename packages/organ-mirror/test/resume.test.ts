import { afterEach, describe, expect, it } from 'vitest';
import { createTree, text, u64, type Tree } from '@cep/cells';
import { applyBranch, decodeBranch, encodeBranch } from '@cep/serializer';
import { memoryHooks, memoryNetwork } from '@cep/provider-memory';
import { applyCounts, at, branchDigest, earthChannel, field, fileRequest, memoryPair, saturnChannel, type Pair } from './helpers.ts';

const SRC = '/data/shared';

let pair: Pair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

const serving = (p: Pair, f: string) => at(p.saturn.tree, `/net/organs/mirror/serving/earth/main/${f}`);

async function started(fields: Parameters<typeof fileRequest>[2] = {}): Promise<Pair> {
  pair = await memoryPair({ earth: { retry: { first: 1, max: 2 } } });
  const p = pair;
  p.saturn.tree.set(`${SRC}/n`, u64(0n));
  p.saturn.tree.ensureList(`${SRC}/log`);
  p.saturn.tree.append(`${SRC}/log`, text('start'));
  fileRequest(p.earth.tree, 'r1', fields);
  await p.until(() => field(p.earth.tree, 'r1', 'bundle_seq') === 1n && serving(p, 'acked') === 1n, 20);
  return p;
}

function change(p: Pair, i: number): void {
  p.saturn.tree.set(`${SRC}/n`, u64(BigInt(i)));
  p.saturn.tree.append(`${SRC}/log`, text(`entry ${i}`));
}

function breakEarth(p: Pair): void {
  memoryHooks(p.earth.provider).raise(earthChannel(p), { type: 'fatal' });
}

/** After a break: resumed (one epoch), equal, every bundle applied once. */
async function recovered(p: Pair): Promise<void> {
  await p.until(
    () =>
      field(p.earth.tree, 'r1', 'state') === 'active' && serving(p, 'inflight') === 0n && branchDigest(p.earth.tree, SRC) === branchDigest(p.saturn.tree, SRC),
    40,
  );
  change(p, 99);
  await p.until(() => branchDigest(p.earth.tree, SRC) === branchDigest(p.saturn.tree, SRC) && serving(p, 'inflight') === 0n, 20);
  expect([...applyCounts(p.earth).values()].every((n) => n === 1)).toBe(true);
  expect(new Set(p.earth.applies.map((a) => a.epoch)).size).toBe(1);
  expect(p.earth.applies.map((a) => a.seq)).toEqual(p.earth.applies.map((_, i) => i + 1));
}

describe('resume after a break', () => {
  it('before send: changes logged, channel breaks, the source sends them after the receiver is back', async () => {
    const p = await started();
    change(p, 1);
    breakEarth(p);
    await p.beats(1);
    expect(field(p.earth.tree, 'r1', 'state')).toBe('pending');
    expect(field(p.earth.tree, 'r1', 'pend_resum')).toBe(`${serving(p, 'epoch')}:1`);
    await recovered(p);
    expect(p.earth.applies.map((a) => a.seq)).toEqual([1, 2, 3]);
  });

  it('after send, before the ack: the lost bundle is sent again and applied once', async () => {
    const p = await started();
    const hooks = memoryHooks(p.saturn.provider);
    hooks.capture(saturnChannel(p));
    change(p, 1);
    await p.until(() => serving(p, 'seq') === 2n && p.saturn.tree.get(`/rt/ops/${serving(p, 'op')}/bundles/2/sent_beat`) !== undefined, 10);
    expect(hooks.takeOutbound(saturnChannel(p)).length).toBeGreaterThan(0); // the bundle never arrives
    expect(serving(p, 'inflight')).toBe(1n);
    breakEarth(p);
    await recovered(p);
    expect(applyCounts(p.earth).get(`${serving(p, 'epoch')}:2`)).toBe(1);
  });

  it('after the ack: the lost ack does not make the receiver apply the bundle twice', async () => {
    const p = await started();
    const hooks = memoryHooks(p.earth.provider);
    hooks.capture(earthChannel(p));
    change(p, 1);
    await p.until(() => p.earth.applies.length === 2, 10);
    expect(hooks.takeOutbound(earthChannel(p))).toHaveLength(1); // the ack, lost
    expect(serving(p, 'inflight')).toBe(1n);
    breakEarth(p);
    await recovered(p);
    expect(applyCounts(p.earth).get(`${serving(p, 'epoch')}:2`)).toBe(1);
  });

  it('a bundle delivered twice on a live channel is acknowledged twice and applied once', async () => {
    const p = await started();
    const out = memoryHooks(p.saturn.provider);
    const inn = memoryHooks(p.earth.provider);
    out.capture(saturnChannel(p));
    change(p, 1);
    await p.until(() => serving(p, 'seq') === 2n && p.saturn.tree.get(`/rt/ops/${serving(p, 'op')}/bundles/2/sent_beat`) !== undefined, 10);
    const frames = out.takeOutbound(saturnChannel(p));
    inn.capture(earthChannel(p));
    for (const frame of [...frames, ...frames]) inn.inject(earthChannel(p), frame);
    await p.beats(2);
    expect(applyCounts(p.earth).get(`${serving(p, 'epoch')}:2`)).toBe(1);
    const acks = inn.takeOutbound(earthChannel(p));
    expect(acks).toHaveLength(2);
    for (const ack of acks) out.inject(saturnChannel(p), ack);
    out.capture(saturnChannel(p), false);
    inn.capture(earthChannel(p), false);
    await p.until(() => serving(p, 'inflight') === 0n, 5);
    expect(branchDigest(p.earth.tree, SRC)).toBe(branchDigest(p.saturn.tree, SRC));
  });

  it('a split bundle cut short and sent again from its first part (a provider reconnect) is applied once', async () => {
    pair = await memoryPair({ saturn: { partBytes: 700 } });
    const p = pair;
    p.saturn.tree.set(`${SRC}/n`, u64(0n));
    fileRequest(p.earth.tree, 'r1');
    await p.until(() => serving(p, 'acked') === 1n, 20);
    const out = memoryHooks(p.saturn.provider);
    out.capture(saturnChannel(p));
    // Large enough for several parts of 700 bytes in either form (packed values of one dictionary travel as an `add`).
    for (let i = 0; i < 12; i++) p.saturn.tree.set(`${SRC}/k${'abcdefghijkl'[i]}`, text(`value ${i} `.repeat(24)));
    await p.until(() => serving(p, 'seq') === 2n && p.saturn.tree.get(`/rt/ops/${serving(p, 'op')}/bundles/2/sent_beat`) !== undefined, 10);
    const parts = out.takeOutbound(saturnChannel(p));
    expect(parts.length).toBeGreaterThan(2);
    out.capture(saturnChannel(p), false);
    const inn = memoryHooks(p.earth.provider);
    inn.inject(earthChannel(p), parts[0]!); // the old connection died after one part
    await p.beats(1);
    for (const part of parts) inn.inject(earthChannel(p), part); // the new one carries all of them
    await p.until(() => serving(p, 'inflight') === 0n, 10);
    expect(applyCounts(p.earth).get(`${serving(p, 'epoch')}:2`)).toBe(1);
    expect(p.earth.facts.filter((f) => f.topic === 'tp_schema')).toHaveLength(0);
    expect(branchDigest(p.earth.tree, SRC)).toBe(branchDigest(p.saturn.tree, SRC));
  });

  it('a break on the source side, in the middle of a stream of bundles', async () => {
    const p = await started({ maxInfl: 3 });
    for (let i = 1; i <= 8; i++) {
      change(p, i);
      if (i === 4) memoryHooks(p.saturn.provider).raise(saturnChannel(p), { type: 'fatal' });
      await p.beats(1);
    }
    await recovered(p);
  });

  it('a receiver that never comes back: the source keeps its bundles for retainBeats, then lets go', async () => {
    pair = await memoryPair({ saturn: { retainBeats: 5 } });
    const p = pair;
    p.saturn.tree.set(`${SRC}/n`, u64(0n));
    p.saturn.tree.ensureList(`${SRC}/log`);
    fileRequest(p.earth.tree, 'r1');
    await p.until(() => serving(p, 'acked') === 1n, 20);
    const op = serving(p, 'op') as string;
    memoryHooks(p.earth.provider).capture(earthChannel(p)); // the unsub is lost
    p.earth.tree.remove('/net/organs/mirror/requests/r1');
    change(p, 1); // the closed channel reaches saturn; the change is sealed for a receiver that may return
    await p.beats(3);
    expect(serving(p, 'state')).toBe('lost');
    expect(serving(p, 'seq')).toBe(2n); // sealed meanwhile, kept for a return
    await p.beats(4);
    expect(p.saturn.tree.get('/net/organs/mirror/serving/earth')).toBeUndefined();
    expect(at(p.saturn.tree, `/rt/ops/${op}/close/status`)).toBe('cxl');
    expect(at(p.saturn.tree, `/rt/ops/${op}/close/summary`)).toBe('receiver gone for 5 beats');
  });

  it('repeated breaks while resuming still converge, with one epoch', async () => {
    const p = await started({ window: 2, maxInfl: 2 });
    for (let i = 1; i <= 20; i++) {
      change(p, i);
      if (i % 5 === 0) {
        const channel = memoryHooks(p.earth.provider)
          .channels()
          .find((c) => c.info.mount === 'main');
        if (channel !== undefined) memoryHooks(p.earth.provider).raise(channel, { type: 'fatal' });
      }
      await p.beats(1);
    }
    await recovered(p);
  });
});

/** A copy of a whole tree, as a peer that persisted its tree would restart with. */
function copyTree(tree: Tree): Tree {
  const copy = createTree({ beat: tree.beat });
  for (const child of tree.root.children()) {
    if (!child.isDeleted) applyBranch(copy, [child.name], decodeBranch(encodeBranch(child)));
  }
  return copy;
}

describe('a peer restarts', () => {
  it('the receiver, on its persisted tree: resumes from pend_resum in the same epoch, no second snapshot', async () => {
    const network = memoryNetwork();
    pair = await memoryPair({ network });
    let p = pair;
    p.saturn.tree.set(`${SRC}/n`, u64(0n));
    p.saturn.tree.ensureList(`${SRC}/log`);
    fileRequest(p.earth.tree, 'r1');
    for (let i = 1; i <= 3; i++) {
      change(p, i);
      await p.beats(2);
    }
    await p.until(() => serving(p, 'inflight') === 0n && field(p.earth.tree, 'r1', 'bundle_seq') !== 0n, 20);
    const applied = field(p.earth.tree, 'r1', 'bundle_seq') as bigint;
    const epoch = serving(p, 'epoch');
    const saved = copyTree(p.earth.tree);
    const oldOp = field(saved, 'r1', 'op') as string;
    await p.earth.manager.close(); // earth dies
    change(p, 4);
    p.saturn.runtime.step();
    // A new earth process on the saved tree, same network.
    const { createRuntime } = await import('@cep/heartbeat');
    const { createTransportManager } = await import('@cep/transport');
    const { installMirror } = await import('@cep/organ-mirror');
    const { memory } = await import('@cep/provider-memory');
    const runtime = createRuntime({ tree: saved });
    const manager = createTransportManager(runtime, {
      localNode: 'earth',
      providers: [memory({ network, peer: 'earth', mode: 'reliable' })],
      addressOf: (peer) => peer,
      peerKey: () => new Uint8Array(32).fill(7),
    });
    const applies: Array<{ epoch: string; seq: number }> = [];
    installMirror(runtime, manager, { localNode: 'earth', onApply: (a) => applies.push(a) });
    const reborn = { ...p.earth, runtime, tree: saved, manager, applies: applies as never };
    pair = { ...p, earth: reborn as never, close: async () => Promise.all([manager.close(), p.saturn.manager.close()]).then(() => undefined) };
    p = pair;
    p.beats = async (n = 1) => {
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < 6; k++) await new Promise<void>((r) => setImmediate(r));
        runtime.step();
        for (let k = 0; k < 6; k++) await new Promise<void>((r) => setImmediate(r));
        p.saturn.runtime.step();
      }
    };
    for (let i = 0; i < 30 && !(branchDigest(saved, SRC) === branchDigest(p.saturn.tree, SRC) && serving(p, 'inflight') === 0n); i++) await p.beats(1);
    expect(branchDigest(saved, SRC)).toBe(branchDigest(p.saturn.tree, SRC));
    expect(applies.length).toBeGreaterThan(0);
    expect(applies.every((a) => a.epoch === epoch && a.seq > Number(applied))).toBe(true);
    expect(at(saved, `/rt/ops/${oldOp}/close/status`)).toBe('cxl'); // the dead process's dossier is closed
  });

  it('the source, with its state gone: the receiver gets a new epoch and a snapshot, and ends equal', async () => {
    const p = await started();
    change(p, 1);
    await p.until(() => serving(p, 'acked') === 2n, 10);
    const before = new Set(p.earth.applies.map((a) => a.epoch));
    // Saturn "restarts": the publication and its unacknowledged bundles are gone.
    p.saturn.mirror.uninstall();
    const { installMirror } = await import('@cep/organ-mirror');
    p.saturn.tree.remove('/net/organs/mirror');
    const fresh = installMirror(p.saturn.runtime, p.saturn.manager, { localNode: 'saturn', onSeal: (s) => p.saturn.seals.push(s) });
    void fresh;
    change(p, 2);
    breakEarth(p);
    await p.until(() => serving(p, 'inflight') === 0n && branchDigest(p.earth.tree, SRC) === branchDigest(p.saturn.tree, SRC), 40);
    const after = new Set(p.earth.applies.map((a) => a.epoch));
    expect(after.size).toBe(before.size + 1);
    expect([...applyCounts(p.earth).values()].every((n) => n === 1)).toBe(true);
  });
});
