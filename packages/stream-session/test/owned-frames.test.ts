/**
 * A stream channel reports `ownedFrames`: the manager then logs each inbound frame without
 * copying it, so no frame a channel yielded may change afterwards. Checked over real loopback
 * sockets for both links (GMAC records and a Noise session): every frame is kept by reference
 * while many more arrive (small ones batched, large ones spanning socket reads), then compared
 * with what was sent.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChannelV1, ListenerV1, ProviderV1 } from '@cep/provider-spec';
import { AllowList, generateKeyPair, type StreamOptions } from '../src/index.ts';
import { KEY, loopback, until } from './fixtures.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function pair(listenerOptions: StreamOptions, dialerOptions: StreamOptions): Promise<{ local: ChannelV1; remote: ChannelV1 }> {
  const accepted: ChannelV1[] = [];
  const listening: ProviderV1 = loopback(listenerOptions);
  const dialing: ProviderV1 = loopback(dialerOptions);
  cleanups.push(
    () => listening.close(),
    () => dialing.close(),
  );
  const listener: ListenerV1 = await listening.listen!({ address: '127.0.0.1:0' }, (ch) => accepted.push(ch));
  const local = await dialing.open({ peer: 'saturn', mode: 'link', mount: 'main', localNode: 'earth', address: listener.address });
  await until(2000, () => accepted.length > 0);
  return { local, remote: accepted[0]! };
}

/** Sends `rounds` rounds of mixed sizes, pulling as it goes and keeping every pulled frame by reference. */
async function keepsEveryFrame(local: ChannelV1, remote: ChannelV1): Promise<void> {
  expect(local.info.ownedFrames).toBe(true);
  expect(remote.info.ownedFrames).toBe(true);
  const sizes = [0, 1, 31, 64, 700, 1024, 5000, 40_000, 3, 90_000, 12];
  const sent: Buffer[] = [];
  const kept: Uint8Array[] = [];
  const it = remote.frames()[Symbol.asyncIterator]();
  for (let round = 0; round < 8; round++) {
    const batch = sizes.map((n) => randomBytes(n)); // the same sizes every round: a reused buffer would fit again
    for (const frame of batch) {
      sent.push(Buffer.from(frame)); // what was sent, apart from the buffer handed to send
      local.send(frame);
    }
    for (let i = 0; i < batch.length; i++) kept.push((await it.next()).value as Uint8Array);
  }
  expect(kept).toHaveLength(sent.length);
  kept.forEach((frame, i) => expect(Buffer.from(frame).equals(sent[i]!), `frame ${i}`).toBe(true));
}

describe('stream channel frames are owned by the reader', () => {
  it('over GMAC records: no yielded frame changes while later frames arrive', async () => {
    const { local, remote } = await pair(
      { localPeer: 'saturn', keys: { earth: KEY }, maxFrameBytes: 1 << 20 },
      { localPeer: 'earth', keys: { saturn: KEY }, maxFrameBytes: 1 << 20 },
    );
    await keepsEveryFrame(local, remote);
  }, 30_000);

  it('over a Noise session: no yielded frame changes while later frames arrive', async () => {
    const earth = generateKeyPair();
    const saturn = generateKeyPair();
    const { local, remote } = await pair(
      { localPeer: 'saturn', identity: { staticKey: saturn, allowList: new AllowList({ earth: earth.publicKey }) }, maxFrameBytes: 1 << 20 },
      { localPeer: 'earth', identity: { staticKey: earth, allowList: new AllowList({ saturn: saturn.publicKey }) }, maxFrameBytes: 1 << 20 },
    );
    await keepsEveryFrame(local, remote);
  }, 30_000);
});
