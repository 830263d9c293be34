import { formatPath } from '@cep/cells';
import { describe, expect, it } from 'vitest';
import { cehPath, createRuntime, SEVERITIES, type EmittedFact } from '../src/index.ts';

const v = (rt: ReturnType<typeof createRuntime>, path: string[]): unknown => rt.tree.getValue(path)?.value;

describe('CEI', () => {
  it('records facts under /data/mailbox/diag/msgs/msg-<n> with the documented layout', () => {
    const rt = createRuntime({ startBeat: 4 });
    const pipeline = { pipelineId: 'pipe', stageId: 'st', dagRunId: 77n, hopIndex: 1 };
    const id = rt.cei.emit({ topic: 'tp_inv_timeout', severity: 'error', note: 'no reply', origin: 'invoke', pipeline });
    expect(id).toBe('msg-1');
    expect(rt.cei.emit({ topic: 't2', severity: 'debug', note: 'n', origin: 'o' })).toBe('msg-2');
    const m = ['data', 'mailbox', 'diag'];
    expect(v(rt, [...m, 'meta', 'kind'])).toBe('diagnostic');
    expect(v(rt, [...m, 'meta', 'runtime', 'next_msg_id'])).toBe(3n);
    const err = [...m, 'msgs', 'msg-1', 'err'];
    expect(v(rt, [...m, 'msgs', 'msg-1', 'envelope', 'issued_beat'])).toBe(4n);
    expect(v(rt, [...err, 'sev'])).toBe('error');
    expect(v(rt, [...err, 'topic'])).toBe('tp_inv_timeout');
    expect(v(rt, [...err, 'note'])).toBe('no reply');
    expect(v(rt, [...err, 'issued_beat'])).toBe(4n);
    expect(v(rt, [...err, 'origin', 'name'])).toBe('invoke');
    expect(v(rt, [...err, 'origin', 'pipeline', 'pipeline_id'])).toBe('pipe');
    expect(v(rt, [...err, 'origin', 'pipeline', 'dag_run_id'])).toBe(77n);
    expect(v(rt, [...err, 'origin', 'pipeline', 'hop_index'])).toBe(1n);
  });

  it('accepts the seven severities and refuses anything else', () => {
    const rt = createRuntime();
    expect(SEVERITIES).toEqual(['debug', 'info', 'warn', 'error', 'crit', 'usage', 'fatal']);
    for (const severity of SEVERITIES) rt.cei.emit({ topic: 't', severity, note: '', origin: 'o' });
    expect(rt.tree.get('/data/mailbox/diag/msgs')!.children()).toHaveLength(7);
    expect(() => rt.cei.emit({ topic: 't', severity: 'loud' as never, note: '', origin: 'o' })).toThrow(expect.objectContaining({ code: 'SEVERITY_INVALID' }));
    expect(() => rt.cei.emit({ topic: '', severity: 'info', note: '', origin: 'o' })).toThrow(expect.objectContaining({ code: 'FACT_INVALID' }));
  });

  it('mirrors the latest fact per topic under /net/peers/<peer>/ceh/<topic>', () => {
    const rt = createRuntime();
    rt.cei.emit({ topic: 'tp_backpr', severity: 'warn', note: 'first', origin: 'transport', peer: 'saturn' });
    rt.step();
    rt.cei.emit({ topic: 'tp_backpr', severity: 'error', note: 'second', origin: 'transport', peer: 'saturn' });
    rt.cei.emit({ topic: 'sec.edge.deny', severity: 'crit', note: 'denied', origin: 'sec', peer: 'saturn' });
    const ceh = rt.tree.get(cehPath('saturn', 'tp_backpr'))!;
    expect(formatPath(ceh.path())).toBe('/net/peers/saturn/ceh/tp_backpr');
    expect(ceh.children().map((c) => c.name.tag.text)).toEqual(['beat', 'note', 'severity']);
    expect(ceh.child('severity')?.value).toEqual({ type: 'text', value: 'error' });
    expect(ceh.child('note')?.value).toEqual({ type: 'text', value: 'second' });
    expect(ceh.child('beat')?.value).toEqual({ type: 'u64', value: 1n });
    expect(rt.tree.get(cehPath('saturn', 'sec.edge.deny'))?.child('note')?.value).toEqual({ type: 'text', value: 'denied' });
    // names: a word where the text encodes as one, else a reference
    expect(rt.tree.get('/net/peers/saturn')!.name.tag.kind).toBe('word');
    expect(ceh.name.tag.kind).toBe('word');
    expect(rt.tree.get(cehPath('saturn', 'sec.edge.deny'))!.name.tag.kind).toBe('reference');
  });

  it('keeps at most ceiRetain messages, removing the oldest', () => {
    const rt = createRuntime({ ceiRetain: 3 });
    for (let i = 0; i < 5; i++) rt.cei.emit({ topic: 't', severity: 'info', note: String(i), origin: 'o' });
    expect(
      rt.tree
        .get('/data/mailbox/diag/msgs')!
        .children()
        .map((c) => c.name.tag.text)
        .sort(),
    ).toEqual(['msg-3', 'msg-4', 'msg-5']);
  });

  it('enqueues sig_cei/<severity> for the next beat when asked', () => {
    const rt = createRuntime();
    const got: Array<[number, string]> = [];
    rt.registerEnzyme({
      name: 'watch',
      signal: 'sig_cei',
      match: 'prefix',
      run: (ctx) => void got.push([ctx.beat, ctx.signal.map((n) => n.tag.text).join('/') + ' ' + formatPath(ctx.target!)]),
    });
    rt.registerEnzyme({
      name: 'raise',
      signal: 'raise',
      run: (ctx) => void ctx.runtime.cei.emit({ topic: 't', severity: 'crit', note: '', origin: 'o', signal: true }),
    });
    rt.enqueue('raise');
    rt.run(3);
    expect(got).toEqual([[1, 'sig_cei/crit /data/mailbox/diag/msgs/msg-1']]);
  });

  it('closes an attached operation with fail for usage, crit and fatal only', () => {
    const rt = createRuntime();
    const a = rt.ops.start({ verb: 'v' });
    const b = rt.ops.start({ verb: 'v' });
    rt.cei.emit({ topic: 't', severity: 'error', note: '', origin: 'o', op: a });
    rt.cei.emit({ topic: 't', severity: 'usage', note: '', origin: 'o', op: b });
    expect(rt.ops.state(a)).toBe('run');
    expect(rt.ops.state(b)).toBe('fail');
    expect(rt.tree.getValue([...rt.ops.path(b), 'close', 'summary'])).toMatchObject({ value: 'CEI usage message=msg-2' });
  });

  it('tells listeners about each fact with its id and beat', () => {
    const rt = createRuntime({ startBeat: 2 });
    const facts: EmittedFact[] = [];
    const off = rt.cei.onFact((f) => void facts.push(f));
    rt.cei.emit({ topic: 't', severity: 'info', note: 'x', origin: 'o' });
    off();
    rt.cei.emit({ topic: 't', severity: 'info', note: 'y', origin: 'o' });
    expect(facts.map((f) => [f.id, f.beat, f.note])).toEqual([['msg-1', 2, 'x']]);
  });
});
