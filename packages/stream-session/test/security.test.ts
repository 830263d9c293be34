import { connect } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ChannelEventV1, ChannelV1, ProviderV1 } from '@cep/provider-spec';
import { KEY, loopback, rawClient, record, saturn, sleep, until } from './fixtures.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
  vi.restoreAllMocks();
});

async function setup(extra = {}) {
  const s = await saturn(extra);
  cleanups.push(() => s.provider.close());
  return s;
}

async function acceptedRaw(s: Awaited<ReturnType<typeof saturn>>, mount = 'raw') {
  const client = await rawClient(s.listener.address, KEY, mount);
  cleanups.push(() => client.conn.destroy());
  await until(2000, () => s.accepted.some((c) => c.info.mount === mount));
  const channel = s.accepted.find((c) => c.info.mount === mount)!;
  const events: ChannelEventV1[] = [];
  channel.onEvent((e) => events.push(e));
  return { ...client, channel, events };
}

async function collect(channel: ChannelV1, ms: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const it = channel.frames()[Symbol.asyncIterator]();
  const deadline = Date.now() + ms;
  for (;;) {
    const next = await Promise.race([it.next(), sleep(Math.max(0, deadline - Date.now())).then(() => 'timeout' as const)]);
    if (next === 'timeout' || next.done === true) return out;
    out.push(next.value);
  }
}

function fatalCode(events: ChannelEventV1[]): string | undefined {
  const fatal = events.find((e) => e.type === 'fatal');
  return fatal?.type === 'fatal' ? fatal.error.code : undefined;
}

describe('records after the handshake', () => {
  it('delivers well-formed records written by hand (the raw client speaks the real protocol)', async () => {
    const s = await setup();
    const { socket, keys, channel } = await acceptedRaw(s);
    socket.write(Buffer.concat([record(keys.send, 0, Buffer.from('a')), record(keys.send, 1, Buffer.from('bc'))]));
    const got = await collect(channel, 300);
    expect(got.map((f) => Buffer.from(f).toString())).toEqual(['a', 'bc']);
  });

  it('refuses a replayed record with REPLAYED_FRAME and kills the channel', async () => {
    const s = await setup();
    const { socket, keys, channel, events } = await acceptedRaw(s);
    const first = record(keys.send, 0, Buffer.from('once'));
    socket.write(Buffer.concat([first, first, record(keys.send, 1, Buffer.from('after'))]));
    const got = await collect(channel, 500);
    expect(got.map((f) => Buffer.from(f).toString())).toEqual(['once']);
    expect(fatalCode(events)).toBe('REPLAYED_FRAME');
    expect(events.at(-1)?.type).toBe('closed');
  });

  it('refuses a reordered record before delivering anything out of order', async () => {
    const s = await setup();
    const { socket, keys, channel, events } = await acceptedRaw(s);
    socket.write(Buffer.concat([record(keys.send, 1, Buffer.from('second')), record(keys.send, 0, Buffer.from('first'))]));
    expect(await collect(channel, 500)).toEqual([]);
    expect(fatalCode(events)).toBe('REPLAYED_FRAME');
  });

  it('refuses a tampered or foreign-key record with AUTH_FAILED and delivers nothing of it', async () => {
    const s = await setup();
    const { socket, keys, channel, events } = await acceptedRaw(s);
    const tampered = record(keys.send, 0, Buffer.from('pay me 10'));
    tampered[13 + 7] = '9'.charCodeAt(0);
    socket.write(tampered);
    expect(await collect(channel, 500)).toEqual([]);
    expect(fatalCode(events)).toBe('AUTH_FAILED');

    const other = await acceptedRaw(s, 'raw2');
    other.socket.write(record(Buffer.alloc(32, 7), 0, Buffer.from('forged')));
    expect(await collect(other.channel, 500)).toEqual([]);
    expect(fatalCode(other.events)).toBe('AUTH_FAILED');
  });

  it('refuses an authentic batch whose inner length overruns it, delivering none of it', async () => {
    const s = await setup();
    const { socket, keys, channel, events } = await acceptedRaw(s);
    const body = Buffer.alloc(4 + 3 + 4 + 2);
    body.writeUInt32BE(3, 0);
    body.write('abc', 4);
    body.writeUInt32BE(1000, 7); // claims 1000 bytes, 2 remain
    socket.write(record(keys.send, 0, body, 3));
    expect(await collect(channel, 500)).toEqual([]);
    expect(fatalCode(events)).toBe('PROTOCOL_ERROR');
  });

  it('kills the channel on an oversize length prefix without allocating the claimed size', async () => {
    const s = await setup();
    const { socket, channel, events } = await acceptedRaw(s);
    const allocUnsafe = vi.spyOn(Buffer, 'allocUnsafe');
    const alloc = vi.spyOn(Buffer, 'alloc');
    const header = Buffer.alloc(13);
    header.writeUInt32BE(0xfff0_0000, 0); // ~4 GiB claimed
    header[4] = 1;
    socket.write(Buffer.concat([header, Buffer.alloc(64)]));
    await until(2000, () => events.some((e) => e.type === 'closed'));
    expect(fatalCode(events)).toBe('FRAME_TOO_LARGE');
    const sizes = [...allocUnsafe.mock.calls, ...alloc.mock.calls].map((c) => Number(c[0]));
    expect(sizes.every((n) => n <= 1 << 20)).toBe(true);
    expect(await collect(channel, 50)).toEqual([]);
  });
});

