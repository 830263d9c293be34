import { randomBytes } from 'node:crypto';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChannelEventV1, ChannelV1, RejectionV1 } from '@cep/provider-spec';
import { AllowList, fingerprint, generateKeyPair, tcp, type StaticKeyPair, type TcpOptions } from '../src/index.ts';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
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
function events(channel: ChannelV1): ChannelEventV1[] {
  const out: ChannelEventV1[] = [];
  channel.onEvent((e) => out.push(e));
  return out;
}

const earthKey = generateKeyPair();
const saturnKey = generateKeyPair();

/** A saturn listener trusting `trusted` (name → key(s)), and what it accepted and refused. */
async function saturn(trusted: Record<string, Uint8Array | Uint8Array[]> = { earth: earthKey.publicKey }, extra: Partial<TcpOptions> = {}) {
  const allowList = new AllowList(trusted);
  const rejected: RejectionV1[] = [];
  const accepted: ChannelV1[] = [];
  const provider = tcp({ localPeer: 'saturn', identity: { staticKey: saturnKey, allowList }, ...extra });
  cleanups.push(() => provider.close());
  const listener = await provider.listen!({ address: '127.0.0.1:0', onReject: (r) => rejected.push(r) }, (ch) => accepted.push(ch));
  return { provider, listener, accepted, rejected, allowList };
}

/** A dialler named `name` holding `key`, trusting saturn's key. */
function dialler(name = 'earth', key: StaticKeyPair = earthKey, extra: Partial<TcpOptions> = {}) {
  const allowList = new AllowList({ saturn: saturnKey.publicKey });
  const provider = tcp({ localPeer: name, identity: { staticKey: key, allowList }, backoff: { initialMs: 20, maxAttempts: 3 }, ...extra });
  cleanups.push(() => provider.close());
  return { provider, allowList };
}

function open(provider: ReturnType<typeof tcp>, address: string, mount = 'main', localNode = 'earth'): Promise<ChannelV1> {
  return provider.open({ peer: 'saturn', mode: 'link', mount, localNode, address });
}

async function firstFrame(channel: ChannelV1): Promise<string> {
  const next = await channel.frames()[Symbol.asyncIterator]().next();
  return Buffer.from(next.value as Uint8Array).toString();
}

