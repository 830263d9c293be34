/**
 * What a keyed peer flooding junk can make a receiver hold: saturn (a real `cep-node`) listens
 * on TCP; a separate process holding the right key (as luna) pushes 1 MiB junk frames on its
 * mounts as fast as saturn takes them, for FLOOD_MS. Prints saturn's RSS at rest (the anchor,
 * same run), its peak during the flood, and its RSS some seconds after; the frames sent; the
 * inbound log's bytes and trims from /metrics; and whether saturn still answers an invoke.
 *
 *   npx tsx --conditions=@cep/source packages/integration/bench/peer-flood.ts [flood ms] [frame bytes] [mounts] [inbound log bytes]
 *
 * Runs the built `cep-node` and @cep/provider-tcp (build first:
 * `npx --yes pnpm@10.34.8 exec turbo run build --filter=@cep/integration...`).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createPeerHarness, type RunningPeer } from '../test/harness/peer-process.ts';
import { KEY, requestStates, startEarth, startSaturn, until } from '../test/support/federation.ts';

const FLOOD_MS = Number(process.argv[2] ?? 60_000);
const FRAME_BYTES = Number(process.argv[3] ?? 1 << 20);
const MOUNTS = Number(process.argv[4] ?? 4);
/** Optional `limits.inbound_log_bytes` for saturn (default: the config's default). */
const LOG_BYTES = process.argv[5] === undefined ? undefined : Number(process.argv[5]);
/** How long after the flood saturn's RSS is read again (env AFTER_MS, default 10 s). */
const AFTER_MS = Number(process.env['AFTER_MS'] ?? 10_000);
const CLIENT = fileURLToPath(new URL('../test/support/keyed-flood-client.mjs', import.meta.url));
const MB = 2 ** 20;

function rss(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) * 1024;
}

async function metric(peer: RunningPeer, name: string): Promise<number> {
  const text = await (await fetch(`${peer.url}/metrics`)).text();
  return Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').trim();
console.log(`load average: ${loadavg()}`);
const harness = createPeerHarness();
try {
  const { saturn, address } = await startSaturn(harness, 'tcp', LOG_BYTES === undefined ? {} : { extra: { limits: { inbound_log_bytes: LOG_BYTES } } });
  await new Promise((r) => setTimeout(r, 2_000));
  const base = rss(saturn.pid);
  const client = spawn(process.execPath, [CLIENT, address, KEY, String(FLOOD_MS), String(FRAME_BYTES), String(MOUNTS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  client.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const ended = new Promise<void>((resolve) => client.once('exit', () => resolve()));
  let peak = 0;
  const samples: number[] = [];
  const sampler = setInterval(() => {
    const now = rss(saturn.pid);
    peak = Math.max(peak, now);
    samples.push(now);
  }, 250);
  await ended;
  clearInterval(sampler);
  const done = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { frames?: number; bytes?: number };
  const logBytes = await metric(saturn, 'cep_inbound_log_bytes');
  const trimmed = await metric(saturn, 'cep_inbound_log_trimmed_total');
  await new Promise((r) => setTimeout(r, AFTER_MS));
  const after = rss(saturn.pid);
  const logBytesAfter = await metric(saturn, 'cep_inbound_log_bytes');
  const { earth } = await startEarth(harness, 'tcp', address, { mirror: false });
  await until(
    () => requestStates(earth),
    (s) => s.link === 'active' && s.invoke === 'active',
    'earth to link',
    60_000,
  );
  const answer = await earth.invoke('saturn', 'add', 41);
  const mean = samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length);
  console.log(
    `flood ${FLOOD_MS / 1000} s, ${MOUNTS} mount(s), ${FRAME_BYTES} B frames: ${done.frames ?? '?'} frames (${((done.bytes ?? 0) / MB).toFixed(0)} MiB) sent\n` +
      `saturn RSS: ${(base / MB).toFixed(0)} MB at rest (anchor), mean ${(mean / MB).toFixed(0)} MB and peak ${(peak / MB).toFixed(0)} MB during the flood ` +
      `(peak/rest ${(peak / base).toFixed(2)}), ${(after / MB).toFixed(0)} MB ${AFTER_MS / 1000} s after (after/rest ${(after / base).toFixed(2)})\n` +
      `inbound log: ${(logBytes / MB).toFixed(1)} MiB at the end of the flood (${trimmed} entries trimmed), ${(logBytesAfter / MB).toFixed(1)} MiB ${AFTER_MS / 1000} s after\n` +
      `invoke after the flood: ${JSON.stringify(answer)}`,
  );
} finally {
  await harness.cleanup();
}
console.log(`load average: ${loadavg()}`);
