import { getHeapSpaceStatistics } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { createBeatDriver } from '../src/beat-driver.ts';
import { createLogger } from '../src/log.ts';
import { youngGc } from '../src/young-gc.ts';
import { logSink } from './helpers/io.ts';

const youngUsed = (): number => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_used_size;

/** Young objects that die at once: what a beat leaves behind. */
function garbage(bytes: number): number {
  let n = 0;
  for (let i = 0; i < bytes / 64; i++) n += [i, i + 1, i + 2, i + 3].length;
  return n;
}

describe('young-generation GC between beats', () => {
  it('past the limit, one minor GC is deferred (not run in the beat), and it empties the young generation', () => {
    const deferred: Array<() => void> = [];
    const after = youngGc(256 << 10, (fn) => void deferred.push(fn));
    expect(after).toBeTypeOf('function');
    // Enough garbage that V8 has not collected it all by itself.
    for (let i = 0; i < 50 && youngUsed() < 512 << 10; i++) garbage(64 << 10);
    const before = youngUsed();
    expect(before).toBeGreaterThanOrEqual(256 << 10);
    after!();
    after!();
    // Deferred once, however many beats end before it runs.
    expect(deferred).toHaveLength(1);
    deferred[0]!();
    // What is left are the test runner's survivors.
    expect(youngUsed()).toBeLessThan(before / 2);
  });

  it('below the limit nothing is deferred', () => {
    const deferred: Array<() => void> = [];
    // More than V8's young generation ever holds (16 MiB semi-spaces by default).
    const after = youngGc(64 << 20, (fn) => void deferred.push(fn));
    garbage(64 << 10);
    after!();
    expect(deferred).toHaveLength(0);
  });

  it('leaves the process flags as they were: a context made later has no gc', () => {
    expect(process.execArgv).not.toContain('--expose-gc');
    expect(youngGc(1 << 20)).toBeTypeOf('function');
    expect(runInNewContext('typeof gc')).toBe('undefined');
  });

  it('the beat driver calls afterStep once after each step that returned, and not after one that threw', async () => {
    let now = 0;
    const timers: Array<() => void> = [];
    let beat = 0;
    const calls: string[] = [];
    const driver = createBeatDriver({
      runtime: {
        get beat() {
          return beat;
        },
        step() {
          calls.push(`step ${beat}`);
          if (beat === 2) throw new Error('boom');
          beat++;
        },
      },
      periodMs: 5,
      log: createLogger({ level: 'fatal', destination: logSink().destination, isTTY: false }),
      clock: () => now,
      timers: { set: (fn) => void timers.push(fn), clear: () => undefined },
      afterStep: () => void calls.push(`after ${beat}`),
    });
    driver.start();
    for (let i = 0; i < 4 && timers.length > 0; i++) {
      now += 5;
      timers.shift()!();
      for (let j = 0; j < 5; j++) await Promise.resolve();
    }
    expect(calls).toEqual(['step 0', 'after 1', 'step 1', 'after 2', 'step 2']);
    expect(driver.running).toBe(false);
  });
});
