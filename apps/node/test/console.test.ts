import { request } from 'node:http';
import { digestHex, text, u64 } from '@cep/cells';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config/load.ts';
import { CONTENT_SECURITY_POLICY } from '../src/console/routes.ts';
import { createLogger } from '../src/log.ts';
import { startPeer, type Peer } from '../src/peer.ts';
import { logSink } from './helpers/io.ts';

// The web console's server side: GET /ui/api/state?since=<beat> answers only what changed
// after that beat, and the console's routes sit behind the endpoint's guard. (The page itself,
// in a real browser against two peer processes: packages/integration/test/console.test.ts.)

const peers: Peer[] = [];
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.stop('test over')));
});

const TOKEN = 'unit-console-token';

async function peerFor(http: Record<string, unknown> = {}): Promise<Peer> {
  const config = validateConfig({ peer: 'earth', enclave: 'lab', http: { port: 0, ...http } }, 'peer.yaml', '/tmp');
  const sink = logSink();
  const started = await startPeer({ config, log: createLogger({ level: 'warn', destination: sink.destination, isTTY: false }), manualBeats: true });
  peers.push(started);
  return started;
}

async function state(peer: Peer, since: number): Promise<any> {
  const res = await fetch(`${peer.httpUrl}/ui/api/state?since=${since}`);
  expect(res.status).toBe(200);
  return res.json();
}

