import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelV1, GroupSubscriptionV1, ProviderV1 } from '@cep/provider-spec';
import { nats } from '../src/index.ts';
import { startNatsServer, type NatsServer } from '../src/testing.ts';
import { collect, str, text, until } from './helpers.ts';

let server: NatsServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

function gather(sub: GroupSubscriptionV1): string[] {
  const got: string[] = [];
  void (async () => {
    for await (const frame of sub.frames()) got.push(str(frame));
  })();
  return got;
}

/** One source (saturn) and `n` receivers, each with its own provider and one dialled channel. */
async function star(n: number): Promise<{ saturn: ProviderV1; accepted: ChannelV1[]; dialled: ChannelV1[]; providers: ProviderV1[]; close(): Promise<void> }> {
  const keys = Array.from({ length: n }, () => randomBytes(32));
  const prefix = `cep.t.${randomBytes(6).toString('hex')}`;
  const saturn = nats({ localPeer: 'saturn', keys: Object.fromEntries(keys.map((k, i) => [`r${i}`, k])), servers: server.url });
  const accepted: ChannelV1[] = [];
  await saturn.listen!({ address: prefix }, (ch) => accepted.push(ch));
  const providers = keys.map((k, i) => nats({ localPeer: `r${i}`, keys: { saturn: k }, servers: server.url }));
  const dialled = await Promise.all(providers.map((p, i) => p.open({ peer: 'saturn', mode: 'mirror', mount: 'm', localNode: `r${i}`, address: prefix })));
  await until('every channel accepted', () => accepted.length === n);
  return {
    saturn,
    accepted,
    dialled,
    providers,
    async close() {
      await Promise.all(providers.map((p) => p.close()));
      await saturn.close();
    },
  };
}

describe('groups (multicast)', () => {
  it('advertises multicast and one scope per listener', async () => {
    const s = await star(2);
    try {
      expect(s.saturn.caps).toContain('multicast');
      expect(s.accepted[0]!.info.groupScope).toBeDefined();
      expect(s.accepted[1]!.info.groupScope).toBe(s.accepted[0]!.info.groupScope);
      expect(s.dialled[0]!.info.groupScope).toBe(s.accepted[0]!.info.groupScope);
    } finally {
      await s.close();
    }
  });

  it('one publish reaches every member that joined, in order; a member that left gets nothing more', async () => {
    const s = await star(3);
    try {
      const subs = s.dialled.map((ch) => ch.join!('g1'));
      const got = subs.map(gather);
      // The promise of join: a frame sent on the channel after join reaches the publisher after the subscription is in place.
      const first = s.accepted.find((ch) => ch.info.peer === 'r0')!;
      const heard = collect(first);
      s.dialled[0]!.send(text('joined'));
      await until('the joined note', () => heard.length === 1);
      // Publishing through any accepted channel of the scope reaches all members: once.
      s.accepted[0]!.publish!('g1', text('one'));
      s.accepted[0]!.publish!('g1', text('two'));
      await until('both frames at every member', () => got.every((g) => g.length === 2));
      expect(got).toEqual([
        ['one', 'two'],
        ['one', 'two'],
        ['one', 'two'],
      ]);

      subs[1]!.leave();
      s.accepted[2]!.publish!('g1', text('three'));
      s.accepted[2]!.publish!('g2', text('other group'));
      await until('the third frame at the members still in', () => got[0]!.length === 3 && got[2]!.length === 3);
      await new Promise((r) => setTimeout(r, 100));
      expect(got[1]).toEqual(['one', 'two']);
      expect(got[0]).toEqual(['one', 'two', 'three']);
    } finally {
      await s.close();
    }
  });

  it('refuses bad use with typed errors: publish on a dialled channel, an empty group, a frame over one message, a closed channel', async () => {
    const s = await star(1);
    try {
      expect(() => s.dialled[0]!.publish!('g', text('x'))).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
      expect(() => s.accepted[0]!.publish!('', text('x'))).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
      expect(() => s.accepted[0]!.publish!('g', new Uint8Array(2 * 1024 * 1024))).toThrow(expect.objectContaining({ code: 'FRAME_TOO_LARGE' }));
      const sub = s.dialled[0]!.join!('g');
      const ended = (async () => {
        for await (const _ of sub.frames()) void _;
        return true;
      })();
      await s.dialled[0]!.close('test');
      // Closing the channel ends its group subscriptions.
      expect(await ended).toBe(true);
      expect(() => s.dialled[0]!.join!('g')).toThrow(expect.objectContaining({ code: 'CHANNEL_CLOSED' }));
    } finally {
      await s.close();
    }
  });
});
