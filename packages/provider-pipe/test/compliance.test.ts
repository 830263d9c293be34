import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { providerComplianceTests } from '@cep/provider-compliance';
import { pipe } from '../src/index.ts';

providerComplianceTests({
  name: 'pipe',
  profile: 'reliable',
  async setup() {
    const key = randomBytes(32);
    const dir = mkdtempSync(join(tmpdir(), 'cep-pipe-'));
    const limits = { maxFrameBytes: 1 << 20, highWaterMark: 256 * 1024, hardLimitBytes: 8 << 20, backoff: { maxAttempts: 0 }, closeTimeoutMs: 500 };
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
});
