/**
 * Faults between real `cep-node` processes, over TCP and over a Unix socket (`pipe`): a peer
 * killed with SIGKILL on either side of a mirror or an invoke, a peer holding the wrong key,
 * and a client that writes garbage at saturn's listener.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { tcp } from '@cep/provider-tcp';
import type { RunningPeer } from './harness/peer-process.ts';
import {
  COPY,
  WRONG_KEY,
  afterTicks,
  ceh,
  drive,
  requestStates,
  startEarth,
  startLuna,
  startSaturn,
  until,
  untilActive,
  untilMirrored,
  withPeers,
  type Via,
} from './support/federation.ts';

/** Earth's records of its invokes to saturn, by invoke id. */
async function invokeRecords(earth: RunningPeer): Promise<Record<string, Record<string, string>>> {
  return (await earth.net('/net/organs/invoke/requests/saturn')).value.invokes ?? {};
}

/** What earth's copy and saturn's source hold, as the tick handler leaves them. */
async function copyOf(earth: RunningPeer): Promise<{ log: string[]; ticks: string[]; count: string }> {
  const copy = (await earth.net(COPY)).value;
  return { log: copy.log, ticks: Object.keys(copy.ticks), count: copy.count };
}

describe.each<Via>(['tcp', 'pipe'])('over %s', (via) => {
  // Across a restart with nothing persisted, earth has no resume token (pend_resum lived in its
  // tree), so "resume" means re-sync: earth subscribes from scratch, saturn drops the old
  // epoch's publication (its unacknowledged bundles are never sent again) and starts a new
  // epoch whose first bundle is a snapshot of the whole branch, then deltas. What holds, and is
  // checked: nothing saturn wrote is lost (the copy equals saturn's branch, including every tick
  // written while earth was down), and the new epoch's bundles 1..n were each applied once, in
  // order, and acknowledged (earth's dossier, earth's bundle_seq, saturn's seq and acked agree).
  it(
    'kill -9 of the receiving peer mid-mirror, restarted from the same config: a new epoch re-syncs, nothing lost, bundles 1..n applied once',
    withPeers(35_000, async (harness) => {
      const { saturn, address } = await startSaturn(harness, via);
      const [{ earth, file }, luna] = await Promise.all([startEarth(harness, via, address), startLuna(harness, via, address)]);
      await Promise.all([
        untilActive(earth),
        until(
          () => requestStates(luna),
          (s) => s.invoke === 'active',
          "luna's invoke request to go active",
        ),
      ]);

      // Saturn's branch changes only through luna's invokes, so earth can come and go meanwhile.
      expect(await luna.invoke('saturn', 'sky', 400)).toMatchObject({ status: 'ok' });
      await drive(luna, 1, 8);
      await until(
        () => earth.net(`${COPY}/count`).then((a) => Number(a.value)),
        (n) => n >= 1,
        'the mirror to ship ticks to earth',
      );
      const before = (await earth.net('/net/organs/mirror/requests/1')).value;
      const oldEpoch = String(before.pend_resum).split(':')[0];
      const oldServing = (await saturn.net('/net/organs/mirror/serving/earth/sky')).value;
      expect(oldServing.epoch).toBe(oldEpoch);

      // Killed while ticks 9..20 are being written (and bundles are in flight).
      const downWhile = drive(luna, 9, 20);
      expect(await earth.kill9()).toEqual({ code: null, signal: 'SIGKILL' });
      await downWhile;
      await until(
        async () => (await saturn.net('/net/organs/mirror/serving/earth/sky')).value.state,
        (s) => s === 'lost',
        "saturn to notice earth's channel is gone",
      );

      // The same config again, while ticks 21..30 keep saturn's branch moving.
      const [restarted] = await Promise.all([harness.start(file), drive(luna, 21, 30)]);
      await untilActive(restarted);
      const { cells } = await untilMirrored(restarted, saturn);
      expect(cells).toBeGreaterThan(400);
      expect(await copyOf(restarted)).toEqual(afterTicks(30));

      const serving = await until(
        async () => (await saturn.net('/net/organs/mirror/serving/earth/sky')).value,
        (s) => s.inflight === '0',
        "saturn's publication to have nothing in flight",
      );
      const request = (await restarted.net('/net/organs/mirror/requests/1')).value;
      const newEpoch = String(request.pend_resum).split(':')[0];
      expect(newEpoch).not.toBe(oldEpoch);
      expect(serving).toMatchObject({ epoch: newEpoch, state: 'live', acked: serving.seq });
      expect(request).toMatchObject({ state: 'active', bundle_seq: serving.seq, pend_resum: `${newEpoch}:${serving.seq}` });

      // Earth's dossier of the new subscription: no token to resume from; bundles 1..n of the new
      // epoch, each applied (a dossier keeps the newest 16; ticks 21..30 make at most 11).
      const dossier = (await restarted.net(`/rt/ops/${request.op}`)).value;
      expect(dossier.mirror).toMatchObject({ epoch: newEpoch, resumed: false, token: '' });
      const n = Number(serving.seq);
      expect(Object.keys(dossier.bundles)).toEqual(Array.from({ length: n }, (_, i) => String(i + 1)));
      for (const bundle of Object.values(dossier.bundles) as Array<Record<string, string>>) {
        expect(bundle).toMatchObject({ epoch: newEpoch, applied_beat: bundle['received_beat'] });
      }
      // Saturn ended the old epoch's publication: cancelled, never resumed into the new copy.
      expect(serving.op).not.toBe(oldServing.op);
      expect((await saturn.net(`/rt/ops/${oldServing.op}/close`)).value).toMatchObject({ status: 'cxl', summary: 'superseded by a new subscription' });
      expect(Object.keys((await saturn.net('/net/organs/mirror/serving')).value)).toEqual(['earth']);
      // No bundle arrived out of order or failed to apply on the restarted earth.
      expect(Object.keys(await ceh(restarted, 'saturn')).filter((t) => t === 'tp_schema' || t === 'tp_mconf')).toEqual([]);
    }),
  );

  it(
    'kill -9 of the invoked peer: calls in flight and calls after it time out at their deadline beat (tp_inv_timeout); saturn restarted, calls work again',
    withPeers(35_000, async (harness) => {
      const { saturn, address, file } = await startSaturn(harness, via, { fixedPort: true });
      const { earth } = await startEarth(harness, via, address, { mirror: false });
      await untilActive(earth);
      expect(await earth.invoke('saturn', 'add', 41)).toMatchObject({ status: 'ok', result: '42' });

      // A call in flight when saturn dies: saturn is stopped first so it cannot answer, the call is
      // sent (earth's record says so), then saturn is killed. A second call goes after the kill.
      saturn.signal('SIGSTOP');
      const inFlight = earth.invoke('saturn', 'add', 1);
      await until(
        () => invokeRecords(earth),
        (r) => Object.values(r).some((rec) => rec['state'] === 'sent'),
        'the in-flight call to be sent',
      );
      expect(await saturn.kill9()).toEqual({ code: null, signal: 'SIGKILL' });
      const afterKill = earth.invoke('saturn', 'add', 2);
      const answers = await Promise.all([inFlight, afterKill]);

      const records = await invokeRecords(earth);
      for (const answer of answers) {
        const record = records[answer['id']]!;
        // The deadline beat is the send beat plus the timeout (200 beats for POST /invoke), and
        // the outcome is recorded in exactly that beat.
        expect(record).toMatchObject({ state: 'timeout', deadline: String(Number(record['sent_beat']) + 200), done_beat: record['deadline'] });
        expect(answer).toMatchObject({ status: 'timeout', beats: 200, note: `no reply by deadline beat ${record['deadline']}` });
        // (Waited for: the log line travels on stdout, the answer on another socket.)
        expect(await earth.waitForLog((l) => l['topic'] === 'tp_inv_timeout' && String(l['note']).includes(answer['id']))).toMatchObject({
          msg: 'cei fact',
          beat: Number(record['deadline']),
          remote: 'saturn',
          severity: 'error',
        });
      }
      // The CEI mirror keeps the latest fact per topic: the second call's.
      const latest = answers[1]!;
      expect((await ceh(earth, 'saturn'))['tp_inv_timeout']).toMatchObject({ beat: records[latest['id']]!['deadline'], severity: 'error' });
      expect((await ceh(earth, 'saturn'))['tp_inv_timeout']!.note).toContain(latest['id']);
      // Meanwhile the dialler is redialling: earth's link is not given up.
      expect((await requestStates(earth)).link).toBe('active');

      // Saturn back on the same address: earth's channels reconnect and calls work again; the
      // calls that timed out stay timed out (completion is reported once; a late reply changes nothing).
      const back = await harness.start(file);
      await until(
        async () => (await back.net('/net/mounts/earth')).value.invoke?.invoke?.state,
        (s) => s === 'open',
        'earth to reconnect its invoke mount to the restarted saturn',
      );
      expect(await earth.invoke('saturn', 'add', 41)).toMatchObject({ status: 'ok', result: '42' });
      const final = await invokeRecords(earth);
      for (const answer of answers) expect(final[answer['id']]).toEqual(records[answer['id']]);
    }),
  );

  it(
    "a peer with the wrong key is refused: earth's requests never go active, tp_fatal says AUTH_FAILED; saturn still serves a peer with the right key",
    withPeers(30_000, async (harness) => {
      const { saturn, address } = await startSaturn(harness, via);
      const { earth } = await startEarth(harness, via, address, { key: WRONG_KEY });
      const states = await until(
        () => requestStates(earth),
        (s) => s.link === 'error' && s.invoke === 'error',
        "earth's link and invoke requests to end in error",
      );
      expect(states.mirror).not.toBe('active');
      // A request shows its error note while it waits between redials (a redial in progress clears
      // it), so the notes are read when both requests are in such a wait.
      const refused = /AUTH_FAILED.*did not prove it holds the configured key/;
      const organs = await until(
        async () => (await earth.net('/net/organs')).value,
        (o) => [o.link.requests['1'], o.invoke.requests.saturn].every((r) => refused.test(String(r.error_note))),
        "earth's link and invoke requests to show why they were refused",
      );
      for (const request of [organs.link.requests['1'], organs.invoke.requests.saturn]) expect(request.error_note).toMatch(refused);
      const fatal = (await ceh(earth, 'saturn'))['tp_fatal'];
      expect(fatal!.note).toMatch(/AUTH_FAILED/);
      // The first refusal of a mount is told at error, the same refusal again (a redial) at warn.
      expect(await earth.waitForLog((l) => l['topic'] === 'tp_fatal' && String(l['note']).includes('AUTH_FAILED'))).toMatchObject({ severity: 'error' });
      // A call made while a redial is scheduled is refused at once. (One made while a redial is
      // dialling would be queued and then cancelled.) After four failed redials the next one is
      // 128 beats away, a window the call cannot miss.
      await until(
        async () => (await earth.net('/net/organs/invoke/requests/saturn')).value,
        (r) => Number(r.retries ?? 0) >= 4 && r.retry_beat !== undefined,
        "earth's invoke request to wait between redials",
      );
      await expect(earth.invoke('saturn', 'add', 41)).rejects.toThrow(/400.*INVOKE_NOT_READY/);
      expect(await earth.waitForLog((l) => l['topic'] === 'tp_fatal' && l['severity'] === 'warn')).toMatchObject({ msg: 'cei fact' });

      // The refusal is about earth's key: luna, holding the right one, is served by the same saturn.
      const luna = await startLuna(harness, via, address);
      await until(
        () => requestStates(luna),
        (s) => s.invoke === 'active',
        "luna's invoke request to go active",
      );
      expect(await luna.invoke('saturn', 'add', 41)).toMatchObject({ status: 'ok', result: '42' });
      // Earth never got in: saturn holds mounts for luna only, and earth's mirror never went active.
      expect(Object.keys((await saturn.net('/net/mounts')).value)).toEqual(['luna']);
      expect((await requestStates(earth)).mirror).not.toBe('active');
      expect((await earth.net('/net/organs/mirror/requests/1')).value.bundle_seq).toBe('0');
    }),
  );

  it(
    "a client writing garbage at saturn's listener, again and again, does not disturb the mounts between earth and saturn",
    withPeers(30_000, async (harness) => {
      const { saturn, address } = await startSaturn(harness, via);
      const { earth } = await startEarth(harness, via, address);
      await untilActive(earth);
      // One connection starts a handshake and then says nothing, for the whole test.
      const stuck = await rawConnect(via, address);
      stuck.write(Uint8Array.from([0x00, 0x80, 0x43, 0x45]));
      try {
        expect(await earth.invoke('saturn', 'sky', 200)).toMatchObject({ status: 'ok' });
        for (const [round, bytes] of GARBAGE.entries()) {
          // Garbage and earth's invokes (and the bundles they cause) at the same time.
          await Promise.all([spew(via, address, bytes), drive(earth, round * 3 + 1, round * 3 + 3)]);
        }
        await untilMirrored(earth, saturn);
        expect(await copyOf(earth)).toEqual(afterTicks(GARBAGE.length * 3));
        expect(await earth.invoke('saturn', 'add', 41)).toMatchObject({ status: 'ok', result: '42' });
      } finally {
        stuck.destroy();
      }
      expect(await requestStates(earth)).toEqual({ link: 'active', invoke: 'active', mirror: 'active' });
      // None of earth's channels broke, on either side.
      expect(Object.keys(await ceh(earth, 'saturn'))).not.toContain('tp_fatal');
      expect(Object.keys(await ceh(saturn, 'earth'))).not.toContain('tp_fatal');
      const telemetry = (await saturn.net('/net/telemetry/earth')).value;
      expect(Object.keys(telemetry).sort()).toEqual(['invoke', 'main', 'sky']);
      for (const mount of Object.values(telemetry) as Array<Record<string, string>>) expect(mount['fatal_count']).toBe('0');
    }),
  );
});

