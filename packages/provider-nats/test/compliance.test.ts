import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { providerComplianceTests, type IntruderKind } from '@cep/provider-compliance';
import { nats, type NatsDelivery } from '../src/index.ts';
import { startNatsServer, type NatsServer } from '../src/testing.ts';

let server: NatsServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

function env(delivery: NatsDelivery) {
  return async () => {
    const key = randomBytes(32);
    // A third peer the listener knows, so an impersonator can hold a real key that is not earth's.
    const marsKey = randomBytes(32);
    const intruders: Record<IntruderKind, { localPeer: string; key: Uint8Array }> = {
      'wrong-key': { localPeer: 'earth', key: randomBytes(32) },
      'unknown-peer': { localPeer: 'pluto', key: randomBytes(32) },
      impersonator: { localPeer: 'earth', key: marsKey },
    };
    const common = {
      servers: server.url,
      delivery,
      maxFrameBytes: 1 << 20,
      highWaterMark: 256 * 1024,
      windowBytes: 256 * 1024,
      hardLimitBytes: 8 << 20,
      closeTimeoutMs: 500,
    };
    return {
      dialer: nats({ localPeer: 'earth', keys: { saturn: key }, ...common }),
      listener: nats({ localPeer: 'saturn', keys: { earth: key, mars: marsKey }, ...common }),
      // A fresh prefix per test, as a fresh port would be.
      address: `cep.test.${randomBytes(6).toString('hex')}`,
      dialerPeer: 'earth',
      listenerPeer: 'saturn',
      intruder(kind: IntruderKind) {
        const { localPeer, key: wrong } = intruders[kind];
        return { dialer: nats({ localPeer, keys: { saturn: wrong }, ...common }), claims: localPeer };
      },
      // mars, whom the listener trusts: a second dialler on the same listener.
      secondDialer: () => ({ dialer: nats({ localPeer: 'mars', keys: { saturn: marsKey }, ...common }), peer: 'mars' }),
    };
  };
}

providerComplianceTests({ name: 'nats (acked)', profile: 'reliable', setup: env('acked') });
providerComplianceTests({ name: 'nats (at_most_once)', profile: 'unreliable', setup: env('at_most_once') });
