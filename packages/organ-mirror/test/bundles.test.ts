import { afterEach, describe, expect, it } from 'vitest';
import { text, u64, type Tree } from '@cep/cells';
import { DEFAULT_MAX_INFLIGHT } from '../src/index.ts';
import { applyCounts, at, branchDigest, field, fileRequest, memoryPair, settle, type Pair } from './helpers.ts';

const SRC = '/data/shared';

let pair: Pair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

/** Bundle envelopes recorded in a dossier, by seq. */
function dossierBundles(tree: Tree, op: string): Map<number, Record<string, unknown>> {
  const out = new Map<number, Record<string, unknown>>();
  for (const b of tree.get(`/rt/ops/${op}/bundles`)?.children() ?? []) {
    const fields: Record<string, unknown> = {};
    for (const f of b.children()) fields[f.name.tag.text] = f.value?.value;
    out.set(Number(b.name.tag.text), fields);
  }
  return out;
}

async function active(p: Pair, fields: Parameters<typeof fileRequest>[2] = {}): Promise<void> {
  p.saturn.tree.set(`${SRC}/n`, u64(0n));
  fileRequest(p.earth.tree, 'r1', fields);
  await p.until(() => field(p.earth.tree, 'r1', 'state') === 'active', 20);
}

describe('commit modes', () => {
  it('stream: each bundle is applied at the capture that admits it', async () => {
    pair = await memoryPair();
    const p = pair;
    await active(p, { maxInfl: 4 });
    for (let i = 1; i <= 6; i++) {
      p.saturn.tree.set(`${SRC}/n`, u64(BigInt(i)));
      await p.beats(1);
    }
    await p.until(() => branchDigest(p.earth.tree, SRC) === branchDigest(p.saturn.tree, SRC), 20);
    const bundles = dossierBundles(p.earth.tree, field(p.earth.tree, 'r1', 'op') as string);
    expect(bundles.size).toBeGreaterThanOrEqual(3);
    for (const b of bundles.values()) expect(b.applied_beat).toBe(b.received_beat);
    expect(field(p.earth.tree, 'r1', 'held')).toBe(0n);
  });

  it('batch: bundles wait and are applied together at the window boundary', async () => {
    pair = await memoryPair();
    const p = pair;
    await active(p, { commitMode: 'batch', window: 3, maxInfl: 4 });
    let sawHeld = false;
    for (let i = 1; i <= 12; i++) {
      p.saturn.tree.set(`${SRC}/n`, u64(BigInt(i)));
      await p.beats(1);
      if ((field(p.earth.tree, 'r1', 'held') as bigint) > 0n) sawHeld = true;
    }
    await p.until(() => branchDigest(p.earth.tree, SRC) === branchDigest(p.saturn.tree, SRC), 30);
    expect(sawHeld).toBe(true);
    expect(p.earth.applies.length).toBeGreaterThan(2);
    for (const a of p.earth.applies) expect((a.beat + 1) % 3).toBe(0);
    const bundles = dossierBundles(p.earth.tree, field(p.earth.tree, 'r1', 'op') as string);
    expect([...bundles.values()].some((b) => (b.applied_beat as bigint) > (b.received_beat as bigint))).toBe(true);
  });

  it('manual: nothing is applied until commit(); max_infl holds the source back (bp_flag, tp_backpr)', async () => {
    pair = await memoryPair();
    const p = pair;
    p.saturn.tree.set(`${SRC}/n`, u64(0n));
    fileRequest(p.earth.tree, 'r1', { commitMode: 'manual', maxInfl: 2 });
    for (let i = 1; i <= 10; i++) {
      p.saturn.tree.set(`${SRC}/n`, u64(BigInt(i)));
      await p.beats(1);
      expect((at(p.saturn.tree, '/net/organs/mirror/serving/earth/main/inflight') as bigint | undefined) ?? 0n).toBeLessThanOrEqual(2n);
    }
    expect(field(p.earth.tree, 'r1', 'state')).toBe('active');
    expect(field(p.earth.tree, 'r1', 'held')).toBe(2n);
    expect(field(p.earth.tree, 'r1', 'bundle_seq')).toBe(0n);
    expect(p.earth.applies).toHaveLength(0);
    expect(p.earth.tree.get(SRC)).toBeUndefined();
    expect(at(p.saturn.tree, '/net/telemetry/earth/main/bp_flag')).toBe(true);
    expect(at(p.saturn.tree, '/net/organs/mirror/serving/earth/main/held')).toBe(true);
    expect(at(p.saturn.tree, '/net/peers/earth/ceh/tp_backpr/severity')).toBe('warn');

    p.earth.mirror.commit('r1');
    await p.beats(1);
    expect(p.earth.applies.map((a) => a.seq)).toEqual([1, 2]);
    expect(new Set(p.earth.applies.map((a) => a.beat)).size).toBe(1); // one boundary, one batch
    expect(field(p.earth.tree, 'r1', 'bundle_seq')).toBe(2n);
    await p.beats(3);
    expect(at(p.saturn.tree, '/net/telemetry/earth/main/bp_flag')).toBe(false);
    // The changes held back meanwhile went into one bundle.
    expect(field(p.earth.tree, 'r1', 'held')).toBe(1n);
    p.earth.mirror.commit('r1');
    await p.until(() => branchDigest(p.earth.tree, SRC) === branchDigest(p.saturn.tree, SRC), 5);
    expect(p.earth.tree.getValue(`${SRC}/n`)).toEqual(u64(10n));
  });
});

