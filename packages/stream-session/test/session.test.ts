import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChannelV1 } from '@cep/provider-spec';
import { Conn } from '../src/conn.ts';
import { proof, sameBytes, transcript } from '../src/crypto.ts';
import { KEY, loopback, rawClient, saturn, until } from './fixtures.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

function message(body: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(body.length, 0);
  return Buffer.concat([len, body]);
}

function head(type: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt32BE(0x43455053, 0);
  b[4] = 1;
  b[5] = type;
  return b;
}

const str = (s: string) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]);

async function next(conn: Conn): Promise<Buffer> {
  await until(2000, () => conn.queue.length >= 2 && conn.queue.length >= 2 + conn.queue.peek(2).readUInt16BE(0));
  const len = conn.queue.peek(2).readUInt16BE(0);
  conn.queue.skip(2);
  return Buffer.from(conn.queue.take(len));
}

describe('session ids in the handshake', () => {
  it("each side learns the other provider instance's session; every channel of one instance carries the same id", async () => {
    const s = await saturn();
    cleanups.push(() => s.provider.close());
    const earth = loopback({ localPeer: 'earth', keys: { saturn: KEY } });
    cleanups.push(() => earth.close());
    const a = await earth.open({ peer: 'saturn', mode: 'link', mount: 'one', localNode: 'earth', address: s.listener.address });
    const b = await earth.open({ peer: 'saturn', mode: 'link', mount: 'two', localNode: 'earth', address: s.listener.address });
    await until(2000, () => s.accepted.length === 2);
    expect(a.info.remoteSession).toMatch(/^[0-9a-f]{32}$/);
    expect(b.info.remoteSession).toBe(a.info.remoteSession);
    const [x, y] = s.accepted as [ChannelV1, ChannelV1];
    expect(x.info.remoteSession).toMatch(/^[0-9a-f]{32}$/);
    expect(y.info.remoteSession).toBe(x.info.remoteSession);
    expect(x.info.remoteSession).not.toBe(a.info.remoteSession);
    const other = await saturn();
    cleanups.push(() => other.provider.close());
    const c = await earth.open({ peer: 'saturn', mode: 'link', mount: 'three', localNode: 'earth', address: other.listener.address });
    expect(c.info.remoteSession).not.toBe(a.info.remoteSession);
  });

  it('the raw client (a current dialer) is told the listener session', async () => {
    const s = await saturn();
    cleanups.push(() => s.provider.close());
    const client = await rawClient(s.listener.address);
    cleanups.push(() => client.conn.destroy());
    await until(2000, () => s.accepted.length === 1);
    expect(client.session).toMatch(/^[0-9a-f]{32}$/);
  });

  it('accepts an older dialer that sends no session, with the old CHALLENGE; its channel has no remoteSession', async () => {
    const s = await saturn();
    cleanups.push(() => s.provider.close());
    const [host, port] = s.listener.address.split(':');
    const socket = connect({ host: host!, port: Number(port) });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const conn = new Conn(socket);
    cleanups.push(() => conn.destroy());
    const hello = Buffer.concat([head(1), str('earth'), str('saturn'), str('link'), str('old'), randomBytes(32)]);
    socket.write(message(hello));
    const challenge = await next(conn);
    expect(challenge.length).toBe(6 + 32 + 32); // nonce and proof only: no session for an old dialer
    const nonce = challenge.subarray(6, 38);
    const hash = transcript(hello, nonce);
    expect(sameBytes(challenge.subarray(38), proof(KEY, 'listener', hash))).toBe(true);
    socket.write(message(Buffer.concat([head(3), proof(KEY, 'dialer', hash)])));
    const accept = await next(conn);
    expect(sameBytes(accept.subarray(6), proof(KEY, 'accept', hash))).toBe(true);
    await until(2000, () => s.accepted.length === 1);
    expect(s.accepted[0]!.info.remoteSession).toBeUndefined();
  });
});
