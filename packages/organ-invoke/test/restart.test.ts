/**
 * A caller that restarts from a restored tree (a store) with calls in flight: each of them gets
 * exactly one outcome, recorded in its record — never silence, never twice.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { applyImages, createTree, exportTree, type Tree } from '@cep/cells';
import { createRuntime } from '@cep/heartbeat';
import { installInvoke, OUTCOME_CODE } from '@cep/organ-invoke';
import { createTransportManager } from '@cep/transport';
import { memory, memoryNetwork } from '@cep/provider-memory';
import { closeAll, KEY, read, REQ, until, type Peer } from './helpers.ts';
import { peer, request } from './helpers.ts';

afterEach(closeAll);

/** What a store hands a restarted process: the same cells, stamps and beat, in a new tree. */
function restoredCopy(tree: Tree): Tree {
  const copy = createTree();
  applyImages(copy, [...exportTree(tree)]);
  copy.setBeat(tree.beat);
  return copy;
}

async function callerWithCallsInFlight(): Promise<{ earth: Peer; saturn: Peer; network: ReturnType<typeof memoryNetwork> }> {
  const network = memoryNetwork();
  const earth = peer('earth', memory({ network, peer: 'earth', mode: 'reliable' }), (p) => p);
  const saturn = peer('saturn', memory({ network, peer: 'saturn', mode: 'reliable' }), (p) => p);
  await saturn.manager.listen('memory', 'saturn');
  earth.invoke = installInvoke(earth.runtime, earth.manager);
  request(earth.tree, 'to_saturn', { peer: 'saturn', mount: 'main', local_node: 'earth' });
  await until([earth, saturn], () => read(earth.tree, `${REQ}/to_saturn/state`) === 'active');
  return { earth, saturn, network };
}

function restart(tree: Tree, network: ReturnType<typeof memoryNetwork>): Peer & { invoke: NonNullable<Peer['invoke']> } {
  const runtime = createRuntime({ tree: restoredCopy(tree) });
  const provider = memory({ network, peer: 'earth-again', mode: 'reliable' });
  const manager = createTransportManager(runtime, { localNode: 'earth-again', providers: [provider], addressOf: (p) => p, peerKey: () => KEY });
  const invoke = installInvoke(runtime, manager);
  return { name: 'earth-again', runtime, tree: runtime.tree, manager, provider, facts: [], invoke };
}

describe('calls in flight across a restart of the caller', () => {
  it('sent calls get one INVOKE_CALLER_RESTARTED outcome at their deadline; their dossiers close once', async () => {
    const { earth, saturn, network } = await callerWithCallsInFlight(); // saturn runs no invoke organ: nobody answers
    const ids = [0, 1, 2].map((i) => earth.invoke!.submit({ request: 'to_saturn', signal: '/sig/slow', timeoutBeats: 10 + i }));
    await until([earth, saturn], () => ids.every((id) => read(earth.tree, `${REQ}/to_saturn/invokes/${id}/state`) === 'sent'));
    const deadline = (id: string): bigint => read(earth.tree, `${REQ}/to_saturn/invokes/${id}/deadline`) as bigint;
    // The process dies here: no outcome was given; a restarted one finds the records in its tree.
    const after = restart(earth.tree, network);
    expect(after.invoke.pending()).toBe(3);
    const last = Number(deadline(ids[2]!));
    while (after.runtime.beat <= last + 5) {
      const before = after.runtime.beat;
      after.runtime.step();
      for (const id of ids) {
        const state = read(after.tree, `${REQ}/to_saturn/invokes/${id}/state`);
        // silent (still sent) only until its deadline beat has ended
        expect(state === 'sent' ? before < Number(deadline(id)) : state === 'cancelled').toBe(true);
      }
    }
    for (const id of ids) {
      const record = `${REQ}/to_saturn/invokes/${id}`;
      expect(read(after.tree, `${record}/code`)).toBe(OUTCOME_CODE.callerRestarted);
      expect(read(after.tree, `${record}/done_beat`)).toBe(deadline(id));
      expect(String(read(after.tree, `${record}/note`))).toContain('may have run on saturn');
      expect(after.invoke.outcome(id)).toMatchObject({ id, status: 'cancelled', code: 'INVOKE_CALLER_RESTARTED' });
      const op = read(after.tree, `${record}/op`) as string;
      expect(read(after.tree, `/rt/ops/${op}/close/status`)).toBe('cxl');
      const history = after.tree
        .get(`/rt/ops/${op}/history`)!
        .children()
        .map((h) => read(after.tree, `/rt/ops/${op}/history/${h.name.tag.text}/state`));
      expect(history.filter((s) => s === 'cxl')).toHaveLength(1);
    }
    expect(after.invoke.pending()).toBe(0);
    await after.manager.close();
  });

  it('calls never sent are given up at the first beat after the restart; a new call goes on normally', async () => {
    const { earth, network } = await callerWithCallsInFlight();
    // Submitted between beats: recorded at once, sent by a microtask that never runs (the process dies first).
    const ids = [0, 1].map(() => earth.invoke!.submit({ request: 'to_saturn', signal: '/sig/x', timeoutBeats: 50 }));
    for (const id of ids) expect(read(earth.tree, `${REQ}/to_saturn/invokes/${id}/state`)).toBe('plan');
    const after = restart(earth.tree, network);
    after.runtime.step();
    for (const id of ids) {
      expect(after.invoke.outcome(id)).toMatchObject({ status: 'cancelled', code: 'INVOKE_CALLER_RESTARTED' });
      expect(String(read(after.tree, `${REQ}/to_saturn/invokes/${id}/note`))).toContain('nothing ran');
    }
    const done = ids.map((id) => read(after.tree, `${REQ}/to_saturn/invokes/${id}/done_beat`));
    after.runtime.run(5);
    expect(ids.map((id) => read(after.tree, `${REQ}/to_saturn/invokes/${id}/done_beat`))).toEqual(done); // once
    await after.manager.close();
  });

  it('finished records found after a restart count towards retainCompleted', async () => {
    const { earth, saturn, network } = await callerWithCallsInFlight();
    const ids = [0, 1, 2].map((i) => earth.invoke!.submit({ request: 'to_saturn', signal: '/sig/x', timeoutBeats: 2 + i })); // finish in this order
    await until([earth, saturn], () => ids.every((id) => read(earth.tree, `${REQ}/to_saturn/invokes/${id}/state`) === 'timeout'));
    const runtime = createRuntime({ tree: restoredCopy(earth.tree) });
    const manager = createTransportManager(runtime, {
      localNode: 'earth-later',
      providers: [memory({ network, peer: 'earth-later', mode: 'reliable' })],
      addressOf: (p) => p,
      peerKey: () => KEY,
    });
    installInvoke(runtime, manager, { retainCompleted: 1 });
    runtime.step();
    const left = runtime.tree
      .get(`${REQ}/to_saturn/invokes`)!
      .children()
      .map((c) => c.name.tag.text);
    expect(left).toEqual([ids[2]]); // the oldest two dropped, the newest kept
    await manager.close();
  });
});
