/**
 * A durable caller killed with calls in flight: after its restart from its data_dir, each call
 * it had sent gets exactly one outcome, recorded in the call's record — never silence, never two.
 */
import { describe, expect, it } from 'vitest';
import type { RunningPeer } from './harness/peer-process.ts';
import { startEarth, startSaturn, until, untilActive, withPeers } from './support/federation.ts';

const CALLS = '/net/organs/invoke/requests/saturn/invokes';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type CallRecord = { state?: string; code?: string; done_beat?: string; note?: string; deadline?: string };

async function records(peer: RunningPeer): Promise<Record<string, CallRecord>> {
  return ((await peer.net(CALLS)).value as Record<string, CallRecord> | undefined) ?? {};
}

describe('a durable caller killed with calls in flight', () => {
  it(
    'kill -9 with 5 calls sent and unanswered: after the restart each has one INVOKE_CALLER_RESTARTED outcome, kept once',
    withPeers(
      100_000,
      async (harness) => {
        const { saturn, address } = await startSaturn(harness, 'tcp');
        const { earth, file } = await startEarth(harness, 'tcp', address);
        await untilActive(earth);
        expect(await earth.invoke('saturn', 'tick', 1)).toMatchObject({ status: 'ok' });
        const answered = new Set(Object.keys(await records(earth)));

        // saturn stops answering (its process is stopped, its socket still open): the calls stay in flight.
        saturn.signal('SIGSTOP');
        try {
          const N = 5;
          const clients = Array.from({ length: N }, (_, i) => earth.invoke('saturn', 'tick', 100 + i).catch((error: Error) => error));
          const inFlight = await until(
            async () => Object.entries(await records(earth)).filter(([id, r]) => !answered.has(id) && r.state === 'sent'),
            (sent) => sent.length === N,
            `earth to send the ${N} calls`,
          );
          const ids = inFlight.map(([id]) => id);
          await sleep(200); // many beats: the beats that recorded them are durable
          expect(await earth.kill9()).toEqual({ code: null, signal: 'SIGKILL' });
          for (const client of await Promise.all(clients)) expect(client).toBeInstanceOf(Error); // their HTTP clients are gone

          const restarted = await harness.start(file);
          expect((await restarted.waitForLog((l) => String(l['msg']).startsWith('store opened')))['msg']).toBe('store opened: tree restored');
          const restored = await records(restarted);
          for (const id of ids) expect(restored[id]?.state).toBe('sent'); // found in flight, no outcome yet
          const done = await until(
            async () => records(restarted),
            (r) => ids.every((id) => r[id]?.state !== 'sent'),
            'every call in flight to get its outcome',
            30_000,
          );
          for (const id of ids) {
            expect(done[id]).toMatchObject({ state: 'cancelled', code: 'INVOKE_CALLER_RESTARTED' });
            expect(String(done[id]!.note)).toContain('may have run on saturn');
            expect(Number(done[id]!.done_beat)).toBe(Number(done[id]!.deadline)); // at its deadline, not before
          }
          // saturn wakes and answers on the connection of the dead process: nothing changes, no second outcome.
          saturn.signal('SIGCONT');
          await sleep(500);
          const later = await records(restarted);
          for (const id of ids) expect(later[id]).toMatchObject({ state: 'cancelled', code: 'INVOKE_CALLER_RESTARTED', done_beat: done[id]!.done_beat });
          await untilActive(restarted);
          expect(await restarted.invoke('saturn', 'tick', 200)).toMatchObject({ status: 'ok' }); // and it calls on
        } finally {
          saturn.signal('SIGCONT');
        }
      },
      { durable: true },
    ),
    110_000,
  );
});