describe('limits', () => {
  it.each([
    ['a local maxInflight of 3', { maxInflight: 3 }, 3n],
    ['the default cap', {}, BigInt(DEFAULT_MAX_INFLIGHT)],
  ])('a receiver asking max_infl 1,000,000 gets %s, never more', async (_label, saturn, cap) => {
    pair = await memoryPair({ saturn });
    const p = pair;
    p.saturn.tree.set(`${SRC}/n`, u64(0n));
    // Manual commit: the receiver never acknowledges, so only the source's cap holds it back.
    fileRequest(p.earth.tree, 'r1', { commitMode: 'manual', maxInfl: 1_000_000 });
    let most = 0n;
    for (let i = 1; i <= Number(cap) * 2 + 8; i++) {
      p.saturn.tree.set(`${SRC}/n`, u64(BigInt(i)));
      await p.beats(1);
      const inflight = (at(p.saturn.tree, '/net/organs/mirror/serving/earth/main/inflight') as bigint | undefined) ?? 0n;
      expect(inflight).toBeLessThanOrEqual(cap);
      if (inflight > most) most = inflight;
    }
    expect(most).toBe(cap);
    expect(at(p.saturn.tree, '/net/organs/mirror/serving/earth/main/held')).toBe(true);
    const op = at(p.saturn.tree, '/net/organs/mirror/serving/earth/main/op') as string;
    expect(at(p.saturn.tree, `/rt/ops/${op}/envelope/max_infl`)).toBe(cap);
    expect(at(p.saturn.tree, '/net/organs/mirror/serving/earth/main/max_infl')).toBe(cap);
  });

  it('a slow receiver: never more than max_infl unacknowledged, one seal per window, backpressure shown', async () => {
    pair = await memoryPair();
    const p = pair;
    await active(p, { window: 2, maxInfl: 2 });
    const sealsBefore = p.saturn.seals.length;
    let bpSeen = false;
    for (let i = 1; i <= 40; i++) {
      p.saturn.tree.set(`${SRC}/n`, u64(BigInt(i)));
      p.saturn.tree.set(`${SRC}/log/${i % 5 === 0 ? 'x' : 'y'}`, text(`beat ${i}`));
      await settle();
      if (i % 8 === 0) p.earth.runtime.step(); // earth runs at an eighth of saturn's pace
      await settle();
      p.saturn.runtime.step();
      expect(at(p.saturn.tree, '/net/organs/mirror/serving/earth/main/inflight') as bigint).toBeLessThanOrEqual(2n);
      if (at(p.saturn.tree, '/net/telemetry/earth/main/bp_flag') === true) bpSeen = true;
    }
    const seals = p.saturn.seals.slice(sealsBefore);
    expect(seals.length).toBeGreaterThan(3);
    for (const s of seals) expect(s.beat % 2).toBe(0);
    for (let i = 1; i < seals.length; i++) expect(seals[i]!.beat - seals[i - 1]!.beat).toBeGreaterThanOrEqual(2);
    expect(bpSeen).toBe(true);
    expect(p.saturn.facts.some((f) => f.topic === 'tp_backpr')).toBe(true);
    await p.until(
      () => branchDigest(p.earth.tree, SRC) === branchDigest(p.saturn.tree, SRC) && at(p.saturn.tree, '/net/organs/mirror/serving/earth/main/inflight') === 0n,
      40,
    );
    expect([...applyCounts(p.earth).values()].every((n) => n === 1)).toBe(true);
  });

  it('a branch bigger than a frame part travels in parts and is applied as one bundle', async () => {
    pair = await memoryPair({ saturn: { partBytes: 2000 } });
    const p = pair;
    const s = p.saturn.tree;
    for (let i = 0; i < 200; i++)
      s.set(
        `${SRC}/flat/k${String.fromCharCode(97 + (i % 26))}${Math.floor(i / 26)}`.replace(/\d/g, (d) => 'abcdefghij'[Number(d)]!),
        u64(BigInt(i)),
      );
    s.ensureList(`${SRC}/rows`);
    for (let i = 0; i < 60; i++) s.set([...s.append(`${SRC}/rows`, 'dictionary').path(), 'v'], text(`row ${i}`));
    s.set(`${SRC}/big`, text('x'.repeat(9000)));
    fileRequest(p.earth.tree, 'r1');
    await p.until(() => field(p.earth.tree, 'r1', 'bundle_seq') === 1n, 30);
    expect(p.saturn.seals[0]!.parts.length).toBeGreaterThan(3);
    expect(p.earth.applies).toHaveLength(1);
    expect(branchDigest(p.earth.tree, SRC)).toBe(branchDigest(s, SRC));
    // Later deltas inside the split structures are ordinary small bundles.
    s.move(`${SRC}/rows`, 59, 0);
    s.delete(`${SRC}/flat/kb`);
    await p.until(() => field(p.earth.tree, 'r1', 'bundle_seq') === 2n, 30);
    expect(branchDigest(p.earth.tree, SRC)).toBe(branchDigest(s, SRC));
  });

  it('a bundle that cannot be applied changes nothing: state error, tp_schema, the mount goes', async () => {
    pair = await memoryPair();
    const p = pair;
    p.saturn.tree.set(`${SRC}/title`, text('one'));
    p.saturn.tree.set(`${SRC}/stats/count`, u64(1n));
    fileRequest(p.earth.tree, 'r1');
    await p.until(() => field(p.earth.tree, 'r1', 'bundle_seq') === 1n, 20);
    p.earth.tree.remove(`${SRC}/stats`); // a local write into the mirror: the next bundle no longer fits
    const before = branchDigest(p.earth.tree, SRC);
    p.saturn.tree.set(`${SRC}/title`, text('two'));
    p.saturn.tree.set(`${SRC}/stats/count`, u64(2n));
    await p.until(() => field(p.earth.tree, 'r1', 'state') === 'error', 20);
    expect(field(p.earth.tree, 'r1', 'error_note')).toMatch(/^bundle 2 could not be applied \(nothing was\): mrg: no store at data\/shared\/stats/);
    expect(branchDigest(p.earth.tree, SRC)).toBe(before);
    expect(p.earth.tree.getValue(`${SRC}/title`)).toEqual(text('one'));
    expect(field(p.earth.tree, 'r1', 'bundle_seq')).toBe(1n);
    expect(p.earth.facts.some((f) => f.topic === 'tp_schema' && f.note.includes('bundle 2'))).toBe(true);
    expect(p.earth.manager.get('saturn', 'mirror', 'main')).toBeUndefined();
  });
});