// Both peers stay up; only the TCP connection between them breaks (a proxy in this process
// that the test cuts). This is where the resume token matters: earth's channels redial, saturn
// sees its accepted channels die and come back, and resends every bundle not yet
// acknowledged; earth applies what it lacks and only acknowledges again what it has.
it(
  'a connection cut mid-mirror (both peers alive): the same epoch and publication go on, nothing lost, no re-sync',
  withPeers(30_000, async (harness) => {
    const { saturn, address } = await startSaturn(harness, 'tcp');
    const proxy = await cuttableProxy(address);
    try {
      // Earth reaches saturn through the proxy; luna (the driver) directly, so its calls are not cut.
      const [{ earth }, luna] = await Promise.all([startEarth(harness, 'tcp', proxy.address), startLuna(harness, 'tcp', address)]);
      await Promise.all([
        untilActive(earth),
        until(
          () => requestStates(luna),
          (s) => s.invoke === 'active',
          "luna's invoke request to go active",
        ),
      ]);
      await drive(luna, 1, 10);
      await untilMirrored(earth, saturn);
      const before = (await earth.net('/net/organs/mirror/requests/1')).value;
      const servingBefore = (await saturn.net('/net/organs/mirror/serving/earth/sky')).value;

      // Cut every connection while ticks 11..30 are being written and shipped.
      const driving = drive(luna, 11, 30);
      await until(
        () => earth.net(`${COPY}/count`).then((a) => Number(a.value)),
        (n) => n >= 12,
        'the mirror to be shipping ticks after 11',
      );
      expect(proxy.cut()).toBeGreaterThan(0);
      await driving;
      const { cells } = await untilMirrored(earth, saturn);
      expect(cells).toBeGreaterThan(30);
      expect(await copyOf(earth)).toEqual(afterTicks(30));

      // The break was real: saturn's accepted mirror channel died without a goodbye.
      expect((await ceh(saturn, 'earth'))['tp_fatal']?.note).toMatch(/CONNECTION_LOST/);
      // The same subscription and the same publication carried on: no new epoch, no snapshot.
      const serving = await until(
        async () => (await saturn.net('/net/organs/mirror/serving/earth/sky')).value,
        (s) => s.inflight === '0',
        "saturn's publication to have nothing in flight",
      );
      const request = (await earth.net('/net/organs/mirror/requests/1')).value;
      expect(serving).toMatchObject({ epoch: servingBefore.epoch, op: servingBefore.op, state: 'live', acked: serving.seq });
      expect(request).toMatchObject({ state: 'active', op: before.op, bundle_seq: serving.seq, pend_resum: `${servingBefore.epoch}:${serving.seq}` });
      expect(Number(serving.seq)).toBeGreaterThan(Number(before.bundle_seq));
      const sealed = (await saturn.net(`/rt/ops/${serving.op}/bundles`)).value as Record<string, Record<string, unknown>>;
      // (Acks are cumulative, so not every bundle carries its own acked_beat: `acked` above covers them.)
      for (const bundle of Object.values(sealed)) expect(bundle).toMatchObject({ epoch: servingBefore.epoch, snapshot: false });
      // Earth applied the newest bundles each once, in order, with no gap (the dossier keeps 16).
      const applied = Object.keys((await earth.net(`/rt/ops/${request.op}/bundles`)).value).map(Number);
      const n = Number(serving.seq);
      expect(applied).toEqual(Array.from({ length: applied.length }, (_, i) => n - applied.length + i + 1));
      expect(Object.keys(await ceh(earth, 'saturn')).filter((t) => t === 'tp_schema' || t === 'tp_mconf')).toEqual([]);
    } finally {
      await proxy.close();
    }
  }),
);

