import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { fileEngine, openStore } from '@cep/store';
import { fullState, workloadRuntime } from './fixtures/workload.ts';

const CHILD = fileURLToPath(new URL('./fixtures/crash-child.ts', import.meta.url));
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

/** Runs the child until it has announced `durableLines` durable beats, then SIGKILLs it; returns the last durable beat it announced. */
async function runAndKill(dir: string, mode: string, durableLines: number, sliceBytes: number): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@cep/source', CHILD, dir, mode, '10', String(sliceBytes)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  cleanups.push(() => child.kill('SIGKILL'));
  let lastDurable = -1;
  let seen = 0;
  let buffered = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      const match = /^durable (\d+)$/.exec(line);
      if (match === null) continue;
      lastDurable = Number(match[1]);
      // Kill at a moment the test does not choose: after a varying number of acknowledged beats,
      // while the child is somewhere in its next beats (appending, syncing or snapshotting).
      if (++seen === durableLines) setTimeout(() => child.kill('SIGKILL'), Math.random() * 20);
    }
  });
  await exited;
  expect(seen).toBeGreaterThanOrEqual(durableLines); // killed by us, not finished or crashed early
  return lastDurable;
}

it('kill -9 at random moments: every reopen lands exactly on a committed beat, never before an acknowledged one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cep-store-kill-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const reference = workloadRuntime(undefined, 40, 5);
  let previous = -1;
  let killedMidSnapshot = 0;
  for (let round = 0; round < 20; round++) {
    const mode = round % 2 === 0 ? 'beat' : '8';
    // Half the rounds write each snapshot in one beat, half spread it over ~10 beats (64 KiB a
    // beat against ~660 KB of tree), so kills land inside sliced snapshots too.
    const sliceBytes = round % 4 < 2 ? 1 << 30 : 65_536;
    const acknowledged = await runAndKill(dir, mode, 1 + Math.floor(Math.random() * 60), sliceBytes);
    // The journal from before a snapshot is set aside until the snapshot is in place.
    if (existsSync(join(dir, 'journal.old.cepj'))) killedMidSnapshot++;
    const store = openStore({ engine: fileEngine({ dir }) });
    const last = store.recovery.lastBeat!;
    if (process.env['CEP_STORE_TRACE'] !== undefined)
      process.stderr.write(`round ${round} ${mode}: acknowledged ${acknowledged}, reopened at ${last}, cut: ${store.recovery.cut?.reason ?? 'none'}\n`);
    expect(last).toBeGreaterThanOrEqual(acknowledged);
    expect(last).toBeGreaterThanOrEqual(previous);
    while (reference.beat <= last) reference.step();
    expect(fullState(store.tree)).toBe(fullState(reference.tree));
    store.close();
    previous = last;
  }
  expect(killedMidSnapshot).toBeGreaterThanOrEqual(3);
}, 600_000); // a bound against hangs: 20 child processes start under tsx, slow on a busy machine