describe('tcp with public-key identities (Noise session)', () => {
  it('opens an encrypted channel both ways and reports who the peer proved to be', async () => {
    const s = await saturn();
    const earth = dialler();
    const local = await open(earth.provider, s.listener.address);
    await until(2000, () => s.accepted.length === 1);
    const remote = s.accepted[0]!;
    expect(remote.info).toMatchObject({ peer: 'earth', mode: 'link', mount: 'main', initiator: false });
    expect(remote.info.remoteIdentity).toMatchObject({
      fingerprint: fingerprint(earthKey.publicKey),
      publicKey: Buffer.from(earthKey.publicKey).toString('base64'),
    });
    expect(remote.info.remoteIdentity?.protocol).toMatch(/^Noise_XXpsk3_25519_/);
    expect(local.info.remoteIdentity?.fingerprint).toBe(fingerprint(saturnKey.publicKey));
    // Both sides learn the other's provider session, as with the legacy handshake.
    expect(local.info.remoteSession).toMatch(/^[0-9a-f]{32}$/);
    expect(remote.info.remoteSession).toMatch(/^[0-9a-f]{32}$/);
    local.send(Buffer.from('ping'));
    expect(await firstFrame(remote)).toBe('ping');
    remote.send(Buffer.from('pong'));
    expect(await firstFrame(local)).toBe('pong');
    expect(s.rejected).toEqual([]);
  });

  it('carries no frame byte in clear on the wire', async () => {
    const s = await saturn();
    const [host, port] = s.listener.address.split(':');
    const seen: Buffer[] = [];
    const sockets: Socket[] = [];
    const relay = createServer((inbound) => {
      const outbound = connect({ host: host!, port: Number(port) });
      sockets.push(inbound, outbound);
      inbound.on('data', (d: Buffer) => seen.push(d));
      outbound.on('data', (d: Buffer) => seen.push(d));
      inbound.pipe(outbound).pipe(inbound);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => (sockets.forEach((x) => x.destroy()), relay.close(() => r()))));
    const earth = dialler();
    const local = await open(earth.provider, `127.0.0.1:${(relay.address() as AddressInfo).port}`, 'secret-mount');
    await until(2000, () => s.accepted.length === 1);
    const marker = `top secret ${randomBytes(8).toString('hex')}`;
    local.send(Buffer.from(marker));
    s.accepted[0]!.send(Buffer.from(marker));
    expect(await firstFrame(s.accepted[0]!)).toBe(marker);
    expect(await firstFrame(local)).toBe(marker);
    const wire = Buffer.concat(seen);
    expect(wire.length).toBeGreaterThan(0);
    expect(wire.includes(marker)).toBe(false);
    // Peer names and the mount travel inside the handshake's encrypted payloads too.
    expect(wire.includes('secret-mount')).toBe(false);
    expect(wire.includes('earth')).toBe(false);
  });

  it('refuses a dialler whose static key is not listed: AUTH_FAILED on both sides, no channel', async () => {
    const s = await saturn();
    const stranger = dialler('earth', generateKeyPair());
    await expect(open(stranger.provider, s.listener.address)).rejects.toMatchObject({ code: 'AUTH_FAILED', details: { noiseCode: 'NOISE_UNKNOWN_PEER' } });
    await until(2000, () => s.rejected.length === 1);
    expect(s.rejected[0]).toMatchObject({ code: 'AUTH_FAILED' });
    expect(s.accepted).toEqual([]);
  });

  it('refuses a listener that proves another key than the one listed for the dialled name', async () => {
    const s = await saturn();
    // The dialler expects saturn to hold a key it does not hold.
    const earth = tcp({ localPeer: 'earth', identity: { staticKey: earthKey, allowList: new AllowList({ saturn: generateKeyPair().publicKey }) } });
    cleanups.push(() => earth.close());
    await expect(open(earth, s.listener.address)).rejects.toMatchObject({ code: 'AUTH_FAILED', details: { noiseCode: 'NOISE_UNKNOWN_PEER' } });
    expect(s.accepted).toEqual([]);
  });

  it("refuses a listed peer claiming another peer's name with PEER_MISMATCH", async () => {
    const mallory = generateKeyPair();
    const s = await saturn({ earth: earthKey.publicKey, mallory: mallory.publicKey });
    const impostor = dialler('earth', mallory);
    await expect(open(impostor.provider, s.listener.address)).rejects.toMatchObject({ code: 'PEER_MISMATCH' });
    await until(2000, () => s.rejected.length === 1);
    expect(s.rejected[0]).toMatchObject({ code: 'PEER_MISMATCH', claimedPeer: 'mallory' });
    expect(s.accepted).toEqual([]);
  });

  it("accepts both of a peer's keys during a roll-over", async () => {
    const next = generateKeyPair();
    const s = await saturn({ earth: [earthKey.publicKey, next.publicKey] });
    const old = dialler('earth', earthKey);
    const rolled = dialler('earth', next);
    await open(old.provider, s.listener.address, 'old');
    await open(rolled.provider, s.listener.address, 'new');
    await until(2000, () => s.accepted.length === 2);
    const byMount = Object.fromEntries(s.accepted.map((c) => [c.info.mount, c.info.remoteIdentity?.fingerprint]));
    expect(byMount).toEqual({ old: fingerprint(earthKey.publicKey), new: fingerprint(next.publicKey) });
  });

  it('drops the live channels of a revoked key on both sides, and the dialler cannot come back', async () => {
    const s = await saturn();
    const earth = dialler();
    const local = await open(earth.provider, s.listener.address);
    const localEvents = events(local);
    await until(2000, () => s.accepted.length === 1);
    const remoteEvents = events(s.accepted[0]!);
    s.allowList.remove('earth', earthKey.publicKey);
    await until(2000, () => remoteEvents.some((e) => e.type === 'closed'));
    expect(remoteEvents.find((e) => e.type === 'fatal')).toMatchObject({ error: { code: 'AUTH_FAILED', details: { noiseCode: 'NOISE_KEY_REVOKED' } } });
    // The dialler sees its connection go, redials and is refused: fatal, not a retry loop.
    await until(3000, () => localEvents.some((e) => e.type === 'closed'));
    expect(localEvents.find((e) => e.type === 'fatal')).toMatchObject({ error: { code: 'AUTH_FAILED' } });
    expect(s.accepted).toHaveLength(1);
  });

  it('mixes in a pre-shared key: both sides must hold the same one', async () => {
    const psk = randomBytes(32);
    const s = await saturn(
      { earth: earthKey.publicKey },
      { identity: { staticKey: saturnKey, allowList: new AllowList({ earth: earthKey.publicKey }), psks: { earth: psk } } },
    );
    const wrong = dialler('earth', earthKey, {
      identity: { staticKey: earthKey, allowList: new AllowList({ saturn: saturnKey.publicKey }), psks: { saturn: randomBytes(32) } },
    });
    await expect(open(wrong.provider, s.listener.address)).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    const right = dialler('earth', earthKey, {
      identity: { staticKey: earthKey, allowList: new AllowList({ saturn: saturnKey.publicKey }), psks: { saturn: psk } },
    });
    const channel = await open(right.provider, s.listener.address);
    channel.send(Buffer.from('with psk'));
    await until(2000, () => s.accepted.length === 1);
    expect(await firstFrame(s.accepted[0]!)).toBe('with psk');
  });
});

