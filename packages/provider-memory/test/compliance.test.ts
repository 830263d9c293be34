import { randomBytes } from 'node:crypto';
import { providerComplianceTests, type ComplianceEnv, type IntruderKind } from '@cep/provider-compliance';
import { memory, memoryNetwork, type MemoryOptions } from '@cep/provider-memory';

/**
 * Both ends hold keys, so the authentication checks have something to refuse. Memory has no
 * wire a tap could get between, so the replay and reordering checks are reported as skipped.
 */
function keyedPair(profile: Pick<MemoryOptions, 'mode' | 'seed' | 'schedule'>): ComplianceEnv {
  const network = memoryNetwork();
  const key = randomBytes(32);
  // A third peer the listener knows, so an impersonator can hold a real key that is not earth's.
  const marsKey = randomBytes(32);
  const intruders: Record<IntruderKind, { peer: string; key: Uint8Array }> = {
    'wrong-key': { peer: 'earth', key: randomBytes(32) },
    'unknown-peer': { peer: 'pluto', key: randomBytes(32) },
    impersonator: { peer: 'earth', key: marsKey },
  };
  return {
    dialer: memory({ network, peer: 'earth', keys: { saturn: key }, ...profile }),
    listener: memory({ network, peer: 'saturn', keys: { earth: key, mars: marsKey }, ...profile }),
    address: 'saturn',
    dialerPeer: 'earth',
    listenerPeer: 'saturn',
    intruder(kind) {
      const { peer, key: wrong } = intruders[kind];
      return { dialer: memory({ network, peer, keys: { saturn: wrong }, ...profile }), claims: peer };
    },
    // mars, whom the listener trusts: a second dialler on the same listener.
    secondDialer: () => ({ dialer: memory({ network, peer: 'mars', keys: { saturn: marsKey }, ...profile }), peer: 'mars' }),
  };
}

providerComplianceTests({
  name: 'memory',
  profile: 'reliable',
  setup: async () => keyedPair({ mode: 'reliable' }),
});

// The lossy path runs the whole suite: a schedule that drops, duplicates and reorders.
providerComplianceTests({
  name: 'memory',
  profile: 'unreliable',
  setup: async () => keyedPair({ mode: 'unreliable', seed: 7, schedule: { drop: 0.1, duplicate: 0.1, reorder: 0.1 } }),
});
