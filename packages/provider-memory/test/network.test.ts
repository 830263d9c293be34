import { describe, expect, it } from 'vitest';
import type { ChannelV1, RejectionV1 } from '@cep/provider-spec';
import { memory, memoryHooks, memoryNetwork, MEMORY_RELIABLE_CAPS, MEMORY_UNRELIABLE_CAPS, type MemoryOptions } from '@cep/provider-memory';
import { events, indexOf, numbered, pair, provider, puller } from './util.ts';

const open = (p: ReturnType<typeof provider>, address: string, peer = 'saturn', mount = 'main') =>
  p.open({ peer, mode: 'link', mount, localNode: 'earth', address });

describe('memory networks', () => {
  it('keeps two networks apart: the same address in each reaches only its own listener', async () => {
    const netA = memoryNetwork();
    const netB = memoryNetwork();
    const acceptedA: ChannelV1[] = [];
    const acceptedB: ChannelV1[] = [];
    await provider({ network: netA, peer: 'saturn', mode: 'reliable' }).listen!({ address: 'saturn' }, (c) => acceptedA.push(c));
    const earthB = provider({ network: netB, peer: 'earth', mode: 'reliable' });
    await expect(open(earthB, 'saturn')).rejects.toMatchObject({ code: 'OPEN_FAILED' });
    await provider({ network: netB, peer: 'saturn', mode: 'reliable' }).listen!({ address: 'saturn' }, (c) => acceptedB.push(c));
    const channel = await open(earthB, 'saturn');
    channel.send(numbered(1));
    expect(acceptedA).toEqual([]);
    expect(acceptedB).toHaveLength(1);
    expect(indexOf((await puller(acceptedB[0]!).next())!)).toBe(1);
    expect(netA.addresses()).toEqual(['saturn']);
    expect(netB.addresses()).toEqual(['saturn']);
  });

  it('tells the accepting side the dialler peer, mode and mount, and shares a session id', async () => {
    const { local, remote } = await pair({}, memoryNetwork(), 'gauges');
    expect(local.info).toMatchObject({ provider: 'memory', peer: 'saturn', mode: 'link', mount: 'gauges', initiator: true, remoteAddress: 'saturn' });
    expect(remote.info).toMatchObject({ provider: 'memory', peer: 'earth', mode: 'link', mount: 'gauges', initiator: false });
    expect(remote.info.sessionId).toBe(local.info.sessionId);
  });

  it("tells each end the far provider instance's session; a new instance (a restart) has a new one", async () => {
    const network = memoryNetwork();
    const { local, remote, earth } = await pair({}, network);
    expect(local.info.remoteSession).toBeDefined();
    expect(remote.info.remoteSession).toBeDefined();
    expect(local.info.remoteSession).not.toBe(remote.info.remoteSession);
    const again = await open(earth, 'saturn', 'saturn', 'second');
    expect(again.info.remoteSession).toBe(local.info.remoteSession);
    const restarted = provider({ network, peer: 'saturn', mode: 'reliable' });
    await restarted.listen!({ address: 'saturn2' }, () => {});
    const fresh = await open(earth, 'saturn2', 'saturn', 'third');
    expect(fresh.info.remoteSession).not.toBe(local.info.remoteSession);
    const seen = events(local);
    memoryHooks(earth).raise(local, { type: 'session', id: 'other' });
    expect(seen).toEqual([{ type: 'session', id: 'other' }]);
  });

  it('carries the smaller of the two ends frame limits', async () => {
    const network = memoryNetwork();
    await provider({ network, peer: 'saturn', mode: 'reliable', maxFrameBytes: 1000 }).listen!({ address: 'saturn' }, () => {});
    const channel = await open(provider({ network, peer: 'earth', mode: 'reliable', maxFrameBytes: 5000 }), 'saturn');
    expect(channel.info.maxFrameBytes).toBe(1000);
    expect(() => channel.send(new Uint8Array(1001))).toThrow(expect.objectContaining({ code: 'FRAME_TOO_LARGE' }));
  });

  it('refuses a second listener on an address (ADDRESS_IN_USE) until the first closes', async () => {
    const network = memoryNetwork();
    const first = await provider({ network, peer: 'saturn', mode: 'reliable' }).listen!({ address: 'saturn' }, () => {});
    const other = provider({ network, peer: 'saturn', mode: 'reliable', id: 'memory_b' });
    await expect(other.listen!({ address: 'saturn' }, () => {})).rejects.toMatchObject({ code: 'ADDRESS_IN_USE' });
    await first.close();
    expect(network.addresses()).toEqual([]);
    await expect(other.listen!({ address: 'saturn' }, () => {})).resolves.toMatchObject({ address: 'saturn' });
  });

  it('refuses the wrong peer (PEER_MISMATCH) and a mode mismatch (PROTOCOL_ERROR), telling onReject', async () => {
    const network = memoryNetwork();
    const rejections: RejectionV1[] = [];
    await provider({ network, peer: 'saturn', mode: 'reliable' }).listen!({ address: 'saturn', onReject: (r) => rejections.push(r) }, () => {});
    await expect(open(provider({ network, peer: 'earth', mode: 'reliable' }), 'saturn', 'jupiter')).rejects.toMatchObject({ code: 'PEER_MISMATCH' });
    await expect(open(provider({ network, peer: 'mars', mode: 'unreliable' }), 'saturn')).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
    expect(rejections.map((r) => [r.code, r.claimedPeer])).toEqual([
      ['PEER_MISMATCH', 'earth'],
      ['PROTOCOL_ERROR', 'mars'],
    ]);
  });

  it('refuses bad addresses, and open/listen on a closed provider', async () => {
    const network = memoryNetwork();
    const p = memory({ network, peer: 'earth', mode: 'reliable' });
    await expect(open(p, '')).rejects.toMatchObject({ code: 'ADDRESS_INVALID' });
    await expect(p.listen!({ address: '' }, () => {})).rejects.toMatchObject({ code: 'ADDRESS_INVALID' });
    await p.close();
    await p.close();
    await expect(open(p, 'saturn')).rejects.toMatchObject({ code: 'OPEN_FAILED' });
    await expect(p.listen!({ address: 'earth' }, () => {})).rejects.toMatchObject({ code: 'OPEN_FAILED' });
  });

  it('closes every channel and listener when the provider closes; the far ends see closed', async () => {
    const { network, saturn, remote } = await pair();
    const closed: string[] = [];
    remote.onEvent((e) => e.type === 'closed' && closed.push(e.reason));
    await saturn.close();
    expect(network.addresses()).toEqual([]);
    expect(closed).toEqual(['provider "memory" closed']);
  });

  it('advertises the capabilities of its mode', () => {
    const network = memoryNetwork();
    expect(memory({ network, peer: 'a', mode: 'reliable' }).caps).toEqual(MEMORY_RELIABLE_CAPS);
    expect(memory({ network, peer: 'a', mode: 'unreliable' }).caps).toEqual(MEMORY_UNRELIABLE_CAPS);
  });

  it('refuses options that cannot work with INVALID_OPTIONS', () => {
    const network = memoryNetwork();
    const base: MemoryOptions = { network, peer: 'earth', mode: 'reliable' };
    const bad: Partial<MemoryOptions>[] = [
      { id: 'Memory' },
      { id: 'much_too_long_id' },
      { peer: '' },
      { mode: 'lossy' as never },
      { schedule: { drop: 0.1 } },
      { mode: 'unreliable', schedule: { reorder: 1.5 } },
      { mode: 'unreliable', schedule: { duplicate: -0.1 } },
      { seed: -1 },
      { seed: 1.5 },
      { maxFrameBytes: 0 },
      { highWaterBytes: 1000, maxFrameBytes: 1000, hardLimitBytes: 1500 },
      { network: {} as never },
    ];
    for (const extra of bad) expect(() => memory({ ...base, ...extra }), JSON.stringify(extra)).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
  });
});
