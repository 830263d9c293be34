import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRuntime, type EnzymeDefinition, type Runtime } from '../src/index.ts';

function orderOf(rt: Runtime, signal: string): string[] {
  rt.enqueue(signal);
  return rt.step().agenda.map((a) => a.enzyme);
}

const noop = (): void => {};

describe('matching', () => {
  it('matches exact queries on the whole path and prefix queries on a prefix', () => {
    const rt = createRuntime();
    rt.registerEnzyme({ name: 'exact', signal: '/sig/order', run: noop });
    rt.registerEnzyme({ name: 'prefix', signal: '/sig', match: 'prefix', run: noop });
    rt.registerEnzyme({ name: 'exact-short', signal: '/sig', run: noop });
    rt.registerEnzyme({ name: 'other', signal: '/other', match: 'prefix', run: noop });
    rt.registerEnzyme({ name: 'too-long', signal: '/sig/order/more', match: 'prefix', run: noop });
    expect(orderOf(rt, '/sig/order')).toEqual(['exact', 'prefix']);
    expect(orderOf(rt, '/sig')).toEqual(['exact-short', 'prefix']);
    expect(orderOf(rt, '/sig/order/more/x')).toEqual(['too-long', 'prefix']);
    expect(orderOf(rt, '/nothing')).toEqual([]);
  });

  it('treats a tag with a slash as one segment in the array form', () => {
    const rt = createRuntime();
    rt.registerEnzyme({ name: 'one', signal: ['op/tmo'], run: noop });
    rt.registerEnzyme({ name: 'two', signal: '/op/tmo', run: noop });
    expect(orderOf(rt, '/op/tmo')).toEqual(['two']);
    rt.enqueue(['op/tmo']);
    // The built-in ep:tmo enzyme also listens on op/tmo.
    expect(rt.step().agenda.map((a) => a.enzyme)).toEqual(['ep:tmo', 'one']);
  });
});

describe('ordering', () => {
  it('runs more specific queries first, then by name, regardless of registration order', () => {
    const rt = createRuntime();
    rt.registerEnzyme({ name: 'zz', signal: '/a', match: 'prefix', run: noop });
    rt.registerEnzyme({ name: 'mm', signal: '/a/b', match: 'prefix', run: noop });
    rt.registerEnzyme({ name: 'aa', signal: '/a', match: 'prefix', run: noop });
    rt.registerEnzyme({ name: 'bb', signal: '/a/b/c', run: noop });
    expect(orderOf(rt, '/a/b/c')).toEqual(['bb', 'mm', 'aa', 'zz']);
  });

  it('honours before and after over specificity and names (B.before=[A], C.after=[B] → B A C D)', () => {
    const rt = createRuntime();
    rt.registerEnzyme({ name: 'A', signal: 's', run: noop });
    rt.registerEnzyme({ name: 'B', signal: 's', before: ['A'], run: noop });
    rt.registerEnzyme({ name: 'C', signal: 's', after: ['B'], run: noop });
    rt.registerEnzyme({ name: 'D', signal: 's', run: noop });
    expect(orderOf(rt, 's')).toEqual(['B', 'A', 'C', 'D']);
  });

  it('lets a general enzyme run before a specific one when it says so', () => {
    const rt = createRuntime();
    rt.registerEnzyme({ name: 'specific', signal: '/x/y', run: noop });
    rt.registerEnzyme({ name: 'general', signal: '/x', match: 'prefix', before: ['specific'], run: noop });
    expect(orderOf(rt, '/x/y')).toEqual(['general', 'specific']);
  });

  it('ignores before/after names that do not match the signal', () => {
    const rt = createRuntime();
    rt.registerEnzyme({ name: 'b', signal: 's', after: ['ghost', 'elsewhere'], run: noop });
    rt.registerEnzyme({ name: 'a', signal: 's', run: noop });
    rt.registerEnzyme({ name: 'elsewhere', signal: 't', run: noop });
    expect(orderOf(rt, 's')).toEqual(['a', 'b']);
  });

  it('refuses a before/after cycle at registration and leaves the registry unchanged', () => {
    const rt = createRuntime();
    rt.registerEnzyme({ name: 'a', signal: 's', before: ['b'], run: noop });
    rt.registerEnzyme({ name: 'b', signal: 's', before: ['c'], run: noop });
    expect(() => rt.registerEnzyme({ name: 'c', signal: 's', before: ['a'], run: noop })).toThrow(
      expect.objectContaining({ code: 'ENZYME_CYCLE', details: expect.objectContaining({ cycle: ['a', 'b', 'c', 'a'] }) }),
    );
    expect(() => rt.registerEnzyme({ name: 'c', signal: 's', after: ['c'], run: noop })).toThrow(expect.objectContaining({ code: 'ENZYME_CYCLE' }));
    expect(orderOf(rt, 's')).toEqual(['a', 'b']);
  });

  it('finds a cycle through a registration still pending inside a beat', () => {
    const rt = createRuntime();
    let error: unknown;
    rt.registerEnzyme({
      name: 'reg',
      signal: 'reg',
      run: (ctx) => {
        ctx.runtime.registerEnzyme({ name: 'p', signal: 's', before: ['q'], run: noop });
        try {
          ctx.runtime.registerEnzyme({ name: 'q', signal: 's', before: ['p'], run: noop });
        } catch (e) {
          error = e;
        }
      },
    });
    rt.enqueue('reg');
    rt.step();
    expect(error).toMatchObject({ code: 'ENZYME_CYCLE' });
  });

  it('refuses duplicate names and bad definitions', () => {
    const rt = createRuntime();
    rt.registerEnzyme({ name: 'x', signal: 's', run: noop });
    expect(() => rt.registerEnzyme({ name: 'x', signal: 't', run: noop })).toThrow(expect.objectContaining({ code: 'ENZYME_DUPLICATE' }));
    expect(() => rt.registerEnzyme({ name: '', signal: 't', run: noop })).toThrow(expect.objectContaining({ code: 'ENZYME_INVALID' }));
    expect(() => rt.registerEnzyme({ name: 'y', signal: '/', run: noop })).toThrow(expect.objectContaining({ code: 'ENZYME_INVALID' }));
    expect(() => rt.registerEnzyme({ name: 'y', signal: 's', match: 'glob' as never, run: noop })).toThrow(expect.objectContaining({ code: 'ENZYME_INVALID' }));
    expect(() => rt.registerEnzyme({ name: 'y', signal: 's' } as never)).toThrow(expect.objectContaining({ code: 'ENZYME_INVALID' }));
  });

  it('property: any acyclic before/after set gives an order that respects every edge and does not depend on registration order', () => {
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const arb = fc.record({
      // edges only from lower to higher index: acyclic by construction
      edges: fc.array(fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 6 }), fc.boolean()), { maxLength: 12 }),
      depth: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 7, maxLength: 7 }),
      perm: fc.shuffledSubarray(names, { minLength: 7, maxLength: 7 }),
    });
    fc.assert(
      fc.property(arb, ({ edges, depth, perm }) => {
        const defs = new Map<string, { before: string[]; after: string[]; signal: string[] }>();
        names.forEach((n, i) => defs.set(n, { before: [], after: [], signal: ['s', 't', 'u'].slice(0, depth[i]!) }));
        const must: Array<[string, string]> = [];
        for (const [x, y, useBefore] of edges) {
          if (x >= y) continue;
          const [first, second] = [names[x]!, names[y]!];
          must.push([first, second]);
          if (useBefore) defs.get(first)!.before.push(second);
          else defs.get(second)!.after.push(first);
        }
        const build = (order: readonly string[]): string[] => {
          const rt = createRuntime();
          for (const n of order) {
            const d = defs.get(n)!;
            const def: EnzymeDefinition = { name: n, signal: d.signal, match: 'prefix', before: d.before, after: d.after, run: noop };
            rt.registerEnzyme(def);
          }
          return orderOf(rt, '/s/t/u');
        };
        const one = build(names);
        const two = build(perm);
        expect(two).toEqual(one);
        expect(new Set(one)).toEqual(new Set(names));
        for (const [first, second] of must) expect(one.indexOf(first)).toBeLessThan(one.indexOf(second));
      }),
      { numRuns: 200 },
    );
  });
});

