import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config/load.ts';
import { loadHandlers } from '../src/handlers.ts';
import { createLogger } from '../src/log.ts';
import { startPeer, type Peer } from '../src/peer.ts';
import { KEY_HEX } from './helpers/files.ts';
import { logSink } from './helpers/io.ts';

// Two peers in this process, earth (the caller) and saturn (serving `add`), linked over
// provider-tcp on loopback, each checking every call on its own policy (/sys/security).

const ADD = fileURLToPath(new URL('../examples/handlers/add.mjs', import.meta.url));

const peers: Peer[] = [];
const timers: ReturnType<typeof setInterval>[] = [];
afterEach(async () => {
  for (const t of timers.splice(0)) clearInterval(t);
  await Promise.all(peers.splice(0).map((p) => p.stop('test over')));
});

/** lab and ops, no edge between them. */
const ENCLAVES = { enclaves: { lab: {}, ops: { tier: 1 } } };
/** lab → ops declared, pipeline nightly (fetch in lab, crunch in ops) approved. */
const EDGE = {
  ...ENCLAVES,
  edges: [{ from: 'lab', to: 'ops', budgets: { hops: 3, beats: 400 } }],
  pipelines: [
    {
      id: 'nightly',
      stages: [
        { id: 'fetch', enclave: 'lab' },
        { id: 'crunch', enclave: 'ops' },
      ],
    },
  ],
  approve: ['nightly'],
};
const NIGHTLY = { pipeline_id: 'nightly', stage_id: 'crunch', dag_run_id: '7', hop_index: 1 };

/** Starts a peer whose beats this test drives (see `pair`). */
async function start(doc: Record<string, unknown>): Promise<Peer> {
  const config = validateConfig({ http: { port: 0 }, ...doc }, 'peer.yaml', '/tmp');
  const handlers = await loadHandlers(config, 'peer.yaml');
  const sink = logSink();
  const peer = await startPeer({ config, log: createLogger({ level: 'warn', destination: sink.destination, isTTY: false }), handlers, manualBeats: true });
  peers.push(peer);
  return peer;
}

