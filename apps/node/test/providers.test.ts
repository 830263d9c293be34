import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServer } from '@cep/provider-nats/testing';
import { isCepError } from '@cep/errors';
import { validateConfig } from '../src/config/load.ts';
import { loadHandlers } from '../src/handlers.ts';
import { createLogger } from '../src/log.ts';
import { startPeer, type Peer } from '../src/peer.ts';
import { KEY_HEX } from './helpers/files.ts';
import { logSink } from './helpers/io.ts';

// Two peers in this process, earth calling `add` on saturn, linked over a provider that
// is not tcp: the built-in nats provider through a real nats-server, or a plug-in from
// test/fixtures/provider-plugin loaded through the config's `providers` list.

const ADD = fileURLToPath(new URL('../examples/handlers/add.mjs', import.meta.url));
const HERE = fileURLToPath(new URL('.', import.meta.url));

let server: NatsServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

const peers: Peer[] = [];
const timers: ReturnType<typeof setInterval>[] = [];
afterEach(async () => {
  for (const t of timers.splice(0)) clearInterval(t);
  await Promise.all(peers.splice(0).map((p) => p.stop('test over')));
});

async function start(doc: Record<string, unknown>): Promise<Peer> {
  const config = validateConfig({ enclave: 'lab', http: { port: 0 }, ...doc }, 'peer.yaml', HERE);
  const handlers = await loadHandlers(config, 'peer.yaml');
  const peer = await startPeer({ config, log: createLogger({ level: 'warn', destination: logSink().destination, isTTY: false }), handlers, manualBeats: true });
  peers.push(peer);
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

/** saturn serves `add` listening with `provider`; earth links to it; both are stepped until earth's invoke is active. */
async function pair(provider: string, saturnListen: string, extra: Record<string, unknown>): Promise<{ earth: Peer; saturn: Peer }> {
  const saturn = await start({
    peer: 'saturn',
    keys: { earth: { hex: KEY_HEX } },
    peer_policy: { default_enclave: 'lab' },
    listen: { [provider]: saturnListen },
    invoke: [{ name: 'add', module: ADD }],
    ...extra,
  });
  const earth = await start({
    peer: 'earth',
    keys: { saturn: { hex: KEY_HEX } },
    peers: [{ name: 'saturn', provider, address: saturn.transport.listening[provider] }],
    ...extra,
  });
  timers.push(
    setInterval(() => {
      saturn.runtime.step();
      earth.runtime.step();
    }, 1),
  );
  await until(
    () => net(earth, '/net/organs/invoke/requests/saturn/state'),
    (s) => s === 'active',
    "earth's invoke request to saturn to go active",
  );
  return { earth, saturn };
}

async function add(earth: Peer, arg: string): Promise<any> {
  const res = await fetch(`${earth.httpUrl}/invoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ peer: 'saturn', handler: 'add', arg }),
  });
  return res.json();
}

describe('cep-node over NATS (provider: nats)', () => {
  it('links two peers through a nats-server and invokes across it', async () => {
    const nats = { nats: { servers: [server.url] } };
    const { earth, saturn } = await pair('nats', `cep.${randomBytes(4).toString('hex')}.saturn`, nats);
    expect(await add(earth, '41')).toMatchObject({ status: 'ok', result: '42' });
    expect(saturn.transport.listening['nats']).toMatch(/^cep\.[0-9a-f]{8}\.saturn$/);
    // The mount really runs on nats (the only provider with an address for saturn), whose caps are honest.
    expect(await net(earth, '/net/organs/invoke/requests/saturn/provider')).toBe('nats');
    expect(await net(earth, '/net/transports/nats/caps')).toEqual({
      reliable: true,
      ordered: true,
      multicast: true,
      remote_net: true,
      crc32c: true,
      deflate: true,
      aead: true,
    });
  });
});

describe('provider plug-ins (providers: [{ module, options }])', () => {
  it('loads a provider package from a path, passes it its options, and links over it', async () => {
    const plugin = { providers: [{ id: 'relay', module: './fixtures/provider-plugin', options: { extraCap: 'via_relay' } }] };
    const { earth } = await pair('relay', '127.0.0.1:0', plugin);
    expect(await add(earth, '1')).toMatchObject({ status: 'ok', result: '2' });
    expect(await net(earth, '/net/organs/invoke/requests/saturn/provider')).toBe('relay');
    expect(await net(earth, '/net/transports/relay/caps')).toMatchObject({ via_relay: true, reliable: true });
  });

  it("loads a factory by package name and export (provider-tcp's tcp, under another id)", async () => {
    const plugin = { providers: [{ id: 'tcp_b', module: '@cep/provider-tcp', export: 'tcp' }] };
    const { earth } = await pair('tcp_b', '127.0.0.1:0', plugin);
    expect(await add(earth, '2')).toMatchObject({ status: 'ok', result: '3' });
    expect(await net(earth, '/net/organs/invoke/requests/saturn/provider')).toBe('tcp_b');
  });

  it.each([
    ['a module that does not exist', { module: './fixtures/no-such-plugin.mjs' }, 'PROVIDER_LOAD_FAILED', /providers\[0\] \(bad\): cannot load/],
    [
      'an export that is not a function',
      { module: './fixtures/provider-plugin/index.mjs', export: 'notAFunction' },
      'PROVIDER_INVALID',
      /no function in export "notAFunction"/,
    ],
    [
      'a factory for another spec version',
      { module: './fixtures/provider-plugin/index.mjs', export: 'fromTheFuture' },
      'PROVIDER_INVALID',
      /"cep-provider-v9"; cep-node takes "cep-provider-v1"/,
    ],
    ['a factory that refuses its options', { module: './fixtures/provider-plugin' }, 'PROVIDER_INVALID', /refused its options: option "extraCap" is required/],
  ])('refuses %s with %s, naming the entry, and starts nothing', async (_what, entry, code, message) => {
    const error = await start({ peer: 'earth', providers: [{ id: 'bad', ...entry }] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isCepError(error) && error.code).toBe(code);
    expect((error as Error).message).toMatch(message);
  });
});

describe('config of providers', () => {
  const base = { peer: 'earth', enclave: 'lab', keys: { saturn: { hex: KEY_HEX } } };
  const problems = (doc: Record<string, unknown>): string => {
    try {
      validateConfig(doc, 'peer.yaml', HERE);
      return '';
    } catch (error) {
      return (error as Error).message;
    }
  };

  it('takes nats servers and credentials, as one URL or a list', () => {
    const config = validateConfig(
      {
        ...base,
        nats: { servers: 'nats://10.0.0.5:4222', credentials: { nkey_seed_file: 'earth.nk' } },
        listen: { nats: 'cep.earth' },
        peers: [{ name: 'saturn', provider: 'nats', address: 'cep.saturn' }],
      },
      'peer.yaml',
      '/etc/cep',
    );
    expect(config.nats).toEqual({ servers: ['nats://10.0.0.5:4222'], credentials: { nkey_seed_file: '/etc/cep/earth.nk' } });
    expect(config.listen).toEqual({ nats: 'cep.earth' });
  });

  it.each([
    [
      'nats used without a nats section',
      { peers: [{ name: 'saturn', provider: 'nats', address: 'cep.saturn' }] },
      'peer.yaml: nats: missing: provider nats needs a nats section',
    ],
    [
      'a nats address with a wildcard',
      { nats: { servers: ['nats://h:4222'] }, peers: [{ name: 'saturn', provider: 'nats', address: 'cep.*' }] },
      'peers[0].address: expected a NATS subject prefix',
    ],
    [
      'two kinds of nats credentials',
      { nats: { servers: ['nats://h:4222'], credentials: { token: 't', creds_file: 'x' } } },
      'nats.credentials: expected one of { token }, { user, pass }, { nkey_seed_file } or { creds_file }',
    ],
    [
      'a peer on an unknown provider',
      { peers: [{ name: 'saturn', provider: 'carrier_pigeon', address: 'x' }] },
      'peers[0].provider: "carrier_pigeon" is not a provider: use one of tcp, pipe, udp, nats',
    ],
    ['a listener on an unknown provider', { listen: { relay: 'x' } }, 'listen.relay: unknown field'],
    ['a plug-in reusing a built-in id', { providers: [{ id: 'tcp', module: 'x' }] }, 'providers[0].id: "tcp" is a built-in provider'],
    [
      'two plug-ins with one id',
      {
        providers: [
          { id: 'relay', module: 'x' },
          { id: 'relay', module: 'y' },
        ],
      },
      'providers[1].id: "relay" is used twice',
    ],
  ])('refuses %s', (_what, extra, message) => {
    expect(problems({ ...base, ...extra })).toContain(message);
  });

  it('accepts a peer and a listener on a plug-in id', () => {
    expect(
      problems({
        ...base,
        providers: [{ id: 'relay', module: 'x' }],
        listen: { relay: 'anything' },
        peers: [{ name: 'saturn', provider: 'relay', address: 'somewhere' }],
      }),
    ).toBe('');
  });
});
