import { afterEach, describe, expect, it } from 'vitest';
import { createTree, digestHex } from '@cep/cells';
import { replay, type Runtime } from '@cep/heartbeat';
import { memory, memoryHooks, memoryNetwork } from '@cep/provider-memory';
import { createTransportManager } from '@cep/transport';
import { installLink, retryDelay, resolveRetry, type RetryOptions } from '@cep/organ-link';
import { beat, closeAll, KEY, peer, read, topics, until, world, writeRequest, type Peer, type Transport } from './helpers.ts';

afterEach(closeAll);

const REQ = '/net/organs/link/requests';
const R = `${REQ}/to_saturn`;
const FIELDS = { peer: 'saturn', mount: 'main', local_node: 'earth' };

const state = (p: Peer) => read(p.tree, `${R}/state`);
const retryBeat = (p: Peer) => read(p.tree, `${R}/retry_beat`);
const retries = (p: Peer) => read(p.tree, `${R}/retries`);
const note = (p: Peer) => String(read(p.tree, `${R}/error_note`));
const saturnSideOpen = (s: Peer) => read(s.tree, '/net/mounts/earth/link/main/state') === 'open';

/** What the request showed after one beat. */
interface Shown {
  readonly beat: number;
  readonly state: unknown;
  readonly retryBeat: bigint | undefined;
  readonly retries: unknown;
}

/** Runs `n` beats of `peers`, one at a time, and returns what earth's request showed after each. */
async function watch(earth: Peer, n: number, ...others: Peer[]): Promise<Shown[]> {
  const shown: Shown[] = [];
  for (let i = 0; i < n; i++) {
    await beat(earth, ...others);
    shown.push({ beat: earth.runtime.beat - 1, state: state(earth), retryBeat: retryBeat(earth) as bigint | undefined, retries: retries(earth) });
  }
  return shown;
}

/** Each redial scheduled in `shown`: the beat the break was shown in, the beat it names, the count. */
function schedules(shown: readonly Shown[]): Array<{ brokeAt: number; retryBeat: number; retries: unknown }> {
  const out: Array<{ brokeAt: number; retryBeat: number; retries: unknown }> = [];
  let last: bigint | undefined;
  for (const s of shown) {
    if (s.retryBeat !== undefined && s.retryBeat !== last) out.push({ brokeAt: s.beat, retryBeat: Number(s.retryBeat), retries: s.retries });
    last = s.retryBeat;
  }
  return out;
}

describe('retry options', () => {
  it('defaults to 8 beats doubling up to 512 with no limit; the delay doubles and is capped', () => {
    expect(resolveRetry(undefined)).toEqual({ first: 8, max: 512, limit: undefined, authMax: 6000 });
    expect(resolveRetry(false)).toBeUndefined();
    const policy = resolveRetry({ first: 3, max: 20 })!;
    expect([1, 2, 3, 4, 5, 60, 10_000].map((n) => retryDelay(policy, n))).toEqual([3, 6, 12, 20, 20, 20, 20]);
  });

  it('after a refusal (AUTH_FAILED) the wait doubles on past max up to authMax', () => {
    const policy = resolveRetry({ first: 3, max: 20, authMax: 100 })!;
    expect([1, 2, 3, 4, 5, 6, 60].map((n) => retryDelay(policy, n, true))).toEqual([3, 6, 12, 24, 48, 96, 100]);
    expect(() => resolveRetry({ max: 50, authMax: 40 })).toThrow(expect.objectContaining({ code: 'ORGAN_OPTION_INVALID' }));
  });

  it('a peer that refuses our key is redialled on the long ceiling; tp_fatal is error once, then warn', async () => {
    const { tcp } = await import('@cep/provider-tcp');
    const { randomBytes } = await import('node:crypto');
    const saturn = peer('saturn', [tcp({ localPeer: 'saturn', keys: { earth: randomBytes(32) } })], () => undefined);
    const listener = await saturn.manager.listen('tcp', '127.0.0.1:0');
    const earth = peer('earth', [tcp({ localPeer: 'earth', keys: { saturn: KEY } })], () => listener.address);
    const severities: string[] = [];
    earth.runtime.cei.onFact((f) => f.topic === 'tp_fatal' && severities.push(f.severity));
    installLink(earth.runtime, earth.manager, { retry: { first: 1, max: 2, authMax: 16 } });
    writeRequest(earth.tree, R, FIELDS);
    const shown: Shown[] = [];
    for (let i = 0; i < 200 && schedules(shown).length < 6; i++) shown.push(...(await watch(earth, 1, saturn)));
    const waits = schedules(shown).map((s) => s.retryBeat - s.brokeAt);
    expect(waits).toEqual([1, 2, 4, 8, 16, 16]);
    expect(note(earth)).toMatch(/AUTH_FAILED/);
    expect(severities[0]).toBe('error');
    expect(severities.slice(1).length).toBeGreaterThan(3);
    expect(new Set(severities.slice(1))).toEqual(new Set(['warn']));
  });

  it('refuses retry values that are not whole numbers ≥ 1, and max below first (ORGAN_OPTION_INVALID)', () => {
    const bad: RetryOptions[] = [{ first: 0 }, { max: 2.5 }, { limit: -1 }, { first: 16, max: 8 }, { first: Number.NaN }];
    for (const retry of bad) expect(() => resolveRetry(retry)).toThrow(expect.objectContaining({ code: 'ORGAN_OPTION_INVALID' }));
  });
});

