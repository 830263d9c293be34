/**
 * `tableGhash: false`: every record's tag from OpenSSL's AES-GCM, for peers that must not tag
 * with key-dependent table lookups. Same bytes on the wire as the table path, so a peer with the
 * option off and one with it on still talk; a tampered record is still refused.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChannelV1 } from '@cep/provider-spec';
import { Gmac } from '../src/gmac.ts';
import { resolveOptions } from '../src/options.ts';
import { gcmTag as reference, KEY, loopback, saturn, until } from './fixtures.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

describe('Gmac with tables off', () => {
  it('makes no tables and gives the tags node:crypto AES-GCM gives, refusing a flipped bit', () => {
    expect(new Gmac(randomBytes(32)).usesTables).toBe(true);
    for (let k = 0; k < 10; k++) {
      const key = randomBytes(32);
      const gmac = new Gmac(key, { tables: false });
      expect(gmac.usesTables).toBe(false);
      for (const length of [0, 1, 15, 16, 17, 100, 1000, 2000, 2100]) {
        const seq = Math.floor(Math.random() * 2 ** 40);
        const header = randomBytes(Math.floor(Math.random() * 16));
        const payload = randomBytes(length);
        const want = reference(key, seq, header, payload);
        expect(gmac.tag(seq, header, payload).equals(want)).toBe(true);
        expect(gmac.verify(seq, header, payload, want)).toBe(true);
        const bad = Buffer.from(want);
        bad[Math.floor(Math.random() * 16)]! ^= 1 << Math.floor(Math.random() * 8);
        expect(gmac.verify(seq, header, payload, bad)).toBe(false);
      }
    }
  });
});

describe('the tableGhash option', () => {
  it('defaults to true and refuses anything but a boolean', () => {
    expect(resolveOptions('t', { localPeer: 'earth' }).tableGhash).toBe(true);
    expect(resolveOptions('t', { localPeer: 'earth', tableGhash: false }).tableGhash).toBe(false);
    expect(() => resolveOptions('t', { localPeer: 'earth', tableGhash: 'no' as unknown as boolean })).toThrowError(
      expect.objectContaining({ code: 'INVALID_OPTIONS' }),
    );
  });

  it('a peer tagging through OpenSSL and a peer tagging from tables exchange frames both ways over a real socket', async () => {
    const s = await saturn({ tableGhash: false });
    cleanups.push(() => s.provider.close());
    const earth = loopback({ localPeer: 'earth', keys: { saturn: KEY } });
    cleanups.push(() => earth.close());
    const dialled = await earth.open({ peer: 'saturn', mode: 'link', mount: 'ct', localNode: 'earth', address: s.listener.address });
    await until(2000, () => s.accepted.length === 1);
    const accepted = s.accepted[0] as ChannelV1;
    const toSaturn = accepted.frames()[Symbol.asyncIterator]();
    const toEarth = dialled.frames()[Symbol.asyncIterator]();
    // Sizes on both sides of the table path's 2 KiB bound.
    for (const size of [1, 700, 2040, 5000]) {
      const out = randomBytes(size);
      dialled.send(out);
      expect(Buffer.from((await toSaturn.next()).value as Uint8Array).equals(out)).toBe(true);
      const back = randomBytes(size);
      accepted.send(back);
      expect(Buffer.from((await toEarth.next()).value as Uint8Array).equals(back)).toBe(true);
    }
  });
});
