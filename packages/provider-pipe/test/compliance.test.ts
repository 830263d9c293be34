import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { providerComplianceTests, streamRelay, streamTap, type IntruderKind } from '@cep/provider-compliance';
import { AllowList, generateKeyPair, pipe, type StaticKeyPair } from '../src/index.ts';

const limits = { maxFrameBytes: 1 << 20, highWaterMark: 256 * 1024, hardLimitBytes: 8 << 20, backoff: { maxAttempts: 0 }, closeTimeoutMs: 500 };
// The session checks need a dialler that reconnects (quickly, so the test is short).
const reconnecting = { ...limits, backoff: { initialMs: 10, maxMs: 50, maxAttempts: 200 } };
let session = { key: randomBytes(32), dir: '' };
// The temp dir of the running test, where its tap binds its socket.
let current = '';

providerComplianceTests({
  name: 'pipe',
  profile: 'reliable',
  async setup() {
    const key = randomBytes(32);
    const dir = mkdtempSync(join(tmpdir(), 'cep-pipe-'));
    current = dir;
    // A third peer the listener knows, so an impersonator can hold a real key that is not earth's.
    const marsKey = randomBytes(32);
    const intruders: Record<IntruderKind, { localPeer: string; key: Uint8Array }> = {
      'wrong-key': { localPeer: 'earth', key: randomBytes(32) },
      'unknown-peer': { localPeer: 'pluto', key: randomBytes(32) },
      impersonator: { localPeer: 'earth', key: marsKey },
    };
    return {
      dialer: pipe({ localPeer: 'earth', keys: { saturn: key }, ...limits }),
      listener: pipe({ localPeer: 'saturn', keys: { earth: key, mars: marsKey }, ...limits }),
      address: join(dir, 'saturn.sock'),
      dialerPeer: 'earth',
      listenerPeer: 'saturn',
      intruder(kind) {
        const { localPeer, key: wrong } = intruders[kind];
        return { dialer: pipe({ localPeer, keys: { saturn: wrong }, ...limits }), claims: localPeer };
      },
      // mars, whom the listener trusts: a second dialler on the same listener.
      secondDialer: () => ({ dialer: pipe({ localPeer: 'mars', keys: { saturn: marsKey }, ...limits }), peer: 'mars' }),
      async teardown() {
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  tap: (target) => streamTap(target, join(current, 'tap.sock')),
  sessions: {
    async setup() {
      session = { key: randomBytes(32), dir: mkdtempSync(join(tmpdir(), 'cep-pipe-')) };
      const dir = session.dir;
      return {
        dialer: pipe({ localPeer: 'earth', keys: { saturn: session.key }, ...reconnecting }),
        listener: pipe({ localPeer: 'saturn', keys: { earth: session.key }, ...reconnecting }),
        address: join(dir, 'saturn.sock'),
        dialerPeer: 'earth',
        listenerPeer: 'saturn',
        async teardown() {
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
    // The old listener's socket file is still there until it closes: the restarted one binds another.
    restartedListener: () => pipe({ localPeer: 'saturn', keys: { earth: session.key }, ...reconnecting }),
    restartAddress: () => join(session.dir, 'saturn2.sock'),
    relay: (target) => streamRelay(target, join(session.dir, 'relay.sock')),
  },
});

// With public-key identities (Noise_XXpsk3): the impersonator holds mars's real key.
providerComplianceTests({
  name: 'pipe (identity)',
  profile: 'reliable',
  async setup() {
    const dir = mkdtempSync(join(tmpdir(), 'cep-pipe-'));
    current = dir;
    const [earth, saturn, mars, stranger] = [generateKeyPair(), generateKeyPair(), generateKeyPair(), generateKeyPair()];
    const saturnList = () => new AllowList({ saturn: saturn.publicKey });
    const intruders: Record<IntruderKind, { localPeer: string; staticKey: StaticKeyPair }> = {
      'wrong-key': { localPeer: 'earth', staticKey: stranger },
      'unknown-peer': { localPeer: 'pluto', staticKey: stranger },
      impersonator: { localPeer: 'earth', staticKey: mars },
    };
    return {
      dialer: pipe({ localPeer: 'earth', identity: { staticKey: earth, allowList: saturnList() }, ...limits }),
      listener: pipe({
        localPeer: 'saturn',
        identity: { staticKey: saturn, allowList: new AllowList({ earth: earth.publicKey, mars: mars.publicKey }) },
        ...limits,
      }),
      address: join(dir, 'saturn.sock'),
      dialerPeer: 'earth',
      listenerPeer: 'saturn',
      intruder(kind) {
        const { localPeer, staticKey } = intruders[kind];
        return { dialer: pipe({ localPeer, identity: { staticKey, allowList: saturnList() }, ...limits }), claims: localPeer };
      },
      secondDialer: () => ({ dialer: pipe({ localPeer: 'mars', identity: { staticKey: mars, allowList: saturnList() }, ...limits }), peer: 'mars' }),
      async teardown() {
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  tap: (target) => streamTap(target, join(current, 'tap.sock')),
});
