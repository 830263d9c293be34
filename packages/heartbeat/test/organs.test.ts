import { text, type Tree } from '@cep/cells';
import { describe, expect, it } from 'vitest';
import { createRuntime, organStore, type OrganContext, type Runtime } from '../src/index.ts';

const ROOT = '/net/organs/link/requests';

function setup(
  rt: Runtime,
  options: { invalid?: (ctx: OrganContext) => string | undefined; ctorWrites?: boolean; throwIn?: 'validator' | 'constructor' } = {},
) {
  const log: string[] = [];
  rt.tree.ensureDictionary(ROOT, organStore('link'));
  rt.registerOrgan({
    kind: 'link',
    validator(ctx) {
      log.push(`${ctx.beat} vl ${ctx.request.name.tag.text} ${ctx.reason}`);
      if (options.throwIn === 'validator') throw new Error('validator blew up');
      const error = options.invalid?.(ctx);
      return error === undefined ? undefined : { error };
    },
    construct(ctx) {
      log.push(`${ctx.beat} ct ${ctx.request.name.tag.text}`);
      if (options.throwIn === 'constructor') throw new Error('ctor blew up');
      if (options.ctorWrites === true) {
        ctx.runtime.tree.set([...ctx.requestPath, 'provider'], text('tcp'));
        ctx.runtime.tree.set([...ctx.requestPath, 'state'], text('active'));
      }
    },
    destructor(ctx) {
      log.push(`${ctx.beat} dt ${ctx.request.name.tag.text}`);
    },
  });
  return log;
}

const req = (tree: Tree, id: string, field = 'peer', value = 'saturn'): void => void tree.set(`${ROOT}/${id}/${field}`, text(value));

