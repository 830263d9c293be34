import { text, u64 } from '@cep/cells';
import { organStore, type Runtime } from '../src/index.ts';

/**
 * A deterministic application: enzymes that write, enqueue, retry, fail, open OPS dossiers,
 * start episodes and emit CEI facts, driven by inputs. Everything it decides depends only on
 * the tree and the inputs.
 */
export function setup(rt: Runtime): void {
  const tree = rt.tree;
  rt.tree.ensureDictionary('/net/organs/link/requests', organStore('link'));
  rt.registerOrgan({
    kind: 'link',
    validator: (ctx) => (ctx.request.child('peer')?.value?.value === 'bad' ? { error: 'bad peer' } : undefined),
    construct: (ctx) => void ctx.runtime.tree.set([...ctx.requestPath, 'state'], text('active')),
    destructor: (ctx) => void ctx.runtime.cei.emit({ topic: 'link/gone', severity: 'info', note: ctx.request.name.tag.text, origin: 'link' }),
  });
  rt.defineInput('frame', (input, ctx) => {
    const [op, a = 0, b = 0] = input.data;
    const sig = ['s', `k${'abcdefgh'[a % 8]}`];
    if (op! % 5 === 0) ctx.runtime.enqueue(sig, { data: u64(b) });
    else if (op! % 5 === 1) ctx.runtime.enqueue(sig, { atBeat: ctx.beat + (b % 4), data: u64(a) });
    else if (op! % 5 === 2)
      ctx.runtime.tree.set(['net', 'organs', 'link', 'requests', `r${'abcd'[a % 4]}`, 'peer'], text(b % 3 === 0 ? 'bad' : `p${'xyz'[b % 3]}`));
    else if (op! % 5 === 3) ctx.runtime.tree.delete(['net', 'organs', 'link', 'requests', `r${'abcd'[a % 4]}`]);
    else ctx.runtime.pushInput === undefined || ctx.runtime.enqueue(['s', 'ep']);
  });
  const counter = (path: string[]): bigint => {
    const v = tree.getValue(path);
    return v?.type === 'u64' ? v.value : 0n;
  };
  rt.registerEnzyme({
    name: 'count',
    signal: 's',
    match: 'prefix',
    run: (ctx) => {
      const path = ['data', 'count', ctx.signal.at(-1)!.tag.text];
      ctx.runtime.tree.set(path, u64(counter(path) + 1n));
    },
  });
  rt.registerEnzyme({
    name: 'chain',
    signal: ['s', 'ka'],
    after: ['count'],
    run: (ctx) => {
      const n = ctx.data?.type === 'u64' ? ctx.data.value : 0n;
      if (n % 3n === 1n) ctx.runtime.enqueue(['s', 'kb'], { data: u64(n + 1n) });
      if (n % 7n === 3n) return ctx.attempt < 3 ? 'retry' : 'ok';
      return undefined;
    },
  });
  rt.registerEnzyme({
    name: 'fail',
    signal: ['s', 'kc'],
    before: ['count'],
    run: (ctx) => (ctx.data?.type === 'u64' && ctx.data.value % 2n === 0n ? 'fatal' : 'ok'),
  });
  rt.registerEnzyme({
    name: 'throw',
    signal: ['s', 'kd'],
    run: (ctx) => {
      ctx.runtime.tree.set('/data/never', text('x'));
      if (ctx.beat % 2 === 0) throw new Error('even');
    },
  });
  rt.registerEnzyme({
    name: 'ops',
    signal: ['s', 'ke'],
    run: (ctx) => {
      const id = ctx.runtime.ops.start({ verb: 'job' });
      ctx.runtime.ops.await(id, { want: 'ok', signal: ['s', 'kf'], ttl: 3 });
      if (ctx.beat % 3 === 0) ctx.runtime.ops.close(id, 'ok');
    },
  });
  rt.registerEnzyme({
    name: 'ep',
    signal: ['s', 'ep'],
    run: (ctx) =>
      void ctx.runtime.episodes.start({
        maxBeats: 4,
        budget: { ioBytes: 300n },
        slice: (s) => {
          s.charge('io', BigInt((s.beat * 13) % 200));
          s.runtime.tree.set(['data', 'ep', s.id], u64(s.slice));
          s.yield();
        },
      }),
  });
  // A long-running app prunes closed dossiers (keeps the tree, and the digest cost, bounded).
  rt.onCommit(() => {
    const ops = rt.tree.get('/rt/ops')?.children() ?? [];
    const newest = Number(ops.at(-1)?.name.tag.text ?? 0);
    for (const op of [...ops]) {
      const state = rt.ops.state(op.name.tag.text);
      if (Number(op.name.tag.text) < newest - 8 && (state === 'ok' || state === 'cxl' || state === 'fail')) rt.tree.remove(op.path());
    }
  });
  rt.registerEnzyme({
    name: 'cei',
    signal: ['s', 'kg'],
    run: (ctx) => void ctx.runtime.cei.emit({ topic: `t${'ab'[ctx.beat % 2]}`, severity: 'warn', note: String(ctx.beat), origin: 'cei', peer: 'saturn' }),
  });
}
