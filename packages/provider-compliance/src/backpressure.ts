/**
 * Backpressure: a sender that outruns its reader is told (`backpressure`, then `ready`), and
 * one that ignores it is stopped (`CHANNEL_OVERFLOW`) on a reliable channel.
 */
import { expect } from 'vitest';
import { codeOf, indexOf, patterned, reader, record, sleep, until } from './helpers.ts';
import type { SuiteContext } from './context.ts';

export function registerBackpressure(ctx: SuiteContext): void {
  const { ms, reliable, test } = ctx;
  if (reliable) {
    test('raises backpressure when the far side stops pulling, then ready and every frame once it pulls again', async ({ kit }) => {
      const p = await kit.pair();
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

    test('throws CHANNEL_OVERFLOW when a sender ignores backpressure past its hard limit', async ({ kit }) => {
      const p = await kit.pair();
      const { local } = await p.open('overflow');
      const frame = patterned(0, Math.min(64 * 1024, local.info.maxFrameBytes));
      let code: string | undefined;
      for (let i = 0; i < 100_000 && code === undefined; i++) {
        code = codeOf(() => local.send(frame));
        if (i % 64 === 0) await sleep(1);
      }
      expect(code).toBe('CHANNEL_OVERFLOW');
    });
  } else {
    test('answers send() with ready or backpressure and keeps events flowing', async ({ kit }) => {
      const p = await kit.pair();
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
