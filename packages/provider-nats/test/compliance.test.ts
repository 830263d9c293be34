import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { providerComplianceTests } from '@cep/provider-compliance';
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
    const common = { servers: server.url, delivery, maxFrameBytes: 1 << 20, highWaterMark: 256 * 1024, windowBytes: 256 * 1024, hardLimitBytes: 8 << 20, closeTimeoutMs: 500 };
    return {
      dialer: nats({ localPeer: 'earth', keys: { saturn: key }, ...common }),
      listener: nats({ localPeer: 'saturn', keys: { earth: key }, ...common }),
      // A fresh prefix per test, as a fresh port would be.
      address: `cep.test.${randomBytes(6).toString('hex')}`,
      dialerPeer: 'earth',
      listenerPeer: 'saturn',
    };
  };
}

providerComplianceTests({ name: 'nats (acked)', profile: 'reliable', setup: env('acked') });
providerComplianceTests({ name: 'nats (at_most_once)', profile: 'unreliable', setup: env('at_most_once') });
