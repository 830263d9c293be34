/**
 * Calls between real `cep-node` processes, over TCP and over a Unix socket (`pipe`), when a
 * peer stops gracefully (SIGTERM) or is paused (SIGSTOP): the reply of a call in flight still
 * arrives, a paused callee never runs a call its caller has given up on, and a caller that stops
 * answers its pending HTTP invoke with a typed error. Saturn's handlers record every call they
 * run in a file (the callee's own record, readable after it exited); every test ends checking
 * that each acknowledged call ran exactly once and that nothing ran twice.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PeerHarness, RunningPeer } from './harness/peer-process.ts';
import { KEY, peerConfig, startEarth, startSaturn, until, untilActive, withPeers, type Via } from './support/federation.ts';

/**
 * Saturn's handlers for these tests, written into the harness folder. `slow` marks that it
 * started (a file `started-<id>`), blocks for `payload` ms, then records that it ran; `work`
 * only records. A record is one line `<invoke id>` appended to `ran.log`.
 */
function calleeHandlers(harness: PeerHarness): Record<string, unknown> {
  const dir = JSON.stringify(harness.dir);
  writeFileSync(
    join(harness.dir, 'slow.mjs'),
    `import { appendFileSync, writeFileSync } from 'node:fs';
export default { run(call) {
  if (call.payload?.type !== 'u64') return { status: 'reject', note: 'slow expects a u64 of ms' };
  writeFileSync(${dir} + '/started-' + call.invokeId, '');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(call.payload.value));
  appendFileSync(${dir} + '/ran.log', call.invokeId + '\\n');
  return { status: 'ok', result: call.payload };
} };`,
  );
  writeFileSync(
    join(harness.dir, 'work.mjs'),
    `import { appendFileSync } from 'node:fs';
export default { run(call) {
  appendFileSync(${dir} + '/ran.log', call.invokeId + '\\n');
  return { status: 'ok' };
} };`,
  );
  return {
    invoke: [
      { name: 'slow', module: './slow.mjs' },
      { name: 'work', module: './work.mjs' },
    ],
  };
}

/** The ids saturn's handlers ran, in order (one line each). */
function ran(harness: PeerHarness): string[] {
  const file = join(harness.dir, 'ran.log');
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => line !== '')
    : [];
}

/** Every acknowledged call ran exactly once, and no call ran twice. */
function expectOnceEach(harness: PeerHarness, acknowledged: readonly string[]): void {
  const record = ran(harness);
  expect(new Set(record).size).toBe(record.length);
  for (const id of acknowledged) expect(record.filter((r) => r === id)).toHaveLength(1);
}

