import { randomBytes } from 'node:crypto';
import { datagramTap, providerComplianceTests, type IntruderKind } from '@cep/provider-compliance';
import { AllowList, generateKeyPair, type StaticKeyPair } from '@cep/noise-session';
import { udp } from '../src/index.ts';

// With pre-shared keys there is no handshake at open: each datagram is checked on arrival.
providerComplianceTests({
  name: 'udp',
  profile: 'unreliable',
  authentication: 'per-frame',
  async setup() {
    const key = randomBytes(32);
    // A third peer the listener knows, so an impersonator can hold a real key that is not earth's.
    const marsKey = randomBytes(32);
    const intruders: Record<IntruderKind, { localPeer: string; key: Uint8Array }> = {
      'wrong-key': { localPeer: 'earth', key: randomBytes(32) },
      'unknown-peer': { localPeer: 'pluto', key: randomBytes(32) },
      impersonator: { localPeer: 'earth', key: marsKey },
    };
    return {
      dialer: udp({ localPeer: 'earth', keys: { saturn: key } }),
      listener: udp({ localPeer: 'saturn', keys: { earth: key, mars: marsKey } }),
      address: '127.0.0.1:0',
      dialerPeer: 'earth',
      listenerPeer: 'saturn',
      intruder(kind) {
        const { localPeer, key: wrong } = intruders[kind];
        return { dialer: udp({ localPeer, keys: { saturn: wrong } }), claims: localPeer };
      },
      // mars, whom the listener trusts: a second dialler on the same listener.
      secondDialer: () => ({ dialer: udp({ localPeer: 'mars', keys: { saturn: marsKey } }), peer: 'mars' }),
    };
  },
  tap: (target) => datagramTap(target),
});

// With public-key identities every channel starts with a Noise handshake, so an intruder's open fails.
providerComplianceTests({
  name: 'udp (identity)',
  profile: 'unreliable',
  async setup() {
    const [earth, saturn, mars] = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
    const stranger = generateKeyPair();
    const saturnList = () => new AllowList({ saturn: saturn.publicKey });
    const intruders: Record<IntruderKind, { localPeer: string; staticKey: StaticKeyPair }> = {
      'wrong-key': { localPeer: 'earth', staticKey: stranger },
      'unknown-peer': { localPeer: 'pluto', staticKey: stranger },
      impersonator: { localPeer: 'earth', staticKey: mars },
    };
    return {
      dialer: udp({ localPeer: 'earth', identity: { staticKey: earth, allowList: saturnList() } }),
      listener: udp({ localPeer: 'saturn', identity: { staticKey: saturn, allowList: new AllowList({ earth: earth.publicKey, mars: mars.publicKey }) } }),
      address: '127.0.0.1:0',
      dialerPeer: 'earth',
      listenerPeer: 'saturn',
      intruder(kind) {
        const { localPeer, staticKey } = intruders[kind];
        return { dialer: udp({ localPeer, identity: { staticKey, allowList: saturnList() } }), claims: localPeer };
      },
      secondDialer: () => ({ dialer: udp({ localPeer: 'mars', identity: { staticKey: mars, allowList: saturnList() } }), peer: 'mars' }),
    };
  },
  tap: (target) => datagramTap(target),
});
