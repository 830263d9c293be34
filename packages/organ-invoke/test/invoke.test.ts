import { afterEach, describe, expect, it } from 'vitest';
import { bool, text, u64, type Value } from '@cep/cells';
import { isCepError } from '@cep/errors';
import { callBranch, installInvoke, parseFrame, replyBranch, type InvokeCall, type InvokeOutcome } from '@cep/organ-invoke';
import { memory, memoryHooks, memoryNetwork } from '@cep/provider-memory';
import { decodeBranch, encodeBranch } from '@cep/serializer';
import { beat, closeAll, pair, peer, read, REQ, request, topics, until, type Pair, type Transport } from './helpers.ts';

afterEach(closeAll);

/** earth's dialled invoke channel, captured: its sends are kept for the test instead of delivered. */
function captureEarth(p: Pair) {
  const hooks = memoryHooks(p.earth.provider);
  const channel = hooks.channels().find((c) => c.info.initiator && c.info.mode === 'invoke')!;
  hooks.capture(channel);
  return {
    /** The call frames earth sent, decoded. */
    calls: () => hooks.takeOutbound(channel).map((bytes) => parseFrame(decodeBranch(bytes, p.policy()).root)),
    /** A reply from "saturn", injected into earth's channel. */
    reply: (r: Parameters<typeof replyBranch>[0]) => hooks.inject(channel, encodeBranch(replyBranch(r), p.policy())),
  };
}

