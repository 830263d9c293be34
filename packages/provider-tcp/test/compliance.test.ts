import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { providerComplianceTests, streamRelay, streamTap, type IntruderKind } from '@cep/provider-compliance';
import { AllowList, generateKeyPair, tcp, type StaticKeyPair } from '../src/index.ts';

const limits = { maxFrameBytes: 1 << 20, highWaterMark: 256 * 1024, hardLimitBytes: 8 << 20, backoff: { maxAttempts: 0 }, closeTimeoutMs: 500 };
// The session checks need a dialler that reconnects (quickly, so the test is short).
const reconnecting = { ...limits, backoff: { initialMs: 10, maxMs: 50, maxAttempts: 200 } };
let sessionKey = randomBytes(32);

/** True if this machine can listen on the IPv6 loopback (a container may have IPv6 turned off). */
function canListenOn(host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(0, host, () => server.close(() => resolve(true)));
  });
}

// The suite runs on both loopbacks: an address parser or a bind that only knows IPv4 fails here.
const hosts = ['127.0.0.1', '[::1]'];
if (!(await canListenOn('::1'))) {
  hosts.pop();
  // Printed, not hidden: the IPv6 half of the suite is not registered on this machine.
  console.warn('provider-tcp compliance: this machine has no IPv6 loopback (listening on ::1 failed); the [::1] runs are not registered');
}

for (const host of hosts) {
  const any = `${host}:0`;

  providerComplianceTests({
    name: `tcp ${host}`,
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
        address: any,
        dialerPeer: 'earth',
        listenerPeer: 'saturn',
        intruder(kind) {
          const { localPeer, key: wrong } = intruders[kind];
          return { dialer: tcp({ localPeer, keys: { saturn: wrong }, ...limits }), claims: localPeer };
        },
        // mars, whom the listener trusts: a second dialler on the same listener.
        secondDialer: () => ({ dialer: tcp({ localPeer: 'mars', keys: { saturn: marsKey }, ...limits }), peer: 'mars' }),
      };
    },
    tap: (target) => streamTap(target, any),
    sessions: {
      async setup() {
        sessionKey = randomBytes(32);
        return {
          dialer: tcp({ localPeer: 'earth', keys: { saturn: sessionKey }, ...reconnecting }),
          listener: tcp({ localPeer: 'saturn', keys: { earth: sessionKey }, ...reconnecting }),
          address: any,
          dialerPeer: 'earth',
          listenerPeer: 'saturn',
        };
      },
      restartedListener: () => tcp({ localPeer: 'saturn', keys: { earth: sessionKey }, ...reconnecting }),
      relay: (target) => streamRelay(target, any),
    },
  });

  // With public-key identities (Noise_XXpsk3): the impersonator holds mars's real key.
  providerComplianceTests({
    name: `tcp (identity) ${host}`,
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
        address: any,
        dialerPeer: 'earth',
        listenerPeer: 'saturn',
        intruder(kind) {
          const { localPeer, staticKey } = intruders[kind];
          return { dialer: tcp({ localPeer, identity: { staticKey, allowList: saturnList() }, ...limits }), claims: localPeer };
        },
        secondDialer: () => ({ dialer: tcp({ localPeer: 'mars', identity: { staticKey: mars, allowList: saturnList() }, ...limits }), peer: 'mars' }),
      };
    },
    tap: (target) => streamTap(target, any),
  });
}
