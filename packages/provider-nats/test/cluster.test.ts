import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import type { ChannelV1 } from '@cep/provider-spec';
import { nats } from '../src/index.ts';
import { startNatsCluster, type NatsServer } from '../src/testing.ts';
import { until } from './helpers.ts';

let cluster: NatsServer[];
beforeAll(async () => {
  cluster = await startNatsCluster(3);
  // Wait for the routes: a message published on the first server must reach a subscriber on the last.
  const a = await connect({ servers: cluster[0]!.url });
  const c = await connect({ servers: cluster[2]!.url });
  let seen = false;
  c.subscribe('probe', { callback: () => void (seen = true) });
  await c.flush();
  await until(
    'the cluster routes',
    () => {
      a.publish('probe');
      return seen;
    },
    20_000,
  );
  await a.close();
  await c.close();
});
afterAll(async () => {
  await Promise.all((cluster ?? []).map((s) => s.stop()));
});

const indexOf = (f: Uint8Array): number => new DataView(f.buffer, f.byteOffset, f.byteLength).getUint32(0);

describe('acked channels across a NATS cluster', () => {
  it('keeps a channel through the loss of the listener’s server: every frame arrives once, in order', async () => {
    const key = randomBytes(32);
    // earth sits on server 0; saturn on server 2 (only: the client shuffles a list), and
    // fails over to a server it learns from the cluster. While saturn reconnects, the
    // cluster knows no subscriber for its subjects and drops what earth sends.
    const earth = nats({ localPeer: 'earth', keys: { saturn: key }, servers: [cluster[0]!.url], resendMs: 50 });
    const saturn = nats({ localPeer: 'saturn', keys: { earth: key }, servers: [cluster[2]!.url] });
    try {
      const accepted: ChannelV1[] = [];
      await saturn.listen!({ address: 'cep.saturn' }, (ch) => accepted.push(ch));
      const local = await earth.open({ peer: 'saturn', mode: 'mirror', mount: 'sky', localNode: 'earth', address: 'cep.saturn' });
      await until('the accepted channel', () => accepted.length === 1);
      const remoteEvents: string[] = [];
      accepted[0]!.onEvent((e) => void remoteEvents.push(e.type));
      const got: number[] = [];
      void (async () => {
        for await (const f of accepted[0]!.frames()) got.push(indexOf(f));
      })();
      const events: string[] = [];
      let ready = (): void => {};
      local.onEvent((e) => {
        events.push(e.type);
        if (e.type === 'ready') ready();
      });
      const n = 3000;
      for (let i = 0; i < n; i++) {
        const frame = new Uint8Array(512);
        new DataView(frame.buffer).setUint32(0, i);
        if (local.send(frame) === 'backpressure') await new Promise<void>((r) => (ready = r));
        if (i === n / 3) {
          // Mid-stream: the server saturn is connected to goes away.
          await cluster[2]!.stop();
        }
        // Right after the kill, 300 frames go out in one burst: published before saturn can
        // have re-subscribed through another server, so the cluster drops them and only
        // the provider's resends can bring them.
        else if (i % 50 === 0 && (i < n / 3 || i > n / 3 + 300)) await new Promise((r) => setTimeout(r, 1));
      }
      await until('every frame', () => got.length >= n, 30_000);
      expect(got).toEqual(Array.from({ length: n }, (_, i) => i));
      expect(events).not.toContain('fatal');
      expect(events).not.toContain('closed');
      // saturn's side saw its server go and said so, and lived on.
      expect(remoteEvents).toContain('reconnecting');
      expect(remoteEvents).not.toContain('fatal');
    } finally {
      await earth.close();
      await saturn.close();
    }
  });
});
