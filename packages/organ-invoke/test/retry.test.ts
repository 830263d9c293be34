import { afterEach, describe, expect, it } from 'vitest';
import { u64 } from '@cep/cells';
import { installInvoke, type InvokeOrgan } from '@cep/organ-invoke';
import { memory, memoryNetwork } from '@cep/provider-memory';
import { beat, closeAll, peer, read, REQ, until, world, type Peer, type Transport } from './helpers.ts';

afterEach(closeAll);

const R = `${REQ}/to_saturn`;
const state = (p: Peer) => read(p.tree, `${R}/state`);
const retryBeat = (p: Peer) => read(p.tree, `${R}/retry_beat`);
const retries = (p: Peer) => read(p.tree, `${R}/retries`);

/** The error `fn` throws (or undefined). */
function thrown(fn: () => unknown): { code?: string; message: string; details?: Record<string, unknown> } | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error as { code?: string; message: string; details?: Record<string, unknown> };
  }
}

function serveAdd(saturn: Peer & { invoke: InvokeOrgan }): void {
  saturn.invoke.expose('/sig/add', (call) =>
    call.payload?.type === 'u64' ? { status: 'ok', result: u64(call.payload.value + 1n) } : { status: 'reject', note: 'add expects a u64' },
  );
}

async function add(earth: Peer & { invoke: InvokeOrgan }, saturn: Peer, n: bigint) {
  const id = earth.invoke.submit({ request: 'to_saturn', signal: '/sig/add', payload: u64(n), timeoutBeats: 200 });
  await until([earth, saturn], () => earth.invoke.outcome(id) !== undefined);
  return earth.invoke.outcome(id);
}

describe.each<Transport>(['memory', 'tcp'])('invoke redial over provider-%s', (transport) => {
  it('dialled before saturn listens: error with retry_beat, submits refused naming the redial; then active by itself, and an invoke runs', async () => {
    const { earth, startSaturn } = await world(transport, { retry: { first: 4, max: 32 } });
    await until([earth], () => state(earth) === 'error');
    const at = Number(retryBeat(earth));
    expect(at).toBe(earth.runtime.beat - 1 + 4);
    expect(retries(earth)).toBe(0n);
    const refused = thrown(() => earth.invoke.submit({ request: 'to_saturn', signal: '/sig/add', payload: u64(1n), timeoutBeats: 5 }));
    expect(refused?.code).toBe('INVOKE_NOT_READY');
    expect(refused?.message).toMatch(/open failed/);
    expect(refused?.message).toContain(`submit again once the request is active (redial 1 at beat ${at})`);
    expect(refused?.details?.retryBeat).toBe(at);
    expect(earth.invoke.pending()).toBe(0);

    const saturn = await startSaturn();
    serveAdd(saturn);
    await until([earth, saturn], () => state(earth) === 'active');
    expect(earth.runtime.beat - 1).toBeGreaterThanOrEqual(at); // not before the scheduled beat
    expect(retries(earth)).toBe(0n);
    expect(await add(earth, saturn, 41n)).toMatchObject({ status: 'ok', result: u64(42n) });
  });

  it('saturn restarts: the pending invoke is cancelled at the break, submits are refused while waiting, then invokes reach the new saturn', async () => {
    const { earth, startSaturn } = await world(transport, { retry: { first: 2, max: 16 } });
    let saturn = await startSaturn();
    serveAdd(saturn);
    await until([earth, saturn], () => state(earth) === 'active');
    expect(await add(earth, saturn, 1n)).toMatchObject({ status: 'ok', result: u64(2n) });

    const pending = earth.invoke.submit({ request: 'to_saturn', signal: '/sig/never', timeoutBeats: 400 });
    await saturn.manager.close();
    await until([earth], () => state(earth) === 'error');
    expect(earth.invoke.outcome(pending)).toMatchObject({
      status: 'cancelled',
      note: expect.stringMatching(/^cancelled: mount saturn\/invoke\/main (closed|failed)/),
    });
    expect(retryBeat(earth)).toBeTypeOf('bigint');
    expect(thrown(() => earth.invoke.submit({ request: 'to_saturn', signal: '/sig/add', timeoutBeats: 5 }))?.code).toBe('INVOKE_NOT_READY');

    saturn = await startSaturn();
    serveAdd(saturn);
    await until([earth, saturn], () => state(earth) === 'active');
    expect(await add(earth, saturn, 9n)).toMatchObject({ status: 'ok', result: u64(10n) });
    expect(earth.invoke.outcome(pending)?.status).toBe('cancelled'); // reported once, not revived
  });
});

describe('invoke redial options (provider-memory)', () => {
  it('retry: false keeps the old behaviour: the request stays in error after saturn starts, and submit says to change the request', async () => {
    const { earth, startSaturn } = await world('memory', { retry: false });
    await until([earth], () => state(earth) === 'error');
    const saturn = await startSaturn();
    for (let i = 0; i < 40; i++) await beat(earth, saturn);
    expect(state(earth)).toBe('error');
    expect(earth.tree.get(`${R}/retry_beat`)).toBeUndefined();
    expect(saturn.tree.get('/net/mounts/earth/invoke/main')).toBeUndefined();
    const refused = thrown(() => earth.invoke.submit({ request: 'to_saturn', signal: '/sig/add', timeoutBeats: 5 }));
    expect(refused?.code).toBe('INVOKE_NOT_READY');
    expect(refused?.message).toMatch(/change the request to reopen it$/);
  });

  it('a deleted invoke request stops retrying: nothing is dialled at its retry_beat', async () => {
    const { earth, startSaturn } = await world('memory', { retry: { first: 3 } });
    await until([earth], () => state(earth) === 'error');
    const at = Number(retryBeat(earth));
    earth.tree.delete(R);
    const saturn = await startSaturn();
    while (earth.runtime.beat <= at + 8) await beat(earth, saturn);
    expect(state(earth)).toBe('removed');
    expect(earth.manager.get('saturn', 'invoke', 'main')).toBeUndefined();
    expect(saturn.tree.get('/net/mounts/earth/invoke/main')).toBeUndefined();
  });

  it('refuses a malformed retry option with INVOKE_OPTION_INVALID', () => {
    const p = peer('earth', memory({ network: memoryNetwork(), peer: 'earth', mode: 'reliable' }), (x) => x);
    expect(thrown(() => installInvoke(p.runtime, p.manager, { retry: { first: 0 } }))).toMatchObject({
      code: 'INVOKE_OPTION_INVALID',
      message: expect.stringMatching(/retry\.first/),
    });
    expect(thrown(() => installInvoke(p.runtime, p.manager, { retry: { first: 64, max: 8 } }))?.code).toBe('INVOKE_OPTION_INVALID');
  });
});
