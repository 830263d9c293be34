import { bool, bytes, digestHex, name, text, u64, i64 } from '@cep/cells';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterEach, describe, expect, it } from 'vitest';
import { COMMIT_INPUT } from '@cep/organ-mirror';
import { validateConfig } from '../src/config/load.ts';
import { createLogger } from '../src/log.ts';
import { startPeer, type Peer } from '../src/peer.ts';
import { runCli } from '../src/program.ts';
import { KEY_HEX } from './helpers/files.ts';
import { fakeIo, logSink } from './helpers/io.ts';

const peers: Peer[] = [];
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.stop('test over')));
});

async function peerFor(peer: string, extra: Record<string, unknown> = {}): Promise<Peer> {
  const config = validateConfig({ peer, enclave: 'lab', http: { port: 0 }, ...extra }, 'peer.yaml', '/tmp');
  const sink = logSink();
  const started = await startPeer({ config, log: createLogger({ level: 'warn', destination: sink.destination, isTTY: false }), manualBeats: true });
  peers.push(started);
  return started;
}

async function getJson(peer: Peer, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${peer.httpUrl}${path}`);
  return { status: res.status, body: await res.json() };
}

describe('GET /net', () => {
  it('shows only the provider catalog and the resource bounds in /net on a peer with nothing linked', async () => {
    const peer = await peerFor('earth');
    const { body } = await getJson(peer, '/net?path=/net');
    expect(Object.keys((body as { value: object }).value)).toEqual(['limits', 'organs', 'transports']);
    expect(Object.keys((body as { value: { organs: object } }).value.organs).sort()).toEqual(['invoke', 'link', 'mirror']);
    expect(Object.keys((body as { value: { transports: object } }).value.transports).sort()).toEqual(['pipe', 'tcp', 'udp']);
  });

  it('returns the branch as JSON, 64-bit integers as strings', async () => {
    const peer = await peerFor('earth');
    peer.runtime.step();
    peer.tree.set('/net/telemetry/saturn/main/frame_count', u64((1n << 60n) + 1n));
    peer.tree.set('/net/telemetry/saturn/main/bp_flag', bool(true));
    peer.tree.set('/net/telemetry/saturn/main/last_event', text('ready'));
    peer.tree.set('/net/telemetry/saturn/main/skew', i64(-5));
    peer.tree.set('/net/telemetry/saturn/main/blob', bytes(new Uint8Array([1, 255])));
    const { status, body } = await getJson(peer, '/net?path=/net/telemetry');
    expect(status).toBe(200);
    expect(body).toEqual({
      path: '/net/telemetry',
      beat: peer.runtime.beat,
      value: { saturn: { main: { frame_count: String((1n << 60n) + 1n), bp_flag: true, last_event: 'ready', skew: '-5', blob: { $bytes: '01ff' } } } },
    });
  });

  it('leaves out soft-deleted cells and cuts the branch at the asked depth', async () => {
    const peer = await peerFor('earth');
    peer.tree.set('/net/peers/saturn/services/sky/mode', text('mirror'));
    peer.tree.set('/net/peers/mars/services/dust/mode', text('mirror'));
    peer.tree.delete('/net/peers/mars');
    expect((await getJson(peer, '/net?path=/net/peers')).body.value).toEqual({ saturn: { services: { sky: { mode: 'mirror' } } } });
    expect((await getJson(peer, '/net?path=/net/peers&depth=1')).body.value).toEqual({ saturn: { $more: '1' } });
  });

  it('shows the link, invoke and mirror requests written from the config', async () => {
    const peer = await peerFor('earth', {
      keys: { saturn: { hex: KEY_HEX } },
      peers: [{ name: 'saturn', provider: 'tcp', address: '127.0.0.1:7100' }],
      mirrors: [{ name: 'sky', source: { peer: 'saturn', path: '/data/sky' }, target: '/data/saturn/sky', bundle: { beat_window: 4 } }],
    });
    const { body } = await getJson(peer, '/net?path=/net/organs');
    expect(body.value.link.requests['1']).toMatchObject({ local_node: 'earth', mode: 'link', mount: 'main', peer: 'saturn', pref_prov: 'tcp' });
    expect(body.value.invoke.requests.saturn).toMatchObject({ local_node: 'earth', mode: 'invoke', mount: 'invoke', peer: 'saturn', pref_prov: 'tcp' });
    expect(body.value.mirror.requests['1']).toMatchObject({
      src_peer: 'saturn',
      src_chan: '/data/sky',
      dst_chan: '/data/saturn/sky',
      bundle: { beat_window: '4', max_infl: '8', commit_mode: 'stream' },
    });
    expect(peer.tree.get('/net/organs/link/requests')?.storeType).toEqual(name('organ/link'));
  });

  it('answers 404 for a path with no live cell and 400 for a relative path or bad depth', async () => {
    const peer = await peerFor('earth');
    expect((await getJson(peer, '/net?path=/net/nothing')).status).toBe(404);
    expect((await getJson(peer, '/net?path=/net/nothing')).body.error.code).toBe('PATH_NOT_FOUND');
    expect((await getJson(peer, '/net?path=net')).body.error.code).toBe('BAD_PATH');
    expect((await getJson(peer, '/net?path=/net//x')).body.error.code).toBe('BAD_PATH');
    expect((await getJson(peer, '/net?path=/&depth=x')).body.error.code).toBe('BAD_DEPTH');
    expect((await getJson(peer, '/nope')).status).toBe(404);
    expect((await fetch(`${peer.httpUrl}/net`, { method: 'POST', headers: { 'content-type': 'application/json' } })).status).toBe(405);
  });
});

describe('GET /digest and POST /invoke', () => {
  it('answers the digest and cell count of a branch, null for an absent one', async () => {
    const peer = await peerFor('earth');
    peer.tree.set('/data/sky/a', text('x'));
    peer.tree.set('/data/sky/b', u64(2));
    const { body } = await getJson(peer, '/digest?path=/data/sky');
    expect(body).toMatchObject({ path: '/data/sky', digest: digestHex(peer.tree.get('/data/sky')!), cells: 3 });
    peer.tree.set('/data/sky/b', u64(3));
    expect((await getJson(peer, '/digest?path=/data/sky')).body.digest).not.toBe(body.digest);
    expect((await getJson(peer, '/digest?path=/data/none')).body).toMatchObject({ digest: null, cells: 0 });
    expect((await getJson(peer, '/digest?path=data')).body.error.code).toBe('BAD_PATH');
  });

  it('refuses a malformed invoke body and an unknown peer with a 400 and a code', async () => {
    const peer = await peerFor('earth');
    const post = async (body: string) => {
      const res = await fetch(`${peer.httpUrl}/invoke`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      return { status: res.status, body: (await res.json()) as any };
    };
    expect(await post('not json')).toMatchObject({ status: 400, body: { error: { code: 'BAD_JSON' } } });
    expect(await post(JSON.stringify({ peer: 'saturn' }))).toMatchObject({ status: 400, body: { error: { code: 'BAD_INVOKE' } } });
    expect(await post(JSON.stringify({ peer: 'saturn', handler: 'add', arg: '-1' }))).toMatchObject({ status: 400, body: { error: { code: 'BAD_INVOKE' } } });
    expect(await post(JSON.stringify({ peer: 'mars', handler: 'add' }))).toMatchObject({ status: 400, body: { error: { code: 'UNKNOWN_PEER' } } });
  });
});

describe('POST /mirror/<name>/commit', () => {
  it('accepts a commit for a configured mirror (applied at the next beat) and 404s an unknown one', async () => {
    const peer = await peerFor('earth', {
      keys: { saturn: { hex: KEY_HEX } },
      peers: [{ name: 'saturn', provider: 'tcp', address: '127.0.0.1:7100' }],
      mirrors: [{ name: 'sky', source: { peer: 'saturn', path: '/data/sky' }, target: '/data/saturn/sky', bundle: { commit_mode: 'manual' } }],
    });
    const post = async (path: string) => {
      const res = await fetch(`${peer.httpUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' } });
      return { status: res.status, body: (await res.json()) as any };
    };
    expect(await post('/mirror/sky/commit')).toMatchObject({ status: 409, body: { error: { code: 'MIRROR_NOT_READY' } } });
    peer.runtime.step();
    expect(await post('/mirror/sky/commit')).toMatchObject({ status: 202, body: { mirror: 'sky' } });
    // The commit enters as a runtime input, so a replay commits at the same beat.
    peer.runtime.step();
    expect(peer.runtime.inboundLog.filter((input) => input.kind === COMMIT_INPUT).map((input) => input.stream)).toEqual(['1']);
    expect(await post('/mirror/moon/commit')).toMatchObject({ status: 404, body: { error: { code: 'UNKNOWN_MIRROR' } } });
  });
});

