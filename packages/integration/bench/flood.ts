/**
 * How a flooded `cep-node` listener holds up: saturn listens (TCP, then a Unix socket), a
 * separate client process floods it with silent and garbage connections for FLOOD_MS; a few
 * seconds in, earth starts with the right key. Prints the time from earth being up to its link
 * going active, the same with no flood (the anchor, same run), the ratio, saturn's peak RSS
 * during the flood, the refusals counted in /net and the refusal log lines.
 *
 *   npx tsx --conditions=@cep/source packages/integration/bench/flood.ts [flood ms] [connections kept open]
 *
 * Runs the built `cep-node` (build first), like the integration tests.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createPeerHarness, type RunningPeer } from '../test/harness/peer-process.ts';
import { requestStates, startEarth, startSaturn, until, type Via } from '../test/support/federation.ts';

const FLOOD_MS = Number(process.argv[2] ?? 20_000);
const EARTH_AFTER_MS = 3_000;
const WIDTH = Number(process.argv[3] ?? 2048);
const FLOOD_CLIENT = fileURLToPath(new URL('../test/support/flood-client.mjs', import.meta.url));

function rss(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) * 1024;
}

async function refusals(peer: RunningPeer, via: Via): Promise<number> {
  try {
    return Number((await peer.net(`/net/listeners/${via}/rejected`)).value);
  } catch {
    return 0;
  }
}

/**
 * ms from earth being up (its HTTP endpoint answers; process start-up is not the listener's
 * business, and is slow on a loaded machine) to its link and invoke requests being active.
 */
async function linkTime(harness: ReturnType<typeof createPeerHarness>, via: Via, address: string): Promise<number> {
  const { earth } = await startEarth(harness, via, address, { mirror: false, file: `earth-${Math.random().toString(36).slice(2)}.json` });
  const t0 = performance.now();
  await until(
    () => requestStates(earth),
    (s) => s.link === 'active' && s.invoke === 'active',
    'earth to link',
    60_000,
  );
  const ms = performance.now() - t0;
  earth.signal('SIGKILL');
  await earth.exited;
  return ms;
}

async function run(via: Via): Promise<void> {
  const harness = createPeerHarness();
  try {
    const { saturn, address } = await startSaturn(harness, via);
    const anchor = await linkTime(harness, via, address);
    const baseRss = rss(saturn.pid);
    const flood = spawn(process.execPath, [FLOOD_CLIENT, via, address, String(FLOOD_MS), String(WIDTH)], { stdio: 'ignore' });
    const floodEnded = new Promise<void>((resolve) => flood.once('exit', () => resolve()));
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, rss(saturn.pid))), 250);
    await new Promise((r) => setTimeout(r, EARTH_AFTER_MS));
    const during = await linkTime(harness, via, address);
    await floodEnded;
    clearInterval(sampler);
    const counted = await refusals(saturn, via);
    const lines = saturn.logs.filter((l) => l['origin'] === 'tp/listen').length;
    console.log(
      `${via.padEnd(4)} link: ${during.toFixed(0)} ms during the flood vs ${anchor.toFixed(0)} ms without (ratio ${(during / anchor).toFixed(2)}); ` +
        `saturn RSS ${(baseRss / 2 ** 20).toFixed(0)} MB before, peak ${(peak / 2 ** 20).toFixed(0)} MB; ` +
        `${counted} refusals counted, ${lines} refusal log lines over a ${FLOOD_MS / 1000} s flood of ${WIDTH} connections`,
    );
  } finally {
    await harness.cleanup();
  }
}

console.log(`load average: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
for (const via of ['tcp', 'pipe'] as const) await run(via);
console.log(`load average: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