// Refusals reach the manager through the listener's onReject (fixed in stream-session and provider-udp).
it(
  "saturn's tcp listener counts refused connections (garbage, a wrong key) in /net/listeners/tcp/rejected and logs tp_fatal",
  withPeers(20_000, async (harness) => {
    const { saturn, address } = await startSaturn(harness, 'tcp');
    for (const bytes of GARBAGE.slice(0, 2)) await spew('tcp', address, bytes);
    // A wrong-key dial from this process (the same handshake a wrong-key cep-node makes).
    const wrong = tcp({ localPeer: 'earth', keys: { saturn: Buffer.from(WRONG_KEY, 'hex') } });
    try {
      await expect(wrong.open({ peer: 'saturn', mode: 'link', mount: 'main', localNode: 'earth', address })).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    } finally {
      await wrong.close();
    }
    const listener = await until(
      () => saturn.net('/net/listeners/tcp').then((a) => a.value),
      (v) => Number(v.rejected) >= 3,
      "saturn's /net/listeners/tcp/rejected to count 3",
      2_000,
    );
    expect(listener.last_reject).toMatch(/CONNECTION_LOST|AUTH_FAILED/);
    await saturn.waitForLog((l) => l['topic'] === 'tp_fatal' && l['origin'] === 'tp/listen', 1_000);
  }),
);

