import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChannelV1, ProviderV1 } from '@cep/provider-spec';
import { DATA, ReplayWindow, encode } from '../src/datagram.ts';
import { MAX_UDP_FRAME_BYTES, udp, type UdpOptions, type UdpRejectInfo } from '../src/index.ts';

const key = randomBytes(32);
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
async function until(ms: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await sleep(5);
  }
}

async function saturn(extra: Partial<UdpOptions> = {}) {
  const rejected: UdpRejectInfo[] = [];
  const accepted: ChannelV1[] = [];
  const provider = udp({ localPeer: 'saturn', keys: { earth: key }, onReject: (r) => rejected.push(r), ...extra });
  cleanups.push(() => provider.close());
  const listener = await provider.listen!({ address: '127.0.0.1:0' }, (ch) => accepted.push(ch));
  return { provider, listener, accepted, rejected };
}

function earth(extra: Partial<UdpOptions> = {}): ProviderV1 {
  const provider = udp({ localPeer: 'earth', keys: { saturn: key }, ...extra });
  cleanups.push(() => provider.close());
  return provider;
}

async function raw(): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise<void>((r) => socket.close(() => r())));
  return socket;
}

function port(address: string): number {
  return Number(address.split(':')[1]);
}

async function collect(channel: ChannelV1, ms: number): Promise<string[]> {
  const out: string[] = [];
  const it = channel.frames()[Symbol.asyncIterator]();
  const deadline = Date.now() + ms;
  for (;;) {
    const next = await Promise.race([it.next(), sleep(Math.max(0, deadline - Date.now())).then(() => 'timeout' as const)]);
    if (next === 'timeout' || next.done === true) return out;
    out.push(Buffer.from(next.value).toString());
  }
}

const route = { sender: 'earth', target: 'saturn', mode: 'mirror', mount: 'gauges' };

describe('udp datagram authentication', () => {
  it('delivers a hand-built authentic datagram once and drops its replay as REPLAYED_FRAME', async () => {
    const s = await saturn();
    const sock = await raw();
    const datagram = encode(key, route, DATA, 1000, Buffer.from('temp=21'));
    sock.send(datagram, port(s.listener.address), '127.0.0.1');
    await until(2000, () => s.accepted.length === 1);
    sock.send(datagram, port(s.listener.address), '127.0.0.1');
    sock.send(encode(key, route, DATA, 1001, Buffer.from('temp=22')), port(s.listener.address), '127.0.0.1');
    expect(await collect(s.accepted[0]!, 300)).toEqual(['temp=21', 'temp=22']);
    expect(s.rejected.map((r) => r.code)).toEqual(['REPLAYED_FRAME']);
  });

  it('drops datagrams signed with the wrong key, tampered ones, and ones for another peer', async () => {
    const s = await saturn();
    const sock = await raw();
    const to = port(s.listener.address);
    sock.send(encode(randomBytes(32), route, DATA, 1, Buffer.from('forged')), to, '127.0.0.1');
    const tampered = encode(key, route, DATA, 2, Buffer.from('pay 10'));
    tampered[tampered.length - 17] = tampered[tampered.length - 17]! ^ 1;
    sock.send(tampered, to, '127.0.0.1');
    sock.send(encode(key, { ...route, target: 'jupiter' }, DATA, 3, Buffer.from('elsewhere')), to, '127.0.0.1');
    sock.send(Buffer.from('GET / HTTP/1.1\r\n\r\n'), to, '127.0.0.1');
    await until(2000, () => s.rejected.length === 4);
    expect(s.rejected.map((r) => r.code)).toEqual(['AUTH_FAILED', 'AUTH_FAILED', 'PEER_MISMATCH', 'PROTOCOL_ERROR']);
    expect(s.accepted).toEqual([]);
  });

  it('never opens a channel for a dialler holding the wrong key', async () => {
    const s = await saturn();
    const impostor = udp({ localPeer: 'earth', keys: { saturn: randomBytes(32) } });
    cleanups.push(() => impostor.close());
    const ch = await impostor.open({ peer: 'saturn', mode: 'mirror', mount: 'gauges', localNode: 'earth', address: s.listener.address });
    ch.send(Buffer.from('x'));
    await until(2000, () => s.rejected.length >= 2);
    expect(s.rejected.every((r) => r.code === 'AUTH_FAILED' && r.claimedPeer === 'earth')).toBe(true);
    expect(s.accepted).toEqual([]);
  });

  it('keeps an open channel working while garbage hits the same port', async () => {
    const s = await saturn();
    const ch = await earth().open({ peer: 'saturn', mode: 'mirror', mount: 'gauges', localNode: 'earth', address: s.listener.address });
    await until(2000, () => s.accepted.length === 1);
    const sock = await raw();
    for (let i = 0; i < 20; i++) sock.send(randomBytes(10 + i * 30), port(s.listener.address), '127.0.0.1');
    ch.send(Buffer.from('still fine'));
    expect(await collect(s.accepted[0]!, 300)).toEqual(['still fine']);
    expect(s.accepted).toHaveLength(1);
  });
});