describe('OPS dossiers', () => {
  it('record envelopes, the gate watcher while idle, bundle envelopes and close status on both sides', async () => {
    pair = await memoryPair();
    const p = pair;
    await active(p);
    await p.until(() => at(p.saturn.tree, '/net/organs/mirror/serving/earth/main/acked') === 1n, 10);
    await p.beats(2);
    const e = p.earth.tree;
    const s = p.saturn.tree;
    const recv = field(e, 'r1', 'op') as string;
    const pub = at(s, '/net/organs/mirror/serving/earth/main/op') as string;
    expect(at(e, `/rt/ops/${recv}/verb`)).toBe('mir/sub');
    expect(at(e, `/rt/ops/${recv}/envelope/role`)).toBe('receiver');
    expect(at(e, `/rt/ops/${recv}/envelope/commit_mode`)).toBe('stream');
    expect(at(e, `/rt/ops/${recv}/envelope/src_chan`)).toBe(SRC);
    expect(at(e, `/rt/ops/${recv}/state`)).toBe('await');
    const gate = at(e, `/rt/ops/${recv}/envelope/gate`) as string;
    const watcher = e
      .get(`/rt/ops/${gate}/watchers`)!
      .children()
      .find((w) => !w.isDeleted)!;
    expect(
      at(
        e,
        `${
          '/' +
          watcher
            .path()
            .map((n) => n.tag.text)
            .join('/')
        }/want`,
      ),
    ).toBe('run');
    expect(
      at(
        e,
        `${
          '/' +
          watcher
            .path()
            .map((n) => n.tag.text)
            .join('/')
        }/armed`,
      ),
    ).toBe(false);
    expect(dossierBundles(e, recv).get(1)).toMatchObject({ received_beat: expect.any(BigInt), applied_beat: expect.any(BigInt), cells: 2n });

    expect(at(s, `/rt/ops/${pub}/verb`)).toBe('mir/pub');
    expect(at(s, `/rt/ops/${pub}/envelope/role`)).toBe('source');
    expect(at(s, `/rt/ops/${pub}/envelope/peer`)).toBe('earth');
    expect(dossierBundles(s, pub).get(1)).toMatchObject({
      snapshot: true,
      ops: 1n,
      cells: 2n,
      sealed_beat: expect.any(BigInt),
      sent_beat: expect.any(BigInt),
      acked_beat: expect.any(BigInt),
    });
    const history = s
      .get(`/rt/ops/${pub}/history`)!
      .children()
      .map((h) => h.child('state')!.value!.value);
    expect(history).toEqual(expect.arrayContaining(['plan', 'run', 'await']));

    p.earth.tree.remove('/net/organs/mirror/requests/r1');
    await p.beats(3);
    expect(at(e, `/rt/ops/${recv}/close/status`)).toBe('cxl');
    expect(at(e, `/rt/ops/${gate}/close/status`)).toBe('cxl');
    expect(at(s, `/rt/ops/${pub}/close/status`)).toBe('ok');
  });

  it('keep the envelopes of the newest 16 bundles on both sides, whatever the number of bundles', async () => {
    pair = await memoryPair();
    const p = pair;
    await active(p, { maxInfl: 4 });
    for (let i = 1; i <= 48; i++) {
      p.saturn.tree.set(`${SRC}/n`, u64(BigInt(i)));
      await p.beats(1);
    }
    await p.until(() => branchDigest(p.earth.tree, SRC) === branchDigest(p.saturn.tree, SRC), 40);
    await p.beats(3);
    const recv = field(p.earth.tree, 'r1', 'op') as string;
    const pub = at(p.saturn.tree, '/net/organs/mirror/serving/earth/main/op') as string;
    const live = (t: Tree, op: string) =>
      (t.get(`/rt/ops/${op}/bundles`)?.children() ?? [])
        .filter((b) => !b.isDeleted)
        .map((b) => Number(b.name.tag.text))
        .sort((a, b) => a - b);
    const newest = Number(at(p.saturn.tree, '/net/organs/mirror/serving/earth/main/seq'));
    expect(newest).toBeGreaterThan(16);
    const expected = Array.from({ length: 16 }, (_, i) => newest - 15 + i);
    expect(live(p.saturn.tree, pub)).toEqual(expected);
    expect(live(p.earth.tree, recv)).toEqual(expected);
  });

  it('an idle mirror does not grow its dossier beat by beat', async () => {
    pair = await memoryPair();
    const p = pair;
    await active(p);
    await p.beats(3);
    const op = field(p.earth.tree, 'r1', 'op') as string;
    const pub = at(p.saturn.tree, '/net/organs/mirror/serving/earth/main/op') as string;
    const size = (t: Tree, id: string) => t.get(`/rt/ops/${id}/history`)!.children().length;
    const [a, b] = [size(p.earth.tree, op), size(p.saturn.tree, pub)];
    await p.beats(20);
    expect([size(p.earth.tree, op), size(p.saturn.tree, pub)]).toEqual([a, b]);
  });
});

