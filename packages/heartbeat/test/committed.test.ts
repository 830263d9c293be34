import { describe, expect, it } from 'vitest';
import { text } from '@cep/cells';
import { createRuntime, type LoggedInput } from '@cep/heartbeat';

describe('onCommitted', () => {
  it('hears each beat after its last write, with the inputs it admitted', () => {
    const runtime = createRuntime({ ledger: { retain: 4 } });
    runtime.defineInput('frame', (input, ctx) => void ctx.runtime.tree.set(['in', input.stream], text(String(input.seq))));
    runtime.onCommit((beat) => void runtime.tree.set('/hook', text(`commit ${beat}`)));
    const heard: Array<{ beat: number; inputs: readonly LoggedInput[]; hook: unknown; ledger: boolean }> = [];
    const stop = runtime.onCommitted((beat, inputs) => {
      heard.push({ beat, inputs, hook: runtime.tree.getValue('/hook'), ledger: runtime.tree.get(['rt', 'beat', String(beat)]) !== undefined });
    });
    runtime.pushInput('frame', { stream: 'b', seq: 2, data: Uint8Array.of(1) });
    runtime.pushInput('frame', { stream: 'a', seq: 7, data: Uint8Array.of(2) });
    runtime.step();
    runtime.step();
    stop();
    runtime.step();
    expect(heard.map((h) => h.beat)).toEqual([0, 1]);
    expect(heard[0]!.inputs.map((i) => `${i.kind}/${i.stream}#${i.seq}@${i.beat}`)).toEqual(['frame/a#7@0', 'frame/b#2@0']);
    expect(heard[1]!.inputs).toEqual([]);
    expect(heard[0]!.hook).toEqual(text('commit 0'));
    expect(heard.every((h) => h.ledger)).toBe(true);
  });

  it('a listener that throws is reported as CEI and the beat still ends', () => {
    const runtime = createRuntime();
    runtime.onCommitted(() => {
      throw new Error('disk full');
    });
    runtime.step();
    expect(runtime.beat).toBe(1);
    const msgs = runtime.tree.get('/data/mailbox/diag/msgs')!.children();
    expect(msgs).toHaveLength(1);
    expect(runtime.tree.getValue([...msgs[0]!.path(), 'err', 'note'] as never)).toMatchObject({ value: expect.stringContaining('disk full') });
  });
});