/**
 * A relay that parses saturn → earth bytes (CHOICE, two handshake frames, then records) and
 * sends record number `index` twice, as an attacker on the path would replay it.
 */
async function replayingRelay(target: string, index: number): Promise<string> {
  const [host, port] = target.split(':');
  const sockets: Socket[] = [];
  const relay = createServer((inbound) => {
    const outbound = connect({ host: host!, port: Number(port) });
    sockets.push(inbound, outbound);
    inbound.pipe(outbound);
    let pending = Buffer.alloc(0);
    // CHOICE ("CEPN" + version), then the responder's message and ACCEPT, each u16-length framed.
    let stage: 'choice' | 'frame1' | 'frame2' | 'records' = 'choice';
    let records = 0;
    outbound.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        let size: number;
        if (stage === 'choice') size = 5;
        else if (stage !== 'records') size = pending.length >= 2 ? 2 + pending.readUInt16BE(0) : Infinity;
        else size = pending.length >= 4 ? 13 + pending.readUInt32BE(0) : Infinity;
        if (pending.length < size) return;
        const piece = pending.subarray(0, size);
        pending = pending.subarray(size);
        inbound.write(piece);
        if (stage === 'records' && records++ === index) inbound.write(piece);
        stage = stage === 'choice' ? 'frame1' : stage === 'frame1' ? 'frame2' : 'records';
      }
    });
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise<void>((r) => (sockets.forEach((x) => x.destroy()), relay.close(() => r()))));
  return `127.0.0.1:${(relay.address() as AddressInfo).port}`;
}