async function until<T>(read: () => Promise<T> | T, done: (value: T) => boolean, what: string, ms = 10_000): Promise<T> {
  const end = performance.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (performance.now() > end) throw new Error(`gave up waiting for ${what}; last seen ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function net(peer: Peer, path: string): Promise<any> {
  const res = await fetch(`${peer.httpUrl}/net?path=${encodeURIComponent(path)}`);
  return res.status === 404 ? undefined : ((await res.json()) as { value: unknown }).value;
}

async function post(peer: Peer, body: Record<string, unknown>): Promise<{ status: number; body: any }> {
  const res = await fetch(`${peer.httpUrl}/invoke`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: res.status, body: await res.json() };
}

/** A free loopback address (an OS port, released) for a listener whose address the other peer's config needs first. */
async function freeAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return `127.0.0.1:${port}`;
}

interface Side {
  readonly enclave: string;
  /** The other peer's enclave in this peer's config (`peers[].enclave`); absent = not stated. */
  readonly other?: string;
  readonly security?: Record<string, unknown>;
  /** saturn's `peer_policy` when earth is not listed (default: earth admitted into saturn's own enclave). */
  readonly peerPolicy?: Record<string, unknown>;
}

/**
 * saturn serves `add`; earth links to it over TCP. saturn lists earth under `peers` (and so
 * dials it back, as the example configs do) only when it states earth's enclave
 * (`saturn.other`): a receiver knows a caller's enclave only from its own config. Both peers
 * are started before their first beat, so every dial finds its listener; then both are stepped.
 */
async function pair(earthSide: Side, saturnSide: Side): Promise<{ earth: Peer; saturn: Peer }> {
  const earthAddress = await freeAddress();
  const saturn = await start({
    peer: 'saturn',
    enclave: saturnSide.enclave,
    keys: { earth: { hex: KEY_HEX } },
    listen: { tcp: '127.0.0.1:0' },
    invoke: [{ name: 'add', module: ADD }],
    // Not listed: earth is admitted into saturn's own enclave, explicitly (peer_policy.default_enclave).
    ...(saturnSide.other !== undefined
      ? { peers: [{ name: 'earth', provider: 'tcp', address: earthAddress, enclave: saturnSide.other }] }
      : { peer_policy: saturnSide.peerPolicy ?? { default_enclave: saturnSide.enclave } }),
    ...(saturnSide.security !== undefined ? { security: saturnSide.security } : {}),
  });
  const earth = await start({
    peer: 'earth',
    enclave: earthSide.enclave,
    keys: { saturn: { hex: KEY_HEX } },
    listen: { tcp: earthAddress },
    peers: [
      { name: 'saturn', provider: 'tcp', address: saturn.transport.listening['tcp'], ...(earthSide.other !== undefined ? { enclave: earthSide.other } : {}) },
    ],
    ...(earthSide.security !== undefined ? { security: earthSide.security } : {}),
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
  if (saturnSide.other !== undefined) {
    await until(
      () => net(saturn, '/net/organs/invoke/requests/earth/state'),
      (s) => s === 'active',
      "saturn's invoke request to earth to go active",
    );
  }
  return { earth, saturn };
}

/** Topics of the latest CEI facts `peer` holds about `remote`. */
async function ceh(peer: Peer, remote: string): Promise<Record<string, { severity: string; note: string }>> {
  return (await net(peer, `/net/peers/${remote}/ceh`)) ?? {};
}

describe('cep-node enforces its security config on invoke', () => {
  it('same enclave: a listed handler answers without pipeline metadata; the policy is in /sys/security', async () => {
    const { earth } = await pair({ enclave: 'lab', security: ENCLAVES }, { enclave: 'lab' });
    expect((await post(earth, { peer: 'saturn', handler: 'add', arg: '41' })).body).toMatchObject({ status: 'ok', result: '42' });
    expect(await net(earth, '/sys/security/enclaves')).toEqual({ lab: { tier: '0' }, ops: { tier: '1' } });
  });

  it('cross-enclave, declared edge, approved pipeline on both sides: allowed', async () => {
    const { earth, saturn } = await pair({ enclave: 'lab', other: 'ops', security: EDGE }, { enclave: 'ops', other: 'lab', security: EDGE });
    expect(await net(saturn, '/sys/security/approvals/nightly/state')).toBe('approved');
    expect((await post(earth, { peer: 'saturn', handler: 'add', arg: '41', pipeline: NIGHTLY })).body).toMatchObject({ status: 'ok', result: '42' });
    expect(Object.keys(await ceh(earth, 'saturn'))).not.toContain('tp_inv_reject');
  });

  it('cross-enclave without a declared edge: the caller refuses before sending (sec.edge.deny, tp_inv_reject)', async () => {
    const { earth, saturn } = await pair({ enclave: 'lab', other: 'ops', security: ENCLAVES }, { enclave: 'ops' });
    const { status, body } = await post(earth, { peer: 'saturn', handler: 'add', arg: '41', pipeline: NIGHTLY });
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'reject', note: expect.stringMatching(/^refused before sending: lab -> ops: no declared edge/) });
    const facts = await ceh(earth, 'saturn');
    expect(facts['sec.edge.deny']).toMatchObject({ severity: 'error', note: expect.stringContaining('lab -> ops') });
    expect(facts['tp_inv_reject']).toMatchObject({ note: expect.stringContaining('no declared edge') });
    // Nothing reached saturn.
    expect(await ceh(saturn, 'earth')).toEqual({});
  });

  it('cross-enclave without a declared edge: the receiver refuses too, on its own (empty) policy', async () => {
    // earth's policy allows the call; saturn declares no policy at all: default deny across enclaves.
    const { earth, saturn } = await pair({ enclave: 'lab', other: 'ops', security: EDGE }, { enclave: 'ops', other: 'lab' });
    expect(await net(saturn, '/sys/security')).toBeUndefined();
    const { body } = await post(earth, { peer: 'saturn', handler: 'add', arg: '41', pipeline: NIGHTLY });
    expect(body).toMatchObject({ status: 'reject', note: expect.stringMatching(/^refused by saturn: lab -> ops: no declared edge/) });
    expect((await ceh(saturn, 'earth'))['sec.edge.deny']).toMatchObject({ severity: 'error', note: expect.stringContaining('lab -> ops') });
    expect((await ceh(earth, 'saturn'))['tp_inv_reject']).toMatchObject({ note: expect.stringContaining('refused by saturn') });
    expect((await ceh(earth, 'saturn'))['sec.edge.deny']).toBeUndefined();
  });

  it('cross-enclave over a declared edge but without pipeline metadata: sec.pipeline.reject on the caller', async () => {
    const { earth, saturn } = await pair({ enclave: 'lab', other: 'ops', security: EDGE }, { enclave: 'ops' });
    const { body } = await post(earth, { peer: 'saturn', handler: 'add', arg: '41' });
    expect(body).toMatchObject({
      status: 'reject',
      note: expect.stringMatching(/^refused before sending: lab -> ops: cross-enclave invoke carries no pipeline metadata/),
    });
    expect((await ceh(earth, 'saturn'))['sec.pipeline.reject']).toMatchObject({ severity: 'error' });
    expect(await ceh(saturn, 'earth')).toEqual({});
  });

  it('cross-enclave over a declared edge but without pipeline metadata: sec.pipeline.reject on the receiver', async () => {
    // earth takes saturn to be in its own enclave (no peers[].enclave), so it sends; saturn knows better.
    const { earth, saturn } = await pair({ enclave: 'lab' }, { enclave: 'ops', other: 'lab', security: EDGE });
    const { body } = await post(earth, { peer: 'saturn', handler: 'add', arg: '41' });
    expect(body).toMatchObject({
      status: 'reject',
      note: expect.stringMatching(/^refused by saturn: lab -> ops: cross-enclave invoke carries no pipeline metadata/),
    });
    expect((await ceh(saturn, 'earth'))['sec.pipeline.reject']).toMatchObject({ severity: 'error' });
    expect((await ceh(earth, 'saturn'))['tp_inv_reject']).toMatchObject({ note: expect.stringContaining('no pipeline metadata') });
  });

  it('a call of a handler the config does not list is refused (tp_inv_reject), not answered ok', async () => {
    const { earth } = await pair({ enclave: 'lab' }, { enclave: 'lab' });
    const { body } = await post(earth, { peer: 'saturn', handler: 'nope', arg: '1' });
    expect(body).toMatchObject({ status: 'reject', note: 'refused by saturn: signal /sig/nope is not exposed on this runtime' });
    expect((await ceh(earth, 'saturn'))['tp_inv_reject']).toMatchObject({ note: expect.stringContaining('/sig/nope is not exposed') });
    expect((await post(earth, { peer: 'saturn', handler: 'add', arg: '1' })).body).toMatchObject({ status: 'ok', result: '2' });
  });

  it('POST /invoke refuses malformed pipeline metadata with a 400 and a code', async () => {
    const { earth } = await pair({ enclave: 'lab' }, { enclave: 'lab' });
    expect(await post(earth, { peer: 'saturn', handler: 'add', pipeline: 'nightly' })).toMatchObject({ status: 400, body: { error: { code: 'BAD_INVOKE' } } });
    expect(await post(earth, { peer: 'saturn', handler: 'add', pipeline: { ...NIGHTLY, hop_index: -1 } })).toMatchObject({
      status: 400,
      body: { error: { code: 'BAD_INVOKE' } },
    });
    expect(await post(earth, { peer: 'saturn', handler: 'add', pipeline: { ...NIGHTLY, stage: 'x' } })).toMatchObject({
      status: 400,
      body: { error: { code: 'BAD_INVOKE' } },
    });
    expect(await post(earth, { peer: 'saturn', handler: 'add', pipeline: { ...NIGHTLY, pipeline_id: '' } })).toMatchObject({
      status: 400,
      body: { error: { code: 'SEC_PIPELINE_MALFORMED' } },
    });
  });
});

describe('cep-node admits only the peers its config names', () => {
  it('a keyed peer not listed under peers, with no peer_policy.default_enclave, is refused at the door', async () => {
    const saturn = await start({
      peer: 'saturn',
      enclave: 'lab',
      keys: { earth: { hex: KEY_HEX } },
      listen: { tcp: '127.0.0.1:0' },
      invoke: [{ name: 'add', module: ADD }],
    });
    const earth = await start({
      peer: 'earth',
      enclave: 'lab',
      keys: { saturn: { hex: KEY_HEX } },
      peers: [{ name: 'saturn', provider: 'tcp', address: saturn.transport.listening['tcp'] }],
    });
    timers.push(setInterval(() => (saturn.runtime.step(), earth.runtime.step()), 1));
    const rejected = await until(
      () => net(saturn, '/net/listeners/tcp'),
      (l) => l !== undefined && BigInt(l.rejected ?? 0) >= 1n,
      "saturn's listener to refuse earth",
    );
    expect(rejected.last_reject).toContain('AUTH_FAILED');
    expect(await net(saturn, '/net/mounts/earth')).toBeUndefined();
    expect(await net(earth, '/net/organs/invoke/requests/saturn/state')).not.toBe('active');
  });

  it('peer_policy.default_enclave places an unlisted peer in an enclave with no edges: it links, and its calls are denied', async () => {
    const { earth, saturn } = await pair(
      { enclave: 'lab' },
      { enclave: 'lab', security: { enclaves: { lab: {}, guests: {} } }, peerPolicy: { default_enclave: 'guests' } },
    );
    const { body } = await post(earth, { peer: 'saturn', handler: 'add', arg: '41' });
    expect(body).toMatchObject({ status: 'reject', note: expect.stringMatching(/^refused by saturn: guests -> lab: /) });
    // guests is another enclave than saturn's lab: a cross-enclave call, refused (here already for lacking a pipeline).
    expect((await ceh(saturn, 'earth'))['sec.pipeline.reject']).toMatchObject({ severity: 'error', note: expect.stringContaining('guests -> lab') });
  });
});
