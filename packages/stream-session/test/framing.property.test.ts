import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelV1, ProviderV1 } from '@cep/provider-spec';
import { ByteQueue } from '../src/bytes.ts';
import { KEY, loopback, rawClient, record, saturn, sleep, until } from './fixtures.ts';

describe('ByteQueue', () => {
  it('hands out exactly the bytes pushed, however they were chunked and taken', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 20 }), fc.array(fc.nat(60), { maxLength: 40 }), (chunks, takes) => {
        const all = Buffer.concat(chunks);
        const q = new ByteQueue();
        for (const c of chunks) q.push(Buffer.from(c));
        const out: Buffer[] = [];
        for (const n of takes) {
          if (n > q.length) break;
          const peeked = Buffer.from(q.peek(n));
          const taken = q.take(n);
          expect(taken.equals(peeked)).toBe(true);
          out.push(Buffer.from(taken));
        }
        const rest = q.take(q.length);
        expect(Buffer.concat([...out, rest]).equals(all)).toBe(true);
        expect(q.length).toBe(0);
      }),
    );
  });
});

describe('framing over a real socket', () => {
  let s: Awaited<ReturnType<typeof saturn>>;
  let dialer: ProviderV1;
  beforeAll(async () => {
    s = await saturn({ maxFrameBytes: 64 * 1024 });
    dialer = loopback({ localPeer: 'earth', keys: { saturn: KEY }, maxFrameBytes: 64 * 1024 });
  });
  afterAll(async () => {
    await dialer.close();
    await s.provider.close();
  });

  async function accepted(mount: string): Promise<ChannelV1> {
    await until(2000, () => s.accepted.some((c) => c.info.mount === mount));
    return s.accepted.find((c) => c.info.mount === mount)!;
  }

  let run = 0;
  it('delivers any sequence of frames (batched and in-place sizes mixed) byte for byte', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 20_000 }), { minLength: 1, maxLength: 25 }), async (frames) => {
        const mount = `p${run++}`;
        const local = await dialer.open({ peer: 'saturn', mode: 'link', mount, localNode: 'earth', address: s.listener.address });
        const remote = await accepted(mount);
        for (const f of frames) local.send(f);
        const it = remote.frames()[Symbol.asyncIterator]();
        for (const f of frames) expect(Buffer.from((await it.next()).value as Uint8Array).equals(Buffer.from(f))).toBe(true);
        await local.close('next');
      }),
      { numRuns: 15 },
    );
  });

  it('reassembles records split at arbitrary byte boundaries', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 3000 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 10 }),
        async (frames, cuts) => {
          const mount = `r${run++}`;
          const client = await rawClient(s.listener.address, KEY, mount);
          const remote = await accepted(mount);
          const wire = Buffer.concat(frames.map((f, i) => record(client.keys.send, i, f)));
          let at = 0;
          for (let i = 0; at < wire.length; i++) {
            const n = cuts[i % cuts.length]!;
            client.socket.write(wire.subarray(at, at + n));
            at += n;
            await sleep(0);
          }
          const it = remote.frames()[Symbol.asyncIterator]();
          for (const f of frames) expect(Buffer.from((await it.next()).value as Uint8Array).equals(Buffer.from(f))).toBe(true);
          client.conn.destroy();
        },
      ),
      { numRuns: 15 },
    );
  });
});
