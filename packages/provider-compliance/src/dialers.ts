/**
 * Several dialers on one listener: two peers open the same mount at once and get two channels
 * that never mix their frames, and one closing leaves the other working.
 */
import { expect } from 'vitest';
import type { ChannelV1 } from '@cep/provider-spec';
import type { SuiteContext } from './context.ts';
import { indexOf, patterned, reader, record, until, within } from './helpers.ts';

export function registerDialers(ctx: SuiteContext): void {
  const { ms, reliable, test } = ctx;

  test('keeps two dialers on one listener apart: the same mount, two channels, each with its own frames both ways', async ({ kit }) => {
    const p = await kit.pair();
    if (p.env.secondDialer === undefined) {
      throw new Error(`${ctx.options.name}: setup() gave no secondDialer(); give one (a dialler the listener trusts under another peer name)`);
    }
    const second = p.env.secondDialer();
    kit.release(() => second.dialer.close());
    expect(second.peer).not.toBe(p.env.dialerPeer);
    const open = (dialer: typeof second.dialer, localNode: string): Promise<ChannelV1> =>
      within(
        ms,
        `open(shared) as ${localNode}`,
        dialer.open({ peer: p.env.listenerPeer, mode: 'link', mount: 'shared', localNode, address: p.listener.address }),
      );
    const [first, other] = await Promise.all([open(p.env.dialer, p.env.dialerPeer), open(second.dialer, second.peer)]);
    await until(ms, 'the listener to accept both', () => p.accepted.filter((c) => c.info.mount === 'shared').length === 2);
    const byPeer = (peer: string): ChannelV1 => {
      const found = p.accepted.find((c) => c.info.mount === 'shared' && c.info.peer === peer);
      if (found === undefined) throw new Error(`no accepted channel for ${peer}`);
      return found;
    };
    const fromFirst = byPeer(p.env.dialerPeer);
    const fromOther = byPeer(second.peer);
    expect(fromFirst).not.toBe(fromOther);

    const count = reliable ? 30 : 10;
    const wait = reliable ? ms : 500;
    const readers = new Map([fromFirst, fromOther, first, other].map((c) => [c, reader(c)]));
    const check = async (channel: ChannelV1, base: number, minimum: number): Promise<void> => {
      const got = await readers.get(channel)!.drain(count, wait);
      if (reliable) expect(got.map(indexOf)).toEqual(Array.from({ length: count }, (_, i) => base + i));
      expect(got.length).toBeGreaterThanOrEqual(minimum);
      for (const frame of got) expect(Math.floor(indexOf(frame) / 1000)).toBe(base / 1000);
    };
    for (let i = 0; i < count; i++) {
      first.send(patterned(1000 + i, 24));
      other.send(patterned(2000 + i, 40));
      fromFirst.send(patterned(3000 + i, 24));
      fromOther.send(patterned(4000 + i, 40));
    }
    const some = reliable ? count : 1;
    await Promise.all([check(fromFirst, 1000, some), check(fromOther, 2000, some), check(first, 3000, some), check(other, 4000, some)]);

    // One dialer leaves: the other's channel still carries frames.
    const events = record(fromOther);
    await within(ms, 'close() of the first dialer', first.close('done'));
    const after = readers.get(fromOther)!;
    const probe = readers.get(other)!;
    for (let attempt = 0; attempt < (reliable ? 1 : 10); attempt++) {
      other.send(patterned(2500, 16));
      fromOther.send(patterned(4500, 16));
      const [seen] = await after.drain(1, reliable ? ms : 200);
      if (seen !== undefined) {
        // An unreliable channel may still hand over a late frame of the first batch: same dialer, though.
        if (reliable) expect(indexOf(seen)).toBe(2500);
        else expect(Math.floor(indexOf(seen) / 1000)).toBe(2);
        break;
      }
      if (attempt === (reliable ? 0 : 9)) throw new Error('the second dialer carried nothing after the first closed');
    }
    const [back] = await probe.drain(1, reliable ? ms : 2000);
    if (reliable) expect(back === undefined ? undefined : indexOf(back)).toBe(4500);
    expect(events.some((e) => e.type === 'closed')).toBe(false);
  });
}
