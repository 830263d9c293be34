import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProviderV1 } from '@cep/provider-spec';
import { HandshakeSlots, LOCAL_SOURCE, sourceOf, type Slot } from '../src/admission.ts';
import { KEY, loopback, saturn, sleep, until } from './fixtures.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

interface Named extends Slot {
  readonly name: string;
}
const slot = (name: string, source: string, spoke = false): Named => ({ name, source, spoke });
const names = (slots: Named[]): string[] => slots.map((s) => s.name);
/** Two turns later: everything admitted so far has had its turn to be read. */
const later = (slots: HandshakeSlots<Named>): void => {
  slots.nextTurn();
  slots.nextTurn();
};

describe('HandshakeSlots', () => {
  it('admits every connection below the bounds', () => {
    const slots = new HandshakeSlots<Named>(4, 4);
    expect(['a', 'b', 'c', 'd'].flatMap((n) => names(slots.admit(slot(n, 'x'))))).toEqual([]);
    expect(slots.size).toBe(4);
  });

  it('when full, displaces the oldest silent connection, sparing ones that said HELLO', () => {
    const slots = new HandshakeSlots<Named>(3, 3);
    const a = slot('a', 'x');
    slots.admit(a);
    slots.admit(slot('b', 'x'));
    slots.admit(slot('c', 'x'));
    a.spoke = true;
    later(slots);
    expect(names(slots.admit(slot('d', 'x')))).toEqual(['b']);
    expect(names(slots.admit(slot('e', 'x')))).toEqual(['c']);
    later(slots);
    expect(names(slots.admit(slot('f', 'x')))).toEqual(['d']);
    expect(slots.size).toBe(3);
  });

  it('displaces the oldest that spoke only when none is silent', () => {
    const slots = new HandshakeSlots<Named>(2, 2);
    slots.admit(slot('a', 'x', true));
    slots.admit(slot('b', 'x', true));
    later(slots);
    expect(names(slots.admit(slot('c', 'x')))).toEqual(['a']);
  });

  it('never displaces a connection admitted this turn or the one before: the new one is refused instead', () => {
    const slots = new HandshakeSlots<Named>(2, 2);
    slots.admit(slot('a', 'x'));
    slots.nextTurn();
    slots.admit(slot('b', 'x'));
    const c = slot('c', 'x');
    expect(slots.admit(c)).toEqual([c]);
    slots.nextTurn();
    expect(names(slots.admit(slot('d', 'x')))).toEqual(['a']);
    const e = slot('e', 'x');
    expect(slots.admit(e)).toEqual([e]);
    expect(slots.size).toBe(2);
  });

  it("a source at its share displaces its own connections, never another source's", () => {
    const slots = new HandshakeSlots<Named>(8, 2);
    slots.admit(slot('peer', 'p'));
    const displaced: string[] = [];
    for (let i = 0; i < 20; i++) {
      displaced.push(...names(slots.admit(slot(`flood${i}`, 'f'))));
      later(slots);
    }
    expect(displaced).toEqual(Array.from({ length: 18 }, (_, i) => `flood${i}`));
    expect(slots.size).toBe(3);
  });

  it('when the listener is full, takes the slot from the source holding the most', () => {
    const slots = new HandshakeSlots<Named>(4, 4);
    slots.admit(slot('p1', 'p'));
    slots.admit(slot('f1', 'f'));
    slots.admit(slot('f2', 'f'));
    slots.admit(slot('f3', 'f'));
    later(slots);
    expect(names(slots.admit(slot('q1', 'q')))).toEqual(['f1']);
    expect(names(slots.admit(slot('q2', 'q')))).toEqual(['f2']);
    later(slots);
    // f, p and q now hold 1, 1 and 2: q is the largest.
    expect(names(slots.admit(slot('p2', 'p')))).toEqual(['q1']);
  });

  it('releasing is idempotent and frees the slot', () => {
    const slots = new HandshakeSlots<Named>(1, 1);
    const a = slot('a', 'x');
    slots.admit(a);
    slots.release(a);
    slots.release(a);
    expect(slots.size).toBe(0);
    expect(names(slots.admit(slot('b', 'x')))).toEqual([]);
  });

  it('with no slots, refuses the connection itself', () => {
    const slots = new HandshakeSlots<Named>(0, 4);
    const a = slot('a', 'x');
    expect(slots.admit(a)).toEqual([a]);
    expect(slots.size).toBe(0);
  });

  it('counts a connection with no remote address (a Unix socket) under one local source, bounded only by the total', () => {
    expect(sourceOf(undefined)).toBe(LOCAL_SOURCE);
    expect(sourceOf('127.0.0.2')).toBe('127.0.0.2');
    const slots = new HandshakeSlots<Named>(4, 1);
    expect(['a', 'b', 'c', 'd'].flatMap((n) => names(slots.admit(slot(n, LOCAL_SOURCE))))).toEqual([]);
    later(slots);
    expect(names(slots.admit(slot('e', LOCAL_SOURCE)))).toEqual(['a']);
  });
});

