/**
 * Public-key identities between real `cep-node` processes over TCP: every node's key pair
 * comes from `cep-node keygen`; earth and saturn list each other's public key, link, mirror
 * and invoke through the encrypted Noise session and record who the other proved to be; a
 * third node whose key saturn does not list is refused, and saturn's /metrics counts it. Over
 * udp (which cep-node only listens on: its link, invoke and mirror requests need a reliable,
 * ordered mount), a keygen'd cep-node accepts a keygen'd peer's gauge channel through the Noise
 * datagram session and refuses a key it does not list.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AllowList, decodeKey, loadKeyFile } from '@cep/noise-session';
import { udp } from '@cep/provider-udp';
import { expect, it } from 'vitest';
import { cepNodeCommand, type PeerHarness, type RunningPeer } from './harness/peer-process.ts';
import { COPY, SKY, peerConfig, requestStates, startSaturn, until, untilActive, untilMirrored, withPeers } from './support/federation.ts';

const run = promisify(execFile);

/** Runs `cep-node keygen` into the harness folder; returns the key file and the public key it printed. */
async function keygen(harness: PeerHarness, node: string): Promise<{ file: string; publicKey: string }> {
  const { args, cwd } = cepNodeCommand();
  const file = join(harness.dir, `${node}.key`);
  const { stdout } = await run(process.execPath, [...args, 'keygen', '--out', file], { cwd });
  return { file, publicKey: stdout.trim() };
}

