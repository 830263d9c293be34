import { afterEach, describe, expect, it } from 'vitest';
import { text, u64 } from '@cep/cells';
import { isCepError } from '@cep/errors';
import { at, branchDigest, field, fileRequest, memoryPair, type Pair } from './helpers.ts';

const SRC = '/data/shared';

let pair: Pair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

function seed(p: Pair): void {
  p.saturn.tree.set(`${SRC}/title`, text('hello'));
  p.saturn.tree.set(`${SRC}/stats/count`, u64(3n));
  p.saturn.tree.ensureList(`${SRC}/log`);
  p.saturn.tree.append(`${SRC}/log`, text('first'));
}

const topics = (facts: readonly { topic: string }[]) => facts.map((f) => f.topic);

describe('a mirror request', () => {
  it('becomes a mount, goes pending → active, and the first bundle is the whole branch', async () => {
    pair = await memoryPair();
    const p = pair;
    seed(p);
    fileRequest(p.earth.tree, 'r1');
    await p.beats(1);
    expect(field(p.earth.tree, 'r1', 'state')).toBe('pending');
    expect(at(p.earth.tree, '/net/mounts/saturn/mirror/main/caps/required/reliable')).toBe(true);
    await p.until(() => field(p.earth.tree, 'r1', 'bundle_seq') === 1n, 20);
    expect(field(p.earth.tree, 'r1', 'state')).toBe('active');
    expect(field(p.earth.tree, 'r1', 'provider')).toBe('memory');
    expect(field(p.earth.tree, 'r1', 'error_note')).toBeUndefined();
    expect(branchDigest(p.earth.tree, SRC)).toBe(branchDigest(p.saturn.tree, SRC));
    const epoch = at(p.saturn.tree, '/net/organs/mirror/serving/earth/main/epoch') as string;
    expect(field(p.earth.tree, 'r1', 'pend_resum')).toBe(`${epoch}:1`);
    expect(field(p.earth.tree, 'r1', 'commit_beat')).toBe(BigInt(p.earth.applies[0]!.beat));
    expect(p.saturn.seals[0]).toMatchObject({ seq: 1, ops: 1 });
    expect(at(p.saturn.tree, '/net/organs/mirror/serving/earth/main/src_chan')).toBe(SRC);
  });

  it('mirrors into dst_chan when given; without caps it asks for reliable and ordered', async () => {
    pair = await memoryPair();
    const p = pair;
    seed(p);
    fileRequest(p.earth.tree, 'r1', { dst: '/copies/saturn' });
    p.earth.tree.remove('/net/organs/mirror/requests/r1/caps'); // no caps: reliable and ordered, as in the reference
    await p.beats(1);
    expect(at(p.earth.tree, '/net/mounts/saturn/mirror/main/caps/required/reliable')).toBe(true);
    expect(at(p.earth.tree, '/net/mounts/saturn/mirror/main/caps/required/ordered')).toBe(true);
    await p.until(() => field(p.earth.tree, 'r1', 'bundle_seq') === 1n, 20);
    expect(branchDigest(p.earth.tree, '/copies/saturn')).toBe(branchDigest(p.saturn.tree, SRC));
    expect(p.earth.tree.get(SRC)).toBeUndefined();
  });

  it.each([
    ['src_chan missing', { extra: {} }, 'src_chan', (t: import('@cep/cells').Tree) => t.remove('/net/organs/mirror/requests/r1/src_chan')],
    ['src_chan not absolute', { src: 'data/shared' }, 'src_chan'],
    ['src_chan the root', { src: '/' }, 'src_chan'],
    ['beat_window 0', { window: 0 }, 'bundle/beat_window'],
    ['max_infl of the wrong type', { extra: { 'bundle/max_infl': text('2') } }, 'bundle/max_infl'],
    ['commit_mode unknown', { commitMode: 'sometimes' }, 'bundle/commit_mode'],
    ['resume_tok malformed', { resumeTok: 'nonsense' }, 'bundle/resume_tok'],
    ['src_peer another peer', { extra: { src_peer: text('pluto') } }, 'src_peer'],
    ['mode other than mirror', { extra: { mode: text('link') } }, 'mode'],
    ['peer not a word', { peer: 'Saturn!' }, 'peer'],
  ] as const)(
    '%s → state error, error_note naming the field, tp_schema, no mount',
    async (_label, fields, named, mutate?: (t: import('@cep/cells').Tree) => void) => {
      pair = await memoryPair();
      const p = pair;
      fileRequest(p.earth.tree, 'r1', fields as Parameters<typeof fileRequest>[2]);
      mutate?.(p.earth.tree);
      await p.beats(2);
      expect(field(p.earth.tree, 'r1', 'state')).toBe('error');
      expect(String(field(p.earth.tree, 'r1', 'error_note'))).toMatch(new RegExp(`^${named.replace('/', '\\/')}: `));
      expect(topics(p.earth.facts)).toContain('tp_schema');
      expect(p.earth.manager.mounts()).toHaveLength(0);
    },
  );

  it('a second request for the same mount is a conflict (tp_mconf); the first keeps mirroring', async () => {
    pair = await memoryPair();
    const p = pair;
    seed(p);
    fileRequest(p.earth.tree, 'r1');
    await p.until(() => field(p.earth.tree, 'r1', 'state') === 'active', 20);
    fileRequest(p.earth.tree, 'r2', { dst: '/elsewhere' });
    await p.beats(1);
    expect(field(p.earth.tree, 'r2', 'state')).toBe('error');
    expect(field(p.earth.tree, 'r2', 'error_note')).toMatch(/^mount: .*request r1/);
    expect(p.earth.facts.find((f) => f.topic === 'tp_mconf')?.note).toContain('r2');
    expect(at(p.earth.tree, '/net/peers/saturn/ceh/tp_mconf/severity')).toBe('error');
    p.saturn.tree.set(`${SRC}/title`, text('still here'));
    await p.until(() => field(p.earth.tree, 'r1', 'bundle_seq') === 2n, 20);
    expect(branchDigest(p.earth.tree, SRC)).toBe(branchDigest(p.saturn.tree, SRC));
  });

  it('overlapping destinations and a mount configured by someone else are conflicts too', async () => {
    pair = await memoryPair();
    const p = pair;
    fileRequest(p.earth.tree, 'r1');
    fileRequest(p.earth.tree, 'r2', { mount: 'other', src: '/data/shared/title' });
    p.earth.manager.configure({ peer: 'saturn', mode: 'mirror', mount: 'taken' });
    fileRequest(p.earth.tree, 'r3', { mount: 'taken', dst: '/data/three' });
    await p.beats(1);
    expect(field(p.earth.tree, 'r1', 'state')).toBe('pending');
    expect(field(p.earth.tree, 'r2', 'error_note')).toMatch(/^src_chan: \/data\/shared\/title overlaps \/data\/shared/);
    expect(field(p.earth.tree, 'r3', 'error_note')).toMatch(/^mount: saturn\/mirror\/taken is already configured/);
    expect(p.earth.facts.filter((f) => f.topic === 'tp_mconf')).toHaveLength(2);
  });

  it('a deadline already passed: tp_mtimeout at once, no mount is configured', async () => {
    pair = await memoryPair();
    const p = pair;
    await p.beats(3);
    fileRequest(p.earth.tree, 'r1', { deadline: 2 });
    await p.beats(1);
    expect(field(p.earth.tree, 'r1', 'state')).toBe('error');
    expect(field(p.earth.tree, 'r1', 'error_note')).toMatch(/^deadline: beat 2 had passed/);
    expect(topics(p.earth.facts)).toEqual(['tp_mtimeout']);
    expect(p.earth.manager.mounts()).toHaveLength(0);
  });

  it('not active by its deadline (nobody serves): tp_mtimeout, the mount removed, the dossier closed fail', async () => {
    pair = await memoryPair();
    const p = pair;
    p.saturn.mirror.uninstall(); // saturn accepts the channel but never answers
    fileRequest(p.earth.tree, 'r1', { deadline: 6 });
    await p.beats(5);
    expect(field(p.earth.tree, 'r1', 'state')).toBe('pending');
    await p.beats(3);
    expect(field(p.earth.tree, 'r1', 'state')).toBe('error');
    expect(field(p.earth.tree, 'r1', 'error_note')).toBe('deadline: not active by beat 6');
    expect(at(p.earth.tree, '/net/peers/saturn/ceh/tp_mtimeout/severity')).toBe('error');
    expect(p.earth.manager.get('saturn', 'mirror', 'main')).toBeUndefined();
    const op = field(p.earth.tree, 'r1', 'op') as string;
    await p.beats(2);
    expect(at(p.earth.tree, `/rt/ops/${op}/close/status`)).toBe('fail');
  });

  it('a deadline met is forgotten: later breaks do not time the request out', async () => {
    pair = await memoryPair();
    const p = pair;
    seed(p);
    fileRequest(p.earth.tree, 'r1', { deadline: 8 });
    await p.until(() => field(p.earth.tree, 'r1', 'state') === 'active', 8);
    p.earth.manager.get('saturn', 'mirror', 'main')!.close('test');
    await p.beats(10);
    expect(field(p.earth.tree, 'r1', 'state')).toBe('active');
    expect(topics(p.earth.facts)).not.toContain('tp_mtimeout');
  });

  it('removing the request unsubscribes, closes and removes the mount, and clears the source side', async () => {
    pair = await memoryPair();
    const p = pair;
    seed(p);
    fileRequest(p.earth.tree, 'r1');
    await p.until(() => field(p.earth.tree, 'r1', 'bundle_seq') === 1n, 20);
    const op = field(p.earth.tree, 'r1', 'op') as string;
    const sourceOp = at(p.saturn.tree, '/net/organs/mirror/serving/earth/main/op') as string;
    p.earth.tree.remove('/net/organs/mirror/requests/r1');
    await p.beats(3);
    expect(p.earth.manager.get('saturn', 'mirror', 'main')).toBeUndefined();
    expect(p.earth.tree.get('/net/mounts/saturn/mirror/main')).toBeUndefined();
    expect(p.earth.tree.get('/net/telemetry/saturn/main')).toBeUndefined();
    expect(at(p.earth.tree, `/rt/ops/${op}/close/status`)).toBe('cxl');
    expect(at(p.earth.tree, `/rt/ops/${op}/mirror/state`)).toBe('removed');
    expect(p.saturn.tree.get('/net/organs/mirror/serving/earth')).toBeUndefined();
    expect(at(p.saturn.tree, `/rt/ops/${sourceOp}/close/status`)).toBe('ok');
    expect(at(p.saturn.tree, `/rt/ops/${sourceOp}/close/summary`)).toBe('unsubscribed');
    // The copy stays; the source no longer feeds it.
    p.saturn.tree.set(`${SRC}/title`, text('changed'));
    await p.beats(3);
    expect(p.earth.tree.getValue(`${SRC}/title`)).toEqual(text('hello'));
  });

  it('a soft-deleted request is torn down the same way', async () => {
    pair = await memoryPair();
    const p = pair;
    fileRequest(p.earth.tree, 'r1');
    await p.until(() => field(p.earth.tree, 'r1', 'state') === 'active', 20);
    p.earth.tree.delete('/net/organs/mirror/requests/r1');
    await p.beats(2);
    expect(p.earth.manager.get('saturn', 'mirror', 'main')).toBeUndefined();
    expect(p.earth.tree.get('/net/organs/mirror/requests/r1')).toBeUndefined();
    expect(p.saturn.tree.get('/net/organs/mirror/serving/earth')).toBeUndefined();
  });

  it('a branch the source does not publish is refused: state error with its note, tp_schema', async () => {
    pair = await memoryPair({ saturn: { canPublish: (peer, path) => peer !== 'earth' || !path.startsWith('/data/secret') } });
    const p = pair;
    fileRequest(p.earth.tree, 'r1', { src: '/data/secret' });
    await p.until(() => field(p.earth.tree, 'r1', 'state') === 'error', 20);
    expect(field(p.earth.tree, 'r1', 'error_note')).toBe('the source refused: /data/secret is not published to earth');
    expect(topics(p.earth.facts)).toContain('tp_schema');
    expect(p.earth.manager.get('saturn', 'mirror', 'main')).toBeUndefined();
  });

  it('a destination the receiver refuses (canReceive) is an error before anything is dialled, also with dst_chan absent', async () => {
    pair = await memoryPair({ earth: { canReceive: (path) => !path.startsWith('/sys') } });
    const p = pair;
    fileRequest(p.earth.tree, 'r1', { dst: '/sys/security' });
    fileRequest(p.earth.tree, 'r2', { src: '/sys/other', mount: 'second' });
    await p.until(() => field(p.earth.tree, 'r1', 'state') === 'error' && field(p.earth.tree, 'r2', 'state') === 'error', 20);
    expect(field(p.earth.tree, 'r1', 'error_note')).toBe('dst_chan: /sys/security may not be a mirror destination on this peer');
    expect(field(p.earth.tree, 'r2', 'error_note')).toBe('src_chan: /sys/other may not be a mirror destination on this peer');
    expect(topics(p.earth.facts)).toContain('tp_schema');
    expect(p.earth.manager.get('saturn', 'mirror', 'main')).toBeUndefined();
    expect(p.earth.tree.get('/sys/security')).toBeUndefined();
  });

  it('changing the request resubscribes with its token: same epoch, no second snapshot', async () => {
    pair = await memoryPair();
    const p = pair;
    seed(p);
    fileRequest(p.earth.tree, 'r1');
    await p.until(() => field(p.earth.tree, 'r1', 'bundle_seq') === 1n, 20);
    p.earth.tree.set('/net/organs/mirror/requests/r1/bundle/beat_window', u64(2n));
    await p.beats(3);
    p.saturn.tree.set(`${SRC}/title`, text('after the change'));
    await p.until(() => field(p.earth.tree, 'r1', 'bundle_seq') === 2n, 20);
    expect(new Set(p.earth.applies.map((a) => a.epoch)).size).toBe(1);
    expect(p.saturn.seals.map((s) => s.seq)).toEqual([1, 2]);
    expect(at(p.saturn.tree, `/rt/ops/${at(p.saturn.tree, '/net/organs/mirror/serving/earth/main/op')}/envelope/beat_window`)).toBe(2n);
    expect(branchDigest(p.earth.tree, SRC)).toBe(branchDigest(p.saturn.tree, SRC));
  });

  it('commit() of an unknown request throws MIRROR_NOT_FOUND; bad options throw MIRROR_OPTION_INVALID', async () => {
    pair = await memoryPair();
    let error: unknown;
    try {
      pair.earth.mirror.commit('nope');
    } catch (e) {
      error = e;
    }
    expect(isCepError(error, 'MIRROR_NOT_FOUND')).toBe(true);
    const { installMirror } = await import('@cep/organ-mirror');
    expect(() => installMirror(pair!.earth.runtime, pair!.earth.manager, { kind: 'other', partBytes: 0 })).toThrow(
      expect.objectContaining({ code: 'MIRROR_OPTION_INVALID' }),
    );
    expect(() => installMirror(pair!.earth.runtime, pair!.earth.manager, { kind: 'Bad Kind!' })).toThrow(
      expect.objectContaining({ code: 'MIRROR_OPTION_INVALID' }),
    );
  });
});