describe('invoke request validation', () => {
  function lone() {
    const network = memoryNetwork();
    const p = peer('earth', memory({ network, peer: 'earth', mode: 'reliable', capture: true }), (x) => x);
    const organ = installInvoke(p.runtime, p.manager);
    return { ...p, organ };
  }

  it('rejects peer, mount and local_node over the CEP word limits with tp_inv_reject and a note naming the field', () => {
    const p = lone();
    request(p.tree, 'inv_long', { peer: 'peer-invoke-xx', mount: 'main', local_node: 'earth' });
    p.runtime.step();
    expect(read(p.tree, `${REQ}/inv_long/state`)).toBe('error');
    expect(read(p.tree, `${REQ}/inv_long/error_note`)).toMatch(/^peer: "peer-invoke-xx" is not a CEP word/);
    request(p.tree, 'inv_long', { peer: 'saturn', mount: 'Inv-Mnt' });
    p.runtime.step();
    expect(read(p.tree, `${REQ}/inv_long/error_note`)).toMatch(/^mount: "Inv-Mnt" is not a CEP word/);
    request(p.tree, 'inv_long', { mount: 'main', local_node: 'node-local-long' });
    p.runtime.step();
    expect(read(p.tree, `${REQ}/inv_long/error_note`)).toMatch(/^local_node: "node-local-long" is not a CEP word/);
    expect(p.facts.filter((f) => f.topic === 'tp_inv_reject')).toHaveLength(3);
    expect(p.manager.mounts()).toEqual([]);
  });

  it('refuses another mode and upd_latest, and requires reliable + ordered on top of the caps asked for', () => {
    const p = lone();
    request(p.tree, 'a', { peer: 'saturn', mount: 'main', local_node: 'earth', mode: 'link' });
    p.tree.set(`${REQ}/b/caps/upd_latest`, bool(true));
    request(p.tree, 'b', { peer: 'saturn', mount: 'gauge', local_node: 'earth' });
    request(p.tree, 'c', { peer: 'saturn', mount: 'other', local_node: 'earth' });
    p.tree.set(`${REQ}/c/caps/required/streaming`, bool(true));
    p.runtime.step();
    expect(read(p.tree, `${REQ}/a/error_note`)).toBe('mode: invoke requests use mode "invoke", not "link"');
    expect(read(p.tree, `${REQ}/b/error_note`)).toMatch(/^caps\/upd_latest: an invoke mount must be reliable and ordered/);
    for (const cap of ['reliable', 'ordered', 'streaming']) expect(read(p.tree, `/net/mounts/saturn/invoke/other/caps/required/${cap}`)).toBe(true);
  });

  it('an invoke mount over a catalog without a reliable, ordered provider stays in error and submit refuses it', () => {
    const network = memoryNetwork();
    const p = peer('earth', memory({ network, peer: 'earth', mode: 'unreliable', capture: true }), (x) => x);
    const organ = installInvoke(p.runtime, p.manager);
    request(p.tree, 'a', { peer: 'saturn', mount: 'main', local_node: 'earth' });
    p.runtime.step();
    expect(read(p.tree, `${REQ}/a/state`)).toBe('error');
    expect(topics(p)).toContain('tp_noprov');
    expect(() => organ.submit({ request: 'a', signal: '/sig/x', timeoutBeats: 2 })).toThrow(expect.objectContaining({ code: 'INVOKE_NOT_READY' }));
  });

  it('a deadline past at activation: error "deadline: expired before activation", tp_inv_timeout', () => {
    const p = lone();
    p.runtime.run(4);
    request(p.tree, 'late', { peer: 'saturn', mount: 'main', local_node: 'earth' });
    p.tree.set(`${REQ}/late/deadline`, u64(2n));
    p.runtime.step();
    expect(read(p.tree, `${REQ}/late/error_note`)).toMatch(/^deadline: expired before activation/);
    expect(topics(p)).toContain('tp_inv_timeout');
    expect(p.manager.mounts()).toEqual([]);
  });

  it('request-level pipeline fields are type-checked, naming the field', () => {
    const p = lone();
    request(p.tree, 'a', { peer: 'saturn', mount: 'main', local_node: 'earth' });
    p.tree.set(`${REQ}/a/pipeline/pipeline_id`, text('demo/ingest'));
    p.tree.set(`${REQ}/a/pipeline/hop_index`, text('one'));
    p.runtime.step();
    expect(read(p.tree, `${REQ}/a/error_note`)).toBe('pipeline/hop_index: expected u64, found text');
  });

  it('submit refuses what it cannot send, with typed errors', () => {
    const p = lone();
    request(p.tree, 'a', { peer: 'saturn', mount: 'main', local_node: 'earth' });
    p.runtime.step();
    const code = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (error) {
        return isCepError(error) ? error.code : 'not a CepError';
      }
      return undefined;
    };
    expect(code(() => p.organ.submit({ request: 'nope', signal: '/sig/x', timeoutBeats: 2 }))).toBe('INVOKE_UNKNOWN_REQUEST');
    expect(code(() => p.organ.submit({ request: 'a', signal: '/sig/x', timeoutBeats: 0 }))).toBe('INVOKE_INVALID');
    expect(code(() => p.organ.submit({ request: 'a', signal: '', timeoutBeats: 2 }))).toBe('INVOKE_INVALID');
    expect(code(() => p.organ.submit({ request: 'a', signal: '/sig//x', timeoutBeats: 2 }))).toBe('INVOKE_INVALID');
    expect(code(() => p.organ.submit({ request: 'a', signal: '/sig/x', timeoutBeats: 2, payload: text('x'.repeat(300_000)) }))).toBe('INVOKE_INVALID');
    expect(
      code(() => p.organ.submit({ request: 'a', signal: '/sig/x', timeoutBeats: 2, pipeline: { pipelineId: '', stageId: 's', dagRunId: 1n, hopIndex: 0 } })),
    ).toBe('SEC_PIPELINE_MALFORMED');
    expect(p.organ.pending()).toBe(0);
  });

  it('caps pending invokes per request (maxPending)', () => {
    const network = memoryNetwork();
    const p = peer('earth', memory({ network, peer: 'earth', mode: 'reliable', capture: true }), (x) => x);
    const organ = installInvoke(p.runtime, p.manager, { maxPending: 2 });
    request(p.tree, 'a', { peer: 'saturn', mount: 'main', local_node: 'earth' });
    p.runtime.step();
    organ.submit({ request: 'a', signal: '/sig/x', timeoutBeats: 5 });
    organ.submit({ request: 'a', signal: '/sig/x', timeoutBeats: 5 });
    expect(() => organ.submit({ request: 'a', signal: '/sig/x', timeoutBeats: 5 })).toThrow(expect.objectContaining({ code: 'INVOKE_LIMIT' }));
  });
});