describe('the listen port under hostile input', () => {
  it('drops garbage bytes on the listen port without disturbing an open channel', async () => {
    const s = await setup();
    const dialer = loopback({ localPeer: 'earth', keys: { saturn: KEY } });
    cleanups.push(() => dialer.close());
    const good = await dialer.open({ peer: 'saturn', mode: 'link', mount: 'good', localNode: 'earth', address: s.listener.address });
    await until(2000, () => s.accepted.length === 1);
    const remote = s.accepted[0]!;
    const frames = remote.frames()[Symbol.asyncIterator]();
    for (let i = 0; i < 5; i++) {
      const junk = connect({ host: '127.0.0.1', port: Number(s.listener.address.split(':')[1]) });
      junk.on('error', () => {});
      cleanups.push(() => void junk.destroy());
      junk.write(Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\n\r\n${'\u0000'.repeat(i * 100)}`));
    }
    await until(2000, () => s.rejected.length === 5);
    expect(s.rejected.every((r) => r.code === 'PROTOCOL_ERROR')).toBe(true);
    good.send(Buffer.from('still here'));
    expect(Buffer.from((await frames.next()).value as Uint8Array).toString()).toBe('still here');
    expect(s.accepted).toHaveLength(1);
  });

  it('drops a connection that never finishes the handshake after handshakeTimeoutMs', async () => {
    const s = await setup({ handshakeTimeoutMs: 150 });
    const silent = connect({ host: '127.0.0.1', port: Number(s.listener.address.split(':')[1]) });
    silent.on('error', () => {});
    cleanups.push(() => void silent.destroy());
    const closed = new Promise<void>((resolve) => silent.once('close', () => resolve()));
    await closed;
    expect(s.rejected.map((r) => r.code)).toEqual(['HANDSHAKE_TIMEOUT']);
  });

  it('refuses a handshake message longer than the pre-authentication limit', async () => {
    const s = await setup();
    const big = connect({ host: '127.0.0.1', port: Number(s.listener.address.split(':')[1]) });
    big.on('error', () => {});
    cleanups.push(() => void big.destroy());
    const len = Buffer.alloc(2);
    len.writeUInt16BE(60_000, 0);
    big.write(len);
    await until(2000, () => s.rejected.length === 1);
    expect(s.rejected[0]!.code).toBe('PROTOCOL_ERROR');
  });

  it('keeps at most maxPendingHandshakes mid-handshake: a newer connection displaces the oldest silent one', async () => {
    const s = await setup({ maxPendingHandshakes: 2, handshakeTimeoutMs: 2000 });
    const socks: ReturnType<typeof connect>[] = [];
    let firstClosed: Promise<void> | undefined;
    for (let i = 0; i < 3; i++) {
      const c = connect({ host: '127.0.0.1', port: Number(s.listener.address.split(':')[1]) });
      c.on('error', () => {});
      cleanups.push(() => void c.destroy());
      socks.push(c);
      firstClosed ??= new Promise<void>((resolve) => c.once('close', () => resolve()));
      // One at a time, so "oldest" is well defined.
      await new Promise<void>((resolve) => c.once('connect', () => resolve()));
      await sleep(20);
    }
    await firstClosed;
    expect(s.rejected.map((r) => r.code)).toEqual(['HANDSHAKE_EVICTED']);
    expect(socks[1]!.destroyed || socks[2]!.destroyed).toBe(false);
  });
});

describe('authentication at open', () => {
  let dialer: ProviderV1;
  it('refuses a dialler holding the wrong key, on both sides, before any channel exists', async () => {
    const s = await setup();
    dialer = loopback({ localPeer: 'earth', keys: { saturn: Buffer.alloc(32, 1) } });
    cleanups.push(() => dialer.close());
    await expect(dialer.open({ peer: 'saturn', mode: 'link', mount: 'm', localNode: 'earth', address: s.listener.address })).rejects.toMatchObject({
      code: 'AUTH_FAILED',
    });
    await until(2000, () => s.rejected.length === 1);
    // The dialler detects the wrong key first (the listener's proof fails) and hangs up.
    expect(s.rejected[0]!.code).toMatch(/^(AUTH_FAILED|CONNECTION_LOST)$/);
    expect(s.accepted).toEqual([]);
  });

  it('refuses a peer the listener has no key for, and a dialler that asked for another peer', async () => {
    const s = await setup();
    const mars = loopback({ localPeer: 'mars', keys: { saturn: KEY, jupiter: KEY } });
    cleanups.push(() => mars.close());
    await expect(mars.open({ peer: 'saturn', mode: 'link', mount: 'm', localNode: 'mars', address: s.listener.address })).rejects.toMatchObject({
      code: 'AUTH_FAILED',
    });
    await expect(mars.open({ peer: 'jupiter', mode: 'link', mount: 'm', localNode: 'mars', address: s.listener.address })).rejects.toMatchObject({
      code: 'PEER_MISMATCH',
    });
    await until(2000, () => s.rejected.length === 2);
    expect(s.rejected.map((r) => r.code).sort()).toEqual(['AUTH_FAILED', 'PEER_MISMATCH']);
    expect(s.rejected.find((r) => r.code === 'AUTH_FAILED')?.claimedPeer).toBe('mars');
    expect(s.accepted).toEqual([]);
  });

  it('refuses to dial a peer it has no key for without touching the network', async () => {
    const lonely = loopback({ localPeer: 'earth', keys: {} });
    cleanups.push(() => lonely.close());
    await expect(lonely.open({ peer: 'saturn', mode: 'link', mount: 'm', localNode: 'earth', address: '127.0.0.1:1' })).rejects.toMatchObject({
      code: 'AUTH_FAILED',
    });
  });
});

describe('listener refusals', () => {
  it("tell the listener's own onReject (the manager's) as well as the provider's", async () => {
    const byProvider: string[] = [];
    const provider = loopback({ localPeer: 'saturn', keys: { earth: KEY }, maxFrameBytes: 1 << 20, onReject: (r) => byProvider.push(r.code) });
    cleanups.push(() => provider.close());
    const told: Array<{ code: string; reason: string }> = [];
    const listener = await provider.listen!({ address: '127.0.0.1:0', onReject: (r) => told.push(r) }, () => undefined);
    const junk = connect({ host: '127.0.0.1', port: Number(listener.address.split(':')[1]) });
    junk.on('error', () => {});
    cleanups.push(() => void junk.destroy());
    junk.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await until(2000, () => told.length === 1 && byProvider.length === 1);
    expect(told[0]).toMatchObject({ code: 'PROTOCOL_ERROR', reason: expect.any(String) });
    expect(byProvider).toEqual(['PROTOCOL_ERROR']);
  });
});