describe('tcp identity records on a hostile path', () => {
  it('refuses a Noise offer followed by garbage or a hang-up, and keeps serving real peers', async () => {
    const s = await saturn();
    const [host, port] = s.listener.address.split(':');
    for (const bytes of [Buffer.from('CEPN\x01\x01garbage garbage garbage'), Buffer.from('CEPN\x01\x01'), Buffer.from('CEPN\x09')]) {
      const socket = connect({ host: host!, port: Number(port) });
      cleanups.push(() => void socket.destroy());
      socket.on('error', () => {});
      await new Promise<void>((r) => socket.once('connect', () => r()));
      socket.end(bytes);
    }
    await until(3000, () => s.rejected.length === 3);
    // Garbage after the offer and a bad offer are malformed; an offer and then nothing is a hang-up.
    expect(s.rejected.map((r) => r.code).sort()).toEqual(['CONNECTION_LOST', 'PROTOCOL_ERROR', 'PROTOCOL_ERROR']);
    expect(s.accepted).toEqual([]);
    const local = await open(dialler().provider, s.listener.address);
    local.send(Buffer.from('still here'));
    await until(2000, () => s.accepted.length === 1);
    expect(await firstFrame(s.accepted[0]!)).toBe('still here');
  });

  it('refuses a replayed record with REPLAYED_FRAME: the frame is delivered once, then the channel dies', async () => {
    const s = await saturn();
    const earth = dialler();
    // Record 0 is saturn's welcome (its session id); record 1 carries the first frame.
    const local = await open(earth.provider, await replayingRelay(s.listener.address, 1));
    const seen = events(local);
    await until(2000, () => s.accepted.length === 1);
    s.accepted[0]!.send(Buffer.from('once'));
    expect(await firstFrame(local)).toBe('once');
    await until(2000, () => seen.some((e) => e.type === 'closed'));
    expect(seen.find((e) => e.type === 'fatal')).toMatchObject({ error: { code: 'REPLAYED_FRAME', details: { noiseCode: 'NOISE_REPLAY' } } });
  });
});

describe('tcp mixing legacy pre-shared keys and identities (migration)', () => {
  const legacyKey = randomBytes(32);

  it('a listener with both serves a legacy peer by its key and an identity peer by its public key', async () => {
    const venus = tcp({ localPeer: 'venus', keys: { saturn: legacyKey } });
    cleanups.push(() => venus.close());
    const s = await saturn({ earth: earthKey.publicKey }, { keys: { venus: legacyKey } });
    const legacy = await venus.open({ peer: 'saturn', mode: 'link', mount: 'legacy', localNode: 'venus', address: s.listener.address });
    const modern = await open(dialler().provider, s.listener.address, 'modern');
    await until(2000, () => s.accepted.length === 2);
    const legacyRemote = s.accepted.find((c) => c.info.peer === 'venus')!;
    expect(legacyRemote.info.remoteIdentity).toBeUndefined();
    expect(legacy.info.remoteIdentity).toBeUndefined();
    expect(modern.info.remoteIdentity).toBeDefined();
    legacy.send(Buffer.from('old way'));
    expect(await firstFrame(legacyRemote)).toBe('old way');
  });

  it('refuses the legacy handshake for a peer configured with a public key (no downgrade)', async () => {
    // earth had a legacy key; its public key is added at run time (a config reload).
    const s = await saturn({}, { keys: { earth: legacyKey } });
    s.allowList.add('earth', earthKey.publicKey);
    const downgrade = tcp({ localPeer: 'earth', keys: { saturn: legacyKey } });
    cleanups.push(() => downgrade.close());
    await expect(downgrade.open({ peer: 'saturn', mode: 'link', mount: 'x', localNode: 'earth', address: s.listener.address })).rejects.toMatchObject({
      code: 'AUTH_FAILED',
    });
    await until(2000, () => s.rejected.length === 1);
    expect(s.rejected[0]).toMatchObject({ code: 'AUTH_FAILED', claimedPeer: 'earth' });
  });

  it('refuses an identity dialler at a listener that has none, with AUTH_FAILED on both sides', async () => {
    const rejected: RejectionV1[] = [];
    const old = tcp({ localPeer: 'saturn', keys: { earth: legacyKey } });
    cleanups.push(() => old.close());
    const listener = await old.listen!({ address: '127.0.0.1:0', onReject: (r) => rejected.push(r) }, () => {});
    await expect(open(dialler().provider, listener.address)).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    await until(2000, () => rejected.length === 1);
    expect(rejected[0]).toMatchObject({ code: 'AUTH_FAILED' });
  });

  it('refuses a config naming one peer both by key and by public key', () => {
    expect(() =>
      tcp({ localPeer: 'saturn', keys: { earth: legacyKey }, identity: { staticKey: saturnKey, allowList: new AllowList({ earth: earthKey.publicKey }) } }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
  });
});
