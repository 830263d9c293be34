/**
 * Fan-out over a real nats-server: one source, several receivers, each bundle part encoded and
 * published once. The server is started by the tests (Debian's nats-server package; the tests
 * fail, never skip, when it is missing).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createTree, digestHex, text, u64 } from '@cep/cells';
import { replay, type Runtime } from '@cep/heartbeat';
import { createTransportManager } from '@cep/transport';
import { decodeBranch } from '@cep/serializer';
import type { Mount } from '@cep/transport';
import { nats } from '@cep/provider-nats';
import { startNatsServer, type NatsServer } from '@cep/provider-nats/testing';
import { installMirror, type MirrorOptions, type SendEvent } from '../src/index.ts';
import { KEY, applyCounts, at, branchDigest, field, fileRequest, node, setAddress, type Node } from './helpers.ts';

let server: NatsServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

interface Star {
  readonly source: Node;
  readonly receivers: Node[];
  readonly sends: SendEvent[];
  /** Group keys each receiver's mount was given, newest last, and the group it last joined. */
  readonly keys: Map<string, Uint8Array[]>;
  readonly joinedGroup: Map<string, string>;
  readonly prefix: string;
  /** The first receiver's whole-tree digest after each of its beats. */
  readonly digests: string[];
  beats(n: number): Promise<void>;
  until(what: string, done: () => boolean, limit?: number): Promise<void>;
  close(): Promise<void>;
}

let stars: Star[] = [];
afterEach(async () => {
  await Promise.all(stars.map((s) => s.close()));
  stars = [];
});

/** saturn serves /data/shared to `n` receivers ra, rb, …, every one over its own nats provider and one server. */
async function star(n: number, options: { source?: MirrorOptions; receivers?: MirrorOptions } = {}): Promise<Star> {
  const prefix = `cep.t.${randomBytes(6).toString('hex')}`;
  const names = Array.from({ length: n }, (_, i) => `r${'abcdefghijklmnop'[i]}`);
  const pairKeys = new Map(names.map((name) => [name, randomBytes(32)]));
  const sends: SendEvent[] = [];
  const source = node('saturn', nats({ localPeer: 'saturn', keys: Object.fromEntries(pairKeys), servers: server.url }), {
    ...options.source,
    onSend: (e) => sends.push(e),
  });
  setAddress('saturn', prefix);
  await source.manager.listen('nats', prefix);
  const receivers = names.map((name) =>
    node(name, nats({ localPeer: name, keys: { saturn: pairKeys.get(name)! }, servers: server.url }), options.receivers ?? {}),
  );
  const keys = new Map<string, Uint8Array[]>();
  const joinedGroup = new Map<string, string>();
  const all = [source, ...receivers];
  const digests: string[] = [];
  const beats = async (count: number): Promise<void> => {
    for (let i = 0; i < count; i++) {
      for (const r of all) r.runtime.step();
      digests.push(digestHex(receivers[0]!.tree.root));
      await new Promise((resolve) => setTimeout(resolve, 2));
      // Spy on each receiver's mount for the group keys it is handed (the only way to hold one in a test).
      for (const r of receivers) {
        const mount = r.manager.get('saturn', 'mirror', 'shared') as (Mount & { spied?: boolean }) | undefined;
        if (mount === undefined || mount.spied) continue;
        mount.spied = true;
        const join = mount.joinGroup.bind(mount);
        mount.joinGroup = (group, key) => {
          keys.set(r.peer, [...(keys.get(r.peer) ?? []), key]);
          joinedGroup.set(r.peer, group);
          join(group, key);
        };
      }
    }
  };
  const s: Star = {
    source,
    receivers,
    sends,
    keys,
    joinedGroup,
    prefix,
    digests,
    beats,
    async until(what, done, limit = 600) {
      for (let i = 0; i < limit; i++) {
        if (done()) return;
        await beats(1);
      }
      throw new Error(`${what}: not reached after ${limit} beats`);
    },
    async close() {
      await Promise.all(all.map((r) => r.manager.close()));
    },
  };
  stars.push(s);
  return s;
}

const SRC = '/data/shared';
function write(source: Node, i: number): void {
  source.tree.set(['data', 'shared', `k${i % 7}`], u64(BigInt(i)));
  source.tree.set(['data', 'shared', 'last'], text(`change ${i}`));
}
const converged = (s: Star, who: Node[] = s.receivers) => who.every((r) => branchDigest(r.tree, SRC) === branchDigest(s.source.tree, SRC));
const groupField = (s: Star, name: string) => at(s.source.tree, `/net/organs/mirror/groups/g1/${name}`);