/** Opens a connection that says nothing, from `localAddress` (any 127/8 address is loopback on Linux). */
function silent(address: string, localAddress = '127.0.0.1'): Socket {
  const [host, port] = address.split(':');
  const socket = connect({ host: host!, port: Number(port), localAddress });
  socket.on('error', () => {});
  cleanups.push(() => void socket.destroy());
  return socket;
}

describe('the listener under a flood of unauthenticated connections', () => {
  it('a peer with the right key links while one client keeps every slot busy with silent and garbage connections', async () => {
    const s = await saturn({ maxPendingHandshakes: 16, maxPendingPerSource: 8, handshakeTimeoutMs: 30_000 });
    cleanups.push(() => s.provider.close());
    let flooding = true;
    let opened = 0;
    // Keeps 64 connections open at all times (four times the slots), half silent, half writing garbage.
    const flood = (async () => {
      const live = new Set<Socket>();
      while (flooding) {
        while (live.size < 64) {
          const socket = silent(s.listener.address);
          opened += 1;
          if (opened % 2 === 0) socket.write(Buffer.from([0x00, 0x20, 0x47, 0x45, 0x54]));
          live.add(socket);
          socket.once('close', () => live.delete(socket));
        }
        await sleep(1);
      }
      for (const socket of live) socket.destroy();
    })();
    await until(5000, () => s.rejected.some((r) => r.code === 'HANDSHAKE_EVICTED'));
    const dialer: ProviderV1 = loopback({ localPeer: 'earth', keys: { saturn: KEY }, backoff: { maxAttempts: 0 } });
    cleanups.push(() => dialer.close());
    const channel = await dialer.open({ peer: 'saturn', mode: 'link', mount: 'm', localNode: 'earth', address: s.listener.address });
    const openedBeforeLink = opened;
    await until(5000, () => s.accepted.length === 1);
    const stillFlooding = flooding;
    flooding = false;
    await flood;
    expect(stillFlooding).toBe(true);
    expect(channel.info.peer).toBe('saturn');
    expect(openedBeforeLink).toBeGreaterThan(64);
    expect(s.accepted.map((c) => c.info.peer)).toEqual(['earth']);
  });

  it("a source flooding past its share never displaces another source's connections", async () => {
    const s = await saturn({ maxPendingHandshakes: 8, maxPendingPerSource: 3, handshakeTimeoutMs: 30_000, acceptTimeoutMs: 30_000 });
    cleanups.push(() => s.provider.close());
    const other = [silent(s.listener.address, '127.0.0.3'), silent(s.listener.address, '127.0.0.3')];
    await Promise.all(other.map((o) => new Promise((resolve) => o.once('connect', resolve))));
    await sleep(50);
    const flood: Socket[] = [];
    // One at a time, a few turns apart, so each finds old connections of its own source to displace.
    for (let i = 0; i < 12; i++) {
      const socket = silent(s.listener.address, '127.0.0.2');
      flood.push(socket);
      await new Promise((resolve) => socket.once('connect', resolve));
      await sleep(20);
    }
    await until(5000, () => s.rejected.length === 9);
    expect(s.rejected.every((r) => r.code === 'HANDSHAKE_EVICTED' && r.remoteAddress?.startsWith('127.0.0.2:'))).toBe(true);
    expect(other.every((o) => !o.destroyed)).toBe(true);
    expect(flood.filter((f) => !f.destroyed).length).toBeGreaterThanOrEqual(3);
  });

  it('drops a silent inbound connection after acceptTimeoutMs, however long the dial timeout', async () => {
    const s = await saturn({ handshakeTimeoutMs: 60_000, acceptTimeoutMs: 100 });
    cleanups.push(() => s.provider.close());
    const socket = silent(s.listener.address);
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    expect(s.rejected.map((r) => r.code)).toEqual(['HANDSHAKE_TIMEOUT']);
  });

  it('with maxPendingHandshakes 0 refuses every inbound connection', async () => {
    const s = await saturn({ maxPendingHandshakes: 0 });
    cleanups.push(() => s.provider.close());
    const socket = silent(s.listener.address);
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    expect(s.rejected.map((r) => r.code)).toEqual(['HANDSHAKE_EVICTED']);
  });
});
