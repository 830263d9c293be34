/** provider-tcp under the real transport manager (the compliance package's manager entry). */
import { randomBytes } from 'node:crypto';
import { managerComplianceTest } from '@cep/provider-compliance/manager';
import { tcp } from '../src/index.ts';

managerComplianceTest({
  name: 'tcp',
  profile: 'reliable',
  async setup() {
    const key = randomBytes(32);
    const limits = { backoff: { maxAttempts: 0 }, closeTimeoutMs: 500 };
    return {
      dialer: tcp({ localPeer: 'earth', keys: { saturn: key }, ...limits }),
      listener: tcp({ localPeer: 'saturn', keys: { earth: key }, ...limits }),
      address: '127.0.0.1:0',
      dialerPeer: 'earth',
      listenerPeer: 'saturn',
    };
  },
});