describe('enzyme results', () => {
  it('re-queues a retrying signal at N+1 with the attempt count, once per signal', () => {
    const rt = createRuntime();
    const seen: Array<[string, number, number]> = [];
    rt.registerEnzyme({
      name: 'r1',
      signal: 's',
      run: (ctx) => {
        seen.push(['r1', ctx.beat, ctx.attempt]);
        return ctx.attempt < 3 ? 'retry' : 'ok';
      },
    });
    rt.registerEnzyme({
      name: 'r2',
      signal: 's',
      run: (ctx) => {
        seen.push(['r2', ctx.beat, ctx.attempt]);
        return ctx.attempt < 2 ? 'retry' : 'ok';
      },
    });
    rt.enqueue('s', { atBeat: 7 });
    rt.run(12);
    expect(seen).toEqual([
      ['r1', 7, 1],
      ['r2', 7, 1],
      ['r1', 8, 2],
      ['r2', 8, 2],
      ['r1', 9, 3],
      ['r2', 9, 3],
    ]);
  });

  it('fatal skips the rest of that signal, records a CEI fact, and the beat goes on', () => {
    const rt = createRuntime();
    const ran: string[] = [];
    rt.registerEnzyme({
      name: 'a',
      signal: 's',
      run: () => {
        ran.push('a');
        return 'fatal';
      },
    });
    rt.registerEnzyme({ name: 'b', signal: 's', run: () => void ran.push('b') });
    rt.registerEnzyme({ name: 'c', signal: 't', run: () => void ran.push('c') });
    rt.enqueue('s');
    rt.enqueue('t');
    const report = rt.step();
    expect(ran).toEqual(['a', 'c']);
    expect(report.agenda.map((x) => `${x.enzyme}=${x.result}`)).toEqual(['a=fatal', 'c=ok']);
    expect(rt.beat).toBe(1);
    expect(rt.tree.getValue(['data', 'mailbox', 'diag', 'msgs', 'msg-1', 'err', 'topic'])).toMatchObject({ value: 'hb/fatal' });
  });

  it('an enzyme that throws has its writes and its enqueued signals undone', () => {
    const rt = createRuntime();
    const ran: string[] = [];
    rt.registerEnzyme({
      name: 'bad',
      signal: 's',
      run: (ctx) => {
        ctx.runtime.tree.set('/data/half', ctx.data!);
        ctx.runtime.enqueue('later');
        throw new Error('oops');
      },
    });
    rt.registerEnzyme({ name: 'after-bad', signal: 's', after: ['bad'], run: () => void ran.push('after') });
    rt.registerEnzyme({ name: 'later', signal: 'later', run: () => void ran.push('later') });
    rt.enqueue('s', { data: { type: 'bool', value: true } });
    const report = rt.step();
    rt.step();
    expect(report.agenda.map((x) => x.result)).toEqual(['threw']);
    expect(rt.tree.get('/data/half')).toBeUndefined();
    expect(ran).toEqual([]);
    expect(rt.tree.getValue(['data', 'mailbox', 'diag', 'msgs', 'msg-1', 'err', 'note'])).toMatchObject({ value: expect.stringContaining('oops') });
  });
});
