import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { AllowList, encodeKey, fingerprint, generateKeyPair, type StaticKeyPair } from '@cep/noise-session';
import { datagramTap, type Tap } from '@cep/provider-compliance';
import type { ChannelV1, ProviderV1 } from '@cep/provider-spec';
import { udp, type UdpOptions, type UdpRejectInfo } from '../src/index.ts';
import { encodeChunk } from '../src/sealed.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function until(ms: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const keys = { earth: generateKeyPair(), saturn: generateKeyPair(), mars: generateKeyPair() };
const open = (provider: ProviderV1, address: string, localNode = 'earth') =>
  provider.open({ peer: 'saturn', mode: 'mirror', mount: 'gauges', localNode, address });

async function saturn(extra: Partial<UdpOptions> = {}) {
  const rejected: UdpRejectInfo[] = [];
  const accepted: ChannelV1[] = [];
  const frames: string[] = [];
  const provider = udp({
    localPeer: 'saturn',
    identity: { staticKey: keys.saturn, allowList: new AllowList({ earth: keys.earth.publicKey, mars: keys.mars.publicKey }) },
    onReject: (r) => rejected.push(r),
    ...extra,
  });
  cleanups.push(() => provider.close());
  const listener = await provider.listen!({ address: '127.0.0.1:0' }, (ch) => {
    accepted.push(ch);
    void (async () => {
      for await (const frame of ch.frames()) frames.push(Buffer.from(frame).toString());
    })();
  });
  return { provider, listener, accepted, rejected, frames };
}

function dialer(localPeer: string, staticKey: StaticKeyPair, extra: Partial<UdpOptions> = {}): ProviderV1 {
  const provider = udp({ localPeer, identity: { staticKey, allowList: new AllowList({ saturn: keys.saturn.publicKey }) }, ...extra });
  cleanups.push(() => provider.close());
  return provider;
}

/** Sealed datagrams only (type byte 3), not a late handshake acknowledgement the tap also saw. */
const sealedOnly = (units: Uint8Array[]): Uint8Array[] => units.filter((u) => u[5] === 3);

async function tapped(target: string): Promise<Tap> {
  const tap = await datagramTap(target);
  cleanups.push(() => tap.close());
  return tap;
}

