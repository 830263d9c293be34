import { afterEach, describe, expect, it } from 'vitest';
import { u64 } from '@cep/cells';
import { batchBranch, parseFrame, type CallFrame, type InvokeOutcome } from '@cep/organ-invoke';
import { memoryHooks } from '@cep/provider-memory';
import { decodeBranch, encodeBranch } from '@cep/serializer';
import { newInvokeId } from '@cep/security';
import { beat, closeAll, pair, until, type Transport } from './helpers.ts';

afterEach(closeAll);

const call = (id: string, signal = '/sig/add', n = 1n): CallFrame => ({ kind: 'call', id, signal, payload: u64(n), timeout: 50 });

describe('pipelining: many invokes in flight per mount, batched per beat', () => {
  it('a burst of submissions leaves as one batch frame in order; a batch of replies completes each exactly once', async () => {
    const p = await pair('memory');
    const hooks = memoryHooks(p.earth.provider);
    const channel = hooks.channels().find((c) => c.info.initiator && c.info.mode === 'invoke')!;
    hooks.capture(channel);
    const seen: InvokeOutcome[] = [];
    const ids = Array.from({ length: 50 }, (_, i) =>
      p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/add', payload: u64(BigInt(i)), timeoutBeats: 10, onComplete: (o) => seen.push(o) }),
    );
    await Promise.resolve();
    const frames = hooks.takeOutbound(channel).map((bytes) => parseFrame(decodeBranch(bytes, p.policy()).root));
    expect(frames).toHaveLength(1);
    expect(frames[0]).toMatchObject({ kind: 'batch' });
    const items = (frames[0] as unknown as { items: CallFrame[] }).items;
    expect(items.map((c) => c.id)).toEqual(ids);
    expect(items.map((c) => c.payload)).toEqual(ids.map((_, i) => u64(BigInt(i))));
    // Replies in another order, one twice, and one for an id never submitted: each invoke completes once.
    const replies = [...ids].reverse().map((id, i) => ({ kind: 'reply' as const, id, status: 'ok' as const, result: u64(BigInt(1000 + i)) }));
    hooks.inject(channel, encodeBranch(batchBranch([...replies, replies[0]!, { kind: 'reply', id: newInvokeId(), status: 'ok' }]), p.policy()));
    await beat(p.earth);
    expect(seen.map((o) => o.id).sort()).toEqual([...ids].sort());
    expect(seen.every((o) => o.status === 'ok')).toBe(true);
    expect(p.earth.invoke.outcome(ids[49]!)?.result).toEqual(u64(1000n));
    expect(p.earth.invoke.pending()).toBe(0);
  });

  it("the receiver reads the mount's caps once per frame, not once per call", async () => {
    const p = await pair('memory');
    p.serve(); // saturn answers: nothing exposed, so plain ok replies
    const tree = p.saturn.tree;
    // Every read by path goes through get (getValue too).
    const get = tree.get.bind(tree);
    let capReads = 0;
    tree.get = (path) => {
      if (Array.isArray(path) && path.some((n) => typeof n !== 'string' && n.tag.text === 'prov_caps')) capReads++;
      return get(path);
    };
    const ids = Array.from({ length: 20 }, (_, i) =>
      p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/add', payload: u64(BigInt(i)), timeoutBeats: 10 }),
    );
    await until([p.earth, p.saturn], () => ids.every((id) => p.earth.invoke.outcome(id) !== undefined));
    expect(ids.map((id) => p.earth.invoke.outcome(id)?.status)).toEqual(ids.map(() => 'ok'));
    // One frame of 20 calls: the caps' dictionary found once, 'reliable' and 'ordered' read from it.
    expect(capReads).toBe(1);
  });

  it('calls submitted inside a beat leave at its commit, split at maxBatchItems', async () => {
    const p = await pair('memory', { maxBatchItems: 8 });
    const hooks = memoryHooks(p.earth.provider);
    const channel = hooks.channels().find((c) => c.info.initiator && c.info.mode === 'invoke')!;
    hooks.capture(channel);
    const ids: string[] = [];
    p.earth.runtime.registerEnzyme({
      name: 'burst',
      signal: '/sig/burst',
      run: () => {
        for (let i = 0; i < 20; i++) ids.push(p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/add', payload: u64(BigInt(i)), timeoutBeats: 10 }));
      },
    });
    p.earth.runtime.enqueue('/sig/burst');
    p.earth.runtime.step();
    // Sent during the step (no microtask ran yet): 20 calls in frames of at most 8.
    const frames = hooks.takeOutbound(channel).map((bytes) => parseFrame(decodeBranch(bytes, p.policy()).root));
    expect(frames.map((f) => (f.kind === 'batch' ? f.items.length : 1))).toEqual([8, 8, 4]);
    expect(frames.flatMap((f) => (f.kind === 'batch' ? f.items.map((c) => (c as CallFrame).id) : []))).toEqual(ids);
  });

  it('a call cancelled before its frame leaves never reaches the wire', async () => {
    const p = await pair('memory');
    const hooks = memoryHooks(p.earth.provider);
    const channel = hooks.channels().find((c) => c.info.initiator && c.info.mode === 'invoke')!;
    hooks.capture(channel);
    const first = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/add', timeoutBeats: 10 });
    p.earth.manager.get('saturn', 'invoke', 'main')!.close('operator');
    expect(p.earth.invoke.outcome(first)).toMatchObject({ status: 'cancelled' });
    await Promise.resolve();
    expect(hooks.takeOutbound(channel)).toEqual([]);
    expect(p.earth.invoke.pending()).toBe(0);
  });

  describe.each<Transport>(['memory', 'tcp'])('over provider-%s', (transport) => {
    it('600 invokes with 200 in flight: every one runs once and completes once with its own result, in few frames', async () => {
      const p = await pair(transport, { maxPending: 600 });
      const saturn = p.serve();
      const ran = new Map<string, number>();
      saturn.expose('/sig/add', (c) => {
        ran.set(c.invokeId, (ran.get(c.invokeId) ?? 0) + 1);
        return { status: 'ok', result: u64((c.payload?.type === 'u64' ? c.payload.value : 0n) * 2n) };
      });
      let frames = 0;
      p.saturn.manager.onFrame('invoke', () => void frames++);
      const completions = new Map<string, InvokeOutcome[]>();
      const sent = new Map<string, bigint>();
      let next = 0;
      const submit = (): void => {
        const n = BigInt(next++);
        const id = p.earth.invoke.submit({
          request: 'to_saturn',
          signal: '/sig/add',
          payload: u64(n),
          timeoutBeats: 400,
          onComplete: (o) => {
            completions.set(o.id, [...(completions.get(o.id) ?? []), o]);
            if (next < 600) submit(); // inside earth's capture: batched with the others of this beat
          },
        });
        sent.set(id, n);
      };
      for (let i = 0; i < 200; i++) submit();
      await until([p.earth, p.saturn], () => completions.size === 600, 2000);
      for (let i = 0; i < 4; i++) await beat(p.earth, p.saturn);
      expect(sent.size).toBe(600);
      for (const [id, n] of sent) {
        expect(completions.get(id)).toHaveLength(1);
        expect(completions.get(id)![0]).toMatchObject({ status: 'ok', result: u64(n * 2n) });
        expect(ran.get(id)).toBe(1);
      }
      expect(ran.size).toBe(600);
      expect(frames).toBeLessThan(60);
    });
  });

  it("inside a batch every call passes the receiver's checks on its own: a replayed or malformed id is refused, the others run", async () => {
    const p = await pair('memory');
    const saturn = p.serve({ exposedOnly: true });
    const ran: string[] = [];
    saturn.expose('/sig/add', (c) => void ran.push(c.invokeId));
    const fresh = newInvokeId();
    const other = newInvokeId();
    const hidden = newInvokeId();
    await p.forge(batchBranch([call(fresh), call(fresh), call('not-an-id'), call(hidden, '/sig/hidden'), call(other)]));
    await until([p.earth, p.saturn], () => ran.length === 2);
    for (let i = 0; i < 3; i++) await beat(p.earth, p.saturn);
    expect(ran).toEqual([fresh, other]);
    const refusals = p.saturn.facts.filter((f) => f.topic === 'tp_inv_reject').map((f) => f.note);
    expect(refusals.some((n) => n.includes(`call ${fresh} from earth refused`) && n.includes('seen before'))).toBe(true);
    expect(refusals.some((n) => n.includes('call not-an-id from earth refused'))).toBe(true);
  });

  it('a batch over maxBatchItems is refused whole: nothing runs', async () => {
    const p = await pair('memory');
    const saturn = p.serve({ maxBatchItems: 4 });
    let ran = 0;
    saturn.expose('/sig/add', () => void ran++);
    await p.forge(batchBranch(Array.from({ length: 5 }, () => call(newInvokeId()))));
    for (let i = 0; i < 6; i++) await beat(p.earth, p.saturn);
    expect(ran).toBe(0);
    expect(p.saturn.facts.some((f) => f.topic === 'tp_inv_reject' && /batch carries 1\.\.4 items, found 5/.test(f.note))).toBe(true);
  });
});

describe('round trip in beats', () => {
  it('one beat on each side: the callee runs the call in the beat that admits it and answers at its commit; the caller records the outcome in the next beat it steps', async () => {
    const p = await pair('memory');
    p.serve();
    for (const between of [true, false]) {
      let id = '';
      if (between) {
        // Submitted between beats: it leaves once the submitting code is done.
        id = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/add', timeoutBeats: 10 });
        await Promise.resolve();
      } else {
        // Submitted inside a beat (by an enzyme): it leaves at that beat's commit.
        const off = p.earth.runtime.registerEnzyme({
          name: 'caller',
          signal: '/sig/call',
          run: () => void (id = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/add', timeoutBeats: 10 })),
        });
        p.earth.runtime.enqueue('/sig/call');
        await beat(p.earth);
        off();
      }
      const saturnBeat = p.saturn.runtime.beat;
      await beat(p.saturn);
      expect(p.saturn.runtime.beat).toBe(saturnBeat + 1);
      expect(p.earth.invoke.outcome(id)).toBeUndefined();
      const earthBeat = p.earth.runtime.beat; // the beat the next step runs
      await beat(p.earth);
      expect(p.earth.invoke.outcome(id)).toMatchObject({ status: 'ok', beat: earthBeat });
    }
  });
});