describe('mirror fan-out over nats', () => {
  it('encodes and publishes each bundle part once for four receivers; every receiver converges and applies each bundle once', async () => {
    const s = await star(4);
    for (let i = 0; i < 20; i++) s.source.tree.set(['data', 'shared', `v${i}`], text(`value ${i}`));
    for (const r of s.receivers) fileRequest(r.tree, 'shared', { mount: 'shared', maxInfl: 4 });
    await s.until('every receiver active and converged', () => s.receivers.every((r) => field(r.tree, 'shared', 'state') === 'active') && converged(s));
    const before = s.sends.length;
    for (let i = 0; i < 12; i++) {
      write(s.source, i);
      await s.beats(2);
    }
    await s.until(
      'converged after the changes',
      () => converged(s) && s.receivers.every((r) => field(r.tree, 'shared', 'bundle_seq') === groupField(s, 'seq')),
    );

    const later = s.sends.slice(before);
    const multicast = later.filter((e) => e.via === 'multicast');
    // Each part published once, whoever receives it; none of these went over a receiver's own mount.
    const parts = multicast.map((e) => `${e.epoch}:${e.seq}:${e.part}`);
    expect(new Set(parts).size).toBe(parts.length);
    expect(multicast.length).toBeGreaterThanOrEqual(6);
    expect(later.filter((e) => e.via === 'unicast')).toEqual([]);
    // The source's record says the same, and every member is served by multicast.
    expect(Number(groupField(s, 'members'))).toBe(4);
    for (const r of s.receivers) expect(at(s.source.tree, `/net/organs/mirror/serving/${r.peer}/shared/via`)).toBe('multicast');
    for (const r of s.receivers) for (const [key, count] of applyCounts(r)) expect(count, `${r.peer} applied ${key}`).toBe(1);

    // A replay of the first receiver's inbound log (group frames included) takes the same tree, beat by beat.
    const receiver = s.receivers[0]!;
    const replayed = replay(receiver.runtime.inboundLog, {
      tree: createTree(),
      beats: s.digests.length,
      setup: (r: Runtime) => {
        const m = createTransportManager(r, {
          localNode: receiver.peer,
          offline: true,
          addressOf: () => s.prefix,
          peerKey: () => KEY,
          providers: [nats({ localPeer: receiver.peer, keys: {}, servers: server.url })],
        });
        installMirror(r, m, { localNode: receiver.peer });
        fileRequest(r.tree, 'shared', { mount: 'shared', maxInfl: 4 });
      },
    });
    expect(receiver.runtime.inboundLog.some((e) => e.kind === 'tp.gframe')).toBe(true);
    expect(replayed.digests).toEqual(s.digests);
  });

  it('a receiver that does not acknowledge does not stall the others; past maxInflight it continues on a publication of its own and converges', async () => {
    const s = await star(3, { source: { maxInflight: 4 } });
    const [slow, ...fast] = s.receivers as [Node, ...Node[]];
    fileRequest(slow.tree, 'shared', { mount: 'shared', maxInfl: 1, commitMode: 'manual' });
    for (const r of fast) fileRequest(r.tree, 'shared', { mount: 'shared', maxInfl: 2 });
    s.source.tree.set(['data', 'shared', 'start'], text('start'));
    await s.until('all active', () => s.receivers.every((r) => field(r.tree, 'shared', 'state') === 'active'));
    for (let i = 0; i < 12; i++) {
      write(s.source, i);
      await s.beats(2);
    }
    await s.until('the fast receivers converged', () => converged(s, fast));
    // The slow one applied nothing (it never committed) and was moved off the group.
    expect(field(slow.tree, 'shared', 'bundle_seq')).toBe(0n);
    expect(s.source.facts.some((f) => f.topic === 'tp_backpr' && f.note.includes('bundles behind'))).toBe(true);
    expect(at(s.source.tree, '/net/organs/mirror/serving/ra/shared/group')).toBeUndefined();
    // Once it commits, it catches up.
    for (let i = 0; i < 40 && !converged(s, [slow]); i++) {
      slow.mirror.commit('shared');
      await s.beats(2);
    }
    expect(converged(s)).toBe(true);
  });

  it('a receiver whose channel breaks resumes in the same epoch by catch-up and rejoins the group', async () => {
    const s = await star(3);
    for (const r of s.receivers) fileRequest(r.tree, 'shared', { mount: 'shared', maxInfl: 4 });
    s.source.tree.set(['data', 'shared', 'start'], text('start'));
    await s.until('converged', () => converged(s) && s.receivers.every((r) => field(r.tree, 'shared', 'state') === 'active'));
    const away = s.receivers[1]!;
    const epoch = String(groupField(s, 'epoch'));
    away.manager.get('saturn', 'mirror', 'shared')!.close('test: the link breaks');
    for (let i = 0; i < 6; i++) {
      write(s.source, i);
      await s.beats(2);
    }
    await s.until('everyone converged again', () => converged(s) && s.receivers.every((r) => field(r.tree, 'shared', 'state') === 'active'), 900);
    // Same epoch: no new snapshot for anyone; the one that was away got the missed bundles over its own mount.
    expect(groupField(s, 'epoch')).toBe(epoch);
    expect(s.sends.some((e) => e.via === 'unicast' && e.peer === away.peer)).toBe(true);
    for (const r of s.receivers) expect(new Set(r.applies.map((a) => a.epoch))).toEqual(new Set([epoch]));
    for (const r of s.receivers) for (const [key, count] of applyCounts(r)) expect(count, `${r.peer} applied ${key}`).toBe(1);
    // And it is back on multicast for what follows.
    const before = s.sends.length;
    write(s.source, 100);
    await s.until('the last change everywhere', () => converged(s));
    await s.until('served by multicast again', () => at(s.source.tree, `/net/organs/mirror/serving/${away.peer}/shared/via`) === 'multicast', 100);
    write(s.source, 101);
    await s.beats(4);
    await s.until('converged', () => converged(s));
    expect(s.sends.slice(before).filter((e) => e.via === 'unicast' && e.seq > Number(groupField(s, 'seq')) - 1)).toEqual([]);
  });

  it('a receiver whose group subscription silently goes still converges: unacknowledged bundles are repeated over its own mount, and it joins again', async () => {
    const s = await star(1);
    const only = s.receivers[0]!;
    fileRequest(only.tree, 'shared', { mount: 'shared', maxInfl: 4 });
    s.source.tree.set(['data', 'shared', 'start'], text('start'));
    await s.until('on multicast', () => converged(s) && at(s.source.tree, `/net/organs/mirror/serving/${only.peer}/shared/via`) === 'multicast');
    // The subscription is gone under the organ's feet (as if the provider lost it): group frames no longer arrive.
    only.manager.get('saturn', 'mirror', 'shared')!.leaveGroup(s.joinedGroup.get(only.peer)!);
    const joins = s.keys.get(only.peer)!.length;
    for (let i = 0; i < 8; i++) {
      write(s.source, i);
      await s.beats(2);
    }
    expect(converged(s)).toBe(false);
    await s.until('converged without the group', () => converged(s), 800);
    expect(s.source.facts.some((f) => f.topic === 'tp_schema' && f.note.includes('acknowledged nothing'))).toBe(true);
    expect(s.sends.some((e) => e.via === 'unicast')).toBe(true);
    // It was handed the key again, joined, and is served by multicast once more.
    expect(s.keys.get(only.peer)!.length).toBeGreaterThan(joins);
    await s.until('back on multicast', () => at(s.source.tree, `/net/organs/mirror/serving/${only.peer}/shared/via`) === 'multicast', 100);
    for (const [key, count] of applyCounts(only)) expect(count, `applied ${key}`).toBe(1);
  });

  it('a receiver that leaves cannot read later bundles: the key changes and only the members get the new one', async () => {
    const s = await star(3);
    const observer: NatsConnection = await connect({ servers: server.url });
    const published: Array<{ subject: string; data: Uint8Array }> = [];
    observer.subscribe(`${s.prefix}.grp.>`, { callback: (error, msg) => void (error === null && published.push({ subject: msg.subject, data: msg.data })) });
    await observer.flush();
    try {
      for (const r of s.receivers) fileRequest(r.tree, 'shared', { mount: 'shared', maxInfl: 4 });
      s.source.tree.set(['data', 'shared', 'start'], text('start'));
      await s.until('converged', () => converged(s) && s.receivers.every((r) => field(r.tree, 'shared', 'state') === 'active'));
      const gen = Number(groupField(s, 'key_gen'));
      const leaver = s.receivers[2]!;
      const leaverKey = s.keys.get(leaver.peer)!.at(-1)!;
      leaver.tree.remove(['net', 'organs', 'mirror', 'requests', 'shared']);
      await s.until('the key changed', () => Number(groupField(s, 'key_gen')) > gen, 100);
      await s.until('the members have the new key', () => s.receivers.slice(0, 2).every((r) => (s.keys.get(r.peer) ?? []).length >= 2), 100);
      const seen = published.length;
      for (let i = 0; i < 4; i++) {
        write(s.source, i);
        await s.beats(2);
      }
      await s.until('the members converged', () => converged(s, s.receivers.slice(0, 2)));
      // The observer is a connection of its own: NATS may hand it the bundles after the members
      // have applied them, so wait for its copies too (a group that published nothing times out).
      await s.until('the observer saw the new bundles', () => published.length > seen);
      const after = published.slice(seen);
      const memberKey = s.keys.get('ra')!.at(-1)!;
      expect(s.keys.get('rb')!.at(-1)).toEqual(memberKey);
      const open = (data: Uint8Array, key: Uint8Array) => decodeBranch(data, { crc32c: true, deflate: true, aead: { mode: 'xchacha20poly1305', key } });
      for (const m of after) {
        expect(() => open(m.data, leaverKey)).toThrow();
        expect(open(m.data, memberKey).root.children.length).toBeGreaterThan(0);
      }
      // The leaver's copy stopped where it left.
      expect(branchDigest(leaver.tree, SRC)).not.toBe(branchDigest(s.source.tree, SRC));
    } finally {
      await observer.close();
    }
  });
});
