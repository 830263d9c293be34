import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CepError } from '@cep/provider-spec';
import { nats } from '../src/index.ts';
import { natsServerBinary, startNatsServer, type NatsServer } from '../src/testing.ts';
import { collect, connectedPair, until } from './helpers.ts';

let server: NatsServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

/** A frame that names its index in its first 4 bytes. */
function frame(i: number, size: number): Uint8Array {
  const out = new Uint8Array(Math.max(4, size)).fill(i & 0xff);
  new DataView(out.buffer).setUint32(0, i);
  return out;
}
const indexOf = (f: Uint8Array): number => new DataView(f.buffer, f.byteOffset, f.byteLength).getUint32(0);

/** Drops every `n`th data record the first time it is published (its resend goes through). */
function lossy(n: number): { drop: (message: Uint8Array) => boolean; dropped: () => number } {
  const seen = new Set<string>();
  let count = 0;
  let dropped = 0;
  return {
    drop(message) {
      if (message[0]! > 3) return false; // control records (acks, goodbye) pass
      const id = createHash('sha1').update(message).digest('hex');
      if (seen.has(id)) return false;
      seen.add(id);
      if (++count % n !== 0) return false;
      dropped++;
      return true;
    },
    dropped: () => dropped,
  };
}

describe('acked delivery over core NATS', () => {
  it('resends lost records: every frame arrives once, in order, including frames split across messages', async () => {
    const loss = lossy(3);
    const p = await connectedPair(server.url, { earth: { _dropPublish: loss.drop, resendMs: 20 } });
    try {
      const got = collect(p.remote);
      const sizes = [4, 100, 5000, 70_000, 1_500_000];
      const n = 120;
      let ready = (): void => {};
      p.local.onEvent((e) => {
        if (e.type === 'ready') ready();
      });
      for (let i = 0; i < n; i++) {
        if (p.local.send(frame(i, sizes[i % sizes.length]!)) === 'backpressure') await new Promise<void>((r) => (ready = r));
        // Separate ticks, so records are many and small ones are not all in one batch.
        else if (i % 4 === 0) await new Promise((r) => setImmediate(r));
      }
      await until('every frame', () => got.length >= n, 20_000);
      expect(loss.dropped()).toBeGreaterThan(10);
      expect(got.map(indexOf)).toEqual(Array.from({ length: n }, (_, i) => i));
      got.forEach((f, i) => expect(f.length).toBe(Math.max(4, sizes[i % sizes.length]!)));
      await new Promise((r) => setTimeout(r, 100));
      expect(got.length).toBe(n);
    } finally {
      await p.close();
    }
  });

  it('ends a channel whose peer went silent with fatal CONNECTION_LOST, then closed', async () => {
    // saturn's keepalives never leave; earth hears nothing and gives up after peerTimeoutMs.
    const p = await connectedPair(server.url, { earth: { peerTimeoutMs: 300, keepaliveMs: 50 }, saturn: { _dropPublish: () => true, keepaliveMs: 50 } });
    try {
      const events: string[] = [];
      let code: string | undefined;
      p.local.onEvent((e) => {
        events.push(e.type);
        if (e.type === 'fatal') code = e.error.code;
      });
      await until('closed', () => events.includes('closed'));
      expect(events).toEqual(['fatal', 'closed']);
      expect(code).toBe('CONNECTION_LOST');
    } finally {
      await p.close();
    }
  });
});

describe('at-most-once delivery', () => {
  it('delivers what arrives, in increasing order and never twice; a frame with a lost piece is dropped whole', async () => {
    const loss = lossy(4);
    const p = await connectedPair(server.url, { earth: { delivery: 'at_most_once', _dropPublish: loss.drop }, saturn: { delivery: 'at_most_once' } });
    try {
      expect(p.earth.caps).toContain('unreliable');
      expect(p.earth.caps).not.toContain('reliable');
      const got = collect(p.remote);
      const n = 80;
      for (let i = 0; i < n; i++) {
        p.local.send(frame(i, i % 10 === 0 ? 2_500_000 : 200));
        await new Promise((r) => setImmediate(r));
      }
      await until('the last frames', () => got.length > 0 && indexOf(got.at(-1)!) >= n - 5, 10_000).catch(() => undefined);
      const indexes = got.map(indexOf);
      expect(indexes.length).toBeGreaterThan(0);
      expect(indexes.length).toBeLessThan(n);
      for (let i = 1; i < indexes.length; i++) expect(indexes[i]!).toBeGreaterThan(indexes[i - 1]!);
      for (const f of got) expect(f.length).toBe(indexOf(f) % 10 === 0 ? 2_500_000 : 200);
    } finally {
      await p.close();
    }
  });
});

describe('addresses and options', () => {
  it('refuses an address that is not a subject prefix, and a second listener on a taken prefix', async () => {
    const key = randomBytes(32);
    const a = nats({ localPeer: 'saturn', keys: { earth: key }, servers: server.url });
    const b = nats({ localPeer: 'titan', keys: { earth: key }, servers: server.url });
    try {
      for (const address of ['cep.*', 'cep.>', 'cep saturn', '', 'cep..x']) {
        const error = await a.listen!({ address }, () => {}).catch((e: unknown) => e);
        expect((error as CepError).code).toBe('ADDRESS_INVALID');
      }
      await a.listen!({ address: 'cep.shared' }, () => {});
      const taken = await b.listen!({ address: 'cep.shared' }, () => {}).catch((e: unknown) => e);
      expect((taken as CepError).code).toBe('ADDRESS_IN_USE');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('refuses unusable options with INVALID_OPTIONS naming the option', () => {
    const key = randomBytes(32);
    const bad: [string, () => unknown][] = [
      ['credentials', () => nats({ localPeer: 'a', keys: {}, credentials: { token: 'x', user: 'y' } as never })],
      ['servers', () => nats({ localPeer: 'a', keys: {}, servers: [] })],
      ['delivery', () => nats({ localPeer: 'a', keys: {}, delivery: 'exactly_once' as never })],
      ['key', () => nats({ localPeer: 'a', keys: { b: key.subarray(0, 16) } })],
      ['windowBytes', () => nats({ localPeer: 'a', keys: {}, windowBytes: 0 })],
    ];
    for (const [what, make] of bad) {
      let error: unknown;
      try {
        make();
      } catch (e) {
        error = e;
      }
      expect(error, what).toBeInstanceOf(CepError);
      expect((error as CepError).code, what).toBe('INVALID_OPTIONS');
      expect((error as CepError).message, what).toContain(what);
    }
  });

  it('says how to install nats-server when it is not on PATH', () => {
    const path = process.env['PATH'];
    process.env['PATH'] = '/nonexistent';
    try {
      expect(() => natsServerBinary()).toThrow(/nats-server is not installed.*ensure-nats-server\.sh.*apt-get install -y nats-server/);
    } finally {
      process.env['PATH'] = path;
    }
  });
});
