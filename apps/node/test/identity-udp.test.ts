import { join } from 'node:path';
import { AllowList, decodeKey, encodeKey, generateKeyPair, writeKeyFile, type StaticKeyPair } from '@cep/noise-session';
import type { ProviderV1 } from '@cep/transport/provider';
import { udp, type UdpOptions } from '@cep/provider-udp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config/load.ts';
import { loadHandlers } from '../src/handlers.ts';
import { createLogger } from '../src/log.ts';
import { startPeer, type Peer } from '../src/peer.ts';
import { KEY_HEX, tempDir } from './helpers/files.ts';
import { logSink } from './helpers/io.ts';

// cep-node never dials udp (its link, invoke and mirror requests need a reliable, ordered
// mount), but it listens on it for gauges. Saturn here is a cep-node listening on udp that
// lists earth by public key (the Noise datagram session) and venus by pre-shared key only
// (the HMAC envelope, as before identities); earth, venus and mallory are bare udp providers.

let tmp: ReturnType<typeof tempDir>;
const peers: Peer[] = [];
const cleanups: (() => unknown)[] = [];
const timers: ReturnType<typeof setInterval>[] = [];
beforeEach(() => {
  tmp = tempDir();
});
afterEach(async () => {
  for (const t of timers.splice(0)) clearInterval(t);
  for (const close of cleanups.splice(0).reverse()) await close();
  await Promise.all(peers.splice(0).map((p) => p.stop('test over')));
  tmp.cleanup();
});

/** A fresh key pair written as `<node>.key` (mode 600), as `cep-node keygen` does. */
async function keygen(node: string): Promise<{ file: string; pair: StaticKeyPair; publicKey: string }> {
  const pair = generateKeyPair();
  const file = join(tmp.dir, `${node}.key`);
  await writeKeyFile(file, pair);
  return { file, pair, publicKey: encodeKey(pair.publicKey) };
}

async function start(doc: Record<string, unknown>): Promise<Peer> {
  const config = validateConfig({ enclave: 'lab', http: { port: 0 }, ...doc }, 'peer.yaml', tmp.dir);
  const handlers = await loadHandlers(config, 'peer.yaml');
  const peer = await startPeer({ config, log: createLogger({ level: 'warn', destination: logSink().destination, isTTY: false }), handlers, manualBeats: true });
  peers.push(peer);
  timers.push(setInterval(() => peer.runtime.step(), 1));
  return peer;
}

async function net(peer: Peer, path: string): Promise<any> {
  const res = await fetch(`${peer.httpUrl}/net?path=${encodeURIComponent(path)}`);
  return res.status === 404 ? undefined : ((await res.json()) as { value: unknown }).value;
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, ms = 10_000): Promise<T> {
  const end = performance.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (performance.now() > end) throw new Error(`gave up waiting for ${what}; last seen ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A bare udp provider for `localPeer` (closed after the test). */
function dialer(localPeer: string, options: Omit<UdpOptions, 'localPeer'>): ProviderV1 {
  const provider = udp({ localPeer, handshakeTimeoutMs: 2000, ...options });
  cleanups.push(() => provider.close());
  return provider;
}

const gauges = (provider: ProviderV1, localNode: string, address: string) =>
  provider.open({ peer: 'saturn', mode: 'mirror', mount: 'gauges', localNode, address });

describe('identities over udp', () => {
  it('accepts a peer listed by public key through the Noise datagram session, a pre-shared-key peer as before, and refuses an unlisted key', async () => {
    const [earthId, saturnId, malloryId] = await Promise.all([keygen('earth'), keygen('saturn'), keygen('mallory')]);
    const saturn = await start({
      peer: 'saturn',
      identity: { file: saturnId.file },
      keys: { earth: { public_key: earthId.publicKey }, venus: { hex: KEY_HEX } },
      peer_policy: { default_enclave: 'lab' },
      listen: { udp: '127.0.0.1:0' },
    });
    const address = saturn.transport.listening['udp']!;
    const knowsSaturn = new AllowList({ saturn: decodeKey(saturnId.publicKey, 'public key') });

    // Earth proves its key and learns saturn's; saturn records who earth proved to be.
    const earth = await gauges(dialer('earth', { identity: { staticKey: earthId.pair, allowList: knowsSaturn } }), 'earth', address);
    expect(earth.info.remoteIdentity).toMatchObject({ publicKey: saturnId.publicKey });
    expect(
      await until(
        () => net(saturn, '/net/peers/earth/identity'),
        (v) => v !== undefined,
        "saturn's record of earth's identity",
      ),
    ).toMatchObject({ name: 'earth', public_key: earthId.publicKey });

    // Venus, not migrated, still opens with its pre-shared key; no identity is claimed for it.
    const venus = await gauges(dialer('venus', { keys: { saturn: Buffer.from(KEY_HEX, 'hex') } }), 'venus', address);
    expect(venus.info.remoteIdentity).toBeUndefined();

    // Mallory knows saturn's public key but holds a key saturn does not list.
    await expect(gauges(dialer('earth', { identity: { staticKey: malloryId.pair, allowList: knowsSaturn } }), 'earth', address)).rejects.toMatchObject({
      code: 'AUTH_FAILED',
    });
    await until(
      () => net(saturn, '/net/listeners/udp/rejected'),
      (n) => Number(n) > 0,
      "saturn's count of the refused handshake",
    );
  });
});