/** `POST /invoke` that answers whatever the status (the harness's `invoke` rejects on a non-200). */
async function postInvoke(peer: RunningPeer, handler: string, arg?: number): Promise<{ status: number; body: any }> {
  const res = await fetch(`${peer.url}/invoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ peer: 'saturn', handler, ...(arg === undefined ? {} : { arg: String(arg) }) }),
  });
  return { status: res.status, body: await res.json() };
}

async function invokeRecords(earth: RunningPeer): Promise<Record<string, Record<string, string>>> {
  return (await earth.net('/net/organs/invoke/requests/saturn')).value.invokes ?? {};
}

describe.each<Via>(['tcp', 'pipe'])('over %s', (via) => {
  it(
    'SIGTERM of the callee during a slow handler, 3 trials: the reply arrives each time, the callee exits 0',
    withPeers(90_000, async (harness) => {
      const acknowledged: string[] = [];
      for (let trial = 0; trial < 3; trial++) {
        const { saturn, address } = await startSaturn(harness, via, { extra: calleeHandlers(harness) });
        // 20 ms beats: POST /invoke waits 200 beats, at least 4 s, well past the 1.2 s handler.
        const earth = await harness.start(
          harness.writeConfig(
            `earth-${trial}.json`,
            peerConfig('earth', { beat_ms: 20, keys: { saturn: { hex: KEY } }, peers: [{ name: 'saturn', provider: via, address }] }),
          ),
        );
        await untilActive(earth);
        const answer = earth.invoke('saturn', 'slow', 1200);
        const started = () => Promise.resolve(readdirSync(harness.dir).filter((f) => f.startsWith('started-')).length);
        await until(started, (n) => n === trial + 1, `trial ${trial}: saturn to start the slow handler`);
        saturn.signal('SIGTERM');
        const reply = await answer;
        expect(reply).toMatchObject({ status: 'ok', result: '1200' });
        acknowledged.push(reply['id']);
        expect(await saturn.waitForExit()).toEqual({ code: 0, signal: null });
        // The reply was not overtaken by the close behind it: earth recorded ok, not cancelled.
        expect((await invokeRecords(earth))[reply['id']]).toMatchObject({ state: 'ok' });
        earth.signal('SIGTERM');
        expect(await earth.waitForExit()).toEqual({ code: 0, signal: null });
      }
      expect(ran(harness)).toEqual(acknowledged);
      expectOnceEach(harness, acknowledged);
    }),
  );

  it(
    'SIGSTOP of the callee past the deadlines of 50 calls, then SIGCONT: none of them runs late (refused INVOKE_EXPIRED)',
    withPeers(60_000, async (harness) => {
      const { saturn, address } = await startSaturn(harness, via, { extra: calleeHandlers(harness) });
      const { earth } = await startEarth(harness, via, address, { mirror: false });
      await untilActive(earth);
      const warm = await earth.invoke('saturn', 'work');
      expect(warm).toMatchObject({ status: 'ok' });

      saturn.signal('SIGSTOP');
      const late = await Promise.all(Array.from({ length: 50 }, () => earth.invoke('saturn', 'work')));
      // Every one timed out on the caller (its deadline beat passed without a reply).
      expect(late.map((a) => a['status'])).toEqual(Array(50).fill('timeout'));
      saturn.signal('SIGCONT');

      // A new call on the same ordered mount: once it is answered ok, saturn has admitted the 50
      // before it. (A try refused as expired, on a machine too busy to answer in time, ran nothing
      // and is safe to repeat.)
      const fresh = await until(
        () => earth.invoke('saturn', 'work'),
        (a) => a['status'] === 'ok',
        'a call after SIGCONT to run',
      );
      const record = ran(harness);
      expect(record.filter((id) => late.some((a) => a['id'] === id))).toEqual([]);
      expect(record).toEqual([warm['id'], fresh['id']]);
      expectOnceEach(harness, [warm['id'], fresh['id']]);
      // Saturn refused each of them, typed, and said so (a fresh try refused as expired adds its own line).
      const refused = (id: string) =>
        saturn.logs.some((l) => l['topic'] === 'tp_inv_reject' && String(l['note']).includes(id) && String(l['note']).includes('expired'));
      await until(
        async () => late.filter((a) => !refused(a['id'])).length,
        (n) => n === 0,
        'saturn to log an expired refusal for each of the 50 calls',
      );
    }),
  );

  it(
    'SIGTERM of the caller with a pending POST /invoke: a typed 503 SHUTTING_DOWN answer, not a reset; the caller exits 0',
    withPeers(45_000, async (harness) => {
      const { saturn, address } = await startSaturn(harness, via, { extra: calleeHandlers(harness) });
      const file = harness.writeConfig(
        'earth.json',
        peerConfig('earth', { drain_beats: 40, keys: { saturn: { hex: KEY } }, peers: [{ name: 'saturn', provider: via, address }] }),
      );
      const earth = await harness.start(file);
      await untilActive(earth);
      const warm = await earth.invoke('saturn', 'work');
      expect(warm).toMatchObject({ status: 'ok' });

      saturn.signal('SIGSTOP');
      const pending = postInvoke(earth, 'work');
      await until(
        () => invokeRecords(earth),
        (r) => Object.values(r).some((rec) => rec['state'] === 'sent'),
        'the call to be sent',
      );
      earth.signal('SIGTERM');
      const answer = await pending;
      expect(answer.status).toBe(503);
      expect(answer.body.error.code).toBe('SHUTTING_DOWN');
      expect(await earth.waitForExit()).toEqual({ code: 0, signal: null });
      saturn.signal('SIGCONT');
      // Saturn is alive again and the record holds the acknowledged call once (the given-up one
      // may have run, at most once: the caller was told it may have).
      await until(
        () => saturn.status(),
        (s) => Number(s['beat']) > 0,
        'saturn to answer after SIGCONT',
      );
      expectOnceEach(harness, [warm['id']]);
    }),
  );
});
