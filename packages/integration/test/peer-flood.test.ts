/**
 * An authenticated peer flooding a real `cep-node` with 1 MiB junk frames, from its own process
 * holding the right key: the receiver's memory stays bounded (the inbound log keeps to its byte
 * bound, the peer's queued bytes stop its socket being read), and the receiver still links and
 * answers an invoke afterwards.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import type { RunningPeer } from './harness/peer-process.ts';
import { KEY, requestStates, startEarth, startSaturn, until, withPeers } from './support/federation.ts';

const CLIENT = fileURLToPath(new URL('./support/keyed-flood-client.mjs', import.meta.url));
const FLOOD_MS = 8_000;
const MiB = 2 ** 20;
/** Generous: the target for a 60 s flood is 300 MB (see bench/peer-flood.ts). */
const RSS_BOUND_BYTES = 400 * MiB;
/** The inbound log bound the test gives saturn. */
const LOG_BYTES = 16 * MiB;

function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? NaN) * 1024;
}

async function metric(peer: RunningPeer, name: string): Promise<number> {
  const text = await (await fetch(`${peer.url}/metrics`)).text();
  return Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

it(
  'a keyed peer pushing 1 MiB junk frames on 4 mounts: the receiver stays under the RSS bound, its inbound log within its byte bound, and it still answers an invoke',
  withPeers(60_000, async (harness) => {
    const { saturn, address } = await startSaturn(harness, 'tcp', { extra: { limits: { inbound_log_bytes: LOG_BYTES } } });
    const client = spawn(process.execPath, [CLIENT, address, KEY, String(FLOOD_MS), String(MiB), '4'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    client.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    const ended = new Promise<void>((resolve) => client.once('exit', () => resolve()));
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(saturn.pid))), 100);
    try {
      await ended;
    } finally {
      clearInterval(sampler);
      client.kill('SIGKILL');
    }
    const done = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { done?: boolean; frames?: number };
    expect(done.done).toBe(true);
    // The flood bit: saturn admitted and refused far more junk than its log may keep.
    expect(done.frames!).toBeGreaterThan(LOG_BYTES / MiB);
    const trimmed = await until(
      () => metric(saturn, 'cep_inbound_log_trimmed_total'),
      (n) => n > 0,
      'saturn to trim its inbound log',
    );
    expect(trimmed).toBeGreaterThan(0);
    expect(await metric(saturn, 'cep_inbound_log_bytes')).toBeLessThanOrEqual(LOG_BYTES);
    expect(peak).toBeLessThan(RSS_BOUND_BYTES);
    expect((await saturn.net('/net/limits/in_q_bytes')).value).toBeDefined();
    const { earth } = await startEarth(harness, 'tcp', address, { mirror: false });
    await until(
      () => requestStates(earth),
      (s) => s.link === 'active' && s.invoke === 'active',
      "earth's link and invoke requests to go active",
    );
    expect(await earth.invoke('saturn', 'add', 41)).toMatchObject({ status: 'ok', result: '42' });
  }),
);
