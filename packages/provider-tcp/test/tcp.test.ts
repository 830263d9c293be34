import { randomBytes } from 'node:crypto';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChannelEventV1, ChannelV1, ProviderLogger, ProviderV1 } from '@cep/provider-spec';
import { AllowList, generateKeyPair, tcp, type TcpOptions } from '../src/index.ts';

const key = randomBytes(32);
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** A full GC without `--expose-gc` on the command line (the flag can be set at run time). */
const collectGarbage: () => void = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

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

/** Every test below runs twice: with the legacy pre-shared key, and with public-key identities (Noise). */
type Auth = 'psk' | 'identity';
let auth: Auth = 'psk';
const earthKey = generateKeyPair();
const saturnKey = generateKeyPair();

function credentials(self: 'earth' | 'saturn'): Partial<TcpOptions> {
  const other = self === 'earth' ? 'saturn' : 'earth';
  if (auth === 'psk') return { keys: { [other]: key } };
  const [mine, theirs] = self === 'earth' ? [earthKey, saturnKey] : [saturnKey, earthKey];
  return { identity: { staticKey: mine, allowList: new AllowList({ [other]: theirs.publicKey }) } };
}

async function peers(extra: Partial<TcpOptions> = {}) {
  const earth = tcp({ localPeer: 'earth', ...credentials('earth'), ...extra });
  const saturn = tcp({ localPeer: 'saturn', ...credentials('saturn'), ...extra });
  cleanups.push(
    () => earth.close(),
    () => saturn.close(),
  );
  const accepted: ChannelV1[] = [];
  const listener = await saturn.listen!({ address: '127.0.0.1:0' }, (ch) => accepted.push(ch));
  return { earth, saturn, accepted, listener };
}

function open(earth: ProviderV1, address: string, mount = 'main'): Promise<ChannelV1> {
  return earth.open({ peer: 'saturn', mode: 'link', mount, localNode: 'earth', address });
}

function events(channel: ChannelV1): ChannelEventV1[] {
  const out: ChannelEventV1[] = [];
  channel.onEvent((e) => out.push(e));
  return out;
}

/** A TCP relay whose connections a test can cut, as a crash or a pulled cable would. */
async function relay(target: string): Promise<{ address: string; cut(): void; server: Server }> {
  const [host, port] = target.split(':');
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = connect({ host: host!, port: Number(port) });
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    cut: () => {
      for (const s of sockets) s.resetAndDestroy();
    },
    server,
  };
}

