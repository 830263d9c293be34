/**
 * A durable mirror SOURCE (`cep-node` with its store in `data_dir`) killed with SIGKILL at
 * several moments while its branch changes under a mirror load, and restarted from the same
 * config and data_dir: the receiver continues the same epoch — the source's serving record
 * keeps it, the bundles after the restart carry only what the receiver had not applied, none is
 * a snapshot — and its copy converges to the source's digest. Waits are on conditions, never on
 * timings; the kill moments are random.
 */
import { describe, expect, it } from 'vitest';
import type { RunningPeer } from './harness/peer-process.ts';
import { COPY, SKY, drive, startEarth, startSaturn, until, untilActive, untilMirrored, withPeers } from './support/federation.ts';

const ROUNDS = 4;
const BOUND_MS = 170_000;

/** The epoch and seq of earth's token (`pend_resum`, written with the data it describes). */
async function token(earth: RunningPeer): Promise<{ epoch: string; seq: number }> {
  const request = (await earth.net('/net/organs/mirror/requests/1')).value;
  const [epoch, seq] = String(request.pend_resum).split(':');
  return { epoch: epoch!, seq: Number(seq) };
}

/** Ticks from..to through earth, each retried until saturn answers (it may be restarting). */
async function ticks(earth: RunningPeer, from: number, to: number): Promise<void> {
  for (let k = from; k <= to; k++) {
    await until(
      () => earth.invoke('saturn', 'tick', k).catch((error: Error) => ({ status: error.message })),
      (a) => a['status'] === 'ok',
      `tick ${k} to answer ok`,
    );
  }
}

describe('a durable mirror source', () => {
  it(
    `kill -9 at ${ROUNDS} random moments of a mirror load, restarted from its data_dir: the same epoch, no snapshot after a restart, the copy converges`,
    withPeers(
      BOUND_MS - 5_000,
      async (harness) => {
        const started = await startSaturn(harness, 'tcp', { fixedPort: true });
        let saturn = started.saturn;
        const { earth } = await startEarth(harness, 'tcp', started.address);
        await untilActive(earth);
        await until(
          () => earth.invoke('saturn', 'sky', 600).catch((error: Error) => ({ status: error.message })),
          (a) => a['status'] === 'ok',
          'the sky fill to answer ok',
        );
        await drive(earth, 1, 4);
        await untilMirrored(earth, saturn);
        const { epoch } = await token(earth);
        let tick = 4;

        for (let round = 1; round <= ROUNDS; round++) {
          // Load while the kill lands: ticks change the branch (sets, a list append, deletes);
          // the kill comes after a random 0–120 ms, somewhere in sealing, sending or acknowledging.
          const from = tick + 1;
          tick += 8;
          const load = drive(earth, from, tick).catch(() => undefined);
          await new Promise((r) => setTimeout(r, Math.random() * 120));
          const before = await token(earth);
          expect(await saturn.kill9()).toEqual({ code: null, signal: 'SIGKILL' });
          await load;
          saturn = await harness.start(started.file);
          const opened = await saturn.waitForLog((l) => String(l['msg']).startsWith('store opened'));
          expect(opened['msg']).toBe('store opened: tree restored');
          await saturn.waitForLog((l) => l['msg'] === 'listening' && l['provider'] === 'tcp');
          // Whatever the kill interrupted is redone: every tick of the round again (a tick rewrites the same cells).
          await ticks(earth, from, tick);
          await untilMirrored(earth, saturn, `round ${round}: earth's copy to reach the restarted saturn's digest`);

          const after = await token(earth);
          expect(after.epoch).toBe(epoch);
          expect(after.seq).toBeGreaterThanOrEqual(before.seq);
          const serving = (await saturn.net('/net/organs/mirror/serving/earth/sky')).value;
          expect(serving).toMatchObject({ epoch, state: 'live' });
          // The restarted source's own record of every bundle it sealed: this epoch, never a snapshot.
          const pub = (await saturn.net(`/rt/ops/${serving.op}`)).value;
          expect(pub.envelope.epoch).toBe(epoch);
          expect(pub.mirror.continued).toMatch(new RegExp(`^${epoch.replace('.', '\\.')}:\\d+$`));
          for (const bundle of Object.values(pub.bundles ?? {}) as Array<Record<string, unknown>>) {
            expect(bundle['epoch']).toBe(epoch);
            expect(bundle['snapshot']).toBe(false);
          }
          // The receiver's side: resumed, the same epoch, its bundles one unbroken run.
          const request = (await earth.net('/net/organs/mirror/requests/1')).value;
          const dossier = (await earth.net(`/rt/ops/${request.op}`)).value;
          expect(dossier.mirror).toMatchObject({ epoch, resumed: true });
          const seqs = Object.keys(dossier.bundles ?? {}).map(Number);
          expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => after.seq - seqs.length + 1 + i));
        }
        // The copy holds what the ticks wrote last (a tick redone after a kill appends to the log again, on both sides).
        const copy = (await earth.net(COPY)).value;
        expect(copy.count).toBe(String(tick));
        expect((await saturn.net(SKY)).value.log).toEqual(copy.log);
        const receiver = (await earth.net('/net/organs/mirror/requests/1')).value;
        expect(String(receiver.pend_resum).split(':')[0]).toBe(epoch);
      },
      { durable: true },
    ),
    BOUND_MS,
  );
});