describe('udp limits', () => {
  it('refuses frames above maxFrameBytes with FRAME_TOO_LARGE (default 1200)', async () => {
    const s = await saturn();
    const ch = await earth().open({ peer: 'saturn', mode: 'mirror', mount: 'gauges', localNode: 'earth', address: s.listener.address });
    expect(ch.info.maxFrameBytes).toBe(1200);
    expect(() => ch.send(new Uint8Array(1201))).toThrow(expect.objectContaining({ code: 'FRAME_TOO_LARGE' }));
    expect(ch.send(new Uint8Array(1200))).toBe('ready');
  });

  it('refuses a maxFrameBytes that cannot fit one datagram', () => {
    expect(() => udp({ localPeer: 'earth', keys: {}, maxFrameBytes: MAX_UDP_FRAME_BYTES + 1 })).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
    expect(() => udp({ localPeer: 'earth', keys: { saturn: new Uint8Array(16) } })).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
  });

  it('drops an authentic datagram larger than the receiver allows', async () => {
    const s = await saturn({ maxFrameBytes: 100 });
    const sock = await raw();
    sock.send(encode(key, route, DATA, 5, new Uint8Array(101)), port(s.listener.address), '127.0.0.1');
    await until(2000, () => s.rejected.length === 1);
    expect(s.rejected[0]!.code).toBe('PROTOCOL_ERROR');
    expect(s.accepted).toEqual([]);
  });

  it('keeps only the newest maxQueuedFrames when nobody pulls', async () => {
    const s = await saturn({ maxQueuedFrames: 4 });
    const ch = await earth().open({ peer: 'saturn', mode: 'mirror', mount: 'gauges', localNode: 'earth', address: s.listener.address });
    await until(2000, () => s.accepted.length === 1);
    for (let i = 0; i < 10; i++) ch.send(Buffer.from(`g${i}`));
    await sleep(100);
    expect(await collect(s.accepted[0]!, 100)).toEqual(['g6', 'g7', 'g8', 'g9']);
  });

  it('accepts at most maxChannels channels per listener', async () => {
    const s = await saturn({ maxChannels: 2 });
    const e = earth();
    for (const mount of ['a', 'b', 'c']) await e.open({ peer: 'saturn', mode: 'mirror', mount, localNode: 'earth', address: s.listener.address });
    await until(2000, () => s.rejected.length === 1);
    expect(s.accepted.map((c) => c.info.mount).sort()).toEqual(['a', 'b']);
    expect(s.rejected[0]!.code).toBe('CHANNEL_OVERFLOW');
  });
});