/** The sample of `name` whose labels include `label` (other labels, such as the node's, may come with it). */
async function metric(peer: RunningPeer, name: string, label: string): Promise<number> {
  const text = await (await fetch(`${peer.url}/metrics`)).text();
  return Number(new RegExp(`^${name}\\{[^}]*${label}[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

it(
  "two keygen'd nodes link, mirror and invoke over the Noise session; a node with an unlisted key is refused and counted",
  withPeers(45_000, async (harness) => {
    const [earthId, saturnId, malloryId] = await Promise.all([keygen(harness, 'earth'), keygen(harness, 'saturn'), keygen(harness, 'mallory')]);
    expect(earthId.publicKey).toMatch(/^[A-Za-z0-9+/]{43}=$/);

    const { saturn, address } = await startSaturn(harness, 'tcp', {
      extra: { identity: { file: saturnId.file }, keys: { earth: { public_key: earthId.publicKey } } },
    });
    const earth = await harness.start(
      harness.writeConfig(
        'earth.json',
        peerConfig('earth', {
          identity: { file: earthId.file },
          keys: { saturn: { public_key: saturnId.publicKey } },
          peers: [{ name: 'saturn', provider: 'tcp', address }],
          mirrors: [{ name: 'sky', source: { peer: 'saturn', path: SKY }, target: COPY, bundle: { beat_window: 2, max_infl: 8, commit_mode: 'stream' } }],
        }),
      ),
    );

    await untilActive(earth);
    expect(await earth.invoke('saturn', 'add', 41)).toMatchObject({ status: 'ok', result: '42' });
    expect(await earth.invoke('saturn', 'sky', 200)).toMatchObject({ status: 'ok' });
    const { cells } = await untilMirrored(earth, saturn);
    expect(cells).toBeGreaterThan(100);

    // Each side recorded the key the other proved.
    const seenByEarth = (await earth.net('/net/peers/saturn/identity')).value;
    expect(seenByEarth).toMatchObject({ name: 'saturn', public_key: saturnId.publicKey, fingerprint: expect.stringMatching(/^SHA256:/) });
    expect(String(seenByEarth.protocol)).toMatch(/^Noise_XXpsk3_25519_/);
    const seenBySaturn = (await saturn.net('/net/peers/earth/identity')).value;
    expect(seenBySaturn).toMatchObject({ name: 'earth', public_key: earthId.publicKey });

    // Mallory knows saturn's public key but holds a key saturn does not list.
    const before = await metric(saturn, 'cep_auth_failures_total', 'side="listener"');
    expect(before).toBe(0);
    const mallory = await harness.start(
      harness.writeConfig(
        'mallory.json',
        peerConfig('mallory', {
          identity: { file: malloryId.file },
          keys: { saturn: { public_key: saturnId.publicKey } },
          peers: [{ name: 'saturn', provider: 'tcp', address }],
        }),
      ),
    );
    const states = await until(
      () => requestStates(mallory),
      (s) => s.link === 'error' && s.invoke === 'error',
      "mallory's requests to end in error",
    );
    expect(states).toMatchObject({ link: 'error', invoke: 'error' });
    const refused = await until(
      () => metric(saturn, 'cep_auth_failures_total', 'side="listener"'),
      (n) => n > before,
      "saturn's /metrics to count the refusal",
    );
    expect(refused).toBeGreaterThan(before);
    expect(Number((await saturn.net('/net/listeners/tcp/rejected')).value)).toBeGreaterThan(0);
    // Mallory's call never runs: refused at once (400: the request is in error), or — when it lands
    // inside a scheduled redial — queued and cancelled when that dial is refused too.
    const answer = await mallory.invoke('saturn', 'add', 1).then(
      (a) => a,
      (error: unknown) => error,
    );
    if (answer instanceof Error) expect(answer.message).toMatch(/400/);
    else expect(answer).toMatchObject({ status: 'cancelled', note: expect.stringMatching(/AUTH_FAILED/) });
    // Earth's session is untouched by the intruder.
    expect(await earth.invoke('saturn', 'add', 1)).toMatchObject({ status: 'ok', result: '2' });
  }),
);

it(
  "a keygen'd node listening on udp accepts a peer listed by public key through the Noise datagram session and refuses an unlisted key",
  withPeers(30_000, async (harness) => {
    const [earthId, saturnId, malloryId] = await Promise.all([keygen(harness, 'earth'), keygen(harness, 'saturn'), keygen(harness, 'mallory')]);
    const saturn = await harness.start(
      harness.writeConfig(
        'saturn.json',
        peerConfig('saturn', {
          identity: { file: saturnId.file },
          keys: { earth: { public_key: earthId.publicKey } },
          peer_policy: { default_enclave: 'lab' },
          listen: { udp: '127.0.0.1:0' },
        }),
      ),
    );
    const address = String((await saturn.waitForLog((l) => l['msg'] === 'listening' && l['provider'] === 'udp'))['address']);
    const knowsSaturn = new AllowList({ saturn: decodeKey(saturnId.publicKey, 'public key') });
    // A bare udp provider calling itself earth, holding the key pair in `keyFile` (closed by the caller).
    const dialler = async (keyFile: string) => {
      const provider = udp({ localPeer: 'earth', identity: { staticKey: await loadKeyFile(keyFile), allowList: knowsSaturn }, handshakeTimeoutMs: 5000 });
      return { provider, open: () => provider.open({ peer: 'saturn', mode: 'mirror', mount: 'gauges', localNode: 'earth', address }) };
    };

    const earth = await dialler(earthId.file);
    try {
      const channel = await earth.open();
      expect(channel.info.remoteIdentity).toMatchObject({ publicKey: saturnId.publicKey });
      const seenBySaturn = await until(
        async () => (await saturn.net('/net/peers/earth/identity')).value,
        (v) => v !== undefined,
        "saturn's record of earth's identity",
      );
      expect(seenBySaturn).toMatchObject({ name: 'earth', public_key: earthId.publicKey });
    } finally {
      await earth.provider.close();
    }

    // Mallory claims to be earth with a key saturn does not list.
    const mallory = await dialler(malloryId.file);
    try {
      await expect(mallory.open()).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    } finally {
      await mallory.provider.close();
    }
    const refused = await until(
      () => metric(saturn, 'cep_auth_failures_total', 'side="listener"'),
      (n) => n > 0,
      "saturn's /metrics to count the refusal",
    );
    expect(refused).toBeGreaterThan(0);
  }),
);