describe.each<Transport>(['memory', 'tcp'])('redial over provider-%s', (transport) => {
  it('a dial before the peer listens: error with retry_beat; once the peer listens, the request becomes active by itself at that beat', async () => {
    const w = await world(transport);
    const { earth } = w;
    installLink(earth.runtime, earth.manager, { retry: { first: 4, max: 64 } });
    writeRequest(earth.tree, R, FIELDS);
    await until([earth], () => state(earth) === 'error');
    const brokeAt = earth.runtime.beat - 1;
    const at = Number(retryBeat(earth));
    expect(at).toBe(brokeAt + 4);
    expect(retries(earth)).toBe(0n);
    expect(note(earth)).toMatch(/open failed/);
    expect(note(earth)).toContain(`redial 1 at beat ${at}`);
    expect(earth.manager.get('saturn', 'link', 'main')?.state).toBe('error');

    const saturn = await w.startSaturn();
    // Nothing is dialled before the scheduled beat, even though saturn now listens.
    while (earth.runtime.beat < at) {
      await beat(earth, saturn);
      expect(state(earth)).toBe('error');
    }
    await beat(earth, saturn); // beat `at`: the organ configures the same spec again
    expect([state(earth), retries(earth), retryBeat(earth)]).toEqual(['pending', 1n, undefined]);
    await until([earth, saturn], () => state(earth) === 'active' && saturnSideOpen(saturn));
    expect(retries(earth)).toBe(0n);
    expect(earth.tree.get(`${R}/error_note`)).toBeUndefined();
    expect(read(earth.tree, `${R}/provider`)).toBe(transport);
  });

  it('a peer restart (manager and provider closed, a new one on the same address): the request redials and is active again', async () => {
    const w = await world(transport);
    const { earth } = w;
    let saturn = await w.startSaturn();
    installLink(earth.runtime, earth.manager, { retry: { first: 2, max: 16 } });
    writeRequest(earth.tree, R, FIELDS);
    await until([earth, saturn], () => state(earth) === 'active' && saturnSideOpen(saturn));
    await saturn.manager.close();
    await until([earth], () => state(earth) === 'error');
    expect(retryBeat(earth)).toBeTypeOf('bigint');
    // While saturn is down the redials fail and the wait grows.
    await until([earth], () => (retries(earth) as bigint) >= 2n && state(earth) === 'error');
    expect(earth.manager.get('saturn', 'link', 'main')?.state).toBe('error');
    saturn = await w.startSaturn();
    await until([earth, saturn], () => state(earth) === 'active' && saturnSideOpen(saturn));
    expect(retries(earth)).toBe(0n);
    expect(retryBeat(earth)).toBeUndefined();
  });
});

