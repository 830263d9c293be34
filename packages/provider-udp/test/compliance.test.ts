import { randomBytes } from 'node:crypto';
import { providerComplianceTests } from '@cep/provider-compliance';
import { udp } from '../src/index.ts';

providerComplianceTests({
  name: 'udp',
  profile: 'unreliable',
  async setup() {
    const key = randomBytes(32);
    return {
      dialer: udp({ localPeer: 'earth', keys: { saturn: key } }),
      listener: udp({ localPeer: 'saturn', keys: { earth: key } }),
      address: '127.0.0.1:0',
      dialerPeer: 'earth',
      listenerPeer: 'saturn',
    };
  },
});
