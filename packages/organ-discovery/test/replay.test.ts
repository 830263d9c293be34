import { bool, createTree, digestHex, text, u64, type Tree, type Value } from '@cep/cells';
import { replay, type Runtime } from '@cep/heartbeat';
import { createRuntime } from '@cep/heartbeat';
import { describe, expect, it } from 'vitest';
import { installDiscovery } from '@cep/organ-discovery';

/** Tree edits arrive as inputs, so a replay sees the same ones. */
type Op = { op: 'set'; path: string; value: ['text', string] | ['u64', number] | ['bool', boolean] } | { op: 'delete' | 'remove'; path: string };

function toValue(v: Extract<Op, { op: 'set' }>['value']): Value {
  return v[0] === 'text' ? text(v[1]) : v[0] === 'u64' ? u64(v[1]) : bool(v[1]);
}

function app(rt: Runtime): void {
  installDiscovery(rt);
  rt.defineInput('edit', (input, ctx) => {
    for (const op of JSON.parse(new TextDecoder().decode(input.data)) as Op[]) {
      if (op.op === 'set') ctx.runtime.tree.set(op.path, toValue(op.value));
      else if (op.op === 'delete') ctx.runtime.tree.delete(op.path);
      else ctx.runtime.tree.remove(op.path);
    }
  });
  rt.registerEnzyme({
    name: 'fact',
    signal: '/test/fact',
    run: (ctx) => void ctx.runtime.cei.emit({ topic: 'tp_backpr', severity: 'warn', note: `b${ctx.beat}`, origin: 'test', peer: 'saturn' }),
  });
}

const service = (peer: string, svc: string, skip?: string): Op[] =>
  (['mode', 'mount', 'local_node', 'provider'] as const)
    .filter((f) => f !== skip)
    .map((f): Op => ({ op: 'set', path: `/net/peers/${peer}/services/${svc}/${f}`, value: ['text', f === 'mode' ? 'link' : 'x'] }))
    .concat(skip === 'upd_latest' ? [] : [{ op: 'set', path: `/net/peers/${peer}/services/${svc}/upd_latest`, value: ['bool', false] }]);

/** A scripted run: valid, invalid, fixed, pruned (soft and hard), CEI mirrors, bad names. */
const SCRIPT: Op[][] = [
  [...service('saturn', 'main'), ...service('saturn', 'gauges', 'mode'), ...service('venus', 'main')],
  [{ op: 'set', path: '/net/peers/saturn/services/gauges/mode', value: ['u64', 1] }],
  [{ op: 'set', path: '/net/peers/saturn/services/gauges/mode', value: ['text', 'link'] }],
  [...service('earth-primary', 'main'), ...service('venus', 'telemetry_all')],
  [{ op: 'remove', path: '/net/peers/saturn/services/main' }],
  [{ op: 'delete', path: '/net/peers/saturn/services/gauges' }],
  [
    { op: 'remove', path: '/net/peers/venus/services/main' },
    { op: 'delete', path: '/net/peers/venus/services/telemetry_all' },
  ],
  [],
  [...service('saturn', 'main', 'provider')],
  [],
];

function initial(): Tree {
  const tree = createTree();
  tree.set('/data/seed', text('start'));
  return tree;
}

describe('discovery: replay', () => {
  it('replaying the inbound log reproduces the digest after every beat', () => {
    const rt = createRuntime({ tree: initial() });
    app(rt);
    const recorded: string[] = [];
    SCRIPT.forEach((ops, i) => {
      if (ops.length > 0) rt.pushInput('edit', { stream: 'ops', seq: i + 1, data: new TextEncoder().encode(JSON.stringify(ops)) });
      if (i % 3 === 1) rt.enqueue('/test/fact');
      rt.step();
      recorded.push(digestHex(rt.tree.root));
    });
    // the run did something: facts, pruned peers, changing digests
    // venus lost every service; its tp_schema mirror keeps it (ceh only)
    expect(
      rt.tree
        .get('/net/peers/venus')!
        .children()
        .map((c) => c.name.tag.text),
    ).toEqual(['ceh']);
    expect(rt.tree.get('/net/peers/earth-primary/error_note')).toBeDefined();
    expect(new Set(recorded).size).toBeGreaterThan(6);

    const { digests } = replay(rt.inboundLog, {
      tree: initial(),
      beats: SCRIPT.length,
      setup: (r) => {
        app(r);
        // the same extra signals as the recorded run (they are not inputs)
        SCRIPT.forEach((_, i) => {
          if (i % 3 === 1) r.enqueue('/test/fact', { atBeat: i });
        });
      },
    });
    expect(digests).toEqual(recorded);
  });
});
