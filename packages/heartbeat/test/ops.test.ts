import { describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.ts';

function history(rt: Runtime, id: string): string[] {
  return rt.tree
    .get([...rt.ops.path(id), 'history'])!
    .children()
    .map((h) => `${h.child('beat')!.value!.value}:${h.child('state')!.value!.value}`);
}

function fired(rt: Runtime, signal: string): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  rt.registerEnzyme({ name: `on-${signal}`, signal: [signal], run: (ctx) => void out.push([ctx.beat, ctx.target!.map((n) => n.tag.text).join('/')]) });
  return out;
}

describe('OPS dossiers', () => {
  it('opens /rt/ops/<id> with increasing numeric ids, verb, target, issued beat and a first history entry', () => {
    const rt = createRuntime({ startBeat: 3 });
    const a = rt.ops.start({ verb: 'op/link', target: '/net/organs/link/requests/a', pipeline: { pipelineId: 'p', stageId: 's', dagRunId: 1n, hopIndex: 0 } });
    const b = rt.ops.start({ verb: 'op/link', state: 'plan' });
    expect([a, b]).toEqual(['1', '2']);
    const path = rt.ops.path(a);
    expect(rt.tree.getValue([...path, 'verb'])).toMatchObject({ value: 'op/link' });
    expect(rt.tree.getValue([...path, 'target'])).toMatchObject({ value: '/net/organs/link/requests/a' });
    expect(rt.tree.getValue([...path, 'issued_beat'])).toMatchObject({ value: 3n });
    expect(rt.tree.getValue([...path, 'pipeline', 'pipeline_id'])).toMatchObject({ value: 'p' });
    expect(rt.ops.state(a)).toBe('run');
    expect(rt.ops.state(b)).toBe('plan');
    expect(history(rt, a)).toEqual(['3:run']);
  });

  it('prune removes only dossiers closed before the given beat, and the ids keep increasing', () => {
    const rt = createRuntime();
    const early = rt.ops.start({ verb: 'op/a' });
    const open = rt.ops.start({ verb: 'op/b' });
    rt.registerEnzyme({ name: 'close-early', signal: 'go', run: (ctx) => void ctx.runtime.ops.close(early, 'ok') });
    rt.enqueue('go');
    rt.run(3);
    const late = rt.ops.start({ verb: 'op/c' });
    rt.ops.close(late, 'fail');
    expect(rt.ops.prune(rt.beat)).toBe(1);
    expect(rt.ops.state(early)).toBeUndefined();
    expect(rt.ops.state(open)).toBe('run');
    expect(rt.ops.state(late)).toBe('fail');
    expect(rt.ops.start({ verb: 'op/d' })).toBe('4');
  });

  it('keeps a history by beat, and a repeated state in the same beat adds no entry', () => {
    const rt = createRuntime();
    const id = rt.ops.start({ verb: 'v', state: 'plan' });
    rt.ops.setState(id, 'run');
    rt.ops.setState(id, 'run', { code: 5, note: 'again' });
    rt.step();
    rt.ops.setState(id, 'run');
    rt.ops.setState(id, 'yield');
    rt.step();
    rt.ops.close(id, 'ok', 'done');
    expect(history(rt, id)).toEqual(['0:plan', '0:run', '1:run', '1:yield', '2:ok']);
    expect(rt.tree.getValue([...rt.ops.path(id), 'code'])).toMatchObject({ value: 5n });
    expect(rt.tree.getValue([...rt.ops.path(id), 'close', 'status'])).toMatchObject({ value: 'ok' });
    expect(rt.tree.getValue([...rt.ops.path(id), 'close', 'closed_beat'])).toMatchObject({ value: 2n });
  });

  it('keeps the newest opsHistoryRetain entries of a dossier that moves every beat, and counts the ones it removed', () => {
    const rt = createRuntime({ opsHistoryRetain: 5 });
    const id = rt.ops.start({ verb: 'mir/gate', state: 'yield' });
    for (let i = 0; i < 20; i++) {
      rt.ops.setState(id, 'run');
      rt.ops.setState(id, 'yield');
      rt.step();
    }
    // 1 + 40 entries were written; the last five are beat 17's yield, then beats 18 and 19.
    expect(history(rt, id)).toEqual(['17:yield', '18:run', '18:yield', '19:run', '19:yield']);
    expect(rt.tree.getValue([...rt.ops.path(id), 'history_dropped'])).toMatchObject({ type: 'u64', value: 36n });
    // The list's automatic names keep increasing past the removed ones (no name is reused).
    const names = rt.tree
      .get([...rt.ops.path(id), 'history'])!
      .children()
      .map((h) => h.name.tag.text);
    expect(names).toEqual(['37', '38', '39', '40', '41']);
    rt.ops.close(id, 'ok');
    expect(history(rt, id).at(-1)).toBe('20:ok');
    expect(history(rt, id)).toHaveLength(5);
  });

  it('keeps 64 history entries by default and refuses an opsHistoryRetain that is not a whole number ≥ 1', () => {
    const rt = createRuntime();
    const id = rt.ops.start({ verb: 'v' });
    for (let i = 0; i < 100; i++) {
      rt.ops.setState(id, i % 2 === 0 ? 'yield' : 'run');
      rt.step();
    }
    expect(history(rt, id)).toHaveLength(64);
    expect(rt.tree.getValue([...rt.ops.path(id), 'history_dropped'])).toMatchObject({ value: 37n });
    for (const bad of [0, -1, 1.5, Number.NaN])
      expect(() => createRuntime({ opsHistoryRetain: bad })).toThrow(expect.objectContaining({ code: 'OPTION_INVALID' }));
  });

  it('closes idempotently, refuses another status, and refuses states after close', () => {
    const rt = createRuntime();
    const id = rt.ops.start({ verb: 'v' });
    expect(rt.ops.close(id, 'cxl')).toBe(true);
    expect(rt.ops.close(id, 'cxl')).toBe(true);
    expect(rt.ops.close(id, 'ok')).toBe(false);
    expect(rt.ops.state(id)).toBe('cxl');
    expect(() => rt.ops.setState(id, 'run')).toThrow(expect.objectContaining({ code: 'OP_CLOSED' }));
    expect(() => rt.ops.setState('99', 'run')).toThrow(expect.objectContaining({ code: 'OP_NOT_FOUND' }));
    expect(() => rt.ops.setState(id, 'ok' as never)).toThrow(expect.objectContaining({ code: 'OP_STATE_INVALID' }));
    expect(() => rt.ops.start({ verb: 'v', state: 'ok' as never })).toThrow(expect.objectContaining({ code: 'OP_STATE_INVALID' }));
  });

  it('a dossier removed, deleted or replaced while open is found by its path, as any other', () => {
    const rt = createRuntime();
    const removed = rt.ops.start({ verb: 'v' });
    rt.tree.remove(rt.ops.path(removed));
    expect(() => rt.ops.setState(removed, 'run')).toThrow(expect.objectContaining({ code: 'OP_NOT_FOUND' }));
    const deleted = rt.ops.start({ verb: 'v' });
    rt.tree.delete(rt.ops.path(deleted));
    expect(() => rt.ops.close(deleted, 'ok')).toThrow(expect.objectContaining({ code: 'OP_NOT_FOUND' }));
    // Removed, then made again at the same path: the writes go to the new dossier.
    const replaced = rt.ops.start({ verb: 'v' });
    rt.tree.remove(rt.ops.path(replaced));
    rt.tree.set([...rt.ops.path(replaced), 'state'], { type: 'text', value: 'plan' });
    rt.ops.setState(replaced, 'run');
    expect(rt.ops.state(replaced)).toBe('run');
    expect(rt.tree.getValue([...rt.ops.path(replaced), 'verb'])).toBeUndefined();
    // A dossier under a removed /rt/ops is gone too.
    const gone = rt.ops.start({ verb: 'v' });
    rt.tree.remove('/rt/ops');
    expect(() => rt.ops.setState(gone, 'run')).toThrow(expect.objectContaining({ code: 'OP_NOT_FOUND' }));
  });

  it('fires a watcher on an already-true state once, at the next beat', () => {
    const rt = createRuntime({ startBeat: 3 });
    const got = fired(rt, 'cont');
    const id = rt.ops.start({ verb: 'v' });
    rt.step(); // beat 3: runs nothing yet — but the watcher is installed now, between beats
    rt.ops.await(id, { want: 'run', signal: ['cont'] });
    rt.run(4);
    expect(got).toEqual([[5, `rt/ops/${id}`]]);
    expect(rt.tree.get([...rt.ops.path(id), 'watchers'])!.children()).toEqual([]);
  });

  it('arms a watcher when its state is reached and dispatches the continuation at the next beat, exactly once', () => {
    const rt = createRuntime();
    const got = fired(rt, 'cont');
    const id = rt.ops.start({ verb: 'v' });
    rt.ops.await(id, { want: 'ok', signal: ['cont'], target: '/data/job' });
    rt.registerEnzyme({
      name: 'finish',
      signal: 'finish',
      run: (ctx) => {
        ctx.runtime.ops.close(id, 'ok');
        ctx.runtime.ops.close(id, 'ok');
      },
    });
    rt.enqueue('finish', { atBeat: 2 });
    rt.run(6);
    expect(got).toEqual([[3, 'data/job']]);
  });

  it('times out at the deadline: op/tmo at deadline+1 and one ops/watchers CEI fact', () => {
    const rt = createRuntime({ startBeat: 3 });
    const tmo = fired(rt, 'op/tmo');
    const cont = fired(rt, 'cont');
    rt.registerEnzyme({
      name: 'install',
      signal: 'install',
      run: (ctx) => {
        const id = ctx.runtime.ops.start({ verb: 'v' });
        ctx.runtime.ops.await(id, { want: 'ok', signal: ['cont'], ttl: 2 });
      },
    });
    rt.enqueue('install');
    rt.run(6);
    expect(tmo).toEqual([[6, 'rt/ops/1']]);
    expect(cont).toEqual([]);
    const msgs = rt.tree.get('/data/mailbox/diag/msgs')!.children();
    expect(msgs.map((m) => m.child('err')!.child('topic')!.value!.value)).toEqual(['ops/watchers']);
    expect(msgs[0]!.child('err')!.child('issued_beat')!.value!.value).toBe(5n);
  });

  it('uses a custom timeout signal, and a watcher on a state never reached without ttl stays', () => {
    const rt = createRuntime();
    const late = fired(rt, 'late');
    const id = rt.ops.start({ verb: 'v' });
    rt.ops.await(id, { want: 'ok', signal: ['x'], ttl: 1, timeoutSignal: ['late'] });
    const w2 = rt.ops.await(id, { want: 'fail', signal: ['x'] });
    rt.run(4);
    expect(late).toEqual([[2, 'rt/ops/1']]);
    expect(
      rt.tree
        .get([...rt.ops.path(id), 'watchers'])!
        .children()
        .map((c) => c.name.tag.text),
    ).toEqual([w2]);
  });

  it('picks up watchers already in the tree when a runtime starts on it', () => {
    const first = createRuntime();
    const id = first.ops.start({ verb: 'v' });
    first.ops.await(id, { want: 'run', signal: ['cont'] });
    const rt = createRuntime({ tree: first.tree });
    const got = fired(rt, 'cont');
    rt.run(3); // commit of beat 0 dispatches it, beat 1 runs it
    expect(got).toEqual([[1, `rt/ops/${id}`]]);
    expect(rt.ops.start({ verb: 'v' })).toBe('2');
  });
});
