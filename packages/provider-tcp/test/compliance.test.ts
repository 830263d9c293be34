import { randomBytes } from 'node:crypto';
import { providerComplianceTests, streamRelay } from '@cep/provider-compliance';
import { tcp } from '../src/index.ts';

const limits = { maxFrameBytes: 1 << 20, highWaterMark: 256 * 1024, hardLimitBytes: 8 << 20, backoff: { maxAttempts: 0 }, closeTimeoutMs: 500 };
// The session checks need a dialler that reconnects (quickly, so the test is short).
const reconnecting = { ...limits, backoff: { initialMs: 10, maxMs: 50, maxAttempts: 200 } };
let sessionKey = randomBytes(32);

providerComplianceTests({
  name: 'tcp',
  profile: 'reliable',
  async setup() {
    const key = randomBytes(32);
    return {
      dialer: tcp({ localPeer: 'earth', keys: { saturn: key }, ...limits }),
      listener: tcp({ localPeer: 'saturn', keys: { earth: key }, ...limits }),
      address: '127.0.0.1:0',
      dialerPeer: 'earth',
      listenerPeer: 'saturn',
    };
  },
  sessions: {
    async setup() {
      sessionKey = randomBytes(32);
      return {
        dialer: tcp({ localPeer: 'earth', keys: { saturn: sessionKey }, ...reconnecting }),
        listener: tcp({ localPeer: 'saturn', keys: { earth: sessionKey }, ...reconnecting }),
        address: '127.0.0.1:0',
        dialerPeer: 'earth',
        listenerPeer: 'saturn',
      };
    },
    restartedListener: () => tcp({ localPeer: 'saturn', keys: { earth: sessionKey }, ...reconnecting }),
    relay: (target) => streamRelay(target, '127.0.0.1:0'),
  },
});
