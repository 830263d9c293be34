import { bool, createTree, digestHex, text, u64, type Tree, type Value } from '@cep/cells';
import { createRuntime, replay, type Runtime } from '@cep/heartbeat';
import { describe, expect, it } from 'vitest';
import { installHealth } from '@cep/organ-health';
import { fakeManager } from './helpers.ts';

/** Tree edits arrive as inputs, so a replay sees the same ones. */
type Op = { op: 'set'; path: string; value: ['text', string] | ['u64', number] | ['bool', boolean] } | { op: 'delete' | 'remove'; path: string };

function toValue(v: Extract<Op, { op: 'set' }>['value']): Value {
  return v[0] === 'text' ? text(v[1]) : v[0] === 'u64' ? u64(v[1]) : bool(v[1]);
}

function app(rt: Runtime): void {
  installHealth(rt);
  fakeManager(rt);
  rt.defineInput('edit', (input, ctx) => {
    for (const op of JSON.parse(new TextDecoder().decode(input.data)) as Op[]) {
      if (op.op === 'set') ctx.runtime.tree.set(op.path, toValue(op.value));
      else if (op.op === 'delete') ctx.runtime.tree.delete(op.path);
      else ctx.runtime.tree.remove(op.path);
    }
    // a fact per edit batch, mirrored to every peer that has mounts
    for (const peer of ctx.runtime.tree.get('/net/mounts')?.children() ?? []) {
      if (!peer.isDeleted) ctx.runtime.cei.emit({ topic: 'tp_backpr', severity: 'warn', note: `beat ${ctx.beat}`, origin: 'test', peer: peer.name.tag.text });
    }
  });
}

const mount = (peer: string, mode: string, name: string): Op => ({ op: 'set', path: `/net/mounts/${peer}/${mode}/${name}/state`, value: ['text', 'open'] });

const SCRIPT: Op[][] = [
  [mount('saturn', 'link', 'main'), mount('saturn', 'mirror', 'backup'), mount('venus', 'link', 'main')],
  [],
  [{ op: 'set', path: '/net/telemetry/saturn/main/bp_flag', value: ['u64', 1] }], // the manager rewrites it next commit
  [
    { op: 'remove', path: '/net/telemetry/venus/main/last_event' },
    { op: 'set', path: '/net/telemetry/venus/main/frame_count', value: ['u64', 5] },
  ],
  [{ op: 'remove', path: '/net/mounts/saturn/mirror/backup' }],
  [mount('mars', 'link', 'main_channel')],
  [{ op: 'delete', path: '/net/mounts/venus' }],
  [],
  [{ op: 'remove', path: '/net/mounts' }],
  [],
];

function initial(): Tree {
  const tree = createTree();
  tree.set('/data/seed', text('start'));
  return tree;
}

describe('health: replay', () => {
  it('replaying the inbound log reproduces the digest after every beat', () => {
    const rt = createRuntime({ tree: initial() });
    app(rt);
    const recorded: string[] = [];
    const facts: string[] = [];
    rt.cei.onFact((f) => facts.push(f.topic));
    SCRIPT.forEach((ops, i) => {
      if (ops.length > 0) rt.pushInput('edit', { stream: 'ops', seq: i + 1, data: new TextEncoder().encode(JSON.stringify(ops)) });
      rt.step();
      recorded.push(digestHex(rt.tree.root));
    });
    // the run did something: schema facts, pruned telemetry and mirrors, changing digests
    expect(facts.filter((t) => t === 'tp_schema').length).toBeGreaterThanOrEqual(3);
    expect(rt.tree.get('/net/telemetry')!.children()).toEqual([]);
    expect(rt.tree.get('/net/peers')!.children()).toEqual([]);
    expect(new Set(recorded).size).toBeGreaterThan(6);

    const { digests } = replay(rt.inboundLog, { tree: initial(), beats: SCRIPT.length, setup: app });
    expect(digests).toEqual(recorded);
  });
});