describe('replay window', () => {
  it('accepts new and late-but-unseen numbers and refuses repeats and ones older than the window', () => {
    const w = new ReplayWindow(8);
    expect([10, 11, 9, 15, 12].map((n) => w.accept(n))).toEqual([true, true, true, true, true]);
    expect([11, 15, 9].map((n) => w.accept(n))).toEqual([false, false, false]);
    expect(w.accept(8)).toBe(true);
    expect(w.accept(7)).toBe(false); // 15 - 7 = 8: outside a window of 8
    expect(w.accept(100)).toBe(true);
    expect(w.accept(93)).toBe(true);
    expect(w.accept(92)).toBe(false);
  });
});

describe('listener refusals', () => {
  it("tell the listener's own onReject (the manager's) as well as the provider's", async () => {
    const byProvider: string[] = [];
    const provider = udp({ localPeer: 'saturn', keys: { earth: key }, onReject: (r) => byProvider.push(r.code) });
    cleanups.push(() => provider.close());
    const told: Array<{ code: string; reason: string }> = [];
    const listener = await provider.listen!({ address: '127.0.0.1:0', onReject: (r) => told.push(r) }, () => undefined);
    const sock = await raw();
    sock.send(Buffer.from('not a datagram of ours'), port(listener.address), '127.0.0.1');
    await until(2000, () => told.length === 1 && byProvider.length === 1);
    expect(told[0]).toMatchObject({ code: 'PROTOCOL_ERROR', reason: expect.stringContaining('malformed') });
    expect(byProvider).toEqual(['PROTOCOL_ERROR']);
  });
});

describe('sessions', () => {
  it("each side learns the other provider instance's session from the HELLOs", async () => {
    const s = await saturn();
    const dialled = await earth().open({ peer: 'saturn', mode: 'mirror', mount: 'gauges', localNode: 'earth', address: s.listener.address });
    const events: string[] = [];
    dialled.onEvent((e) => e.type === 'session' && events.push(e.id));
    await until(2000, () => s.accepted.length === 1 && events.length === 1);
    expect(s.accepted[0]!.info.remoteSession).toMatch(/^[0-9a-f]{32}$/);
    expect(events[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(events[0]).not.toBe(s.accepted[0]!.info.remoteSession);
  });

  it('a listener restarted behind the same port tells its new session; the same session again tells nothing', async () => {
    // The first "process": a bare socket that answers HELLOs (so it can vanish without a BYE).
    const first = createSocket('udp4');
    await new Promise<void>((r) => first.bind(0, '127.0.0.1', () => r()));
    const address = `127.0.0.1:${first.address().port}`;
    const reply = { sender: 'saturn', target: 'earth', mode: 'mirror', mount: 'gauges' };
    let seq = Date.now() * 1024;
    const hello = (to: { port: number }, id: string, via: Socket) => via.send(encode(key, reply, 2, seq++, Buffer.from(id)), to.port, '127.0.0.1');
    const heard = new Promise<{ port: number }>((resolve) => first.once('message', (_, rinfo) => resolve(rinfo)));
    const dialled = await earth().open({ peer: 'saturn', mode: 'mirror', mount: 'gauges', localNode: 'earth', address });
    const events: string[] = [];
    dialled.onEvent((e) => e.type === 'session' && events.push(e.id));
    const dialler = await heard;
    hello(dialler, 'a'.repeat(32), first);
    hello(dialler, 'a'.repeat(32), first);
    await until(2000, () => events.length === 1);
    // kill -9: no BYE; a new process binds the same port.
    await new Promise<void>((r) => first.close(() => r()));
    const restarted = udp({ localPeer: 'saturn', keys: { earth: key } });
    cleanups.push(() => restarted.close());
    const accepted: ChannelV1[] = [];
    await restarted.listen!({ address }, (ch) => accepted.push(ch));
    dialled.send(Buffer.from('after the restart'));
    await until(2000, () => events.length === 2);
    expect(events[0]).toBe('a'.repeat(32));
    expect(events[1]).toMatch(/^[0-9a-f]{32}$/);
    expect(events[1]).not.toBe(events[0]);
    expect(accepted).toHaveLength(1);
  });
});
