import { describe, expect, it } from 'vitest';
import { createRuntime, type Runtime, type SliceContext } from '../src/index.ts';

function history(rt: Runtime, id: string): string {
  const entries = rt.tree.get([...rt.ops.path(id), 'history'])!.children();
  let out = '';
  let last: bigint | undefined;
  for (const h of entries) {
    const beat = h.child('beat')!.value!.value as bigint;
    if (last !== undefined) out += beat === last ? ', ' : ' | ';
    out += String(h.child('state')!.value!.value);
    last = beat;
  }
  return out;
}

describe('episodes', () => {
  it('runs one slice per beat, from the next beat run, with the documented history', () => {
    const rt = createRuntime();
    const beats: number[] = [];
    const id = rt.episodes.start({
      slice: (ctx) => {
        beats.push(ctx.beat);
        if (ctx.slice < 3) ctx.yield('more');
        else ctx.close('ok');
      },
    });
    rt.run(6);
    expect(beats).toEqual([0, 1, 2]);
    // started between beats: stamped with the coming beat 0, first slice in beat 0
    expect(history(rt, id)).toBe('plan, run, yield | run, yield | run, ok');
    expect(rt.episodes.isActive(id)).toBe(false);
    expect(rt.tree.getValue([...rt.ops.path(id), 'verb'])).toMatchObject({ value: 'op/ep' });
    expect(rt.tree.getValue([...rt.ops.path(id), 'episode', 'slices'])).toMatchObject({ value: 3n });
  });

  it('closes ok when a slice returns without yield, await or close', () => {
    const rt = createRuntime();
    const id = rt.episodes.start({ slice: () => {} });
    rt.step();
    expect(rt.ops.state(id)).toBe('ok');
  });

  it('starts the first slice at N+1 when started during beat N, and never runs two slices of one episode in a beat', () => {
    const rt = createRuntime();
    const beats: number[] = [];
    rt.registerEnzyme({
      name: 'go',
      signal: 'go',
      run: (ctx) =>
        void ctx.runtime.episodes.start({
          slice: (s) => {
            beats.push(s.beat);
            s.yield();
          },
        }),
    });
    rt.enqueue('go');
    rt.registerEnzyme({
      name: 'kick',
      signal: 'kick',
      run: (ctx) => {
        ctx.runtime.enqueue(['ep/cont'], { target: ctx.runtime.ops.path('1') });
      },
    });
    rt.enqueue('kick', { atBeat: 2 });
    rt.run(5);
    expect(beats).toEqual([1, 2, 3, 4]);
  });

  it('cancels cooperatively: a running slice sees cancelled, the episode ends cxl after it returns', () => {
    const rt = createRuntime();
    const seen: boolean[] = [];
    const id = rt.episodes.start({
      slice: (ctx) => {
        if (ctx.slice === 2) ctx.runtime.episodes.cancel(ctx.id, 'stop');
        seen.push(ctx.cancelled);
        ctx.yield();
      },
    });
    rt.run(4);
    expect(seen).toEqual([false, true]);
    expect(rt.ops.state(id)).toBe('cxl');
    expect(rt.tree.getValue([...rt.ops.path(id), 'close', 'summary'])).toMatchObject({ value: 'stop' });
  });

  it('cancels an idle episode at once', () => {
    const rt = createRuntime();
    let slices = 0;
    const id = rt.episodes.start({
      slice: (ctx) => {
        slices++;
        ctx.yield();
      },
    });
    rt.step();
    expect(rt.episodes.cancel(id)).toBe(true);
    expect(rt.episodes.cancel(id)).toBe(false);
    rt.run(3);
    expect(slices).toBe(1);
    expect(rt.ops.state(id)).toBe('cxl');
  });

  it('cancels at the beat deadline and after maxBeats slices', () => {
    const rt = createRuntime();
    const a: number[] = [];
    const b: number[] = [];
    const late = rt.episodes.start({
      deadline: 2,
      slice: (ctx) => {
        a.push(ctx.beat);
        ctx.yield();
      },
    });
    const capped = rt.episodes.start({
      maxBeats: 2,
      slice: (ctx) => {
        b.push(ctx.beat);
        ctx.yield();
      },
    });
    rt.run(6);
    expect(a).toEqual([0, 1, 2]);
    expect(b).toEqual([0, 1]);
    expect(rt.ops.state(late)).toBe('cxl');
    expect(rt.tree.getValue([...rt.ops.path(late), 'close', 'summary'])).toMatchObject({ value: 'deadline' });
    expect(rt.tree.getValue([...rt.ops.path(capped), 'close', 'summary'])).toMatchObject({ value: 'max beats exceeded' });
    const topics = rt.tree
      .get('/data/mailbox/diag/msgs')!
      .children()
      .map((m) => m.child('err')!.child('topic')!.value!.value);
    expect(topics).toEqual(['ep:deadline']);
  });

  it('awaits another operation and resumes the beat after the awaited transition', () => {
    const rt = createRuntime();
    const other = rt.ops.start({ verb: 'job' });
    const beats: number[] = [];
    const id = rt.episodes.start({
      slice: (ctx) => {
        beats.push(ctx.beat);
        if (ctx.slice === 1) ctx.await(other, 'ok');
      },
    });
    rt.run(3);
    expect(rt.ops.state(id)).toBe('await');
    rt.registerEnzyme({ name: 'done', signal: 'done', run: (ctx) => void ctx.runtime.ops.close(other, 'ok') });
    rt.enqueue('done', { atBeat: 5 });
    rt.run(5);
    expect(beats).toEqual([0, 6]);
    expect(history(rt, id)).toBe('plan, run, await | run, ok');
  });

  it('is cancelled when an await times out', () => {
    const rt = createRuntime();
    const other = rt.ops.start({ verb: 'job' });
    const id = rt.episodes.start({ slice: (ctx) => ctx.await(other, 'ok', 2) });
    rt.run(5);
    expect(rt.ops.state(id)).toBe('cxl');
    expect(rt.tree.getValue([...rt.ops.path(id), 'close', 'summary'])).toMatchObject({ value: 'await timeout' });
    expect(rt.tree.getValue([...rt.ops.path(id), 'close', 'closed_beat'])).toMatchObject({ value: 3n });
  });

  it('charges IO per slice, records it, and cancels past the budget with a usage fact', () => {
    const rt = createRuntime();
    const seen: boolean[] = [];
    const id = rt.episodes.start({
      budget: { ioBytes: 100n },
      slice: (ctx) => {
        ctx.charge('io', 60n);
        seen.push(ctx.cancelled);
        ctx.charge('io', 60n);
        seen.push(ctx.cancelled);
        ctx.yield();
      },
    });
    rt.run(3);
    expect(seen).toEqual([false, true]);
    expect(rt.ops.state(id)).toBe('cxl');
    expect(rt.tree.getValue([...rt.ops.path(id), 'episode', 'usage', 'io_by'])).toMatchObject({ value: 120n });
    const err = rt.tree.get('/data/mailbox/diag/msgs/msg-1/err')!;
    expect(err.child('topic')!.value).toMatchObject({ value: 'ep:budget/io' });
    expect(err.child('sev')!.value).toMatchObject({ value: 'usage' });
  });

  it('measures CPU at the edge, logs the measurement, and charges it at the next capture', () => {
    let now = 0n;
    const cpuClock = (): bigint => now;
    const rt = createRuntime({ cpuClock });
    const slices: number[] = [];
    const id = rt.episodes.start({
      budget: { cpuNs: 1000n },
      slice: (ctx) => {
        slices.push(ctx.beat);
        now += ctx.slice === 2 ? 5000n : 10n;
        ctx.yield();
      },
    });
    rt.run(5);
    expect(slices).toEqual([0, 1]);
    expect(rt.ops.state(id)).toBe('cxl');
    expect(rt.inboundLog.map((l) => [l.beat, l.kind, l.stream, l.seq])).toEqual([
      [1, 'cep:measure', id, 1],
      [2, 'cep:measure', id, 2],
    ]);
    expect(rt.tree.getValue([...rt.ops.path(id), 'episode', 'usage', 'cpu_ns'])).toMatchObject({ value: 5010n });
  });

  it('a slice that throws ends the episode with fail and a CEI fact, its writes undone', () => {
    const rt = createRuntime();
    const id = rt.episodes.start({
      slice: (ctx) => {
        ctx.runtime.tree.set('/data/x', { type: 'bool', value: true });
        throw new Error('slice broke');
      },
    });
    rt.step();
    expect(rt.ops.state(id)).toBe('fail');
    expect(rt.tree.get('/data/x')).toBeUndefined();
  });

  it('refuses yield and friends outside the episode slice', () => {
    const rt = createRuntime();
    let saved: SliceContext | undefined;
    const id = rt.episodes.start({
      slice: (ctx) => {
        saved = ctx;
        ctx.runtime.episodes.yield(ctx.id, 'via runtime');
      },
    });
    rt.step();
    expect(rt.ops.state(id)).toBe('yield');
    expect(() => rt.episodes.yield(id)).toThrow(expect.objectContaining({ code: 'EPISODE_OUTSIDE_SLICE' }));
    expect(() => rt.episodes.yield('77')).toThrow(expect.objectContaining({ code: 'EPISODE_NOT_FOUND' }));
    expect(() => rt.episodes.start({} as never)).toThrow(expect.objectContaining({ code: 'EPISODE_INVALID' }));
    expect(() => saved!.yield()).toThrow(expect.objectContaining({ code: 'EPISODE_OUTSIDE_SLICE' }));
    expect(() => saved!.close()).toThrow(expect.objectContaining({ code: 'EPISODE_OUTSIDE_SLICE' }));
  });
});
