/**
 * Sessions (an optional capability): the remote session id survives a plain reconnect and
 * changes when the listener restarts.
 */
import { expect } from 'vitest';
import type { ChannelV1 } from '@cep/provider-spec';
import { indexOf, patterned, reader, record, until, within } from './helpers.ts';
import type { SuiteContext } from './context.ts';
import type { SessionCompliance } from './types.ts';

export function registerSessions(ctx: SuiteContext, sessions: SessionCompliance): void {
  const { ms, test } = ctx;
  test('tells the remote session: the same after a plain reconnect, a new one after the listener restarted', async () => {
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
