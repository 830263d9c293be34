/**
 * Liveness of calls: expiry decided on recorded clocks, drain (graceful stop), and the reaction
 * to the remote peer starting a new session (`session_seq` of the mount record changing).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { u64 } from '@cep/cells';
import { isCepError } from '@cep/errors';
import { OUTCOME_CODE, type InvokeOutcome } from '@cep/organ-invoke';
import { beat, closeAll, pair, read, REQ, until } from './helpers.ts';

afterEach(closeAll);

describe('call expiry', () => {
  it("a call arriving after its expiry on the callee's recorded clock is refused, typed, and nothing runs", async () => {
    const p = await pair('memory', { beatMs: 10, clockSkewMs: 0 });
    const saturn = p.serve();
    const ran: string[] = [];
    saturn.expose('/sig/work', (call) => void ran.push(call.invokeId));
    // earth's clock reads 1,000,000 ms: 5 beats × 10 ms → the call expires at 1,000,050.
    p.earth.invoke.clock(1_000_000);
    await beat(p.earth, p.saturn);
    const late = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/work', timeoutBeats: 5 });
    expect(read(p.earth.tree, `${REQ}/to_saturn/invokes/${late}/expires_at`)).toBe(1_000_050n);
    // saturn's clock, recorded before the beat that admits the call, is past it.
    saturn.clock(1_000_051);
    const outcomes: InvokeOutcome[] = [];
    void p.earth.invoke.result(late).then((o) => outcomes.push(o));
    await until([p.earth, p.saturn], () => outcomes.length === 1);
    expect(outcomes[0]).toMatchObject({ status: 'reject', refusedBy: 'receiver', code: OUTCOME_CODE.expired });
    expect(read(p.earth.tree, `${REQ}/to_saturn/invokes/${late}/code`)).toBe('INVOKE_EXPIRED');
    expect(ran).toEqual([]);
    expect(p.saturn.facts.some((f) => f.topic === 'tp_inv_reject' && f.note.includes('expired'))).toBe(true);

    // The same caller, in time: it runs.
    p.earth.invoke.clock(1_000_100);
    await beat(p.earth, p.saturn);
    const onTime = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/work', timeoutBeats: 5 });
    saturn.clock(1_000_120);
    const second = await settle(p, onTime);
    expect(second.status).toBe('ok');
    expect(ran).toEqual([onTime]);
  });

  it('the caller gives up when its recorded clock passes expires_at + clockSkewMs, even before its deadline beat (beats stretched)', async () => {
    const p = await pair('memory', { beatMs: 10, clockSkewMs: 30, giveUpAtExpiry: true });
    // saturn runs no invoke organ: the call is never answered, so only the caller's limits end it.
    p.earth.invoke.clock(1_000_000);
    await beat(p.earth);
    const id = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/work', timeoutBeats: 50 });
    const deadline = read(p.earth.tree, `${REQ}/to_saturn/invokes/${id}/deadline`) as bigint;
    expect(read(p.earth.tree, `${REQ}/to_saturn/invokes/${id}/expires_at`)).toBe(1_000_470n);
    // Three beats, each far longer than 10 ms: at exactly expires_at + clockSkewMs it still waits.
    for (const at of [1_000_200, 1_000_400, 1_000_500]) {
      p.earth.invoke.clock(at);
      await beat(p.earth);
      expect(p.earth.invoke.outcome(id)).toBeUndefined();
    }
    p.earth.invoke.clock(1_000_501);
    await beat(p.earth);
    const outcome = p.earth.invoke.outcome(id);
    expect(outcome).toMatchObject({ status: 'timeout' });
    expect(outcome!.note).toContain('no reply by 1000500 ms on the recorded clock (1000501 ms');
    expect(BigInt(outcome!.beat)).toBeLessThan(deadline);
    expect(read(p.earth.tree, `${REQ}/to_saturn/invokes/${id}/state`)).toBe('timeout');
    expect(p.earth.facts.filter((f) => f.topic === 'tp_inv_timeout')).toHaveLength(1);
  });

  it('without a recorded clock, or without giveUpAtExpiry, the deadline beat alone ends a call', async () => {
    const off = await pair('memory', { beatMs: 10, clockSkewMs: 30 });
    off.earth.invoke.clock(1_000_000);
    await beat(off.earth);
    const waits = off.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/work', timeoutBeats: 50 });
    off.earth.invoke.clock(1_009_000);
    await beat(off.earth);
    expect(off.earth.invoke.outcome(waits)).toBeUndefined();
    const p = await pair('memory', { beatMs: 10, clockSkewMs: 30, giveUpAtExpiry: true });
    const id = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/work', timeoutBeats: 3 });
    const deadline = Number(read(p.earth.tree, `${REQ}/to_saturn/invokes/${id}/deadline`));
    for (let i = 0; i < 20 && p.earth.invoke.outcome(id) === undefined; i++) await beat(p.earth);
    expect(p.earth.invoke.outcome(id)).toMatchObject({ status: 'timeout', beat: deadline, note: `no reply by deadline beat ${deadline}` });
  });

  it('the expiry is earlier by the clock skew tolerance; no clock recorded → no expiry sent', async () => {
    const p = await pair('memory', { beatMs: 10, clockSkewMs: 30 });
    p.serve();
    const noClock = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/x', timeoutBeats: 5 });
    expect(read(p.earth.tree, `${REQ}/to_saturn/invokes/${noClock}/expires_at`)).toBeUndefined();
    p.earth.invoke.clock(2_000);
    await beat(p.earth);
    const id = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/x', timeoutBeats: 5 });
    expect(read(p.earth.tree, `${REQ}/to_saturn/invokes/${id}/expires_at`)).toBe(2_020n);
  });
});

async function settle(p: Awaited<ReturnType<typeof pair>>, id: string): Promise<InvokeOutcome> {
  let outcome: InvokeOutcome | undefined;
  void p.earth.invoke.result(id).then((o) => (outcome = o));
  await until([p.earth, p.saturn], () => outcome !== undefined);
  return outcome!;
}

describe('drain', () => {
  it('a draining caller refuses new submissions (INVOKE_DRAINING) and still gets the replies in flight', async () => {
    const p = await pair('memory');
    p.serve().expose('/sig/work', () => ({ status: 'ok', result: u64(7n) }));
    const id = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/work', timeoutBeats: 50 });
    p.earth.invoke.drain();
    expect(p.earth.invoke.idle()).toBe(false);
    let thrown: unknown;
    try {
      p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/work', timeoutBeats: 50 });
    } catch (error) {
      thrown = error;
    }
    expect(isCepError(thrown, 'INVOKE_DRAINING')).toBe(true);
    const outcome = await settle(p, id);
    expect(outcome).toMatchObject({ status: 'ok', result: u64(7n) });
    expect(p.earth.invoke.idle()).toBe(true);
  });

  it('a draining callee refuses calls that arrive (INVOKE_SHUTTING_DOWN, nothing runs)', async () => {
    const p = await pair('memory');
    const saturn = p.serve();
    const ran: string[] = [];
    saturn.expose('/sig/work', (call) => void ran.push(call.invokeId));
    saturn.drain();
    const outcome = await settle(p, p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/work', timeoutBeats: 50 }));
    expect(outcome).toMatchObject({ status: 'reject', code: OUTCOME_CODE.shuttingDown, refusedBy: 'receiver' });
    expect(ran).toEqual([]);
    expect(saturn.idle()).toBe(true);
  });

  it('cancelAll gives every pending call a cancelled outcome with the code given', async () => {
    const p = await pair('memory');
    const id = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/none', timeoutBeats: 50 });
    p.earth.invoke.cancelAll('cancelled: this peer is shutting down', OUTCOME_CODE.callerShutdown);
    expect(p.earth.invoke.outcome(id)).toMatchObject({ status: 'cancelled', code: 'INVOKE_CALLER_SHUTDOWN' });
    expect(p.earth.invoke.pending()).toBe(0);
  });
});

describe('remote session changes', () => {
  it('a sent call whose mount reports a new remote session is cancelled (INVOKE_SESSION_CHANGED); a same-session reconnect keeps it', async () => {
    const p = await pair('memory');
    // No invoke organ on saturn: the calls are delivered and never answered.
    const session = `/net/mounts/saturn/invoke/main`;
    p.earth.tree.set(`${session}/session_seq`, u64(1n));
    await beat(p.earth, p.saturn);
    const a = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/x', timeoutBeats: 500 });
    await beat(p.earth, p.saturn);
    expect(read(p.earth.tree, `${REQ}/to_saturn/invokes/${a}/state`)).toBe('sent');
    // A reconnect to the same session: session_seq unchanged, nothing happens.
    p.earth.tree.set(`${session}/session_seq`, u64(1n));
    await beat(p.earth, p.saturn);
    expect(p.earth.invoke.pending()).toBe(1);
    // The peer restarted: the transport records session_seq 2.
    p.earth.tree.set(`${session}/session_seq`, u64(2n));
    await beat(p.earth);
    expect(p.earth.invoke.outcome(a)).toMatchObject({ status: 'cancelled', code: OUTCOME_CODE.sessionChanged });
    expect(read(p.earth.tree, `${REQ}/to_saturn/invokes/${a}/code`)).toBe('INVOKE_SESSION_CHANGED');
    // A call made after the change leaves on the new session and is not cancelled by it.
    const b = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/x', timeoutBeats: 500 });
    await beat(p.earth, p.saturn);
    await beat(p.earth, p.saturn);
    expect(p.earth.invoke.outcome(b)).toBeUndefined();
    expect(p.earth.invoke.pending()).toBe(1);
  });
});
