import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ProviderV1 } from '@cep/provider-spec';
import { pipe } from '../src/index.ts';

let dir = '';
const opened: ProviderV1[] = [];
const servers: Server[] = [];
const key = randomBytes(32);
function make(): ProviderV1 {
  const p = pipe({ localPeer: 'saturn', keys: { earth: key } });
  opened.push(p);
  return p;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cep-pipe-'));
});
afterEach(async () => {
  for (const p of opened.splice(0)) await p.close();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('pipe socket files', () => {
  it('creates the socket owner-only and removes it when the provider closes', async () => {
    const path = join(dir, 'a.sock');
    const provider = make();
    await provider.listen!({ address: path }, () => {});
    expect(statSync(path).isSocket()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    await provider.close();
    expect(existsSync(path)).toBe(false);
  });

  it('clears a stale socket file left by a dead listener', async () => {
    const path = join(dir, 'stale.sock');
    // A process killed while listening leaves its socket file behind.
    spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(existsSync(path)).toBe(true);
    const provider = make();
    const listener = await provider.listen!({ address: path }, () => {});
    expect(listener.address).toBe(path);
    expect(statSync(path).isSocket()).toBe(true);
  });

  it('refuses to take over a socket someone is still listening on', async () => {
    const path = join(dir, 'live.sock');
    const live = createServer();
    servers.push(live);
    await new Promise<void>((r) => live.listen({ path }, () => r()));
    await expect(make().listen!({ address: path }, () => {})).rejects.toMatchObject({ code: 'OPEN_FAILED' });
    expect(existsSync(path)).toBe(true);
  });

  it('refuses a path that is a regular file, and one too long for sockaddr_un', async () => {
    const file = join(dir, 'plain');
    writeFileSync(file, 'not a socket');
    await expect(make().listen!({ address: file }, () => {})).rejects.toMatchObject({ code: 'ADDRESS_INVALID' });
    expect(existsSync(file)).toBe(true);
    const long = join(dir, 'x'.repeat(120));
    await expect(make().listen!({ address: long }, () => {})).rejects.toMatchObject({ code: 'ADDRESS_INVALID' });
  });
});