describe('the source mount policy', () => {
  const policy = (tree: Tree, field: string) => at(tree, `/net/mounts/earth/mirror/main/serializer/${field}`);

  it('the mount a receiver opens to the source does not try deflate (packed parts barely shrink), unless the source is installed with deflate: true', async () => {
    for (const deflate of [undefined, true]) {
      pair = await memoryPair({ saturn: deflate === undefined ? {} : { deflate } });
      const p = pair;
      await active(p);
      expect(policy(p.saturn.tree, 'deflate_ok')).toBe(deflate === true);
      // What the source's mode does not choose keeps the transport's default, AEAD included.
      expect(policy(p.saturn.tree, 'crc32c_ok')).toBe(true);
      expect(policy(p.saturn.tree, 'aead_ok')).toBe(true);
      p.saturn.tree.set(`${SRC}/n`, u64(1n));
      await p.until(() => branchDigest(p.earth.tree, SRC) === branchDigest(p.saturn.tree, SRC), 20);
      await p.close();
      pair = undefined;
    }
  });
});

describe('packed deltas', () => {
  /** The ops of each part of bundle `seq` as sealed on the source: `op` plus `/vb` when its content is packed. */
  const opsOf = (p: Pair, seq: number): string[] =>
    p.saturn.seals
      .filter((s) => s.seq === seq)
      .flatMap((s) => s.parts)
      .flatMap(
        (part) =>
          (part
            .children()
            .find((c) => c.name.tag.text === 'ops')
            ?.children() ?? []) as (typeof part)[],
      )
      .map((op) => {
        const verb = op.children().find((c) => c.name.tag.text === 'op')?.value;
        const packed = op.children().some((c) => c.name.tag.text === 'vb');
        return `${verb?.type === 'text' ? verb.value : '?'}${packed ? '/vb' : ''}`;
      });

  it('values set in a dictionary the receiver has travel packed as an add when there are 4 or more of them; fewer stay in the overlay', async () => {
    for (const packedContent of [true, false]) {
      pair = await memoryPair({ earth: { packedContent } });
      const p = pair;
      await active(p);
      for (const k of 'abcdefgh') p.saturn.tree.set(`${SRC}/many/${k}`, text(`old ${k}`));
      for (const k of 'xy') p.saturn.tree.set(`${SRC}/few/${k}`, text(`old ${k}`));
      await p.until(() => branchDigest(p.earth.tree, SRC) === branchDigest(p.saturn.tree, SRC), 20);
      const seq = p.saturn.seals.length + 1;
      // Six values of `many` (four changed, two new), one of `few`, and a u64 among them.
      for (const k of 'abcd') p.saturn.tree.set(`${SRC}/many/${k}`, text(`new ${k}`));
      p.saturn.tree.set(`${SRC}/many/i`, u64(9n));
      p.saturn.tree.set(`${SRC}/many/j`, text('new j'));
      p.saturn.tree.set(`${SRC}/few/x`, text('new x'));
      await p.until(() => p.saturn.seals.some((s) => s.seq === seq), 20);
      await p.until(() => branchDigest(p.earth.tree, SRC) === branchDigest(p.saturn.tree, SRC), 20);
      expect(opsOf(p, seq).sort()).toEqual(packedContent ? ['add/vb', 'mrg'] : ['mrg']);
      expect(at(p.earth.tree, `${SRC}/many/a`)).toBe('new a');
      expect(at(p.earth.tree, `${SRC}/many/e`)).toBe('old e');
      expect(at(p.earth.tree, `${SRC}/many/i`)).toBe(9n);
      expect(at(p.earth.tree, `${SRC}/few/x`)).toBe('new x');
      expect(at(p.earth.tree, `${SRC}/few/y`)).toBe('old y');
      await p.close();
      pair = undefined;
    }
  });
});
