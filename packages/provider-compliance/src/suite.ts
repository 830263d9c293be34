import { describe, expect, it, afterEach } from 'vitest';
import { CepError, PROVIDER_SPEC_V1, type ChannelV1, type RejectionV1 } from '@cep/provider-spec';
import { registerAuthentication } from './auth.ts';
import { indexOf, leaked, patterned, reader, record, resources, sameBytes, sleep, until, within } from './helpers.ts';
import type { Pair } from './pair.ts';
import type { ComplianceOptions, SessionCompliance } from './types.ts';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof CepError ? error.code : `non-CepError: ${String(error)}`;
  }
  return undefined;
}

/**
 * Registers the CEP provider compliance tests (vitest `describe`/`it`) for one provider.
 * Call it at the top level of a test file; every test gets a fresh `setup()` and closes
 * both providers afterwards.
 */
export function providerComplianceTests(options: ComplianceOptions): void {
  const ms = options.timeoutMs ?? 5000;
  const reliable = options.profile === 'reliable';
  let live: Pair[] = [];
  // Anything a test opened besides a pair's two providers (intruders, taps), released after it.
  let extras: Array<() => Promise<unknown>> = [];

  async function pair(): Promise<Pair> {
    const env = await options.setup();
    const accepted: ChannelV1[] = [];
    const rejections: RejectionV1[] = [];
    if (env.listener.listen === undefined) throw new Error(`${options.name}: the listener provider must implement listen()`);
    const listener = await within(
      ms,
      'listen()',
      env.listener.listen({ address: env.address, onReject: (r) => rejections.push(r) }, (ch) => accepted.push(ch)),
    );
    const made: Pair = {
      env,
      listener,
      accepted,
      rejections,
      async open(mount, address = listener.address) {
        const local = await within(ms, `open(${mount})`, env.dialer.open({ peer: env.listenerPeer, mode: 'link', mount, localNode: env.dialerPeer, address }));
        let remote: ChannelV1 | undefined;
        await until(ms, `the listener to accept ${mount}`, () => (remote = accepted.find((c) => c.info.mount === mount)) !== undefined);
        return { local, remote: remote! };
      },
    };
    live.push(made);
    return made;
  }

  async function shutdown(p: Pair): Promise<void> {
    await within(ms, 'dialer.close()', p.env.dialer.close());
    await within(ms, 'listener.close()', p.env.listener.close());
    await p.env.teardown?.();
  }

  describe(`${options.name} provider compliance (${options.profile})`, () => {
    afterEach(async () => {
      const pairs = live;
      live = [];
      const more = extras;
      extras = [];
      for (const release of more) await within(ms, 'releasing an intruder or tap', release()).catch(() => undefined);
      for (const p of pairs) await shutdown(p);
    });

    it('states the v1 specification, an id and capabilities that match the profile', async () => {
      const { env } = await pair();
      for (const provider of [env.dialer, env.listener]) {
        expect(provider.specificationVersion).toBe(PROVIDER_SPEC_V1);
        expect(provider.id).toMatch(/^[a-z0-9_]{1,11}$/);
        if (reliable) expect(provider.caps).toEqual(expect.arrayContaining(['reliable', 'ordered']));
        else {
          expect(provider.caps).toContain('unreliable');
          expect(provider.caps).not.toContain('reliable');
        }
      }
    });

    it('describes both ends of a channel: peers, mount, initiator and a frame limit', async () => {
      const p = await pair();
      const { local, remote } = await p.open('info');
      expect(local.info).toMatchObject({ provider: p.env.dialer.id, peer: p.env.listenerPeer, mode: 'link', mount: 'info', initiator: true });
      expect(remote.info).toMatchObject({ provider: p.env.listener.id, peer: p.env.dialerPeer, mode: 'link', mount: 'info', initiator: false });
      expect(local.info.maxFrameBytes).toBeGreaterThan(0);
      expect(remote.info.maxFrameBytes).toBeGreaterThan(0);
    });

    it('refuses a frame one byte over maxFrameBytes with FRAME_TOO_LARGE and stays usable', async () => {
      const p = await pair();
      const { local, remote } = await p.open('big');
      expect(codeOf(() => local.send(new Uint8Array(local.info.maxFrameBytes + 1)))).toBe('FRAME_TOO_LARGE');
      const probe = patterned(1, 16);
      const got = await sendUntilSeen(local, remote, probe);
      expect(sameBytes(got, probe)).toBe(true);
    });

    it('makes close() idempotent: one closed event, CHANNEL_CLOSED on send, frames() ends', async () => {
      const p = await pair();
      const { local } = await p.open('close');
      const events = record(local);
      const frames = reader(local);
      await within(ms, 'close()', Promise.all([local.close('test'), local.close('again')]));
      await within(ms, 'a third close()', local.close('third'));
      expect(events.filter((e) => e.type === 'closed')).toHaveLength(1);
      expect(codeOf(() => local.send(new Uint8Array(1)))).toBe('CHANNEL_CLOSED');
      expect(await frames.next(ms)).toBeUndefined();
    });

    it('tells the far end with a closed event when one side closes its channel', async () => {
      const p = await pair();
      const { local, remote } = await p.open('farclose');
      const events = record(remote);
      const frames = reader(remote);
      await local.close('done');
      await until(ms, 'closed on the far end', () => events.some((e) => e.type === 'closed'));
      expect(await frames.next(ms)).toBeUndefined();
    });

    it('gives the dialler closed (or fatal then closed) when the listening provider goes away', async () => {
      const p = await pair();
      const { local } = await p.open('gone');
      const events = record(local);
      await within(ms, 'listener.close()', p.env.listener.close());
      await until(ms, 'closed after the far provider closed', () => events.some((e) => e.type === 'closed'));
      const last = events.at(-1);
      expect(last?.type).toBe('closed');
    });

    it('keeps many channels apart: each mount gets its own frames', async () => {
      const p = await pair();
      const n = 12;
      const perMount = reliable ? 40 : 10;
      const pairs = await Promise.all(Array.from({ length: n }, (_, m) => p.open(`m${m}`)));
      const readers = pairs.map(({ remote }) => reader(remote));
      pairs.forEach(({ local }, m) => {
        for (let i = 0; i < perMount; i++) local.send(patterned(m * 1000 + i, 32 + m));
      });
      for (let m = 0; m < n; m++) {
        const got = await readers[m]!.drain(perMount, reliable ? ms : 500);
        if (reliable) expect(got.map(indexOf)).toEqual(Array.from({ length: perMount }, (_, i) => m * 1000 + i));
        else expect(got.length).toBeGreaterThan(0);
        for (const frame of got) {
          expect(Math.floor(indexOf(frame) / 1000)).toBe(m);
          expect(sameBytes(frame, patterned(indexOf(frame), 32 + m))).toBe(true);
        }
      }
    });

    it('closes its listener: nothing can connect afterwards, and close() is idempotent', async () => {
      const p = await pair();
      await within(ms, 'listener.close()', p.listener.close());
      await within(ms, 'listener.close() again', p.listener.close());
      if (reliable) {
        await expect(
          within(
            ms,
            'open after close',
            p.env.dialer.open({ peer: p.env.listenerPeer, mode: 'link', mount: 'late', localNode: p.env.dialerPeer, address: p.listener.address }),
          ),
        ).rejects.toBeInstanceOf(CepError);
      }
      expect(p.accepted.find((c) => c.info.mount === 'late')).toBeUndefined();
    });

    it('rejects open() with OPEN_ABORTED when the request signal has fired', async () => {
      const p = await pair();
      const abort = new AbortController();
      abort.abort();
      const error = await within(
        ms,
        'an aborted open()',
        p.env.dialer
          .open({ peer: p.env.listenerPeer, mode: 'link', mount: 'aborted', localNode: p.env.dialerPeer, address: p.listener.address, signal: abort.signal })
          .then(
            () => undefined,
            (e: unknown) => e,
          ),
      );
      expect(error).toBeInstanceOf(CepError);
      expect((error as CepError).code).toBe('OPEN_ABORTED');
    });

    it('shuts down cleanly: no socket, server or handle outlives close()', async () => {
      const before = resources();
      const p = await pair();
      const { local, remote } = await p.open('leak');
      const frames = reader(remote);
      local.send(patterned(7, 100));
      if (reliable) expect(indexOf((await frames.next(ms))!)).toBe(7);
      live = live.filter((x) => x !== p);
      await shutdown(p);
      let left: string[] = [];
      await until(ms, 'handles to be released', () => (left = leaked(before)).length === 0).catch(() => undefined);
      expect(left).toEqual([]);
    });

    if (reliable) registerReliable();
    else registerUnreliable();
    if (options.sessions !== undefined) registerSessions(options.sessions);
    registerAuthentication({ options, ms, reliable, pair, release: (step) => void extras.push(step) });
  });

  function registerSessions(sessions: SessionCompliance): void {
    it('tells the remote session: the same after a plain reconnect, a new one after the listener restarted', async () => {
      const env = await sessions.setup();
      const accepted: ChannelV1[] = [];
      const cleanup: Array<() => Promise<unknown>> = [async () => env.dialer.close(), async () => env.listener.close(), async () => env.teardown?.()];
      try {
        const first = await within(
          ms,
          'listen()',
          env.listener.listen!({ address: env.address }, (ch) => accepted.push(ch)),
        );
        const relay = await sessions.relay(first.address);
        cleanup.unshift(() => relay.close());
        const local = await within(
          ms,
          'open(sess)',
          env.dialer.open({ peer: env.listenerPeer, mode: 'link', mount: 'sess', localNode: env.dialerPeer, address: relay.address }),
        );
        await until(ms, 'the listener to accept', () => accepted.length === 1);
        const listenerSession = local.info.remoteSession;
        const dialerSession = accepted[0]!.info.remoteSession;
        expect(typeof listenerSession).toBe('string');
        expect(typeof dialerSession).toBe('string');
        expect(listenerSession).not.toBe(dialerSession);
        const events = record(local);

        // A network cut: the dialler reconnects to the same listener, which is the same session.
        relay.cut();
        await until(ms, 'a session event after the reconnect', () => events.some((e) => e.type === 'session'));
        await until(ms, 'the listener to accept the reconnect', () => accepted.length === 2);
        expect(events.filter((e) => e.type === 'session')).toEqual([{ type: 'session', id: listenerSession }]);
        expect(accepted[1]!.info.remoteSession).toBe(dialerSession);
        const afterCut = reader(accepted[1]!);
        await until(ms, 'ready after the reconnect', () => events.at(-1)?.type === 'ready');
        local.send(patterned(1, 64));
        expect(indexOf((await afterCut.next(ms))!)).toBe(1);

        // A restart: the old listener vanishes without a goodbye, a new instance takes over.
        const restarted = sessions.restartedListener();
        cleanup.push(async () => restarted.close());
        const second = await within(
          ms,
          'listen() after the restart',
          restarted.listen!({ address: sessions.restartAddress?.() ?? env.address }, (ch) => accepted.push(ch)),
        );
        relay.retarget(second.address);
        relay.cut();
        await within(ms, 'the old listener to close', env.listener.close());
        await until(ms, 'a second session event', () => events.filter((e) => e.type === 'session').length === 2);
        const renewed = events.filter((e) => e.type === 'session')[1] as { type: 'session'; id: string };
        expect(renewed.id).not.toBe(listenerSession);
        await until(ms, 'the restarted listener to accept', () => accepted.length === 3);
        expect(accepted[2]!.info.remoteSession).toBe(dialerSession);
        const afterRestart = reader(accepted[2]!);
        await until(ms, 'ready after the restart', () => events.at(-1)?.type === 'ready');
        local.send(patterned(2, 64));
        expect(indexOf((await afterRestart.next(ms))!)).toBe(2);
      } finally {
        for (const step of cleanup) await within(ms, 'cleanup', step()).catch(() => undefined);
      }
    });
  }

  async function sendUntilSeen(local: ChannelV1, remote: ChannelV1, frame: Uint8Array): Promise<Uint8Array> {
    const frames = reader(remote);
    if (reliable) {
      local.send(frame);
      return (await frames.next(ms))!;
    }
    for (let attempt = 0; attempt < 10; attempt++) {
      local.send(frame);
      const [got] = await frames.drain(1, 200);
      if (got !== undefined) return got;
    }
    throw new Error('no frame arrived in 10 attempts on loopback');
  }

  function registerReliable(): void {
    it('delivers every frame, in order, byte for byte, both ways', async () => {
      const p = await pair();
      const { local, remote } = await p.open('order');
      const sizes = [0, 1, 3, 4, 17, 64, 255, 1024, 4095, 9000, 65536];
      const outbound = Array.from({ length: 300 }, (_, i) => patterned(i, Math.max(4, sizes[i % sizes.length]!)));
      const empty = new Uint8Array(0);
      local.send(empty);
      for (const frame of outbound) local.send(frame);
      const inbound = reader(remote);
      expect((await inbound.next(ms))!.length).toBe(0);
      for (const frame of outbound) expect(sameBytes((await inbound.next(ms))!, frame)).toBe(true);
      const back = reader(local);
      for (let i = 0; i < 50; i++) remote.send(patterned(i, 10 + i));
      for (let i = 0; i < 50; i++) expect(sameBytes((await back.next(ms))!, patterned(i, 10 + i))).toBe(true);
    });

    it('carries a frame of exactly maxFrameBytes intact', async () => {
      const p = await pair();
      const { local, remote } = await p.open('large');
      const size = Math.min(options.largeFrameBytes ?? 4 << 20, local.info.maxFrameBytes, remote.info.maxFrameBytes);
      const frame = patterned(3, size);
      local.send(frame);
      local.send(patterned(4, 8));
      const inbound = reader(remote);
      expect(sameBytes((await inbound.next(ms))!, frame)).toBe(true);
      expect(indexOf((await inbound.next(ms))!)).toBe(4);
    });

    it('raises backpressure when the far side stops pulling, then ready and every frame once it pulls again', async () => {
      const p = await pair();
      const { local, remote } = await p.open('bp');
      const events = record(local);
      const size = Math.min(64 * 1024, local.info.maxFrameBytes);
      // Kernel buffers may absorb a first burst (backpressure, then ready); keep sending
      // until backpressure holds for 200 ms with nobody pulling: that is the real stall.
      let sent = 0;
      let stalled = false;
      while (sent < 4096 && !stalled) {
        const answer = local.send(patterned(sent, size));
        sent++;
        if (answer === 'backpressure') {
          const readies = events.filter((e) => e.type === 'ready').length;
          await sleep(200);
          stalled = events.filter((e) => e.type === 'ready').length === readies;
        } else if (sent % 16 === 0) await sleep(1);
      }
      expect(stalled).toBe(true);
      expect(events.some((e) => e.type === 'backpressure')).toBe(true);
      expect(events.at(-1)?.type).toBe('backpressure');
      const inbound = reader(remote);
      for (let i = 0; i < sent; i++) expect(indexOf((await inbound.next(ms))!)).toBe(i);
      await until(ms, 'a ready event after the far side pulled', () => events.at(-1)?.type === 'ready');
      expect(local.send(patterned(sent, 8))).toBe('ready');
      expect(indexOf((await inbound.next(ms))!)).toBe(sent);
    });

    it('throws CHANNEL_OVERFLOW when a sender ignores backpressure past its hard limit', async () => {
      const p = await pair();
      const { local } = await p.open('overflow');
      const frame = patterned(0, Math.min(64 * 1024, local.info.maxFrameBytes));
      let code: string | undefined;
      for (let i = 0; i < 100_000 && code === undefined; i++) {
        code = codeOf(() => local.send(frame));
        if (i % 64 === 0) await sleep(1);
      }
      expect(code).toBe('CHANNEL_OVERFLOW');
    });
  }

  function registerUnreliable(): void {
    it('delivers only whole, intact frames, none above maxFrameBytes', async () => {
      const p = await pair();
      const { local, remote } = await p.open('intact');
      const sizes = [4, 17, 64, 300, 1000];
      for (let i = 0; i < 100; i++) local.send(patterned(i, sizes[i % sizes.length]!));
      const got = await reader(remote).drain(100, 1000);
      expect(got.length).toBeGreaterThan(0);
      for (const frame of got) {
        expect(frame.length).toBeLessThanOrEqual(remote.info.maxFrameBytes);
        const i = indexOf(frame);
        expect(sameBytes(frame, patterned(i, sizes[i % sizes.length]!))).toBe(true);
      }
    });

    it('carries a frame of exactly maxFrameBytes intact when it arrives', async () => {
      const p = await pair();
      const { local, remote } = await p.open('large');
      const size = Math.min(options.largeFrameBytes ?? 4 << 20, local.info.maxFrameBytes);
      const frame = patterned(9, size);
      expect(sameBytes(await sendUntilSeen(local, remote, frame), frame)).toBe(true);
    });

    it('answers send() with ready or backpressure and keeps events flowing', async () => {
      const p = await pair();
      const { local } = await p.open('events');
      const events = record(local);
      const answers = new Set<string>();
      for (let i = 0; i < 200; i++) answers.add(local.send(patterned(i, 64)));
      for (const answer of answers) expect(['ready', 'backpressure']).toContain(answer);
      if (answers.has('backpressure')) await until(ms, 'ready after backpressure', () => events.some((e) => e.type === 'ready'));
      await local.close('bye');
      expect(events.at(-1)?.type).toBe('closed');
    });
  }
}