describe('redial schedule (provider-memory)', () => {
  it('the wait doubles from first and is capped at max; each redial runs at its retry_beat; retries counts them', async () => {
    const { earth } = await world('memory');
    installLink(earth.runtime, earth.manager, { retry: { first: 2, max: 8 } });
    writeRequest(earth.tree, R, FIELDS);
    const shown = await watch(earth, 60);
    const seen = schedules(shown);
    expect(seen.length).toBeGreaterThanOrEqual(6);
    expect(seen.slice(0, 6).map((s) => s.retryBeat - s.brokeAt)).toEqual([2, 4, 8, 8, 8, 8]);
    expect(seen.slice(0, 6).map((s) => s.retries)).toEqual([0n, 1n, 2n, 3n, 4n, 5n]);
    // The beat a redial is scheduled for is the beat the request goes pending again, with one more redial counted.
    for (const [i, s] of seen.slice(0, 5).entries()) {
      const at = shown.find((x) => x.beat === s.retryBeat)!;
      expect(at).toEqual({ beat: s.retryBeat, state: 'pending', retryBeat: undefined, retries: BigInt(i + 1) });
      expect(shown.filter((x) => x.beat > s.brokeAt && x.beat < s.retryBeat).every((x) => x.state === 'error')).toBe(true);
    }
  });

  it('retry.limit: after that many failed redials the request stays in error, says it gave up, and dials no more', async () => {
    const w = await world('memory');
    const { earth } = w;
    installLink(earth.runtime, earth.manager, { retry: { first: 1, max: 4, limit: 2 } });
    writeRequest(earth.tree, R, FIELDS);
    await until([earth], () => /gave up/.test(note(earth)));
    expect([state(earth), retries(earth), retryBeat(earth)]).toEqual(['error', 2n, undefined]);
    expect(note(earth)).toMatch(/open failed.*gave up after 2 redial\(s\)/);
    const failures = topics(earth).filter((t) => t === 'tp_fatal').length;
    expect(failures).toBe(3); // the first dial and two redials
    const saturn = await w.startSaturn();
    await watch(earth, 30, saturn);
    expect(topics(earth).filter((t) => t === 'tp_fatal').length).toBe(failures);
    expect(state(earth)).toBe('error');
    expect(saturn.tree.get('/net/mounts/earth/link/main')).toBeUndefined();
    // A change of the request starts over.
    writeRequest(earth.tree, R, { pref_prov: 'memory' });
    await until([earth, saturn], () => state(earth) === 'active');
    expect(retries(earth)).toBe(0n);
  });

  it('retry: false keeps the old behaviour: a failed dial and a peer restart both leave the request in error', async () => {
    const w = await world('memory');
    const { earth } = w;
    installLink(earth.runtime, earth.manager, { retry: false });
    writeRequest(earth.tree, R, FIELDS);
    await until([earth], () => state(earth) === 'error');
    expect(note(earth)).toMatch(/open failed.*change the request to reopen it/);
    expect(earth.tree.get(`${R}/retry_beat`)).toBeUndefined();
    expect(earth.tree.get(`${R}/retries`)).toBeUndefined();
    let saturn = await w.startSaturn();
    await watch(earth, 40, saturn);
    expect(state(earth)).toBe('error');
    expect(saturn.tree.get('/net/mounts/earth/link/main')).toBeUndefined();

    writeRequest(earth.tree, R, { pref_prov: 'memory' });
    await until([earth, saturn], () => state(earth) === 'active' && saturnSideOpen(saturn));
    await saturn.manager.close();
    await until([earth], () => state(earth) === 'error');
    saturn = await w.startSaturn();
    await watch(earth, 40, saturn);
    expect(state(earth)).toBe('error');
    expect(note(earth)).toMatch(/closed .*change the request to reopen it/);
    expect(saturn.tree.get('/net/mounts/earth/link/main')).toBeUndefined();
  });

  it('a deleted request stops retrying: no mount is dialled at its retry_beat', async () => {
    const w = await world('memory');
    const { earth } = w;
    installLink(earth.runtime, earth.manager, { retry: { first: 4 } });
    writeRequest(earth.tree, R, FIELDS);
    await until([earth], () => state(earth) === 'error');
    const at = Number(retryBeat(earth));
    earth.tree.delete(R);
    const saturn = await w.startSaturn();
    while (earth.runtime.beat <= at + 8) await beat(earth, saturn);
    expect(state(earth)).toBe('removed');
    expect(earth.tree.get(`${R}/retry_beat`)).toBeUndefined();
    expect(earth.manager.get('saturn', 'link', 'main')).toBeUndefined();
    expect(saturn.tree.get('/net/mounts/earth/link/main')).toBeUndefined();
  });

  it('a deadline still ends a request that never became active (tp_mtimeout), redials or not; once met, later breaks are redialled', async () => {
    const w = await world('memory');
    const { earth } = w;
    installLink(earth.runtime, earth.manager, { retry: { first: 2, max: 4 } });
    writeRequest(earth.tree, R, { ...FIELDS, deadline: 12 });
    const shown = await watch(earth, 16);
    expect(shown.find((s) => s.beat === 11)?.state).not.toBe('active');
    expect(shown.find((s) => s.beat === 12)).toMatchObject({ state: 'error', retryBeat: undefined });
    expect(note(earth)).toBe('deadline: mount saturn/link/main was not active by deadline beat 12');
    expect(topics(earth)).toContain('tp_mtimeout');
    expect(earth.manager.get('saturn', 'link', 'main')).toBeUndefined();
    expect(shown.filter((s) => s.beat > 12).every((s) => s.state === 'error' && s.retryBeat === undefined)).toBe(true);

    // Met deadline: active before it, broken after it, redialled anyway.
    let saturn = await w.startSaturn();
    writeRequest(earth.tree, R, { deadline: earth.runtime.beat + 6 });
    await until([earth, saturn], () => state(earth) === 'active');
    while (earth.runtime.beat <= Number(read(earth.tree, `${R}/deadline`)) + 1) await beat(earth, saturn);
    await saturn.manager.close();
    await until([earth], () => state(earth) === 'error');
    expect(retryBeat(earth)).toBeTypeOf('bigint');
    saturn = await w.startSaturn();
    await until([earth, saturn], () => state(earth) === 'active');
  });
});