// Deterministic junk (xorshift32), so a failure reproduces byte for byte.
function junk(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** What the garbage client writes, one connection each: a handshake message is a u16 length (≤ 512) and a body. */
const GARBAGE: readonly Uint8Array[] = [
  junk(1, 1024), // random: a length over the limit
  Uint8Array.from([0x00, 0x40, ...junk(2, 64)]), // a plausible length whose body is not a HELLO
  Uint8Array.from([0x00, 0x08, 0x43, 0x45, 0x50, 0x53, ...junk(3, 4)]), // the right magic, then nonsense
  junk(4, 16 * 1024), // a lot of it
];

function rawConnect(via: Via, address: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const [host, port] = address.split(':');
    const socket = via === 'tcp' ? connect(Number(port), host!) : connect(address);
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Connects, writes `bytes`, ends, and waits until saturn has closed the connection. */
async function spew(via: Via, address: string, bytes: Uint8Array): Promise<void> {
  const socket = await rawConnect(via, address);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`saturn did not close a garbage connection within 8 s (${bytes.length} bytes written)`));
    }, 8_000);
    socket.on('error', () => undefined); // a reset by saturn is fine: it dropped us
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.end(bytes);
  });
}

/** A TCP relay to `target` whose connections the test can cut at once (a network break between two live peers). */
async function cuttableProxy(target: string): Promise<{ address: string; cut(): number; close(): Promise<void> }> {
  const [host, port] = target.split(':');
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('error', () => undefined); // the other half was cut: nothing to report
    socket.once('close', () => sockets.delete(socket));
  };
  const server = createServer((inbound) => {
    const outbound = connect(Number(port), host!);
    track(inbound);
    track(outbound);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const cut = (): number => {
    const n = sockets.size;
    for (const socket of sockets) socket.destroy();
    return n;
  };
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    cut,
    close: () => {
      cut();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
