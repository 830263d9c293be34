/**
 * The invoke round-trip and bundle-apply histograms are fed by real work: earth calls saturn's
 * `add` over TCP and mirrors its /data/sky, then reads both histograms from its own /metrics.
 */
import { fileURLToPath } from 'node:url';
import { u64 } from '@cep/cells';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config/load.ts';
import { loadHandlers } from '../src/handlers.ts';
import { createLogger } from '../src/log.ts';
import { startPeer, type Peer } from '../src/peer.ts';
import { KEY_HEX } from './helpers/files.ts';
import { logSink } from './helpers/io.ts';

const ADD = fileURLToPath(new URL('../examples/handlers/add.mjs', import.meta.url));
const HERE = fileURLToPath(new URL('.', import.meta.url));

const peers: Peer[] = [];
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.stop('test over')));
});

async function start(doc: Record<string, unknown>): Promise<Peer> {
  // A call expires after its reply wait (200 beats × beat_ms) less the clock skew: 20 ms beats and
  // no skew give it 4 s, so a loaded machine does not turn these calls into INVOKE_EXPIRED.
  const config = validateConfig({ enclave: 'lab', http: { port: 0 }, beat_ms: 20, clock_skew_ms: 0, ...doc }, 'peer.yaml', HERE);
  const handlers = await loadHandlers(config, 'peer.yaml');
  const peer = await startPeer({ config, log: createLogger({ level: 'warn', destination: logSink().destination, isTTY: false }), handlers });
  peers.push(peer);
  return peer;
}

async function until<T>(read: () => T | Promise<T>, ok: (value: T) => boolean, what: string): Promise<T> {
  // Bounded by the test's own timeout: waits on the condition, not on a duration.
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (peers.length === 0) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A scrape: the parsed families (names, types) and the text (the parser drops a histogram's labels). */
async function scrape(peer: Peer): Promise<{ types: Map<string, string>; text: string }> {
  const text = await (await fetch(`${peer.httpUrl}/metrics`)).text();
  return { types: new Map(parsePrometheusTextFormat(text).map((family) => [family.name, family.type])), text };
}

/** The value of `<histogram>_<part>` (count or sum) on the series carrying these labels; 0 when absent. */
function series(text: string, histogram: string, part: 'count' | 'sum', labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    const match = /^(\w+)\{(.*)\} (\S+)$/.exec(line);
    if (match?.[1] !== `${histogram}_${part}`) continue;
    const has = Object.fromEntries([...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => has[k] === v)) return Number(match[3]);
  }
  return 0;
}

describe('invoke and bundle-apply histograms', () => {
  it("count earth's calls to saturn by status and the bundles earth applied from saturn's branch", async () => {
    const saturn = await start({
      peer: 'saturn',
      keys: { earth: { hex: KEY_HEX } },
      peer_policy: { default_enclave: 'lab' },
      listen: { tcp: '127.0.0.1:0' },
      invoke: [{ name: 'add', module: ADD }],
    });
    const earth = await start({
      peer: 'earth',
      keys: { saturn: { hex: KEY_HEX } },
      peers: [{ name: 'saturn', provider: 'tcp', address: saturn.transport.listening['tcp'] }],
      mirrors: [{ name: 'sky', source: { peer: 'saturn', path: '/data/sky' }, target: '/data/saturn/sky' }],
    });
    await until(
      () => earth.tree.getValue('/net/organs/invoke/requests/saturn/state')?.value,
      (s) => s === 'active',
      "earth's invoke request to go active",
    );

    const before = await scrape(earth);
    for (const name of ['cep_invoke_round_trip_beats', 'cep_invoke_round_trip_seconds', 'cep_mirror_bundle_applied_cells', 'cep_mirror_bundle_apply_seconds'])
      expect(before.types.get(name), name).toBe('HISTOGRAM');
    const ok = { peer: 'saturn', status: 'ok' };
    expect(series(before.text, 'cep_invoke_round_trip_beats', 'count', ok)).toBe(0);

    for (const arg of [1n, 2n, 3n]) expect(await earth.organs.call('saturn', 'add', arg)).toMatchObject({ status: 'ok' });
    const after = await scrape(earth);
    expect(series(after.text, 'cep_invoke_round_trip_beats', 'count', ok)).toBe(3);
    expect(series(after.text, 'cep_invoke_round_trip_seconds', 'count', ok)).toBe(3);
    // Each call is answered at a later beat than the one it was submitted in: at least 1 beat each.
    expect(series(after.text, 'cep_invoke_round_trip_beats', 'sum', ok)).toBeGreaterThanOrEqual(3);
    expect(series(after.text, 'cep_invoke_round_trip_seconds', 'sum', ok)).toBeGreaterThan(0);
    // Saturn only answered: it has no caller-side observations.
    expect(series((await scrape(saturn)).text, 'cep_invoke_round_trip_beats', 'count', { peer: 'earth' })).toBe(0);

    saturn.tree.set('/data/sky/a', u64(1));
    saturn.tree.set('/data/sky/b', u64(2));
    await until(
      () => earth.tree.getValue('/data/saturn/sky/b')?.value,
      (v) => v === 2n,
      "saturn's /data/sky/b in earth's copy",
    );
    const applied = await scrape(earth);
    expect(series(applied.text, 'cep_mirror_bundle_applied_cells', 'count', { request: '1' })).toBeGreaterThanOrEqual(1);
    // Every cell of the copy came in some bundle: the bundles' cells add up to at least a and b.
    expect(series(applied.text, 'cep_mirror_bundle_applied_cells', 'sum', { request: '1' })).toBeGreaterThanOrEqual(2);
    // Each applied bundle was also timed: as many apply durations as bundles, none negative.
    const bundles = series(applied.text, 'cep_mirror_bundle_applied_cells', 'count', { request: '1' });
    expect(series(applied.text, 'cep_mirror_bundle_apply_seconds', 'count', { request: '1' })).toBe(bundles);
    expect(series(applied.text, 'cep_mirror_bundle_apply_seconds', 'sum', { request: '1' })).toBeGreaterThanOrEqual(0);
  });
});
