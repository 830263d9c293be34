import { providerComplianceTests } from '@cep/provider-compliance';
import { memory, memoryNetwork } from '@cep/provider-memory';

providerComplianceTests({
  name: 'memory',
  profile: 'reliable',
  async setup() {
    const network = memoryNetwork();
    return {
      dialer: memory({ network, peer: 'earth', mode: 'reliable' }),
      listener: memory({ network, peer: 'saturn', mode: 'reliable' }),
      address: 'saturn',
      dialerPeer: 'earth',
      listenerPeer: 'saturn',
    };
  },
});

// The lossy path runs the whole suite: a schedule that drops, duplicates and reorders.
providerComplianceTests({
  name: 'memory',
  profile: 'unreliable',
  async setup() {
    const network = memoryNetwork();
    const lossy = { mode: 'unreliable', seed: 7, schedule: { drop: 0.1, duplicate: 0.1, reorder: 0.1 } } as const;
    return {
      dialer: memory({ network, peer: 'earth', ...lossy }),
      listener: memory({ network, peer: 'saturn', ...lossy }),
      address: 'saturn',
      dialerPeer: 'earth',
      listenerPeer: 'saturn',
    };
  },
});