describe('udp identity channels (Noise handshake, sealed datagrams)', () => {
  it('opens after the handshake and carries frames both ways, encrypted', async () => {
    const s = await saturn();
    const tap = await tapped(s.listener.address);
    const ch = await open(dialer('earth', keys.earth), tap.address);
    const events: string[] = [];
    ch.onEvent((e) => events.push(e.type === 'session' ? `session ${e.id.length}` : e.type));
    await until(2000, () => s.accepted.length === 1);
    expect(s.accepted[0]!.info).toMatchObject({ peer: 'earth', mode: 'mirror', mount: 'gauges', initiator: false });
    // Each side reports the key the other proved (the transport records it under /net/peers).
    expect(s.accepted[0]!.info).toMatchObject({
      remoteIdentity: { publicKey: encodeKey(keys.earth.publicKey), fingerprint: fingerprint(keys.earth.publicKey), version: 1 },
    });
    expect(ch.info).toMatchObject({ remoteIdentity: { publicKey: encodeKey(keys.saturn.publicKey), fingerprint: fingerprint(keys.saturn.publicKey) } });
    tap.capture();
    ch.send(Buffer.from('temp=21 secret'));
    await until(2000, () => s.frames.includes('temp=21 secret'));
    const wire = Buffer.concat(tap.take());
    expect(wire.includes(Buffer.from('secret'))).toBe(false);
    const back: string[] = [];
    void (async () => {
      for await (const frame of ch.frames()) back.push(Buffer.from(frame).toString());
    })();
    s.accepted[0]!.send(Buffer.from('ack'));
    await until(2000, () => back.includes('ack'));
    // The listener told the dialler its session (a HELLO inside the session).
    expect(events).toContain('session 32');
    expect(s.rejected).toEqual([]);
  });

  it('refuses a dialler whose key is on no list: AUTH_FAILED on open and to onReject, no channel', async () => {
    const s = await saturn();
    await expect(open(dialer('earth', generateKeyPair()), s.listener.address)).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    await expect(open(dialer('pluto', generateKeyPair()), s.listener.address, 'pluto')).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    await until(2000, () => s.rejected.length === 2);
    expect(s.rejected.map((r) => r.code)).toEqual(['AUTH_FAILED', 'AUTH_FAILED']);
    expect(s.accepted).toEqual([]);
  });

  it("refuses a known peer claiming another's name with PEER_MISMATCH", async () => {
    const s = await saturn();
    await expect(open(dialer('earth', keys.mars), s.listener.address)).rejects.toMatchObject({ code: 'PEER_MISMATCH' });
    await until(2000, () => s.rejected.length === 1);
    expect(s.rejected[0]!.code).toBe('PEER_MISMATCH');
    expect(s.accepted).toEqual([]);
  });

  it('refuses to open towards a listener that proves another key (AUTH_FAILED: its key is on no list here)', async () => {
    const s = await saturn({ identity: { staticKey: generateKeyPair(), allowList: new AllowList({ earth: keys.earth.publicKey }) } });
    await expect(open(dialer('earth', keys.earth), s.listener.address)).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    expect(s.accepted).toEqual([]);
  });

  it('refuses a replayed datagram (REPLAYED_FRAME to onReject) and delivers the original once', async () => {
    const s = await saturn();
    const tap = await tapped(s.listener.address);
    const ch = await open(dialer('earth', keys.earth), tap.address);
    await until(2000, () => s.accepted.length === 1);
    tap.capture();
    ch.send(Buffer.from('one'));
    await until(2000, () => s.frames.length === 1);
    const [copy] = sealedOnly(tap.take());
    tap.pass();
    tap.inject(copy!);
    tap.inject(copy!);
    ch.send(Buffer.from('two'));
    await until(2000, () => s.frames.includes('two') && s.rejected.length === 2);
    expect(s.frames).toEqual(['one', 'two']);
    expect(s.rejected.map((r) => r.code)).toEqual(['REPLAYED_FRAME', 'REPLAYED_FRAME']);
  });

  it('accepts datagrams reordered within the window, each exactly once', async () => {
    const s = await saturn();
    const tap = await tapped(s.listener.address);
    const ch = await open(dialer('earth', keys.earth), tap.address);
    await until(2000, () => s.accepted.length === 1);
    tap.hold();
    for (const text of ['a', 'b', 'c']) ch.send(Buffer.from(text));
    const held: Uint8Array[] = [];
    await until(2000, () => (held.push(...sealedOnly(tap.take())), held.length === 3));
    tap.pass();
    for (const datagram of [held[2]!, held[0]!, held[1]!, held[0]!]) tap.inject(datagram);
    await until(2000, () => s.frames.length === 3 && s.rejected.length === 1);
    expect(s.frames).toEqual(['c', 'a', 'b']);
    expect(s.rejected.map((r) => r.code)).toEqual(['REPLAYED_FRAME']);
  });

  it('drops a forged or tampered sealed datagram (AUTH_FAILED) and keeps the channel', async () => {
    const s = await saturn();
    const tap = await tapped(s.listener.address);
    const ch = await open(dialer('earth', keys.earth), tap.address);
    await until(2000, () => s.accepted.length === 1);
    tap.hold();
    ch.send(Buffer.from('real'));
    const held: Uint8Array[] = [];
    await until(2000, () => (held.push(...sealedOnly(tap.take())), held.length === 1));
    tap.pass();
    const tampered = Uint8Array.from(held[0]!);
    tampered[tampered.length - 1]! ^= 1;
    tap.inject(tampered);
    tap.inject(held[0]!);
    await until(2000, () => s.frames.length === 1 && s.rejected.length === 1);
    expect(s.frames).toEqual(['real']);
    expect(s.rejected[0]!.code).toBe('AUTH_FAILED');
  });

  it('finishes the handshake when its first datagram is lost (the chunk is resent)', async () => {
    const s = await saturn();
    const tap = await tapped(s.listener.address);
    tap.hold();
    const opening = open(dialer('earth', keys.earth), tap.address);
    const lost: Uint8Array[] = [];
    await until(2000, () => (lost.push(...tap.take()), lost.length > 0));
    tap.pass(); // the first copy is dropped; the resend goes through
    const ch = await opening;
    ch.send(Buffer.from('after a loss'));
    await until(2000, () => s.frames.includes('after a loss'));
  });

  it('drops the channels a key proved when that key leaves the allow-list (fatal AUTH_FAILED, then closed)', async () => {
    const allowList = new AllowList({ earth: keys.earth.publicKey });
    const s = await saturn({ identity: { staticKey: keys.saturn, allowList } });
    const ch = await open(dialer('earth', keys.earth), s.listener.address);
    const far: string[] = [];
    ch.onEvent((e) => far.push(e.type));
    await until(2000, () => s.accepted.length === 1);
    const events: string[] = [];
    s.accepted[0]!.onEvent((e) => events.push(e.type === 'fatal' ? `fatal ${e.error.code}` : e.type));
    allowList.remove('earth', keys.earth.publicKey);
    await until(2000, () => events.includes('closed'));
    expect(events).toEqual(['fatal AUTH_FAILED', 'closed']);
    // The dialler hears the goodbye the closing channel sends.
    await until(2000, () => far.includes('closed'));
  });

  it('ends a handshake under way when the provider closes: OPEN_FAILED', async () => {
    const silent = await tapped('127.0.0.1:9');
    silent.hold();
    const earth = dialer('earth', keys.earth);
    const opening = open(earth, silent.address);
    await new Promise((r) => setTimeout(r, 20));
    await earth.close();
    await expect(opening).rejects.toMatchObject({ code: 'OPEN_FAILED' });
  });

  it('lets a real dialler in while forged handshakes fill every slot: the oldest is displaced', async () => {
    const s = await saturn({ maxChannels: 2 });
    const forger = createSocket('udp4');
    await new Promise<void>((r) => forger.bind(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => forger.close(() => r())));
    const to = Number(s.listener.address.split(':')[1]);
    // Three first chunks that start a handshake and never finish it ("CE" of the "CEPN" offer).
    for (let i = 0; i < 3; i++) forger.send(encodeChunk(randomBytes(8), 0, Buffer.from('CE')), to, '127.0.0.1');
    await until(2000, () => s.rejected.length === 1);
    const ch = await open(dialer('earth', keys.earth), s.listener.address);
    ch.send(Buffer.from('in'));
    await until(2000, () => s.frames.includes('in'));
    expect(s.rejected.map((r) => r.code)).toEqual(['HANDSHAKE_TIMEOUT', 'HANDSHAKE_TIMEOUT']);
  });

  it('answers HANDSHAKE_TIMEOUT when nobody completes the handshake', async () => {
    const silent = await tapped('127.0.0.1:9'); // a tap that holds everything: nothing reaches anyone
    silent.hold();
    await expect(open(dialer('earth', keys.earth, { handshakeTimeoutMs: 300 }), silent.address)).rejects.toMatchObject({ code: 'HANDSHAKE_TIMEOUT' });
  });

  it('keeps pre-shared-key peers on the envelope and refuses a peer configured both ways', async () => {
    const psk = randomBytes(32);
    const s = await saturn({ keys: { jupiter: psk } });
    const jupiter = udp({ localPeer: 'jupiter', keys: { saturn: psk } });
    cleanups.push(() => jupiter.close());
    const ch = await jupiter.open({ peer: 'saturn', mode: 'mirror', mount: 'gauges', localNode: 'jupiter', address: s.listener.address });
    ch.send(Buffer.from('legacy'));
    await until(2000, () => s.frames.includes('legacy'));
    expect(() =>
      udp({ localPeer: 'saturn', keys: { earth: psk }, identity: { staticKey: keys.saturn, allowList: new AllowList({ earth: keys.earth.publicKey }) } }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
  });
});
