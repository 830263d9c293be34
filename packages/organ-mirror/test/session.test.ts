/**
 * A peer that restarts inside the dialler's reconnect window: the channel comes back to a new
 * process, and only the session id in the handshake says so. Real TCP on loopback, with a relay
 * in front of the source so a "kill" leaves no goodbye on the wire.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { text, u64 } from '@cep/cells';
import { readMountSession } from '@cep/transport';
import { streamRelay, type Relay } from '@cep/provider-compliance';
import { tcp } from '@cep/provider-tcp';
import { KEY, branchDigest, field, fileRequest, node, setAddress, settle, type Node } from './helpers.ts';

const SRC = '/data/shared';
const backoff = { initialMs: 5, maxMs: 40, maxAttempts: 1000 };

let cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanups.reverse()) await f().catch(() => undefined);
  cleanups = [];
});

function source(cells: number, tag: string): Node {
  const saturn = node('saturn', tcp({ localPeer: 'saturn', keys: { earth: KEY }, backoff }), {});
  cleanups.push(() => saturn.manager.close());
  for (let i = 0; i < cells; i++) saturn.tree.set(`${SRC}/c${i}`, text(`${tag}-${i}`));
  return saturn;
}

function receiver(): Node {
  const earth = node('earth', tcp({ localPeer: 'earth', keys: { saturn: KEY }, backoff }), { retry: { first: 1, max: 4 } });
  cleanups.push(() => earth.manager.close());
  return earth;
}

/**
 * Every bundle applied once and in order: within each epoch (a restarted source may reuse an
 * epoch's name, so epochs are told apart by when they start) seqs go 1, 2, 3 … without a repeat.
 */
function appliedOnceInOrder(node: Node): boolean {
  let epoch: string | undefined;
  let seq = 0;
  for (const a of node.applies) {
    if (a.epoch !== epoch || a.seq === 1) {
      epoch = a.epoch;
      seq = 0;
    }
    if (a.seq !== seq + 1) return false;
    seq = a.seq;
  }
  return node.applies.length > 0;
}

async function run(nodes: Node[], until: () => boolean, limit = 2000): Promise<void> {
  for (let i = 0; i < limit; i++) {
    if (until()) return;
    for (const n of nodes) {
      await settle(true);
      n.runtime.step();
    }
  }
  throw new Error(`condition not met after ${limit} beats`);
}

describe('a restarted peer is a new session', () => {
  it('the source restarts inside the reconnect window: the receiver resubscribes, gets a new epoch and ends equal; applied once each', async () => {
    let saturn = source(17, 'old');
    const listener = await saturn.manager.listen('tcp', '127.0.0.1:0');
    const relay: Relay = await streamRelay(listener.address, '127.0.0.1:0');
    cleanups.push(() => relay.close());
    setAddress('saturn', relay.address);
    const earth = receiver();
    fileRequest(earth.tree, 'r1');
    await run([earth, saturn], () => field(earth.tree, 'r1', 'state') === 'active' && branchDigest(earth.tree, SRC) === branchDigest(saturn.tree, SRC));
    const first = readMountSession(earth.tree, 'saturn', 'mirror', 'main');
    expect(first?.seq).toBe(1n);

    for (let round = 1; round <= 3; round++) {
      // kill -9 and restart: a new process (new provider, new tree with other data) behind the same address.
      const restarted = source(5 + round, `new${round}`);
      const next = await restarted.manager.listen('tcp', '127.0.0.1:0');
      relay.retarget(next.address);
      relay.cut();
      await saturn.manager.close(); // its goodbyes cross no wire: the relay was cut first
      saturn = restarted;
      await run([earth, saturn], () => {
        const session = readMountSession(earth.tree, 'saturn', 'mirror', 'main');
        return (
          session !== undefined &&
          session.seq === BigInt(round + 1) &&
          field(earth.tree, 'r1', 'state') === 'active' &&
          branchDigest(earth.tree, SRC) === branchDigest(saturn.tree, SRC)
        );
      });
      expect(earth.tree.getValue(`${SRC}/c0`)).toEqual(text(`new${round}-0`));
      // And it keeps following the new source.
      saturn.tree.set(`${SRC}/later`, u64(BigInt(round)));
      await run([earth, saturn], () => branchDigest(earth.tree, SRC) === branchDigest(saturn.tree, SRC));
    }
    expect(appliedOnceInOrder(earth)).toBe(true);
    expect(earth.applies.filter((a) => a.seq === 1)).toHaveLength(4); // one snapshot per source process
    expect(earth.facts.some((f) => f.topic === 'tp_newsess')).toBe(true);
  });

  it('the receiver restarts: the source stops serving the old one and the new receiver gets a fresh copy', async () => {
    const saturn = source(9, 'v');
    const listener = await saturn.manager.listen('tcp', '127.0.0.1:0');
    const relay: Relay = await streamRelay(listener.address, '127.0.0.1:0');
    cleanups.push(() => relay.close());
    setAddress('saturn', relay.address);
    let earth = receiver();
    fileRequest(earth.tree, 'r1');
    await run([earth, saturn], () => field(earth.tree, 'r1', 'state') === 'active' && branchDigest(earth.tree, SRC) === branchDigest(saturn.tree, SRC));
    relay.cut();
    await earth.manager.close();
    earth = receiver();
    fileRequest(earth.tree, 'r1');
    await run(
      [earth, saturn],
      () =>
        readMountSession(saturn.tree, 'earth', 'mirror', 'main')?.seq === 2n &&
        field(earth.tree, 'r1', 'state') === 'active' &&
        branchDigest(earth.tree, SRC) === branchDigest(saturn.tree, SRC),
    );
    saturn.tree.set(`${SRC}/later`, u64(1n));
    await run(
      [earth, saturn],
      () =>
        branchDigest(earth.tree, SRC) === branchDigest(saturn.tree, SRC) &&
        saturn.tree.getValue('/net/organs/mirror/serving/earth/main/inflight')?.value === 0n,
    );
    expect(appliedOnceInOrder(earth)).toBe(true);
  });
});

describe('a source that refuses our key', () => {
  it('is redialled on the long ceiling (retry.authMax), and tp_fatal says error once, then warn', async () => {
    const saturn = node('saturn', tcp({ localPeer: 'saturn', keys: { earth: new Uint8Array(32).fill(1) } }), {});
    cleanups.push(() => saturn.manager.close());
    const listener = await saturn.manager.listen('tcp', '127.0.0.1:0');
    setAddress('saturn', listener.address);
    const earth = node('earth', tcp({ localPeer: 'earth', keys: { saturn: KEY } }), { retry: { first: 1, max: 2, authMax: 128 } });
    cleanups.push(() => earth.manager.close());
    const beats: number[] = [];
    earth.runtime.cei.onFact((f) => f.topic === 'tp_fatal' && beats.push(earth.runtime.beat));
    fileRequest(earth.tree, 'r1');
    await run([earth, saturn], () => beats.length >= 9, 5000);
    const gaps = beats.slice(1).map((b, i) => b - beats[i]!);
    // The waits double past max (2) towards authMax: the last gaps are far longer than max plus a dial.
    expect(Math.max(...gaps.slice(-2))).toBeGreaterThanOrEqual(64);
    const severities = earth.facts.filter((f) => f.topic === 'tp_fatal').map((f) => f.severity);
    expect(severities[0]).toBe('error');
    expect(new Set(severities.slice(1))).toEqual(new Set(['warn']));
  });
});
