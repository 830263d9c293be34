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

  it('logs bytes handed over with owned as they are (no copy); a pusher that reuses its buffer must leave owned off', () => {
    const rt = createRuntime();
    const seen: Uint8Array[] = [];
    rt.defineInput('frame', (input) => void seen.push(input.data));
    const handed = bytes('own');
    const reused = bytes('abc');
    rt.pushInput('frame', { stream: 's', seq: 1, data: handed }, { owned: true });
    rt.pushInput('frame', { stream: 's', seq: 2, data: reused });
    reused.set(bytes('xyz')); // the pusher reuses its buffer before the capture
    rt.step();
    reused.set(bytes('uvw')); // and after it
    expect(rt.inboundLog[0]!.data).toBe(handed);
    expect(seen[0]).toBe(handed);
    expect(rt.inboundLog[1]!.data).not.toBe(reused);
    expect(new TextDecoder().decode(rt.inboundLog[1]!.data)).toBe('abc');
    expect(new TextDecoder().decode(seen[1])).toBe('abc');
  });

  it('finds a duplicate sequence number however the pushes of a stream are ordered, per kind and stream', () => {
    const rt = createRuntime();
    rt.defineInput('frame', () => {});
    rt.defineInput('event', () => {});
    const push = (kind: string, stream: string, seq: number): void => rt.pushInput(kind, { stream, seq, data: new Uint8Array() });
    const duplicate = expect.objectContaining({ code: 'INPUT_DUPLICATE' });
    push('frame', 's', 5);
    push('frame', 's', 7);
    push('frame', 's', 6); // out of order: the stream now checks every pending number
    expect(() => push('frame', 's', 5)).toThrow(duplicate);
    expect(() => push('frame', 's', 7)).toThrow(duplicate);
    expect(() => push('frame', 's', 6)).toThrow(duplicate);
    push('frame', 's', 1);
    expect(() => push('frame', 's', 1)).toThrow(duplicate);
    push('frame', 's', 8);
    expect(() => push('frame', 's', 8)).toThrow(duplicate);
    push('frame', 't', 5); // another stream
    push('event', 's', 5); // another kind
    expect(() => push('event', 's', 5)).toThrow(duplicate);
    expect(rt.step().inputs).toBe(7);
    push('frame', 's', 5); // admitted numbers are no longer pending
    expect(rt.step().inputs).toBe(1);
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