describe('determinism', () => {
  it('a replay of the inbound log redials at the same beats: the same tree digest after every beat', async () => {
    const network = memoryNetwork();
    const retry = { first: 2, max: 16 };
    const setup = (runtime: Runtime, manager: ReturnType<typeof createTransportManager>) => {
      installLink(runtime, manager, { retry });
      writeRequest(runtime.tree, R, FIELDS);
    };
    const live = peer('earth', [memory({ network, peer: 'earth', mode: 'reliable' })]);
    setup(live.runtime, live.manager);
    const digests: string[] = [];
    const schedule: number[] = [];
    let saturn: Peer | undefined;
    for (let i = 0; i < 70; i++) {
      if (i === 14) {
        saturn = peer('saturn', [memory({ network, peer: 'saturn', mode: 'reliable' })]);
        await saturn.manager.listen('memory', 'saturn');
      }
      if (i === 40) {
        // A provider fatal on the live channel: a break, then redials.
        const hooks = memoryHooks(live.providers[0]!);
        hooks.raise(hooks.channels().find((c) => c.info.initiator)!, { type: 'fatal', error: { code: 'CONNECTION_LOST', message: 'replay-break' } as never });
      }
      await beat(live, ...(saturn === undefined ? [] : [saturn]));
      digests.push(digestHex(live.tree.root));
      const rb = retryBeat(live);
      if (typeof rb === 'bigint' && schedule.at(-1) !== Number(rb)) schedule.push(Number(rb));
    }
    expect(state(live)).toBe('active');
    expect(schedule.length).toBeGreaterThanOrEqual(4); // the redials before saturn listened, and after the break

    const replayed = replay(live.runtime.inboundLog, {
      tree: createTree(),
      beats: 70,
      setup: (runtime) => {
        const manager = createTransportManager(runtime, {
          localNode: 'earth',
          offline: true,
          addressOf: (p) => p,
          peerKey: () => KEY,
          providers: [memory({ network: memoryNetwork(), peer: 'earth', mode: 'reliable' })],
        });
        setup(runtime, manager);
      },
    });
    expect(replayed.digests).toEqual(digests);
  });
});
