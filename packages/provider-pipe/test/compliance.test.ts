import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { providerComplianceTests, streamRelay } from '@cep/provider-compliance';
import { pipe } from '../src/index.ts';

const limits = { maxFrameBytes: 1 << 20, highWaterMark: 256 * 1024, hardLimitBytes: 8 << 20, backoff: { maxAttempts: 0 }, closeTimeoutMs: 500 };
// The session checks need a dialler that reconnects (quickly, so the test is short).
const reconnecting = { ...limits, backoff: { initialMs: 10, maxMs: 50, maxAttempts: 200 } };
let session = { key: randomBytes(32), dir: '' };

providerComplianceTests({
  name: 'pipe',
  profile: 'reliable',
  async setup() {
    const key = randomBytes(32);
    const dir = mkdtempSync(join(tmpdir(), 'cep-pipe-'));
    return {
      dialer: pipe({ localPeer: 'earth', keys: { saturn: key }, ...limits }),
      listener: pipe({ localPeer: 'saturn', keys: { earth: key }, ...limits }),
      address: join(dir, 'saturn.sock'),
      dialerPeer: 'earth',
      listenerPeer: 'saturn',
      async teardown() {
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
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
