import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { datagramInitiator, datagramResponder, REPLAY_WINDOW, type DatagramSession } from '../src/index.ts';
import { ReplayWindow } from '../src/replay-window.ts';
import { allowing, cleanup, node, onCleanup, socketPair } from './helpers.ts';

afterEach(cleanup);

const alice = node('alice');
const bob = node('bob');

async function sessions(): Promise<[DatagramSession, DatagramSession]> {
  const { client, server } = await socketPair('tcp');
  return Promise.all([
    datagramInitiator(client, { localName: 'alice', staticKey: alice.key, allowList: allowing(bob), peer: 'bob' }),
    datagramResponder(server, { localName: 'bob', staticKey: bob.key, allowList: allowing(alice) }),
  ]);
}

async function udpPair(): Promise<{ a: UdpSocket; b: UdpSocket; received: () => Promise<Buffer> }> {
  const a = createSocket('udp4');
  const b = createSocket('udp4');
  await Promise.all([new Promise<void>((r) => a.bind(0, '127.0.0.1', r)), new Promise<void>((r) => b.bind(0, '127.0.0.1', r))]);
  a.connect(b.address().port, '127.0.0.1');
  await new Promise<void>((r) => a.once('connect', r));
  const queue: Buffer[] = [];
  const waiters: ((m: Buffer) => void)[] = [];
  b.on('message', (m) => (waiters.length > 0 ? waiters.shift()!(m) : queue.push(m)));
  onCleanup(() => {
    a.close();
    b.close();
  });
  return { a, b, received: () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r))) };
}

describe('datagram sessions over UDP', () => {
  it('carries sealed datagrams, accepts reordering and refuses replays and tampering', async () => {
    const [alicePeer, bobPeer] = await sessions();
    expect(bobPeer.peer.name).toBe('alice');
    const udp = await udpPair();
    const sealed = [0, 1, 2].map((i) => alicePeer.seal(Buffer.from(`d${i}`)));
    expect(Buffer.from(sealed[0]!).includes(Buffer.from('d0'))).toBe(false);
    for (const d of [sealed[2]!, sealed[0]!, sealed[1]!]) udp.a.send(d);
    const got: string[] = [];
    for (let i = 0; i < 3; i++) got.push(Buffer.from(bobPeer.open(await udp.received())).toString());
    expect(got).toEqual(['d2', 'd0', 'd1']);
    udp.a.send(sealed[1]!);
    expect(() => bobPeer.open(Buffer.from(sealed[1]!))).toThrow(expect.objectContaining({ code: 'NOISE_REPLAY' }));
    await udp.received();
    const tampered = Buffer.from(alicePeer.seal(Buffer.from('x')));
    tampered[10]! ^= 1;
    expect(() => bobPeer.open(tampered)).toThrow(expect.objectContaining({ code: 'NOISE_AUTH_FAILED' }));
    // The forged datagram did not use up its counter: the real one still opens.
    tampered[10]! ^= 1;
    expect(Buffer.from(bobPeer.open(tampered)).toString()).toBe('x');
    expect(() => bobPeer.open(new Uint8Array(10))).toThrow(expect.objectContaining({ code: 'NOISE_PROTOCOL_ERROR' }));
    // Both directions have their own key.
    expect(Buffer.from(alicePeer.open(bobPeer.seal(Buffer.from('back')))).toString()).toBe('back');
    expect(() => alicePeer.open(alicePeer.seal(Buffer.from('reflected')))).toThrow(expect.objectContaining({ code: 'NOISE_AUTH_FAILED' }));
  });

  it('refuses a datagram older than the window', async () => {
    const [alicePeer, bobPeer] = await sessions();
    const old = alicePeer.seal(Buffer.from('old'));
    let last = old;
    for (let i = 0; i < REPLAY_WINDOW; i++) last = alicePeer.seal(Buffer.from('n'));
    bobPeer.open(last);
    expect(() => bobPeer.open(old)).toThrow(expect.objectContaining({ code: 'NOISE_REPLAY' }));
  });
});

describe('replay window', () => {
  it('accepts every counter exactly once while it stays inside the window', () => {
    // Counters a whole window apart share a slot: the case where a stale bit would wrongly refuse.
    const nearSlot = fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })).map(([k, d]) => k * REPLAY_WINDOW + d);
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ arbitrary: fc.integer({ min: 0, max: 4 * REPLAY_WINDOW }), weight: 1 }, { arbitrary: nearSlot, weight: 4 }), { maxLength: 300 }),
        (counters) => {
          const window = new ReplayWindow();
          const accepted = new Set<number>();
          let highest = -1;
          for (const c of counters) {
            const expected = !accepted.has(c) && c + REPLAY_WINDOW > highest;
            expect(window.fresh(c)).toBe(expected);
            if (expected) {
              window.accept(c);
              accepted.add(c);
              highest = Math.max(highest, c);
            }
          }
        },
      ),
    );
  });
});
