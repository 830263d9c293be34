import { existsSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BOUNDS, createPeerHarness, reservePort } from './harness/peer-process.ts';

// Real `cep-node` processes on loopback: each starts from its own config, binds its
// listeners, runs its own heartbeat, serves its own /net, and stops or fails the way its
// README says. Links, mirrors and invokes between processes are in federation.test.ts and
// faults.test.ts.

const harness = createPeerHarness();
afterEach(() => harness.cleanup());
afterAll(() => harness.cleanup());

const KEY = '5c1f0e8a2b7d4c6e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6a';

/** A peer config on loopback: HTTP on an OS-chosen port. */
function config(peer: string, extra: Record<string, unknown> = {}) {
  return { peer, enclave: 'lab', beat_ms: 5, http: { host: '127.0.0.1', port: 0 }, ...extra };
}

/** Polls `read` until `ok` holds for its value (a liveness wait, bounded; not a timing assertion). */
async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string): Promise<T> {
  const pauseMs = 20;
  for (let attempt = 0; ; attempt++) {
    const value = await read();
    if (ok(value)) return value;
    if (attempt * pauseMs > BOUNDS.log) throw new Error(`${what}: last value ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, pauseMs));
  }
}

describe('two cep-node processes', () => {
  it('start on loopback with OS-chosen ports, and each serves its own /net tree', async () => {
    // Each names the other's listen address, as two machines would; the TCP ports come
    // from the OS (reserved, then released for the peer to bind).
    const [earthTcp, saturnTcp] = [await reservePort(), await reservePort()];
    const earthFile = harness.writeConfig(
      'earth.json',
      config('earth', {
        keys: { saturn: { hex: KEY } },
        listen: { tcp: `127.0.0.1:${earthTcp}` },
        peers: [{ name: 'saturn', provider: 'tcp', address: `127.0.0.1:${saturnTcp}` }],
        mirrors: [{ name: 'sky', source: { peer: 'saturn', path: '/data/sky' }, target: '/data/saturn/sky' }],
      }),
    );
    const saturnFile = harness.writeConfig(
      'saturn.json',
      config('saturn', {
        keys: { earth: { hex: KEY } },
        listen: { tcp: `127.0.0.1:${saturnTcp}` },
        peers: [{ name: 'earth', provider: 'tcp', address: `127.0.0.1:${earthTcp}` }],
      }),
    );
    const [earth, saturn] = await Promise.all([harness.start(earthFile), harness.start(saturnFile)]);

    expect(earth.pid).not.toBe(saturn.pid);
    expect(earth.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(saturn.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(earth.url).not.toBe(saturn.url);
    expect(await earth.status()).toMatchObject({ peer: 'earth', enclave: 'lab', beatMs: 5, stopping: false });
    expect(await saturn.status()).toMatchObject({ peer: 'saturn', enclave: 'lab', beatMs: 5, stopping: false });

    // Each bound the listen address its config named, and catalogued its providers.
    expect(earth.logs.find((l) => l['msg'] === 'listening' && l['provider'] === 'tcp')).toMatchObject({ address: `127.0.0.1:${earthTcp}` });
    expect(saturn.logs.find((l) => l['msg'] === 'listening' && l['provider'] === 'tcp')).toMatchObject({ address: `127.0.0.1:${saturnTcp}` });
    expect((await earth.net('/net/transports/tcp')).value).toMatchObject({ spec_ver: 'cep-provider-v1', caps: { reliable: true } });
    expect((await saturn.net('/net/transports/tcp')).value).toMatchObject({ spec_ver: 'cep-provider-v1', caps: { reliable: true } });

    // Each tree holds what its own config asked for, and nothing of the other's. (Both started
    // at once, so whether a link found the other listening is a race: `state` is left out.)
    const earthNet = await earth.net('/net/organs');
    expect(earthNet.path).toBe('/net/organs');
    expect(Object.keys(earthNet.value.link.requests)).toEqual(['1']);
    expect(earthNet.value.link.requests['1']).toMatchObject({ peer: 'saturn', mount: 'main', mode: 'link', local_node: 'earth', pref_prov: 'tcp' });
    expect(earthNet.value.mirror.requests['1']).toMatchObject({ src_peer: 'saturn', src_chan: '/data/sky', dst_chan: '/data/saturn/sky', local_node: 'earth' });
    const saturnNet = await saturn.net('/net/organs');
    expect(Object.keys(saturnNet.value.link.requests)).toEqual(['1']);
    expect(saturnNet.value.link.requests['1']).toMatchObject({ peer: 'earth', mount: 'main', mode: 'link', local_node: 'saturn', pref_prov: 'tcp' });
    expect(Object.keys(saturnNet.value.invoke.requests)).toEqual(['earth']);
    expect(saturnNet.value.mirror?.requests ?? {}).toEqual({});

    // Both heartbeats run, each on its own timer: the beat each serves keeps moving.
    const first = (await earth.net('/net', 0)).beat;
    await until(
      () => earth.net('/net', 0),
      (a) => a.beat > first,
      'earth beat did not advance',
    );
    const saturnFirst = (await saturn.status())['beat'] as number;
    await until(
      () => saturn.status(),
      (s) => s['beat'] > saturnFirst,
      'saturn beat did not advance',
    );
  });
});

describe('stopping a cep-node process', () => {
  it('SIGTERM: it finishes the beat, logs "peer stopped" last, exits 0, and its endpoint and listeners go away', async () => {
    const socket = `${harness.dir}/earth.sock`;
    const peer = await harness.start(harness.writeConfig('earth.json', config('earth', { listen: { pipe: socket } })));
    expect(existsSync(socket)).toBe(true);
    await until(
      () => peer.status(),
      (s) => s['beat'] > 0,
      'no beat ran',
    );
    peer.signal('SIGTERM');
    expect(await peer.waitForExit(BOUNDS.exit)).toEqual({ code: 0, signal: null });
    expect(peer.logs.at(-1)).toMatchObject({ msg: 'peer stopped', peer: 'earth', reason: 'signal SIGTERM' });
    expect(peer.logs.at(-1)!['beats']).toBeGreaterThan(0);
    expect(peer.stderr()).toBe('');
    await expect(peer.status()).rejects.toThrow();
    expect(existsSync(socket)).toBe(false);
  });

  it('kill -9: no clean stop, and the same config starts again on the same ports and socket', async () => {
    const [httpPort, tcpPort] = [await reservePort(), await reservePort()];
    const socket = `${harness.dir}/earth.sock`;
    const file = harness.writeConfig(
      'earth.json',
      config('earth', {
        http: { host: '127.0.0.1', port: httpPort },
        listen: { tcp: `127.0.0.1:${tcpPort}`, pipe: socket },
      }),
    );
    const first = await harness.start(file);
    expect(first.logs.filter((l) => l['msg'] === 'listening').map((l) => l['address'])).toEqual([`127.0.0.1:${tcpPort}`, socket]);
    expect(await first.kill9()).toEqual({ code: null, signal: 'SIGKILL' });
    expect(first.logs.some((l) => l['msg'] === 'peer stopped')).toBe(false);
    // A killed peer leaves its socket file behind; the next one must still bind it.
    const second = await harness.start(file);
    expect(second.logs.filter((l) => l['msg'] === 'listening').map((l) => l['address'])).toEqual([`127.0.0.1:${tcpPort}`, socket]);
    expect(second.url).toBe(first.url);
    expect(second.pid).not.toBe(first.pid);
    expect(await second.status()).toMatchObject({ peer: 'earth' });
  });
});

describe('a bad config', () => {
  it('exits non-zero before starting anything, naming the file and each bad field', async () => {
    const file = harness.writeConfig(
      'earth.json',
      config('earth', { beat_ms: 0, listen: { tcp: 'localhost' }, peers: [{ name: 'saturn', provider: 'tcp', address: '127.0.0.1:7000' }] }),
    );
    const peer = harness.spawn(file);
    const exit = await peer.waitForExit(BOUNDS.exit);
    expect(exit).toEqual({ code: 3, signal: null });
    const stderr = peer.stderr();
    expect(stderr).toContain('cep-node run: CONFIG_INVALID');
    expect(stderr).toContain(`${file}: beat_ms: expected at least 1`);
    expect(stderr).toContain(`${file}: listen.tcp: expected host:port`);
    expect(stderr).toContain(`${file}: peers[0].name: no key for peer "saturn": add keys.saturn`);
    // Nothing started: not even a log line.
    expect(peer.stdout()).toBe('');
  });

  it('exits non-zero naming the file when the config file is missing or not valid JSON', async () => {
    const missing = `${harness.dir}/absent.json`;
    const gone = harness.spawn(missing);
    expect(await gone.waitForExit()).toEqual({ code: 3, signal: null });
    expect(gone.stderr()).toContain(`${missing}: cannot read the config file`);
    const broken = harness.writeConfig('broken.json', '{ "peer": ');
    const bad = harness.spawn(broken);
    expect(await bad.waitForExit()).toEqual({ code: 3, signal: null });
    expect(bad.stderr()).toContain(`${broken}: not valid JSON`);
  });
});
