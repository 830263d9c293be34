/**
 * A caller replays from its own log: with `recordSubmissions`, submissions made between beats
 * are inputs and ids derive from recorded inputs, so the offline replay of earth's inbound log
 * rebuilds earth's tree — invoke records, ids, expiries, outcomes — with the same digest after
 * every beat.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createTree, digestHex, u64 } from '@cep/cells';
import { replay, type Runtime } from '@cep/heartbeat';
import { installInvoke, type InvokeOptions, type InvokeOrgan } from '@cep/organ-invoke';
import { memory, memoryNetwork } from '@cep/provider-memory';
import { createTransportManager } from '@cep/transport';
import { KEY, closeAll, peer, request } from './helpers.ts';

afterEach(closeAll);

const EARTH: InvokeOptions = { recordSubmissions: true, beatMs: 10, clockSkewMs: 5 };
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** earth's organ, its request to saturn, and a commit hook that submits from inside the beat every 7th beat. */
function wireEarth(runtime: Runtime, organ: InvokeOrgan): void {
  request(runtime.tree, 'to_saturn', { peer: 'saturn', mount: 'main', local_node: 'earth' });
  runtime.onCommit((beat) => {
    if (beat % 7 === 3 && runtime.tree.getValue('/net/organs/invoke/requests/to_saturn/state')?.value === 'active') {
      const id = organ.submit({ request: 'to_saturn', signal: '/sig/add', payload: u64(BigInt(beat)), timeoutBeats: 6 });
      runtime.tree.set(`/data/in_beat/b${beat}`, { type: 'text', value: id });
    }
  });
}

describe('replaying a caller', () => {
  // giveUpAtExpiry: beats up to 55 ms long against a beatMs of 10, so some calls are given up on the recorded clock.
  it.each([
    { giveUpAtExpiry: false, jitterMs: 7 },
    { giveUpAtExpiry: true, jitterMs: 45 },
  ])("earth's live run and the offline replay of its own log give the same tree digest every beat (%o)", async ({ giveUpAtExpiry, jitterMs }) => {
    const options: InvokeOptions = { ...EARTH, giveUpAtExpiry };
    const network = memoryNetwork();
    const saturn = peer('saturn', memory({ network, peer: 'saturn', mode: 'reliable' }), (p) => p);
    await saturn.manager.listen('memory', 'saturn');
    // saturn answers add, and never answers /sig/slow (those calls time out on earth).
    const served = installInvoke(saturn.runtime, saturn.manager, { exposedOnly: true });
    served.expose('/sig/add', (call) => ({ status: 'ok', result: u64((call.payload?.value as bigint) + 1n) }));
    const earth = peer('earth', memory({ network, peer: 'earth', mode: 'reliable' }), (p) => p);
    const organ = installInvoke(earth.runtime, earth.manager, options);
    wireEarth(earth.runtime, organ);

    let seed = 3;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) % 1000) / 1000;
    const digests: string[] = [];
    const ids: string[] = [];
    let wall = 1_700_000_000_000;
    for (let beat = 0; beat < 60; beat++) {
      for (let i = 0; i < 4; i++) await turn();
      if (earth.tree.getValue('/net/organs/invoke/requests/to_saturn/state')?.value === 'active') {
        // Submitted between beats, as an HTTP request would.
        const n = Math.floor(rand() * 3);
        for (let k = 0; k < n; k++)
          ids.push(
            organ.submit({ request: 'to_saturn', signal: rand() < 0.8 ? '/sig/add' : '/sig/slow', payload: u64(BigInt(beat * 10 + k)), timeoutBeats: 4 }),
          );
      }
      wall += 10 + Math.floor(rand() * jitterMs);
      organ.clock(wall);
      earth.runtime.step();
      digests.push(digestHex(earth.tree.root));
      saturn.runtime.step();
    }
    const outcomes = ids.map((id) => organ.outcome(id)?.status);
    expect(outcomes.filter((s) => s === 'ok').length).toBeGreaterThan(10);
    expect(outcomes.filter((s) => s === 'reject').length).toBeGreaterThan(0); // /sig/slow is not exposed on saturn
    const onClock = ids.filter((id) => organ.outcome(id)?.note?.includes('on the recorded clock')).length;
    if (giveUpAtExpiry) expect(onClock).toBeGreaterThan(0);
    else expect(onClock).toBe(0);
    expect([...earth.tree.get('/data/in_beat')!.children()].length).toBeGreaterThan(3); // submitted inside beats too

    const replayed = replay(earth.runtime.inboundLog, {
      tree: createTree(),
      beats: digests.length,
      setup: (runtime) => {
        const manager = createTransportManager(runtime, {
          localNode: 'earth',
          offline: true,
          addressOf: (p) => p,
          peerKey: () => KEY,
          providers: [memory({ network: memoryNetwork(), peer: 'earth', mode: 'reliable' })],
        });
        wireEarth(runtime, installInvoke(runtime, manager, { ...options, replay: true }));
      },
    });
    const firstDiff = replayed.digests.findIndex((d, i) => d !== digests[i]);
    expect(firstDiff).toBe(-1);
    // The same ids, derived from the same recorded inputs: the newest records are there under the ids live handed out.
    const kept = [...replayed.runtime.tree.get('/net/organs/invoke/requests/to_saturn/invokes')!.children()].map((c) => c.name.tag.text);
    expect(kept.length).toBeGreaterThan(5);
    for (const id of kept) expect(earth.tree.get(`/net/organs/invoke/requests/to_saturn/invokes/${id}`)).toBeDefined();
  });
});
