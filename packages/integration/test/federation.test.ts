/**
 * Happy paths between real `cep-node` processes, over TCP and over a Unix socket (`pipe`):
 * saturn listens and exposes handlers; earth links to it, invokes it, and mirrors its /data/sky.
 */
import { describe, expect, it } from 'vitest';
import { COPY, SKY, startEarth, startSaturn, until, untilActive, untilMirrored, withPeers, type Via } from './support/federation.ts';

describe.each<Via>(['tcp', 'pipe'])('earth and saturn as two processes over %s', (via) => {
  it(
    'link, invoke (add 41 → 42) and mirror (equal digests, every sealed bundle applied and acknowledged)',
    withPeers(30_000, async (harness) => {
      const { saturn, address } = await startSaturn(harness, via);
      const { earth } = await startEarth(harness, via, address);
      expect(await untilActive(earth)).toEqual({ link: 'active', invoke: 'active', mirror: 'active' });

      // Every mount earth dialled went over `via`, authenticated, with the serializer features on.
      const mounts = (await earth.net('/net/mounts/saturn')).value;
      for (const [mode, mount] of [
        ['link', 'main'],
        ['invoke', 'invoke'],
        ['mirror', 'sky'],
      ] as const) {
        expect(mounts[mode][mount], `${mode}/${mount}`).toMatchObject({
          state: 'open',
          transport: { provider: via },
          serializer: { aead_ok: true, crc32c_ok: true },
        });
      }
      // Saturn accepted the same three, as earth's.
      const accepted = (await saturn.net('/net/mounts/earth')).value;
      expect(
        Object.fromEntries(
          Object.entries(accepted).map(([mode, m]) => [
            mode,
            Object.fromEntries(Object.entries(m as object).map(([k, v]) => [k, (v as { state: string }).state])),
          ]),
        ),
      ).toEqual({
        link: { main: 'open' },
        invoke: { invoke: 'open' },
        mirror: { sky: 'open' },
      });

      expect(await earth.invoke('saturn', 'add', 41)).toMatchObject({ status: 'ok', result: '42' });

      // Saturn's branch changes only through invokes: a 400-cell fill, then ticks (values,
      // overwrites, list appends, deletes). The copy follows, bundle by bundle.
      expect(await earth.invoke('saturn', 'sky', 400)).toMatchObject({ status: 'ok', result: '400' });
      for (let k = 1; k <= 6; k++) expect(await earth.invoke('saturn', 'tick', k)).toMatchObject({ status: 'ok', result: String(k) });
      const { cells } = await untilMirrored(earth, saturn);
      expect(cells).toBeGreaterThan(400);
      expect((await earth.net(`${COPY}/log`)).value).toEqual(['tick 1', 'tick 2', 'tick 3', 'tick 4', 'tick 5', 'tick 6']);
      expect(Object.keys((await earth.net(`${COPY}/ticks`)).value)).toEqual(['4', '5', '6']);
      expect((await earth.net(`${COPY}/count`)).value).toBe('6');

      // Bookkeeping on both sides agrees: the last bundle saturn sealed is the last earth applied
      // and acknowledged, nothing is in flight.
      const serving = await until(
        async () => (await saturn.net('/net/organs/mirror/serving/earth/sky')).value,
        (s) => s.inflight === '0',
        "saturn's publication to have nothing in flight",
      );
      const request = (await earth.net('/net/organs/mirror/requests/1')).value;
      expect(serving).toMatchObject({ src_chan: SKY, state: 'live', acked: serving.seq });
      expect(request).toMatchObject({ state: 'active', provider: via, bundle_seq: serving.seq, pend_resum: `${serving.epoch}:${serving.seq}` });
    }),
  );
});
