import { text } from '@cep/cells';
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../src/index.ts';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('external inputs', () => {
  it('admits inputs at the next capture ordered by kind, stream, then sequence, and logs them', () => {
    const rt = createRuntime({ startBeat: 3 });
    const seen: string[] = [];
    for (const kind of ['frame', 'alarm']) rt.defineInput(kind, (input, ctx) => void seen.push(`${ctx.beat}:${kind}:${input.stream}#${input.seq}`));
    rt.pushInput('frame', { stream: 'saturn', seq: 2, data: bytes('c') });
    rt.pushInput('frame', { stream: 'mars', seq: 9, data: bytes('b') });
    rt.pushInput('frame', { stream: 'saturn', seq: 1, data: bytes('a') });
    rt.pushInput('alarm', { stream: 'zed', seq: 1, data: bytes('z') });
    expect(seen).toEqual([]);
    const report = rt.step();
    expect(report.inputs).toBe(4);
    expect(seen).toEqual(['3:alarm:zed#1', '3:frame:mars#9', '3:frame:saturn#1', '3:frame:saturn#2']);
    expect(rt.inboundLog.map((l) => [l.beat, l.kind, l.stream, l.seq, new TextDecoder().decode(l.data)])).toEqual([
      [3, 'alarm', 'zed', 1, 'z'],
      [3, 'frame', 'mars', 9, 'b'],
      [3, 'frame', 'saturn', 1, 'a'],
      [3, 'frame', 'saturn', 2, 'c'],
    ]);
    rt.step();
    expect(seen).toHaveLength(4);
  });

  it('runs signals an input handler enqueues in the same beat, and its later writes at N+1', () => {
    const rt = createRuntime();
    const beats: number[] = [];
    rt.defineInput('frame', (input, ctx) => void ctx.runtime.enqueue('got', { data: text(input.stream) }));
    rt.registerEnzyme({
      name: 'got',
      signal: 'got',
      run: (ctx) => {
        beats.push(ctx.beat);
        ctx.runtime.enqueue('next');
      },
    });
    rt.registerEnzyme({ name: 'next', signal: 'next', run: (ctx) => void beats.push(ctx.beat) });
    rt.pushInput('frame', { stream: 's', seq: 1, data: new Uint8Array() });
    rt.run(2);
    expect(beats).toEqual([0, 1]);
  });

  it('trims the inbound log before a beat, or entirely', () => {
    const rt = createRuntime();
    rt.defineInput('frame', () => {});
    for (let beat = 0; beat < 4; beat++) {
      rt.pushInput('frame', { stream: 's', seq: beat, data: new Uint8Array() });
      rt.step();
    }
    rt.clearInboundLog(2);
    expect(rt.inboundLog.map((l) => l.beat)).toEqual([2, 3]);
    rt.clearInboundLog();
    expect(rt.inboundLog).toEqual([]);
  });

  it('copies input bytes so later changes by the pusher do not leak in', () => {
    const rt = createRuntime();
    rt.defineInput('frame', () => {});
    const data = bytes('abc');
    rt.pushInput('frame', { stream: 's', seq: 1, data });
    data[0] = 0;
    rt.step();
    expect(rt.inboundLog[0]!.data[0]).toBe('a'.charCodeAt(0));
  });

  it('refuses unknown kinds, bad inputs, duplicate sequence numbers and kinds defined twice', () => {
    const rt = createRuntime();
    rt.defineInput('frame', () => {});
    expect(() => rt.pushInput('nope', { stream: 's', seq: 1, data: new Uint8Array() })).toThrow(expect.objectContaining({ code: 'INPUT_UNKNOWN_KIND' }));
    expect(() => rt.pushInput('frame', { stream: 's', seq: -1, data: new Uint8Array() })).toThrow(expect.objectContaining({ code: 'INPUT_INVALID' }));
    expect(() => rt.pushInput('frame', { stream: 's', seq: 1, data: 'x' as never })).toThrow(expect.objectContaining({ code: 'INPUT_INVALID' }));
    rt.pushInput('frame', { stream: 's', seq: 1, data: new Uint8Array() });
    expect(() => rt.pushInput('frame', { stream: 's', seq: 1, data: new Uint8Array() })).toThrow(expect.objectContaining({ code: 'INPUT_DUPLICATE' }));
    expect(() => rt.defineInput('frame', () => {})).toThrow(expect.objectContaining({ code: 'INPUT_DUPLICATE' }));
    expect(() => rt.defineInput('', () => {})).toThrow(expect.objectContaining({ code: 'INPUT_INVALID' }));
  });

  it('turns a handler that throws into a CEI fact, undoes its writes, and keeps admitting the rest', () => {
    const rt = createRuntime();
    const seen: number[] = [];
    rt.defineInput('frame', (input, ctx) => {
      ctx.runtime.tree.set(['data', `f${'abc'[input.seq]}`], text('x'));
      if (input.seq === 1) throw new Error('bad frame');
      seen.push(input.seq);
    });
    for (const seq of [0, 1, 2]) rt.pushInput('frame', { stream: 's', seq, data: new Uint8Array() });
    rt.step();
    expect(seen).toEqual([0, 2]);
    expect(rt.tree.get('/data/fb')).toBeUndefined();
    expect(rt.tree.get('/data/fa')).toBeDefined();
    expect(rt.tree.getValue(['data', 'mailbox', 'diag', 'msgs', 'msg-1', 'err', 'note'])).toMatchObject({ value: expect.stringContaining('bad frame') });
  });
});
