import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChannelEventV1, ChannelV1, ProviderV1, RejectionV1 } from '@cep/provider-spec';
import { AllowList, fingerprint, generateKeyPair, pipe, type PipeOptions, type StaticKeyPair } from '../src/index.ts';

let dir = '';
const cleanups: (() => Promise<unknown> | void)[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cep-pipe-id-'));
});
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
  rmSync(dir, { recursive: true, force: true });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
async function until(ms: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await sleep(5);
  }
}

const earthKey = generateKeyPair();
const saturnKey = generateKeyPair();

function track(provider: ProviderV1): ProviderV1 {
  cleanups.push(() => provider.close());
  return provider;
}

async function saturn(trusted: Record<string, Uint8Array | Uint8Array[]> = { earth: earthKey.publicKey }, extra: Partial<PipeOptions> = {}) {
  const allowList = new AllowList(trusted);
  const rejected: RejectionV1[] = [];
  const accepted: ChannelV1[] = [];
  const provider = track(pipe({ localPeer: 'saturn', identity: { staticKey: saturnKey, allowList }, ...extra }));
  const listener = await provider.listen!({ address: join(dir, 'saturn.sock'), onReject: (r) => rejected.push(r) }, (ch) => accepted.push(ch));
  return { listener, accepted, rejected, allowList };
}

function dialler(name = 'earth', key: StaticKeyPair = earthKey): ProviderV1 {
  return track(
    pipe({
      localPeer: name,
      identity: { staticKey: key, allowList: new AllowList({ saturn: saturnKey.publicKey }) },
      backoff: { initialMs: 20, maxAttempts: 3 },
    }),
  );
}

function open(provider: ProviderV1, address: string, mount = 'main'): Promise<ChannelV1> {
  return provider.open({ peer: 'saturn', mode: 'link', mount, localNode: 'earth', address });
}

async function firstFrame(channel: ChannelV1): Promise<string> {
  const next = await channel.frames()[Symbol.asyncIterator]().next();
  return Buffer.from(next.value as Uint8Array).toString();
}

describe('pipe with public-key identities (Noise session)', () => {
  it('opens an encrypted channel over a Unix socket and reports the proven identity', async () => {
    const s = await saturn();
    const local = await open(dialler(), s.listener.address);
    await until(2000, () => s.accepted.length === 1);
    const remote = s.accepted[0]!;
    expect(remote.info.remoteIdentity?.fingerprint).toBe(fingerprint(earthKey.publicKey));
    expect(local.info.remoteIdentity?.fingerprint).toBe(fingerprint(saturnKey.publicKey));
    local.send(Buffer.from('over the pipe'));
    expect(await firstFrame(remote)).toBe('over the pipe');
  });

  it('refuses an unlisted key with AUTH_FAILED and tells onReject', async () => {
    const s = await saturn();
    await expect(open(dialler('earth', generateKeyPair()), s.listener.address)).rejects.toMatchObject({
      code: 'AUTH_FAILED',
      details: { noiseCode: 'NOISE_UNKNOWN_PEER' },
    });
    await until(2000, () => s.rejected.length === 1);
    expect(s.rejected[0]).toMatchObject({ code: 'AUTH_FAILED' });
    expect(s.accepted).toEqual([]);
  });

  it("refuses a listed peer claiming another's name with PEER_MISMATCH", async () => {
    const mallory = generateKeyPair();
    const s = await saturn({ earth: earthKey.publicKey, mallory: mallory.publicKey });
    await expect(open(dialler('earth', mallory), s.listener.address)).rejects.toMatchObject({ code: 'PEER_MISMATCH' });
    await until(2000, () => s.rejected.length === 1);
    expect(s.rejected[0]).toMatchObject({ code: 'PEER_MISMATCH', claimedPeer: 'mallory' });
  });

  it('accepts both keys during a roll-over, and revoking one drops only its channel', async () => {
    const next = generateKeyPair();
    const s = await saturn({ earth: [earthKey.publicKey, next.publicKey] });
    await open(dialler('earth', earthKey), s.listener.address, 'old');
    await open(dialler('earth', next), s.listener.address, 'new');
    await until(2000, () => s.accepted.length === 2);
    const seen = new Map<string, ChannelEventV1[]>();
    for (const channel of s.accepted) {
      const list: ChannelEventV1[] = [];
      channel.onEvent((e) => list.push(e));
      seen.set(channel.info.mount, list);
    }
    s.allowList.remove('earth', earthKey.publicKey);
    await until(2000, () => seen.get('old')!.some((e) => e.type === 'closed'));
    expect(seen.get('old')!.find((e) => e.type === 'fatal')).toMatchObject({ error: { code: 'AUTH_FAILED', details: { noiseCode: 'NOISE_KEY_REVOKED' } } });
    await sleep(50);
    expect(seen.get('new')).toEqual([]);
  });

  it('keeps a legacy pre-shared-key peer working next to identity peers', async () => {
    const legacyKey = randomBytes(32);
    const s = await saturn({ earth: earthKey.publicKey }, { keys: { venus: legacyKey } });
    const venus = track(pipe({ localPeer: 'venus', keys: { saturn: legacyKey } }));
    const channel = await venus.open({ peer: 'saturn', mode: 'link', mount: 'legacy', localNode: 'venus', address: s.listener.address });
    channel.send(Buffer.from('legacy'));
    await until(2000, () => s.accepted.length === 1);
    expect(s.accepted[0]!.info.remoteIdentity).toBeUndefined();
    expect(await firstFrame(s.accepted[0]!)).toBe('legacy');
  });
});
