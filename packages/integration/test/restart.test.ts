/**
 * Quick restarts of real `cep-node` processes, over TCP and over a Unix socket (`pipe`): the
 * mirror source, then the receiver, killed with SIGKILL and started again from the same config
 * at once — inside the dialler's reconnect window, so the channel comes back to a new process and
 * only the session id in the handshake says so. Five rounds each; after every round the copy has
 * the source's digest, and each run ends checking that nothing acknowledged is missing and nothing
 * was applied twice. Waits are on conditions (with generous bounds), never on timings.
 */
import { describe, expect, it } from 'vitest';
import type { RunningPeer } from './harness/peer-process.ts';
import { COPY, afterTicks, drive, startEarth, startSaturn, until, untilActive, untilMirrored, withPeers, type Via } from './support/federation.ts';

const ROUNDS = 5;
/** Per test: five restarts of a process, each bounded by the harness; far above what a loaded machine needs. */
const BOUND_MS = 170_000;

/** The remote session a peer recorded for its mirror mount `peer/mirror/sky`. */
async function session(node: RunningPeer, peer: string): Promise<{ session?: string; session_seq?: string }> {
  return (await node.net(`/net/mounts/${peer}/mirror/sky`)).value;
}

/** `earth.invoke`, again until it answers ok (the invoke mount may be redialling a restarted saturn). */
async function invokeOk(earth: RunningPeer, handler: string, arg: number): Promise<void> {
  await until(
    () => earth.invoke('saturn', handler, arg).catch((error: Error) => ({ status: error.message })),
    (a) => a['status'] === 'ok',
    `${handler} ${arg} to answer ok`,
  );
}

/**
 * Nothing acknowledged is missing, nothing applied twice: saturn's publication has nothing in
 * flight and its last sealed bundle is the one acknowledged; earth applied exactly that one last,
 * in the same epoch; its dossier shows the epoch's bundles as one unbroken run, each applied once,
 * ending at that seq.
 */
async function settledOnce(earth: RunningPeer, saturn: RunningPeer): Promise<void> {
  const serving = await until(
    async () => (await saturn.net('/net/organs/mirror/serving/earth/sky')).value,
    (s) => s.inflight === '0' && s.state === 'live',
    "saturn's publication to have nothing in flight",
  );
  expect(serving.acked).toBe(serving.seq);
  const request = await until(
    async () => (await earth.net('/net/organs/mirror/requests/1')).value,
    (r) => r.bundle_seq === serving.seq,
    "earth's request to have applied saturn's last bundle",
  );
  expect(request).toMatchObject({ state: 'active', pend_resum: `${serving.epoch}:${serving.seq}` });
  const dossier = (await earth.net(`/rt/ops/${request.op}`)).value;
  expect(dossier.mirror.epoch).toBe(serving.epoch);
  const seqs = Object.keys(dossier.bundles).map(Number);
  const last = Number(serving.seq);
  // The newest 16 are kept: a run that ends at the last seq, without gaps or repeats.
  expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => last - seqs.length + 1 + i));
  for (const bundle of Object.values(dossier.bundles) as Array<Record<string, string>>) {
    expect(bundle).toMatchObject({ epoch: serving.epoch });
    expect(bundle['applied_beat']).toBeDefined();
  }
}

describe.each<Via>(['tcp', 'pipe'])('quick restarts over %s', (via) => {
  it(
    `kill -9 of the mirror source, restarted at once, ${ROUNDS} rounds: the receiver sees a new session each time, resubscribes and converges`,
    withPeers(BOUND_MS - 5_000, async (harness) => {
      const started = await startSaturn(harness, via, { fixedPort: true });
      let saturn = started.saturn;
      const { earth } = await startEarth(harness, via, started.address);
      await untilActive(earth);
      await invokeOk(earth, 'sky', 200);
      await untilMirrored(earth, saturn);
      const first = await until(
        () => session(earth, 'saturn'),
        (s) => s.session_seq === '1',
        "earth to record saturn's first session",
      );

      const seen = new Set([first.session]);
      for (let round = 1; round <= ROUNDS; round++) {
        expect(await saturn.kill9()).toEqual({ code: null, signal: 'SIGKILL' });
        // The same config at once: same address, nothing persisted, a new process (new session).
        saturn = await harness.start(started.file);
        await saturn.waitForLog((l) => l['msg'] === 'listening' && l['provider'] === via);
        const now = await until(
          () => session(earth, 'saturn'),
          (s) => s.session_seq === String(round + 1),
          `earth to record saturn's session ${round + 1}`,
        );
        expect(seen.has(now.session)).toBe(false);
        seen.add(now.session);
        // The new saturn's branch: a fill of its own, then ticks 1..round; the copy follows it.
        await invokeOk(earth, 'sky', 100 + round);
        await drive(earth, 1, round);
        const { cells } = await untilMirrored(earth, saturn, `round ${round}: earth's copy to reach the restarted saturn's digest`);
        expect(cells).toBeGreaterThan(100);
        expect((await earth.net(`${COPY}/count`)).value).toBe(String(round));
      }
      await settledOnce(earth, saturn);
    }),
    BOUND_MS,
  );

  it(
    `kill -9 of the mirror receiver, restarted at once, ${ROUNDS} rounds: saturn sees a new session each time, the copy converges`,
    withPeers(BOUND_MS - 5_000, async (harness) => {
      const { saturn, address } = await startSaturn(harness, via);
      const started = await startEarth(harness, via, address);
      let earth = started.earth;
      await untilActive(earth);
      await invokeOk(earth, 'sky', 200);
      await untilMirrored(earth, saturn);
      await until(
        () => session(saturn, 'earth'),
        (s) => s.session_seq === '1',
        "saturn to record earth's first session",
      );

      for (let round = 1; round <= ROUNDS; round++) {
        expect(await earth.kill9()).toEqual({ code: null, signal: 'SIGKILL' });
        earth = await harness.start(started.file);
        await until(
          () => session(saturn, 'earth'),
          (s) => s.session_seq === String(round + 1),
          `saturn to record earth's session ${round + 1}`,
        );
        await untilActive(earth);
        await drive(earth, round, round);
        await untilMirrored(earth, saturn, `round ${round}: the restarted earth's copy to reach saturn's digest`);
        expect(await earth.net(`${COPY}`).then((a) => ({ log: a.value.log, count: a.value.count }))).toEqual({
          log: afterTicks(round).log,
          count: String(round),
        });
      }
      await settledOnce(earth, saturn);
    }),
    BOUND_MS,
  );
});