/** The status of `GET path` sent with exactly these headers (fetch would not send a forged Host). */
function rawStatus(peer: Peer, path: string, headers: Record<string, string>): Promise<number> {
  const url = new URL(peer.httpUrl!);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: Number(url.port), path, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Runs one beat and makes the next writes land in the beat after it. */
function nextBeat(peer: Peer): void {
  peer.runtime.step();
}

describe('GET /ui/api/state', () => {
  it('answers everything first, then only the records changed after the cursor, and nothing when nothing changed', async () => {
    const peer = await peerFor();
    nextBeat(peer);
    peer.tree.set('/net/mounts/saturn/link/main/state', text('open'));
    peer.tree.set('/net/mounts/saturn/invoke/invoke/state', text('opening'));
    peer.tree.set('/net/telemetry/saturn/main/frame_count', u64(1n));
    peer.tree.set('/net/telemetry/saturn/invoke/frame_count', u64(0n));
    nextBeat(peer);

    const first = await state(peer, 0);
    expect(first).toMatchObject({ peer: 'earth', enclave: 'lab', since: 0 });
    expect(first.mounts.keys).toEqual(['saturn/invoke/invoke', 'saturn/link/main']);
    expect(first.mounts.changed.map((r: { key: string }) => r.key)).toEqual(['saturn/invoke/invoke', 'saturn/link/main']);
    expect(first.mounts.changed[1].value).toEqual({ state: 'open' });
    expect(first.telemetry.keys).toEqual(['saturn/invoke', 'saturn/main']);

    // Nothing changed since: no section at all.
    const idle = await state(peer, first.cursor);
    expect(Object.keys(idle).sort()).toEqual(['beat', 'cursor', 'enclave', 'peer', 'since']);
    expect(idle.cursor).toBe(first.cursor);

    // One counter moves: only telemetry, only that record, with the counter's history.
    nextBeat(peer);
    peer.tree.set('/net/telemetry/saturn/main/frame_count', u64(7n));
    nextBeat(peer);
    const delta = await state(peer, first.cursor);
    expect(delta.mounts).toBeUndefined();
    expect(delta.telemetry.keys).toEqual(['saturn/invoke', 'saturn/main']);
    expect(delta.telemetry.changed.map((r: { key: string }) => r.key)).toEqual(['saturn/main']);
    expect(delta.telemetry.changed[0].value).toEqual({ frame_count: '7' });
    expect(delta.telemetry.changed[0].extra.frames.map((p: [number, string]) => p[1])).toEqual(['1', '7']);
    expect(delta.cursor).toBeGreaterThan(first.cursor);

    // A removed record drops out of `keys`, so the page forgets it.
    nextBeat(peer);
    peer.tree.remove('/net/mounts/saturn/invoke');
    nextBeat(peer);
    const removed = await state(peer, delta.cursor);
    expect(removed.mounts.keys).toEqual(['saturn/link/main']);
    expect(removed.mounts.changed).toEqual([]);
  });

  it('lists invoke records per request, mirrors with the digest of their copy, and CEI facts issued after the cursor', async () => {
    const peer = await peerFor();
    nextBeat(peer);
    peer.tree.set('/net/organs/invoke/requests/saturn/invokes/inv-1/state', text('ok'));
    peer.tree.set('/net/organs/mirror/requests/1/dst_chan', text('/data/copy'));
    peer.tree.set('/net/organs/mirror/requests/1/bundle_seq', u64(3n));
    peer.tree.set('/data/copy/a', u64(1n));
    peer.runtime.cei.emit({ topic: 'sec.edge.deny', severity: 'error', note: 'lab -> ops: no edge', origin: 'sec/send', peer: 'saturn' });
    nextBeat(peer);
    const first = await state(peer, 0);
    expect(first.invokes.keys).toEqual(['saturn/inv-1']);
    expect(first.invokes.changed[0].value).toEqual({ state: 'ok' });
    expect(first.mirrors.changed[0].extra.digest).toBe(digestHex(peer.tree.get('/data/copy')!));
    const facts = first.cei.map((f: any) => f.value.err.topic);
    expect(facts).toContain('sec.edge.deny');

    nextBeat(peer);
    peer.runtime.cei.emit({ topic: 'tp_fatal', severity: 'warn', note: 'later', origin: 'tp/listen' });
    nextBeat(peer);
    const next = await state(peer, first.cursor);
    expect(next.cei.map((f: any) => f.value.err.topic)).toEqual(['tp_fatal']);
    // The copy did not change: the mirror section is not sent again.
    expect(next.mirrors).toBeUndefined();
  });

  it('never misses a write made between beats: the beat not yet run stays after the cursor', async () => {
    const peer = await peerFor();
    nextBeat(peer);
    // Between beats (as POST /invoke does): the writes carry the beat the runtime runs next.
    peer.tree.set('/net/organs/invoke/requests/saturn/invokes/inv-1/state', text('plan'));
    const first = await state(peer, 0);
    expect(first.invokes.keys).toEqual(['saturn/inv-1']);
    expect(first.cursor).toBeLessThan(peer.runtime.beat);
    // Still before that beat runs: a fact and a second record, at the same beat.
    peer.runtime.cei.emit({
      topic: 'sec.pipeline.reject',
      severity: 'error',
      note: 'lab -> lab: pipeline nightly has no spec',
      origin: 'sec/send',
      peer: 'saturn',
    });
    peer.tree.set('/net/organs/invoke/requests/saturn/invokes/inv-2/state', text('reject'));
    const next = await state(peer, first.cursor);
    expect(next.cei.map((f: any) => f.value.err.topic)).toContain('sec.pipeline.reject');
    expect(next.invokes.changed.map((r: { key: string }) => r.key)).toContain('saturn/inv-2');
  });

  it('refuses a since that is not a beat (400 BAD_SINCE) and every method but GET (405)', async () => {
    const peer = await peerFor();
    const bad = await fetch(`${peer.httpUrl}/ui/api/state?since=-1`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('BAD_SINCE');
    const post = await fetch(`${peer.httpUrl}/ui/api/state`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(post.status).toBe(405);
  });
});

describe('the console behind the guard', () => {
  it('needs the token for its data but not for its static page, and sends a strict CSP', async () => {
    const peer = await peerFor({ token: TOKEN });
    // The page holds no peer data: no token needed (200 when built, 503 UI_NOT_BUILT before the build), never 401.
    const page = await fetch(`${peer.httpUrl}/ui/`);
    expect(page.status).not.toBe(401);
    expect(page.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect((await fetch(`${peer.httpUrl}/ui/api/state?since=0`)).status).toBe(401);
    const data = await fetch(`${peer.httpUrl}/ui/api/state?since=0`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(data.status).toBe(200);
    expect(data.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    // The page is still refused to a rebound name or another site.
    expect(await rawStatus(peer, '/ui/', { host: 'evil.example' })).toBe(421);
    expect(await rawStatus(peer, '/ui/app.js', { host: new URL(peer.httpUrl!).host, 'sec-fetch-site': 'cross-site' })).toBe(403);
    expect(await rawStatus(peer, '/ui/', { host: new URL(peer.httpUrl!).host, origin: 'http://evil.example' })).toBe(403);
    // Only the named static files skip the token: anything else under /ui/ needs it.
    expect((await fetch(`${peer.httpUrl}/ui/other`)).status).toBe(401);
  });
});
