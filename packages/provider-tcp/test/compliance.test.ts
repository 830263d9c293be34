import { randomBytes } from 'node:crypto';
import { providerComplianceTests, streamRelay, streamTap, type IntruderKind } from '@cep/provider-compliance';
import { AllowList, generateKeyPair, tcp, type StaticKeyPair } from '../src/index.ts';

const limits = { maxFrameBytes: 1 << 20, highWaterMark: 256 * 1024, hardLimitBytes: 8 << 20, backoff: { maxAttempts: 0 }, closeTimeoutMs: 500 };
// The session checks need a dialler that reconnects (quickly, so the test is short).
const reconnecting = { ...limits, backoff: { initialMs: 10, maxMs: 50, maxAttempts: 200 } };
let sessionKey = randomBytes(32);

providerComplianceTests({
  name: 'tcp',
  profile: 'reliable',
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
      dialer: tcp({ localPeer: 'earth', keys: { saturn: key }, ...limits }),
      listener: tcp({ localPeer: 'saturn', keys: { earth: key, mars: marsKey }, ...limits }),
      address: '127.0.0.1:0',
      dialerPeer: 'earth',
      listenerPeer: 'saturn',
      intruder(kind) {
        const { localPeer, key: wrong } = intruders[kind];
        return { dialer: tcp({ localPeer, keys: { saturn: wrong }, ...limits }), claims: localPeer };
      },
    };
  },
  tap: (target) => streamTap(target, '127.0.0.1:0'),
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

// With public-key identities (Noise_XXpsk3): the impersonator holds mars's real key.
providerComplianceTests({
  name: 'tcp (identity)',
  profile: 'reliable',
  async setup() {
    const [earth, saturn, mars, stranger] = [generateKeyPair(), generateKeyPair(), generateKeyPair(), generateKeyPair()];
    const saturnList = () => new AllowList({ saturn: saturn.publicKey });
    const intruders: Record<IntruderKind, { localPeer: string; staticKey: StaticKeyPair }> = {
      'wrong-key': { localPeer: 'earth', staticKey: stranger },
      'unknown-peer': { localPeer: 'pluto', staticKey: stranger },
      impersonator: { localPeer: 'earth', staticKey: mars },
    };
    return {
      dialer: tcp({ localPeer: 'earth', identity: { staticKey: earth, allowList: saturnList() }, ...limits }),
      listener: tcp({
        localPeer: 'saturn',
        identity: { staticKey: saturn, allowList: new AllowList({ earth: earth.publicKey, mars: mars.publicKey }) },
        ...limits,
      }),
      address: '127.0.0.1:0',
      dialerPeer: 'earth',
      listenerPeer: 'saturn',
      intruder(kind) {
        const { localPeer, staticKey } = intruders[kind];
        return { dialer: tcp({ localPeer, identity: { staticKey, allowList: saturnList() }, ...limits }), claims: localPeer };
      },
    };
  },
  tap: (target) => streamTap(target, '127.0.0.1:0'),
});
