import { randomBytes } from 'node:crypto';
import { providerComplianceTests } from '@cep/provider-compliance';
import { tcp } from '../src/index.ts';

providerComplianceTests({
  name: 'tcp',
  profile: 'reliable',
  async setup() {
    const key = randomBytes(32);
    const limits = { maxFrameBytes: 1 << 20, highWaterMark: 256 * 1024, hardLimitBytes: 8 << 20, backoff: { maxAttempts: 0 }, closeTimeoutMs: 500 };
    return {
      dialer: tcp({ localPeer: 'earth', keys: { saturn: key }, ...limits }),
      listener: tcp({ localPeer: 'saturn', keys: { earth: key }, ...limits }),
      address: '127.0.0.1:0',
      dialerPeer: 'earth',
      listenerPeer: 'saturn',
    };
  },
});