describe('the calling side (replies made by hand)', () => {
  it('success: the call frame carries signal, target, payload and timeout; an ok reply completes it once, with the result', async () => {
    const p = await pair('memory');
    const wire = captureEarth(p);
    const seen: InvokeOutcome[] = [];
    const id = p.earth.invoke.submit({
      request: 'to_saturn',
      signal: '/sig/test_invoke',
      target: '/rt/test_invoke',
      payload: u64(41n),
      timeoutBeats: 4,
      onComplete: (o) => seen.push(o),
    });
    expect(id).toMatch(/^inv-[0-9a-f]{32}$/);
    // Queued: it leaves once the submitting code is done (between beats) or at commit (in a beat).
    expect(read(p.earth.tree, `${REQ}/to_saturn/invokes/${id}/state`)).toBe('plan');
    expect(wire.calls()).toEqual([]);
    await Promise.resolve();
    const [call] = wire.calls();
    expect(call).toEqual({ kind: 'call', id, signal: '/sig/test_invoke', target: '/rt/test_invoke', payload: u64(41n), timeout: 4 });
    const record = `${REQ}/to_saturn/invokes/${id}`;
    expect(read(p.earth.tree, `${record}/state`)).toBe('sent');
    const promise = p.earth.invoke.result(id);
    wire.reply({ id, status: 'ok', result: u64(42n) });
    wire.reply({ id, status: 'reject', note: 'a second reply must change nothing' });
    await beat(p.earth);
    const outcome = await promise;
    expect(outcome).toMatchObject({ id, request: 'to_saturn', status: 'ok', result: u64(42n) });
    expect(seen).toEqual([outcome]);
    expect(read(p.earth.tree, `${record}/state`)).toBe('ok');
    expect(read(p.earth.tree, `${record}/result`)).toBe(42n);
    expect(read(p.earth.tree, `${record}/done_beat`)).toBe(BigInt(outcome.beat));
    const op = read(p.earth.tree, `${record}/op`) as string;
    const history = p.earth.tree
      .get(`/rt/ops/${op}/history`)!
      .children()
      .map((h) => read(p.earth.tree, `/rt/ops/${op}/history/${h.name.tag.text}/state`));
    expect(history).toEqual(['plan', 'await', 'ok']);
    // What one call leaves on the caller: the dossier's entries hold their beat and state (the
    // record it targets names the peer and deadline), the ledger only the beats charged.
    const fields = (path: string) =>
      p.earth.tree
        .get(path)!
        .children()
        .map((c) => c.name.tag.text)
        .sort();
    expect(fields(`/rt/ops/${op}`)).toEqual(['close', 'history', 'issued_beat', 'state', 'target', 'verb']);
    for (const h of p.earth.tree.get(`/rt/ops/${op}/history`)!.children())
      expect(fields(`/rt/ops/${op}/history/${h.name.tag.text}`)).toEqual(['beat', 'state']);
    expect(read(p.earth.tree, `/rt/ops/${op}/target`)).toBe(record);
    expect(fields(`/journal/decisions/sec/${id}/usage`)).toEqual(['beats']);
    expect(topics(p.earth)).not.toContain('tp_inv_reject');
  });

  it('a record removed or deleted while its call waits is not written again: not at send, not at the outcome', async () => {
    const p = await pair('memory');
    const wire = captureEarth(p);
    const invokes = `${REQ}/to_saturn/invokes`;
    // Removed before it leaves, then before its reply; a third soft-deleted before its reply.
    const early = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/test_invoke', timeoutBeats: 4 });
    p.earth.tree.remove(`${invokes}/${early}`);
    const late = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/test_invoke', timeoutBeats: 4 });
    const soft = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/test_invoke', timeoutBeats: 4 });
    await Promise.resolve();
    // One packed frame of the three calls (a batch), all of them sent: removing a record does not stop its call.
    const [frame] = wire.calls();
    expect(frame?.kind === 'batch' ? frame.items.map((c) => ('id' in c ? c.id : undefined)) : []).toEqual([early, late, soft]);
    expect(p.earth.tree.find(`${invokes}/${early}`)).toBeUndefined();
    expect(read(p.earth.tree, `${invokes}/${late}/state`)).toBe('sent');
    p.earth.tree.remove(`${invokes}/${late}`);
    p.earth.tree.delete(`${invokes}/${soft}`);
    for (const id of [early, late, soft]) wire.reply({ id, status: 'ok', result: u64(1n) });
    await beat(p.earth);
    for (const id of [early, late, soft]) expect(p.earth.invoke.outcome(id)).toMatchObject({ status: 'ok', result: u64(1n) });
    expect(p.earth.tree.find(`${invokes}/${early}`)).toBeUndefined();
    expect(p.earth.tree.find(`${invokes}/${late}`)).toBeUndefined();
    // Still there, still deleted, with no outcome fields written under it.
    expect(p.earth.tree.find(`${invokes}/${soft}`)?.isDeleted).toBe(true);
    expect(p.earth.tree.find(`${invokes}/${soft}/done_beat`)).toBeUndefined();
    expect(p.earth.tree.find(`${invokes}/${soft}/state`)?.value).toEqual(text('sent'));
  });

  it('reject: the remote refusal completes the invoke with tp_inv_reject and the remote note', async () => {
    const p = await pair('memory');
    const wire = captureEarth(p);
    const id = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/test_invoke', timeoutBeats: 4 });
    wire.reply({ id, status: 'reject', note: 'remote invocation rejected' });
    await beat(p.earth);
    expect(p.earth.invoke.outcome(id)).toMatchObject({ status: 'reject', refusedBy: 'receiver', note: 'refused by saturn: remote invocation rejected' });
    expect(read(p.earth.tree, '/net/peers/saturn/ceh/tp_inv_reject/note')).toMatch(/remote invocation rejected/);
    const op = read(p.earth.tree, `${REQ}/to_saturn/invokes/${id}/op`) as string;
    expect(read(p.earth.tree, `/rt/ops/${op}/close/status`)).toBe('fail');
  });

  it('timeout: no reply by the deadline beat → tp_inv_timeout at exactly that beat; a late reply changes nothing', async () => {
    const p = await pair('memory');
    const wire = captureEarth(p);
    const submitted = p.earth.runtime.beat;
    let calls = 0;
    const id = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/test_invoke', timeoutBeats: 2, onComplete: () => calls++ });
    p.earth.runtime.step();
    p.earth.runtime.step();
    expect(p.earth.invoke.outcome(id)).toBeUndefined();
    p.earth.runtime.step(); // beat submitted + 2 ends without a reply
    expect(p.earth.invoke.outcome(id)).toMatchObject({ status: 'timeout', beat: submitted + 2, note: `no reply by deadline beat ${submitted + 2}` });
    expect(read(p.earth.tree, '/net/peers/saturn/ceh/tp_inv_timeout/severity')).toBe('error');
    wire.reply({ id, status: 'ok' });
    await beat(p.earth);
    expect(p.earth.invoke.outcome(id)?.status).toBe('timeout');
    expect(calls).toBe(1);
  });

  it('reconfiguring the request cancels its pending invokes with a clear outcome; the request comes back active', async () => {
    const p = await pair('memory');
    const id = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/test_invoke', timeoutBeats: 6 });
    p.earth.tree.set(`${REQ}/to_saturn/serializer/deflate_ok`, bool(false));
    p.earth.tree.set(`${REQ}/to_saturn/serializer/warn_down`, bool(false));
    await beat(p.earth);
    expect(p.earth.invoke.outcome(id)).toMatchObject({ status: 'cancelled', note: 'cancelled: request to_saturn was reconfigured' });
    expect(read(p.earth.tree, `${REQ}/to_saturn/invokes/${id}/state`)).toBe('cancelled');
    await until([p.earth, p.saturn], () => read(p.earth.tree, `${REQ}/to_saturn/state`) === 'active');
    expect(read(p.earth.tree, '/net/mounts/saturn/invoke/main/serializer/deflate_ok')).toBe(false);
    expect(read(p.earth.tree, `${REQ}/to_saturn/provider`)).toBe('memory');
  });

  it('closing the mount cancels pending invokes; deleting the request cancels them and leaves state=removed', async () => {
    const p = await pair('memory');
    const first = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/x', timeoutBeats: 6 });
    p.earth.manager.get('saturn', 'invoke', 'main')!.close('operator');
    expect(p.earth.invoke.outcome(first)).toMatchObject({ status: 'cancelled', note: expect.stringMatching(/closed \(operator\)/) });
    request(p.earth.tree, 'to_saturn', { mode: 'invoke' });
    await until([p.earth, p.saturn], () => read(p.earth.tree, `${REQ}/to_saturn/state`) === 'active');
    const second = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/x', timeoutBeats: 6 });
    p.earth.tree.delete(`${REQ}/to_saturn`);
    await beat(p.earth);
    expect(p.earth.invoke.outcome(second)).toMatchObject({ status: 'cancelled', note: expect.stringMatching(/invoke-request-destroy/) });
    expect(read(p.earth.tree, `${REQ}/to_saturn/state`)).toBe('removed');
    expect(p.earth.manager.get('saturn', 'invoke', 'main')).toBeUndefined();
    expect(() => p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/x', timeoutBeats: 6 })).toThrow(
      expect.objectContaining({ code: 'INVOKE_UNKNOWN_REQUEST' }),
    );
  });

  it('ids are unguessable and distinct; result() of an unknown id rejects with INVOKE_UNKNOWN', async () => {
    const p = await pair('memory');
    captureEarth(p);
    const ids = new Set(Array.from({ length: 50 }, () => p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/x', timeoutBeats: 9 })));
    expect(ids.size).toBe(50);
    for (const id of ids) expect(id).toMatch(/^inv-[0-9a-f]{32}$/);
    await expect(p.earth.invoke.result('inv-0')).rejects.toMatchObject({ code: 'INVOKE_UNKNOWN' });
  });

  it('keeps the newest retainOutcomes outcomes, forgetting the oldest first, round after round', async () => {
    const p = await pair('memory', { retainOutcomes: 3 });
    captureEarth(p);
    const expireAll = (n: number) => {
      const ids = Array.from({ length: n }, () => p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/x', timeoutBeats: 1 }));
      p.earth.runtime.step();
      p.earth.runtime.step();
      return ids;
    };
    const first = expireAll(5);
    const second = expireAll(2);
    // Oldest first: the first four are forgotten, the fifth and the two newest are kept.
    for (const id of first.slice(0, 4)) await expect(p.earth.invoke.result(id)).rejects.toMatchObject({ code: 'INVOKE_UNKNOWN' });
    for (const id of [first[4]!, ...second]) expect(await p.earth.invoke.result(id)).toMatchObject({ id, status: 'timeout' });
    const third = expireAll(1);
    expect(p.earth.invoke.outcome(first[4]!)).toBeUndefined();
    for (const id of [...second, ...third]) expect(p.earth.invoke.outcome(id)?.status).toBe('timeout');
  });
});

describe.each<Transport>(['memory', 'tcp'])('two runtimes over provider-%s', (transport) => {
  it('happy path: an exposed handler on saturn returns the result; earth records it once', async () => {
    const p = await pair(transport);
    const saturn = p.serve();
    const calls: InvokeCall[] = [];
    saturn.expose('/sig/add', (call) => {
      calls.push(call);
      call.tree.set('/data/last_add', call.payload!);
      return call.payload?.type === 'u64' ? { status: 'ok', result: u64(call.payload.value + 1n) } : { status: 'reject', note: 'add expects a u64' };
    });
    const id = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/add', target: '/data/y', payload: u64(41n), timeoutBeats: 6 });
    const outcome = p.earth.invoke.result(id);
    await until([p.earth, p.saturn], () => p.earth.invoke.outcome(id) !== undefined);
    expect(await outcome).toMatchObject({ status: 'ok', result: u64(42n) });
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ invokeId: id, caller: 'earth', signal: '/sig/add', target: '/data/y', payload: u64(41n) });
    expect(read(p.saturn.tree, '/data/last_add')).toBe(41n);
    expect(read(p.earth.tree, `${REQ}/to_saturn/state`)).toBe('active');
    expect(read(p.earth.tree, `${REQ}/to_saturn/provider`)).toBe(transport);
    expect(read(p.saturn.tree, '/net/mounts/earth/invoke/main/state')).toBe('open');
  });

  it('default path: plain enzymes on the signal run as a normal impulse (target, data, pipeline) and the reply is ok without a result', async () => {
    const p = await pair(transport);
    p.serve();
    const seen: Array<{ target: string | undefined; data: Value | undefined }> = [];
    p.saturn.runtime.registerEnzyme({
      name: 'plain',
      signal: '/sig/plain',
      run: (ctx) => void seen.push({ target: ctx.target?.map((n) => n.tag.text).join('/'), data: ctx.data }),
    });
    const id = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/plain', target: '/data/y', payload: text('hi'), timeoutBeats: 6 });
    await until([p.earth, p.saturn], () => p.earth.invoke.outcome(id) !== undefined);
    expect(p.earth.invoke.outcome(id)).toMatchObject({ status: 'ok' });
    expect(p.earth.invoke.outcome(id)?.result).toBeUndefined();
    expect(seen).toEqual([{ target: 'data/y', data: text('hi') }]);
  });

  it("a handler that rejects or throws reaches earth as tp_inv_reject; a throwing handler's writes are undone", async () => {
    const p = await pair(transport);
    const saturn = p.serve();
    saturn.expose('/sig/no', () => ({ status: 'reject', note: 'not today' }));
    saturn.expose('/sig/boom', (call) => {
      call.tree.set('/data/half_done', bool(true));
      throw new Error('boom');
    });
    const no = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/no', timeoutBeats: 6 });
    const boom = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/boom', timeoutBeats: 6 });
    await until([p.earth, p.saturn], () => p.earth.invoke.pending() === 0);
    expect(p.earth.invoke.outcome(no)).toMatchObject({ status: 'reject', note: 'refused by saturn: not today' });
    expect(p.earth.invoke.outcome(boom)).toMatchObject({ status: 'reject', note: 'refused by saturn: handler threw: boom' });
    expect(p.saturn.tree.get('/data/half_done')).toBeUndefined();
    expect(p.earth.facts.filter((f) => f.topic === 'tp_inv_reject')).toHaveLength(2);
  });

  it('timeout: saturn drops the call (no invoke organ there); earth records tp_inv_timeout once and nothing ran', async () => {
    const p = await pair(transport);
    let ran = 0;
    p.saturn.runtime.registerEnzyme({ name: 'never', signal: '/sig/test_invoke', run: () => void ran++ });
    const submitted = p.earth.runtime.beat;
    const id = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/test_invoke', timeoutBeats: 3 });
    await until([p.earth, p.saturn], () => p.earth.invoke.outcome(id) !== undefined);
    expect(p.earth.invoke.outcome(id)).toMatchObject({ status: 'timeout', beat: submitted + 3 });
    expect(ran).toBe(0);
    expect(topics(p.earth)).toContain('tp_inv_timeout');
  });

  it('exposedOnly refuses signals nobody exposed, and nothing runs', async () => {
    const p = await pair(transport);
    p.serve({ exposedOnly: true });
    let ran = 0;
    p.saturn.runtime.registerEnzyme({ name: 'hidden', signal: '/sig/hidden', run: () => void ran++ });
    const id = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/hidden', timeoutBeats: 6 });
    await until([p.earth, p.saturn], () => p.earth.invoke.outcome(id) !== undefined);
    expect(p.earth.invoke.outcome(id)).toMatchObject({ status: 'reject', note: 'refused by saturn: signal /sig/hidden is not exposed on this runtime' });
    expect(ran).toBe(0);
  });
});

describe('provider failures', () => {
  it('memory: a provider fatal on the live mount cancels pending invokes, turns the request to error and mirrors tp_fatal', async () => {
    const p = await pair('memory');
    const id = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/x', timeoutBeats: 50 });
    const hooks = memoryHooks(p.earth.provider);
    hooks.raise(hooks.channels().find((c) => c.info.initiator)!, {
      type: 'fatal',
      error: { code: 'CONNECTION_LOST', message: 'provider-fatal-test' } as never,
    });
    await until([p.earth, p.saturn], () => p.earth.invoke.outcome(id) !== undefined);
    expect(p.earth.invoke.outcome(id)).toMatchObject({ status: 'cancelled', note: expect.stringMatching(/failed .*provider-fatal-test/) });
    expect(read(p.earth.tree, `${REQ}/to_saturn/state`)).toBe('error');
    expect(read(p.earth.tree, '/net/peers/saturn/ceh/tp_fatal/note')).toMatch(/provider-fatal-test/);
  });

  it('tcp: the peer going away closes the mount and cancels pending invokes exactly once', async () => {
    const p = await pair('tcp');
    let calls = 0;
    const id = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/x', timeoutBeats: 400, onComplete: () => calls++ });
    await p.saturn.manager.close();
    await until([p.earth], () => p.earth.invoke.outcome(id) !== undefined);
    expect(p.earth.invoke.outcome(id)?.status).toBe('cancelled');
    expect(read(p.earth.tree, `${REQ}/to_saturn/state`)).toBe('error');
    await beat(p.earth);
    expect(calls).toBe(1);
  });
});

describe('bounds and refusals', () => {
  it('keeps the newest retainCompleted records (and their OPS dossiers) under a request; outcomes stay answerable', async () => {
    const p = await pair('memory', { retainCompleted: 2 });
    p.serve().expose('/sig/echo', (call) => ({ status: 'ok', ...(call.payload !== undefined ? { result: call.payload } : {}) }));
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const id = p.earth.invoke.submit({ request: 'to_saturn', signal: '/sig/echo', payload: u64(BigInt(i)), timeoutBeats: 6 });
      ids.push(id);
      await until([p.earth, p.saturn], () => p.earth.invoke.outcome(id) !== undefined);
    }
    const kept = p.earth.tree
      .get(`${REQ}/to_saturn/invokes`)!
      .children()
      .filter((c) => !c.isDeleted)
      .map((c) => c.name.tag.text);
    expect(kept.sort()).toEqual(ids.slice(2).sort());
    const ops = p.earth.tree
      .get('/rt/ops')!
      .children()
      .filter((c) => !c.isDeleted);
    expect(ops).toHaveLength(2);
    expect(p.earth.invoke.outcome(ids[0]!)).toMatchObject({ status: 'ok', result: u64(0n) });
  });

  it('the receiver refuses calls that arrive on a mount whose provider is not reliable and ordered; nothing runs', async () => {
    const network = memoryNetwork();
    const earth = peer('earth', memory({ network, peer: 'earth', mode: 'unreliable' }), (x) => x);
    const saturn = peer('saturn', memory({ network, peer: 'saturn', mode: 'unreliable' }), (x) => x);
    await saturn.manager.listen('memory', 'saturn');
    installInvoke(saturn.runtime, saturn.manager);
    let ran = 0;
    saturn.runtime.registerEnzyme({ name: 'work', signal: '/sig/run', run: () => void ran++ });
    const replies: ReturnType<typeof parseFrame>[] = [];
    earth.manager.onFrame('invoke', (f) => void replies.push(parseFrame(f.branch.root)));
    const mount = earth.manager.configure({ peer: 'saturn', mode: 'invoke', mount: 'gauge', caps: { updLatest: true } });
    await until([earth, saturn], () => mount.state === 'open');
    mount.sendBranch(callBranch({ id: 'inv-0123456789abcdef0123456789abcdef', signal: '/sig/run', timeout: 4 }));
    await until([earth, saturn], () => replies.length > 0);
    expect(replies[0]).toMatchObject({
      kind: 'reply',
      status: 'reject',
      note: expect.stringMatching(/is not (ordered|reliable); invoke needs a reliable, ordered mount/),
    });
    expect(ran).toBe(0);
  });
});

