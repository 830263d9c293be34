import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelV1 } from '@cep/provider-spec';
import { nats } from '../src/index.ts';
import { startNatsServer, type NatsServer } from '../src/testing.ts';
import { until } from './helpers.ts';

let server: NatsServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

describe('remote session ids', () => {
  it('reports the remote provider instance on both ends: the same for every channel of one start, new after a restart', async () => {
    const key = randomBytes(32);
    const prefix = `cep.t.${randomBytes(6).toString('hex')}`;
    const saturn = nats({ localPeer: 'saturn', keys: { earth: key }, servers: server.url });
    const accepted: ChannelV1[] = [];
    await saturn.listen!({ address: prefix }, (ch) => accepted.push(ch));
    const earth = nats({ localPeer: 'earth', keys: { saturn: key }, servers: server.url });
    const earthAgain = nats({ localPeer: 'earth', keys: { saturn: key }, servers: server.url });
    try {
      const a = await earth.open({ peer: 'saturn', mode: 'link', mount: 'a', localNode: 'earth', address: prefix });
      const b = await earth.open({ peer: 'saturn', mode: 'mirror', mount: 'b', localNode: 'earth', address: prefix });
      // A second provider for the same peer name stands for earth after a restart.
      const c = await earthAgain.open({ peer: 'saturn', mode: 'link', mount: 'a', localNode: 'earth', address: prefix });
      await until('three accepted channels', () => accepted.length === 3);

      // The dialler sees saturn's one instance on every channel.
      expect(a.info.remoteSession).toMatch(/^[0-9a-f]{32}$/);
      expect(b.info.remoteSession).toBe(a.info.remoteSession);
      expect(c.info.remoteSession).toBe(a.info.remoteSession);
      // The listener sees earth's instance: one for the first start, another after the restart.
      const [first, second, third] = accepted.map((ch) => ch.info.remoteSession);
      expect(first).toMatch(/^[0-9a-f]{32}$/);
      expect(second).toBe(first);
      expect(third).not.toBe(first);
      // A session id is not an instance: each channel has its own.
      expect(a.info.sessionId).not.toBe(b.info.sessionId);
      expect(first).not.toBe(a.info.remoteSession);
    } finally {
      await earth.close();
      await earthAgain.close();
      await saturn.close();
    }
  });
});