describe('organs', () => {
  it('validates then constructs a request created during beat N in compute of N+1', () => {
    const rt = createRuntime();
    const log = setup(rt, { ctorWrites: true });
    rt.registerEnzyme({ name: 'make', signal: 'make', run: (ctx) => req(ctx.runtime.tree, 'a') });
    rt.enqueue('make');
    rt.step();
    expect(log).toEqual([]);
    const report = rt.step();
    expect(log).toEqual(['1 vl a create', '1 ct a']);
    expect(report.organRuns).toBe(2);
    // the constructor's own writes do not trigger the validator again
    rt.run(3);
    expect(log).toHaveLength(2);
  });

  it('runs the validator again when someone else changes the request, but not for outputs (state, error_note)', () => {
    const rt = createRuntime();
    const log = setup(rt);
    req(rt.tree, 'a');
    rt.step();
    rt.tree.set(`${ROOT}/a/state`, text('active'));
    rt.tree.set(`${ROOT}/a/error_note`, text(''));
    rt.step();
    expect(log).toEqual(['0 vl a create', '0 ct a']);
    rt.tree.set(`${ROOT}/a/mount`, text('main'));
    rt.tree.set(`${ROOT}/a/peer`, text('mars'));
    rt.step();
    expect(log).toEqual(['0 vl a create', '0 ct a', '2 vl a change']);
  });

  it('runs the validator again when a field inside a request is hard-removed (but not an output field)', () => {
    const rt = createRuntime();
    const log = setup(rt);
    req(rt.tree, 'a');
    rt.tree.set(`${ROOT}/a/mount`, text('main'));
    rt.tree.set(`${ROOT}/a/state`, text('active'));
    rt.step();
    rt.tree.remove(`${ROOT}/a/state`);
    rt.step();
    expect(log).toEqual(['0 vl a create', '0 ct a']);
    rt.tree.remove(`${ROOT}/a/mount`);
    rt.step();
    expect(log).toEqual(['0 vl a create', '0 ct a', '2 vl a change']);
  });

  it('turns a validation failure into state=error, error_note and a CEI fact, never a throw', () => {
    const rt = createRuntime();
    setup(rt, { invalid: (ctx) => (ctx.request.child('peer')?.value?.value === 'Not A Word!' ? 'peer does not encode as a CEP word' : undefined) });
    req(rt.tree, 'bad', 'peer', 'Not A Word!');
    req(rt.tree, 'good');
    expect(() => rt.step()).not.toThrow();
    expect(rt.tree.getValue(`${ROOT}/bad/state`)).toEqual(text('error'));
    expect(rt.tree.getValue(`${ROOT}/bad/error_note`)).toEqual(text('peer does not encode as a CEP word'));
    expect(rt.tree.get(`${ROOT}/good/state`)).toBeUndefined();
    const err = rt.tree.get('/data/mailbox/diag/msgs/msg-1/err')!;
    expect(err.child('topic')?.value).toEqual(text('organ/link'));
    expect(err.child('sev')?.value).toEqual(text('error'));
    expect(err.child('origin')?.child('name')?.value).toEqual(text('org:link:vl'));
    expect(err.child('note')?.value?.value).toContain('/net/organs/link/requests/bad');
    expect(rt.tree.get('/data/mailbox/diag/msgs')!.children()).toHaveLength(1);
  });

  it('treats a validator that throws as a failure, and undoes what it wrote', () => {
    const rt = createRuntime();
    rt.tree.ensureDictionary(ROOT, organStore('link'));
    rt.registerOrgan({
      kind: 'link',
      validator(ctx) {
        ctx.runtime.tree.set('/data/half', text('x'));
        throw new Error('validator blew up');
      },
    });
    req(rt.tree, 'a');
    rt.step();
    expect(rt.tree.get('/data/half')).toBeUndefined();
    expect(rt.tree.getValue(`${ROOT}/a/state`)).toEqual(text('error'));
    expect(rt.tree.getValue(`${ROOT}/a/error_note`)?.value).toContain('validator blew up');
  });

  it('a constructor that throws marks the request as failed and is tried again after the next change', () => {
    const rt = createRuntime();
    const log = setup(rt, { throwIn: 'constructor' });
    req(rt.tree, 'a');
    rt.step();
    expect(rt.tree.getValue(`${ROOT}/a/state`)).toEqual(text('error'));
    req(rt.tree, 'a', 'mount', 'main');
    rt.step();
    expect(log).toEqual(['0 vl a create', '0 ct a', '1 vl a create', '1 ct a']);
  });

  it('runs the destructor when a constructed request is deleted or removed, in the next beat', () => {
    const rt = createRuntime();
    const log = setup(rt);
    req(rt.tree, 'a');
    req(rt.tree, 'b');
    rt.step();
    rt.registerEnzyme({
      name: 'drop',
      signal: 'drop',
      run: (ctx) => {
        ctx.runtime.tree.delete(`${ROOT}/a`);
        ctx.runtime.tree.remove(`${ROOT}/b`);
      },
    });
    rt.enqueue('drop');
    rt.step();
    expect(log.slice(4)).toEqual([]);
    rt.step();
    expect(log.slice(4)).toEqual(['2 dt a', '2 dt b']);
    // a revived request is constructed again
    req(rt.tree, 'a', 'peer', 'again');
    rt.step();
    expect(log.slice(6)).toEqual(['3 vl a create', '3 ct a']);
  });

  it('validates a request an input handler writes in capture of N in compute of the same beat', () => {
    const rt = createRuntime();
    const log = setup(rt);
    rt.defineInput('frame', (_input, ctx) => req(ctx.runtime.tree, 'fromwire'));
    rt.pushInput('frame', { stream: 's', seq: 1, data: new Uint8Array() });
    rt.step();
    expect(log).toEqual(['0 vl fromwire create', '0 ct fromwire']);
  });

  it('runs destructors for every constructed request when the organ root is deleted', () => {
    const rt = createRuntime();
    const log = setup(rt);
    req(rt.tree, 'a');
    req(rt.tree, 'b');
    rt.step();
    rt.tree.delete(ROOT);
    rt.step();
    expect(log.slice(4)).toEqual(['1 dt a', '1 dt b']);
  });

  it('processes requests in name order and organs in kind order', () => {
    const rt = createRuntime();
    const log: string[] = [];
    for (const kind of ['mirror', 'link']) {
      rt.tree.ensureDictionary(`/net/organs/${kind}/requests`, organStore(kind));
      rt.registerOrgan({ kind, validator: (ctx) => void log.push(`${kind}:${ctx.request.name.tag.text}`) });
    }
    for (const id of ['zeta', 'alpha', 'mid']) {
      rt.tree.set(`/net/organs/mirror/requests/${id}/x`, text('1'));
      rt.tree.set(`/net/organs/link/requests/${id}/x`, text('1'));
    }
    rt.step();
    expect(log).toEqual(['link:alpha', 'link:mid', 'link:zeta', 'mirror:alpha', 'mirror:mid', 'mirror:zeta']);
  });

  it('treats requests already in the tree at registration, and under a root created later, as created', () => {
    const rt = createRuntime();
    rt.tree.ensureDictionary(ROOT, organStore('link'));
    req(rt.tree, 'old');
    const log = setup(rt);
    rt.tree.set('/other/requests/x/peer', text('p'));
    rt.tree.ensureDictionary('/other/requests', organStore('link'));
    rt.step();
    expect(log).toEqual(['0 vl old create', '0 ct old', '0 vl x create', '0 ct x']);
  });

  it('honours an own constructor method (the API sketch name) as the constructor', () => {
    const rt = createRuntime();
    rt.tree.ensureDictionary(ROOT, organStore('link'));
    const log: string[] = [];
    rt.registerOrgan({ kind: 'link', validator: () => undefined, constructor: (ctx: OrganContext) => void log.push(ctx.request.name.tag.text) } as never);
    req(rt.tree, 'a');
    rt.step();
    expect(log).toEqual(['a']);
  });

  it('refuses organs without a validator, with a bad kind, or registered twice', () => {
    const rt = createRuntime();
    expect(() => rt.registerOrgan({ kind: 'x' } as never)).toThrow(expect.objectContaining({ code: 'ORGAN_INVALID' }));
    expect(() => rt.registerOrgan({ kind: '', validator: () => undefined })).toThrow(expect.objectContaining({ code: 'ORGAN_INVALID' }));
    rt.registerOrgan({ kind: 'x', validator: () => undefined });
    expect(() => rt.registerOrgan({ kind: 'x', validator: () => undefined })).toThrow(expect.objectContaining({ code: 'ORGAN_DUPLICATE' }));
  });

  it('stops noticing requests once unregistered', () => {
    const rt = createRuntime();
    rt.tree.ensureDictionary(ROOT, organStore('link'));
    const log: string[] = [];
    const off = rt.registerOrgan({ kind: 'link', validator: (ctx) => void log.push(ctx.request.name.tag.text) });
    req(rt.tree, 'a');
    off();
    rt.step();
    expect(log).toEqual([]);
  });
});
