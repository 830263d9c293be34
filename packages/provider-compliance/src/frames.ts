/**
 * Frames: limits, integrity, order (reliable profile), and channels kept apart.
 */
import { expect } from 'vitest';
import { codeOf, indexOf, patterned, reader, sameBytes, sendUntilSeen } from './helpers.ts';
import type { SuiteContext } from './context.ts';

export function registerFrames(ctx: SuiteContext): void {
  const { options, ms, reliable, test } = ctx;
  test('refuses a frame one byte over maxFrameBytes with FRAME_TOO_LARGE and stays usable', async ({ kit }) => {
    const p = await kit.pair();
    const { local, remote } = await p.open('big');
    expect(codeOf(() => local.send(new Uint8Array(local.info.maxFrameBytes + 1)))).toBe('FRAME_TOO_LARGE');
    const probe = patterned(1, 16);
    const got = await sendUntilSeen(reliable, ms, local, remote, probe);
    expect(sameBytes(got, probe)).toBe(true);
  });

  test('keeps many channels apart: each mount gets its own frames', async ({ kit }) => {
    const p = await kit.pair();
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

  if (reliable) {
    test('delivers every frame, in order, byte for byte, both ways', async ({ kit }) => {
      const p = await kit.pair();
      const { local, remote } = await p.open('order');
      const sizes = [0, 1, 3, 4, 17, 64, 255, 1024, 4095, 9000, 65536];
      const outbound = Array.from({ length: 300 }, (_, i) => patterned(i, Math.max(4, sizes[i % sizes.length]!)));
      const empty = new Uint8Array(0);
      local.send(empty);
      for (const frame of outbound) local.send(frame);
      const inbound = reader(remote);
      expect((await inbound.next(ms))!.length).toBe(0);
      const kept: Uint8Array[] = [];
      for (const frame of outbound) {
        const got = (await inbound.next(ms))!;
        expect(sameBytes(got, frame)).toBe(true);
        kept.push(got);
      }
      // `ownedFrames` promises a yielded frame is never written again (the manager logs it without a copy).
      if (remote.info.ownedFrames === true)
        kept.forEach((got, i) => expect(sameBytes(got, outbound[i]!), `frame ${i} changed after it was yielded`).toBe(true));
      const back = reader(local);
      for (let i = 0; i < 50; i++) remote.send(patterned(i, 10 + i));
      for (let i = 0; i < 50; i++) expect(sameBytes((await back.next(ms))!, patterned(i, 10 + i))).toBe(true);
    });

    test('carries a frame of exactly maxFrameBytes intact', async ({ kit }) => {
      const p = await kit.pair();
      const { local, remote } = await p.open('large');
      const size = Math.min(options.largeFrameBytes ?? 4 << 20, local.info.maxFrameBytes, remote.info.maxFrameBytes);
      const frame = patterned(3, size);
      local.send(frame);
      local.send(patterned(4, 8));
      const inbound = reader(remote);
      expect(sameBytes((await inbound.next(ms))!, frame)).toBe(true);
      expect(indexOf((await inbound.next(ms))!)).toBe(4);
    });
  } else {
    test('delivers only whole, intact frames, none above maxFrameBytes', async ({ kit }) => {
      const p = await kit.pair();
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

    test('carries a frame of exactly maxFrameBytes intact when it arrives', async ({ kit }) => {
      const p = await kit.pair();
      const { local, remote } = await p.open('large');
      const size = Math.min(options.largeFrameBytes ?? 4 << 20, local.info.maxFrameBytes);
      const frame = patterned(9, size);
      expect(sameBytes(await sendUntilSeen(reliable, ms, local, remote, frame), frame)).toBe(true);
    });
  }
}
