import { describe, expect, it } from 'vitest';
import type { ChannelV1, RejectionV1 } from '@cep/provider-spec';
import { memory, memoryNetwork } from '@cep/provider-memory';
import { indexOf, numbered, provider, puller } from './util.ts';

const key = (fill: number) => new Uint8Array(32).fill(fill);

async function saturn(keys?: Record<string, Uint8Array>) {
  const network = memoryNetwork();
  const accepted: ChannelV1[] = [];
  const rejected: RejectionV1[] = [];
  await provider({ network, peer: 'saturn', mode: 'reliable', ...(keys !== undefined ? { keys } : {}) }).listen!(
    { address: 'saturn', onReject: (r) => rejected.push(r) },
    (ch) => accepted.push(ch),
  );
  const dial = (peer: string, keys?: Record<string, Uint8Array>) =>
    provider({ network, peer, mode: 'reliable', ...(keys !== undefined ? { keys } : {}) }).open({
      peer: 'saturn',
      mode: 'link',
      mount: 'main',
      localNode: peer,
      address: 'saturn',
    });
  return { accepted, rejected, dial };
}

describe('pre-shared keys', () => {
  it('lets in a dialler holding the same key as the listener holds for it', async () => {
    const s = await saturn({ earth: key(1) });
    const local = await s.dial('earth', { saturn: key(1) });
    local.send(numbered(5));
    expect(indexOf((await puller(s.accepted[0]!).next())!)).toBe(5);
    expect(s.rejected).toEqual([]);
  });

  it('refuses a wrong key, an unknown peer and a keyless dialler with AUTH_FAILED, telling onReject', async () => {
    const s = await saturn({ earth: key(1), mars: key(2) });
    await expect(s.dial('earth', { saturn: key(9) })).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    await expect(s.dial('earth', { saturn: key(2) })).rejects.toMatchObject({ code: 'AUTH_FAILED' }); // mars's key, claiming earth
    await expect(s.dial('pluto', { saturn: key(1) })).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    await expect(s.dial('earth')).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    expect(s.rejected.map((r) => [r.code, r.claimedPeer])).toEqual([
      ['AUTH_FAILED', 'earth'],
      ['AUTH_FAILED', 'earth'],
      ['AUTH_FAILED', 'pluto'],
      ['AUTH_FAILED', 'earth'],
    ]);
    expect(s.accepted).toEqual([]);
  });

  it('refuses to reach a keyless listener from a keyed dialler: nothing proves who answers', async () => {
    const s = await saturn();
    await expect(s.dial('earth', { saturn: key(1) })).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    expect(s.accepted).toEqual([]);
  });

  it('refuses open() to a peer it holds no key for, before looking for a listener', async () => {
    const earth = provider({ network: memoryNetwork(), peer: 'earth', mode: 'reliable', keys: { saturn: key(1) } });
    await expect(earth.open({ peer: 'jupiter', mode: 'link', mount: 'main', localNode: 'earth', address: 'nowhere' })).rejects.toMatchObject({
      code: 'AUTH_FAILED',
    });
  });

  it('refuses a key that is not 32 bytes, and keeps its own copy of the keys', async () => {
    expect(() => memory({ network: memoryNetwork(), peer: 'earth', mode: 'reliable', keys: { saturn: new Uint8Array(16) } })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS' }),
    );
    const mine = key(1);
    const s = await saturn({ earth: mine });
    mine.fill(0);
    await expect(s.dial('earth', { saturn: new Uint8Array(32) })).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    expect(s.accepted).toEqual([]);
  });
});