describe.each(['psk', 'identity'] as const)('%s session', (mode) => {
  beforeEach(() => {
    auth = mode;
  });

  describe('tcp addresses', () => {
    it('refuses an address that is not host:port with ADDRESS_INVALID', async () => {
      const { earth } = await peers();
      for (const bad of ['localhost', '127.0.0.1', '127.0.0.1:99999', ':80', '127.0.0.1:0']) {
        await expect(open(earth, bad)).rejects.toMatchObject({ code: 'ADDRESS_INVALID' });
      }
    });

    it('reports OPEN_FAILED when nothing listens, and OPEN_ABORTED when the signal fires', async () => {
      const { earth, listener } = await peers();
      const probe = createServer();
      await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
      const port = (probe.address() as AddressInfo).port;
      await new Promise((r) => probe.close(r));
      await expect(open(earth, `127.0.0.1:${port}`)).rejects.toMatchObject({ code: 'OPEN_FAILED' });
      const abort = new AbortController();
      abort.abort();
      await expect(
        earth.open({ peer: 'saturn', mode: 'link', mount: 'x', localNode: 'earth', address: listener.address, signal: abort.signal }),
      ).rejects.toMatchObject({ code: 'OPEN_ABORTED' });
    });
  });

  describe('slow reader', () => {
    it('stalls the sender with backpressure and keeps both sides bounded while the reader is slow', async () => {
      const hwm = 256 * 1024;
      const { earth, accepted, listener } = await peers({ highWaterMark: hwm, hardLimitBytes: 4 << 20, maxFrameBytes: 1 << 20 });
      const local = await open(earth, listener.address);
      const seen = events(local);
      await until(2000, () => accepted.length === 1);
      const frame = new Uint8Array(64 * 1024).fill(5);
      // A well-behaved sender: sends until backpressure, then waits for ready.
      let accepted_bytes = 0;
      let stopped = false;
      let peakArrayBuffers = 0;
      const baseline = process.memoryUsage().arrayBuffers;
      // Retained memory, not garbage the collector has not reached yet: a high sample is taken
      // again after a full GC, so only bytes something still holds count against the bound.
      const retained = (): number => {
        const sample = process.memoryUsage().arrayBuffers - baseline;
        if (sample < 24 << 20) return sample;
        collectGarbage();
        return process.memoryUsage().arrayBuffers - baseline;
      };
      const sender = (async () => {
        while (!stopped) {
          const answer = local.send(frame);
          accepted_bytes += frame.length;
          peakArrayBuffers = Math.max(peakArrayBuffers, retained());
          if (answer === 'backpressure') {
            const at = seen.length;
            await until(10_000, () => stopped || seen.slice(at).some((e) => e.type === 'ready'));
          }
        }
      })();
      // Nobody reads for 500 ms: the sender must stall far below what it wanted to send.
      await sleep(500);
      const stalledAt = accepted_bytes;
      expect(stalledAt).toBeLessThan(32 << 20);
      await sleep(200);
      expect(accepted_bytes).toBe(stalledAt);
      // Now a slow reader: one frame per millisecond-ish; memory stays bounded throughout.
      const frames = accepted[0]!.frames()[Symbol.asyncIterator]();
      let read = 0;
      const readStart = Date.now();
      while (Date.now() - readStart < 1500) {
        await frames.next();
        read++;
        if (read % 8 === 0) await sleep(1);
        peakArrayBuffers = Math.max(peakArrayBuffers, retained());
      }
      stopped = true;
      await sender;
      expect(read).toBeGreaterThan(100);
      expect(seen.filter((e) => e.type === 'backpressure').length).toBeGreaterThan(1);
      expect(seen.some((e) => e.type === 'ready')).toBe(true);
      // Throughput went to the reader, yet memory stayed at a few high-water marks and kernel buffers.
      expect(accepted_bytes).toBeGreaterThan(stalledAt);
      expect(peakArrayBuffers).toBeLessThan(48 << 20);
    });
  });

  describe('when the remote end dies', () => {
    it('gives fatal CONNECTION_LOST then closed on both sides when the connection is cut', async () => {
      const { earth, accepted, listener } = await peers({ backoff: { maxAttempts: 0 } });
      const cable = await relay(listener.address);
      const local = await open(earth, cable.address);
      await until(2000, () => accepted.length === 1);
      const near = events(local);
      const far = events(accepted[0]!);
      cable.cut();
      await until(3000, () => near.some((e) => e.type === 'closed') && far.some((e) => e.type === 'closed'));
      for (const seen of [near, far]) {
        expect(seen.map((e) => e.type)).toEqual(['fatal', 'closed']);
        const fatal = seen[0]!;
        expect(fatal.type === 'fatal' && fatal.error.code).toBe('CONNECTION_LOST');
      }
      expect(() => local.send(new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'CHANNEL_CLOSED' }));
    });

    it('reconnects the dialled side with bounded backoff, reported as reconnecting events, and resumes sending', async () => {
      const { earth, accepted, listener } = await peers({ backoff: { initialMs: 20, maxMs: 40, maxAttempts: 5 } });
      const cable = await relay(listener.address);
      const local = await open(earth, cable.address);
      await until(2000, () => accepted.length === 1);
      const near = events(local);
      cable.cut();
      await until(3000, () => near.some((e) => e.type === 'reconnecting'));
      // Sent while disconnected: parked (backpressure), then delivered after the new handshake.
      expect(local.send(Buffer.from('parked'))).toBe('backpressure');
      await until(3000, () => near.some((e) => e.type === 'ready'));
      const reconnecting = near.filter((e) => e.type === 'reconnecting');
      expect(reconnecting[0]).toMatchObject({ type: 'reconnecting', attempt: 1 });
      // Jittered: between half and all of the first base delay.
      const first = reconnecting[0]?.type === 'reconnecting' ? reconnecting[0].delayMs : -1;
      expect(first).toBeGreaterThanOrEqual(10);
      expect(first).toBeLessThanOrEqual(20);
      // The dialler comes back as a new accepted channel for the same mount.
      await until(2000, () => accepted.length === 2);
      expect(accepted[1]!.info).toMatchObject({ peer: 'earth', mount: 'main', initiator: false });
      local.send(Buffer.from('after the cut'));
      const frames = accepted[1]!.frames()[Symbol.asyncIterator]();
      expect(Buffer.from((await frames.next()).value as Uint8Array).toString()).toBe('parked');
      expect(Buffer.from((await frames.next()).value as Uint8Array).toString()).toBe('after the cut');
    });

    it('gives up after maxAttempts with jittered growing delays, then fatal and closed', async () => {
      const { earth, saturn, accepted, listener } = await peers({ backoff: { initialMs: 10, maxMs: 25, maxAttempts: 3 } });
      const cable = await relay(listener.address);
      const local = await open(earth, cable.address);
      await until(2000, () => accepted.length === 1);
      const near = events(local);
      // The far side vanishes for good: close the relay's listening port too.
      const portClosed = new Promise((r) => cable.server.close(r));
      cable.cut();
      await portClosed;
      await until(5000, () => near.some((e) => e.type === 'closed'));
      const delays = near.flatMap((e) => (e.type === 'reconnecting' ? [e.delayMs] : []));
      // Each between half and all of its base: 10, 20, then capped at 25.
      expect(delays).toHaveLength(3);
      [10, 20, 25].forEach((base, i) => {
        expect(delays[i]).toBeGreaterThanOrEqual(base / 2);
        expect(delays[i]).toBeLessThanOrEqual(base);
      });
      expect(near.at(-2)).toMatchObject({ type: 'fatal', error: { code: 'CONNECTION_LOST' } });
      expect(near.at(-1)?.type).toBe('closed');
      await saturn.close();
    });

    it('waits what an injected backoff.delay says, and logs the reconnects through a child logger scoped to the channel', async () => {
      const lines: { level: string; fields: Record<string, unknown>; message: string }[] = [];
      const logger = (bindings: Record<string, unknown>): ProviderLogger => {
        const at =
          (level: string) =>
          (fields: Record<string, unknown>, message: string): void => {
            lines.push({ level, fields: { ...bindings, ...fields }, message });
          };
        return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (more) => logger({ ...bindings, ...more }) };
      };
      const { earth, saturn, accepted, listener } = await peers({
        backoff: { maxAttempts: 2, delay: (attempt) => attempt * 7 },
        logger: logger({}),
      });
      const cable = await relay(listener.address);
      const local = await open(earth, cable.address);
      await until(2000, () => accepted.length === 1);
      const near = events(local);
      const portClosed = new Promise((r) => cable.server.close(r));
      cable.cut();
      await portClosed;
      await until(5000, () => near.some((e) => e.type === 'closed'));
      expect(near.flatMap((e) => (e.type === 'reconnecting' ? [e.delayMs] : []))).toEqual([7, 14]);
      const reconnects = lines.filter((l) => l.message === 'reconnecting' && l.fields.peer === 'saturn');
      expect(reconnects.map((l) => l.fields)).toEqual([
        expect.objectContaining({ provider: 'tcp', peer: 'saturn', mount: 'main', attempt: 1, delayMs: 7 }),
        expect.objectContaining({ provider: 'tcp', peer: 'saturn', mount: 'main', attempt: 2, delayMs: 14 }),
      ]);
      expect(lines.some((l) => l.level === 'warn' && l.message === 'gave up reconnecting')).toBe(true);
      await saturn.close();
    });

    it('fails a reconnecting channel with INVALID_OPTIONS when backoff.delay gives no usable delay', async () => {
      const { earth, saturn, accepted, listener } = await peers({ backoff: { maxAttempts: 3, delay: () => Number.NaN } });
      const cable = await relay(listener.address);
      const local = await open(earth, cable.address);
      await until(2000, () => accepted.length === 1);
      const near = events(local);
      cable.cut();
      await until(5000, () => near.some((e) => e.type === 'closed'));
      expect(near.at(-2)).toMatchObject({ type: 'fatal', error: { code: 'INVALID_OPTIONS' } });
      await saturn.close();
    });

    it('sees closed when the remote provider shuts down gracefully, with frames sent before it delivered', async () => {
      const { earth, saturn, accepted, listener } = await peers();
      const local = await open(earth, listener.address);
      await until(2000, () => accepted.length === 1);
      const near = events(local);
      accepted[0]!.send(Buffer.from('last words'));
      await saturn.close();
      await until(2000, () => near.some((e) => e.type === 'closed'));
      expect(near.map((e) => e.type)).toEqual(['closed']);
      const got = await local.frames()[Symbol.asyncIterator]().next();
      expect(Buffer.from(got.value as Uint8Array).toString()).toBe('last words');
    });
  });
});