describe('frames', () => {
  it('round-trip a call and a reply; refuse a frame with missing or oversize fields without throwing', () => {
    const meta = { pipelineId: 'demo/ingest', stageId: 'StageB', dagRunId: 7n, hopIndex: 1 };
    const call = { id: 'inv-00000000000000000000000000000001', signal: '/sig/x', target: '/d/y', payload: text('p'), timeout: 3, pipeline: meta };
    expect(parseFrame(decodeBranch(encodeBranch(callBranch(call))).root)).toEqual({ kind: 'call', ...call });
    expect(parseFrame(decodeBranch(encodeBranch(replyBranch({ id: 'x', status: 'ok', result: u64(1n) }))).root)).toEqual({
      kind: 'reply',
      id: 'x',
      status: 'ok',
      result: u64(1n),
    });
    const big = callBranch({ ...call, payload: text('x'.repeat(2048)) });
    expect(parseFrame(decodeBranch(encodeBranch(big)).root, { maxPathBytes: 1024, maxValueBytes: 1024, maxNoteBytes: 64 })).toMatchObject({
      kind: 'problem',
      id: call.id,
      note: expect.stringMatching(/^payload: 2048 bytes/),
    });
    const noSignal = callBranch({ ...call, signal: '' });
    expect(parseFrame(decodeBranch(encodeBranch(noSignal)).root)).toMatchObject({ kind: 'problem', note: expect.stringMatching(/^signal/) });
  });
});