describe('GET /metrics', () => {
  it('exports the telemetry counters of every mount in Prometheus text format', async () => {
    const peer = await peerFor('earth');
    peer.tree.set('/net/telemetry/saturn/main/ready_count', u64(3));
    peer.tree.set('/net/telemetry/saturn/main/bp_count', u64(2));
    peer.tree.set('/net/telemetry/saturn/main/fatal_count', u64(0));
    peer.tree.set('/net/telemetry/saturn/main/frame_count', u64(12));
    peer.tree.set('/net/telemetry/saturn/main/bp_flag', bool(true));
    peer.tree.set('/net/telemetry/mars/dust/frame_count', u64(7));
    peer.runtime.step();
    peer.runtime.step();
    const res = await fetch(`${peer.httpUrl}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const body = await res.text();
    expect(body).toContain('# TYPE cep_mount_frames_total counter');
    expect(body).toContain('cep_mount_ready_total{peer="saturn",mount="main",node="earth"} 3');
    expect(body).toContain('cep_mount_backpressure_total{peer="saturn",mount="main",node="earth"} 2');
    expect(body).toContain('cep_mount_fatal_total{peer="saturn",mount="main",node="earth"} 0');
    expect(body).toContain('cep_mount_frames_total{peer="saturn",mount="main",node="earth"} 12');
    expect(body).toContain('cep_mount_frames_total{peer="mars",mount="dust",node="earth"} 7');
    expect(body).toContain('# TYPE cep_mount_backpressured gauge');
    expect(body).toContain('cep_mount_backpressured{peer="saturn",mount="main",node="earth"} 1');
    expect(body).toContain('cep_beat{node="earth"} 2');
  });

  it('parses as Prometheus text: counters end in _total, process metrics, refusals, CEI facts, auth failures, and the beat, invoke round-trip and bundle-apply histograms', async () => {
    const peer = await peerFor('earth');
    peer.tree.set('/net/telemetry/saturn/main/frame_count', u64(4));
    peer.tree.set('/net/listeners/tcp/rejected', u64(6));
    peer.runtime.cei.emit({ topic: 'tp_fatal', severity: 'error', note: 'channel fatal (AUTH_FAILED): handshake refused', origin: 'tp/mgr' });
    peer.runtime.cei.emit({
      topic: 'tp_fatal',
      severity: 'error',
      note: 'listener tcp refused 3 connections this beat, last x (AUTH_FAILED): bad key',
      origin: 'tp/listen',
    });
    peer.runtime.cei.emit({ topic: 'tp_backpr', severity: 'warn', note: 'slow', origin: 'tp/mgr' });
    peer.runtime.step();
    for (const ms of [0.2, 3, 40]) peer.metrics.observeBeat(ms);
    peer.metrics.observeInvoke({ peer: 'saturn', status: 'ok', beats: 2, seconds: 0.03 });
    peer.metrics.observeInvoke({ peer: 'saturn', status: 'timeout', beats: 200, seconds: 4 });
    peer.metrics.observeBundleApply({ request: '1', cells: 300, seconds: 0.003 });
    const exposition = await (await fetch(`${peer.httpUrl}/metrics`)).text();
    const families = parsePrometheusTextFormat(exposition);
    const byName = new Map(families.map((family) => [family.name, family]));
    // Every counter family follows the naming convention.
    for (const family of families) if (family.type === 'COUNTER') expect(family.name).toMatch(/_total$/);
    const value = (family: string, labels: Record<string, string>): string | undefined =>
      byName.get(family)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value;
    expect(value('cep_mount_frames_total', { peer: 'saturn', mount: 'main' })).toBe('4');
    expect(value('cep_listener_refusals_total', { provider: 'tcp' })).toBe('6');
    expect(value('cep_auth_failures_total', { side: 'mount' })).toBe('1');
    expect(value('cep_auth_failures_total', { side: 'listener' })).toBe('1');
    expect(value('cep_cei_facts_total', { topic: 'tp_fatal', severity: 'error' })).toBe('2');
    expect(value('cep_cei_facts_total', { topic: 'tp_backpr', severity: 'warn' })).toBe('1');
    expect(byName.get('cep_process_resident_memory_bytes')?.type).toBe('GAUGE');
    const beats = byName.get('cep_beat_duration_seconds');
    expect(beats?.type).toBe('HISTOGRAM');
    // The parser keeps a labelled histogram's buckets but drops its _count and _sum lines.
    const histogram = beats!.metrics[0] as { buckets: Record<string, string> };
    expect(histogram.buckets['+Inf']).toBe('3');
    expect(exposition).toMatch(/^cep_beat_duration_seconds_count\{node="earth"\} 3$/m);
    expect(Number(/^cep_beat_duration_seconds_sum\{node="earth"\} (\S+)$/m.exec(exposition)?.[1])).toBeCloseTo(0.0432, 6);
    expect(histogram.buckets['0.0005']).toBe('1');
    expect(histogram.buckets['0.005']).toBe('2');
    expect(histogram.buckets['0.05']).toBe('3');
    // The invoke round trip (caller side, beats and seconds) and bundle apply histograms, by label.
    for (const name of ['cep_invoke_round_trip_beats', 'cep_invoke_round_trip_seconds', 'cep_mirror_bundle_applied_cells'])
      expect(byName.get(name)?.type, name).toBe('HISTOGRAM');
    expect(exposition).toMatch(/^cep_invoke_round_trip_beats_bucket\{le="2",node="earth",peer="saturn",status="ok"\} 1$/m);
    expect(exposition).toMatch(/^cep_invoke_round_trip_beats_bucket\{le="128",node="earth",peer="saturn",status="timeout"\} 0$/m);
    expect(exposition).toMatch(/^cep_invoke_round_trip_beats_bucket\{le="256",node="earth",peer="saturn",status="timeout"\} 1$/m);
    expect(exposition).toMatch(/^cep_invoke_round_trip_seconds_sum\{node="earth",peer="saturn",status="timeout"\} 4$/m);
    expect(exposition).toMatch(/^cep_mirror_bundle_applied_cells_bucket\{le="256",node="earth",request="1"\} 0$/m);
    expect(exposition).toMatch(/^cep_mirror_bundle_applied_cells_bucket\{le="1024",node="earth",request="1"\} 1$/m);
    expect(exposition).toMatch(/^cep_mirror_bundle_apply_seconds_bucket\{le="0.0025",node="earth",request="1"\} 0$/m);
    expect(exposition).toMatch(/^cep_mirror_bundle_apply_seconds_bucket\{le="0.005",node="earth",request="1"\} 1$/m);
  });

  it('feeds the beat histogram from the running beat driver', async () => {
    const config = validateConfig({ peer: 'earth', enclave: 'lab', http: { port: 0 }, beat_ms: 5 }, 'peer.yaml', '/tmp');
    const sink = logSink();
    const peer = await startPeer({ config, log: createLogger({ level: 'warn', destination: sink.destination, isTTY: false }) });
    peers.push(peer);
    while (peer.runtime.beat < 5) await new Promise((resolve) => setTimeout(resolve, 5));
    const families = parsePrometheusTextFormat(await (await fetch(`${peer.httpUrl}/metrics`)).text());
    const histogram = families.find((family) => family.name === 'cep_beat_duration_seconds')!;
    // The parser keeps a labelled histogram's buckets but not its _count line; +Inf is the count.
    expect(Number(histogram.metrics[0]!.buckets!['+Inf'])).toBeGreaterThanOrEqual(5);
  });

  it('follows the tree between scrapes and keeps two peers in one process apart', async () => {
    const earth = await peerFor('earth');
    const saturn = await peerFor('saturn');
    earth.tree.set('/net/telemetry/saturn/main/frame_count', u64(1));
    saturn.tree.set('/net/telemetry/earth/main/frame_count', u64(5));
    expect(await (await fetch(`${earth.httpUrl}/metrics`)).text()).toContain('cep_mount_frames_total{peer="saturn",mount="main",node="earth"} 1');
    earth.tree.set('/net/telemetry/saturn/main/frame_count', u64(9));
    earth.tree.delete('/net/telemetry/saturn/main/bp_flag');
    const earthText = await (await fetch(`${earth.httpUrl}/metrics`)).text();
    expect(earthText).toContain('cep_mount_frames_total{peer="saturn",mount="main",node="earth"} 9');
    expect(earthText).not.toContain('node="saturn"');
    const saturnText = await (await fetch(`${saturn.httpUrl}/metrics`)).text();
    expect(saturnText).toContain('cep_mount_frames_total{peer="earth",mount="main",node="saturn"} 5');
    expect(saturnText).not.toContain('node="earth"');
  });
});

describe('GET /status and cep-node inspect', () => {
  it('reports the peer, its enclave and its beat', async () => {
    const peer = await peerFor('earth');
    peer.runtime.step();
    const { body } = await getJson(peer, '/status');
    expect(body).toMatchObject({ peer: 'earth', enclave: 'lab', beat: 1, beatMs: 10, transportWired: true, organsWired: true });
  });

  it('inspect prints the branch, the metrics and the status of a running peer', async () => {
    const peer = await peerFor('earth');
    peer.tree.set('/net/telemetry/saturn/main/frame_count', u64(4));
    const io = fakeIo();
    expect(await runCli(['node', 'cep-node', 'inspect', '/net/telemetry/saturn', '--url', peer.httpUrl!], io.deps)).toBe(0);
    expect(JSON.parse(io.stdout())).toMatchObject({ path: '/net/telemetry/saturn', value: { main: { frame_count: '4' } } });
    const m = fakeIo();
    expect(await runCli(['node', 'cep-node', 'inspect', '--metrics', '--url', peer.httpUrl!], m.deps)).toBe(0);
    expect(m.stdout()).toContain('cep_mount_frames_total{peer="saturn",mount="main",node="earth"} 4');
    const s = fakeIo({ env: { CEP_NODE_URL: peer.httpUrl } });
    expect(await runCli(['node', 'cep-node', 'inspect', '--status'], s.deps)).toBe(0);
    expect(JSON.parse(s.stdout())).toMatchObject({ peer: 'earth' });
  });

  it("inspect exits 5 with the peer's reason for a missing path, and when nothing answers", async () => {
    const peer = await peerFor('earth');
    const io = fakeIo();
    expect(await runCli(['node', 'cep-node', 'inspect', '/net/absent', '--url', peer.httpUrl!], io.deps)).toBe(5);
    expect(io.stderr()).toContain('PATH_NOT_FOUND: no live cell at /net/absent');
    const url = peer.httpUrl!;
    await peer.stop('gone');
    const gone = fakeIo();
    expect(await runCli(['node', 'cep-node', 'inspect', '--url', url], gone.deps)).toBe(5);
    expect(gone.stderr()).toContain('INSPECT_UNREACHABLE');
  });
});

describe('cep-node inspect --config', () => {
  it('finds the peer through the http section of its config', async () => {
    const peer = await peerFor('earth');
    const port = Number(new URL(peer.httpUrl!).port);
    const { tempDir } = await import('./helpers/files.ts');
    const tmp = tempDir();
    try {
      const file = tmp.write('earth.json', JSON.stringify({ peer: 'earth', enclave: 'lab', http: { port } }));
      const io = fakeIo();
      expect(await runCli(['node', 'cep-node', 'inspect', '/net', '--config', file], io.deps)).toBe(0);
      expect(JSON.parse(io.stdout())).toMatchObject({ path: '/net', value: {} });
      const off = tmp.write('off.json', JSON.stringify({ peer: 'earth', enclave: 'lab', http: false }));
      const none = fakeIo();
      expect(await runCli(['node', 'cep-node', 'inspect', '--config', off], none.deps)).toBe(3);
      expect(none.stderr()).toContain(`${off}: http: the peer has no HTTP endpoint`);
    } finally {
      tmp.cleanup();
    }
  });
});

describe('the endpoint address', () => {
  it('warns when the endpoint is not on loopback (where a token is required)', async () => {
    const config = validateConfig({ peer: 'earth', enclave: 'lab', http: { host: '0.0.0.0', port: 0, token: 'sixteen-chars-or-more' } }, 'peer.yaml', '/tmp');
    const sink = logSink();
    const peer = await startPeer({ config, log: createLogger({ level: 'info', destination: sink.destination, isTTY: false }), manualBeats: true });
    peers.push(peer);
    expect(sink.lines.find((l) => l['level'] === 40 && String(l['msg']).startsWith('http endpoint is not on loopback'))).toMatchObject({ host: '0.0.0.0' });
    const local = await peerFor('mars');
    expect(local.httpUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });
});
