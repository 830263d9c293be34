import { beforeEach, describe, expect, it, vi } from 'vitest';
import { createBeatDriver } from '../src/beat-driver.ts';
import { createRuntime } from '@cep/heartbeat';
import { createLogger } from '../src/log.ts';
import { logSink } from './helpers/io.ts';

// A discrete-event simulation of time: the driver's timer requests are queued
// here and fired in order, and a slow step pushes the clock forward, so the driver
// sees exactly the durations the test decides.
let now = 0;
let pending: { fn: () => void; at: number } | undefined;
const timers = {
  set(fn: () => void, ms: number) {
    pending = { fn, at: now + ms };
    return pending;
  },
  clear(handle: unknown) {
    if (pending === handle) pending = undefined;
  },
};
beforeEach(() => {
  now = 0;
  pending = undefined;
});

async function advance(ms: number): Promise<void> {
  const until = now + ms;
  while (pending !== undefined && pending.at <= until) {
    const due = pending;
    pending = undefined;
    now = Math.max(now, due.at);
    due.fn();
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
  now = Math.max(now, until);
}

function setup(costOf: (beat: number) => number, periodMs = 5) {
  const starts: number[] = [];
  const runtime = createRuntime();
  const sink = logSink();
  const log = createLogger({ level: 'debug', destination: sink.destination, isTTY: false });
  const stepped = {
    get beat() {
      return runtime.beat;
    },
    step() {
      starts.push(now);
      now += costOf(runtime.beat);
      runtime.step();
    },
  };
  const driver = createBeatDriver({ runtime: stepped, periodMs, log, clock: () => now, timers, logEveryMs: 1000 });
  return { driver, starts, runtime, logs: sink.lines };
}

describe('the beat driver', () => {
  it('steps once per period on time', async () => {
    const { driver, starts } = setup(() => 1);
    driver.start();
    await advance(50);
    await driver.stop();
    expect(starts.slice(0, 6)).toEqual([0, 5, 10, 15, 20, 25]);
    expect(driver.stats.overruns).toBe(0);
  });

  it('starts the schedule at the first beat: a first timer delayed by start-up is not an overrun', async () => {
    const { driver, starts } = setup(() => 1);
    driver.start();
    pending!.at += 7;
    await advance(30);
    await driver.stop();
    expect(starts.slice(0, 4)).toEqual([7, 12, 17, 22]);
    expect(driver.stats.overruns).toBe(0);
  });

  it('logs an overrun, skips the missed slots and does not catch up in a burst', async () => {
    const { driver, starts, logs } = setup((beat) => (beat === 3 ? 23 : 1));
    driver.start();
    await advance(80);
    await driver.stop();
    // beat 3 starts at 15 and ends at 38, past the slots at 20, 25, 30 and 35.
    expect(starts.slice(0, 4)).toEqual([0, 5, 10, 15]);
    expect(starts[4]).toBe(38);
    const after = starts.slice(4);
    for (let i = 1; i < after.length; i++) expect(after[i]! - after[i - 1]!).toBe(5);
    expect(driver.stats.overruns).toBe(1);
    expect(driver.stats.missedSlots).toBe(3);
    expect(driver.stats.worstStepMs).toBe(23);
    const warnings = logs.filter((l) => l['msg'] === 'beat overran its slot; skipping missed slots');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ beat: 3, stepMs: 23, lateMs: 0, periodMs: 5, missedSlots: 3 });
  });

  it('tells a late timer from a slow beat: a quick step started late is an overrun with lateMs', async () => {
    const { driver, starts, logs } = setup(() => 1);
    driver.start();
    await advance(10);
    // The event loop is blocked for 17 ms before the slot at 15 can fire.
    pending!.at += 17;
    await advance(40);
    await driver.stop();
    expect(starts.slice(0, 4)).toEqual([0, 5, 10, 32]);
    expect(starts[4]).toBe(33);
    expect(driver.stats.overruns).toBe(1);
    expect(logs.find((l) => l['msg'] === 'beat overran its slot; skipping missed slots')).toMatchObject({ beat: 3, stepMs: 1, lateMs: 17, missedSlots: 2 });
  });

  it('warns at most once per interval when every beat overruns, and counts them all', async () => {
    const { driver, logs } = setup(() => 12);
    driver.start();
    await advance(2500);
    await driver.stop();
    const warnings = logs.filter((l) => l['msg'] === 'beat overran its slot; skipping missed slots');
    expect(driver.stats.overruns).toBeGreaterThan(100);
    expect(warnings.length).toBeGreaterThanOrEqual(2);
    expect(warnings.length).toBeLessThanOrEqual(3);
    const reported = warnings.reduce((sum, w) => sum + (w['overrunsSinceLastWarning'] as number), 0);
    expect(reported).toBeLessThanOrEqual(driver.stats.overruns);
    expect(reported).toBeGreaterThan(driver.stats.overruns / 2);
  });

  it('stops stepping after stop()', async () => {
    const { driver, starts, runtime } = setup(() => 1);
    driver.start();
    await advance(12);
    await driver.stop();
    const beats = runtime.beat;
    await advance(50);
    expect(runtime.beat).toBe(beats);
    expect(starts).toHaveLength(beats);
    expect(driver.running).toBe(false);
  });

  it('stops and reports a step that throws', async () => {
    const runtime = {
      beat: 0,
      step: () => {
        throw new Error('boom');
      },
    };
    const sink = logSink();
    const fatal = vi.fn();
    const driver = createBeatDriver({
      runtime,
      periodMs: 5,
      log: createLogger({ level: 'info', destination: sink.destination, isTTY: false }),
      clock: () => now,
      timers,
      onFatal: fatal,
    });
    driver.start();
    await advance(20);
    expect(fatal).toHaveBeenCalledTimes(1);
    expect(driver.running).toBe(false);
    expect(sink.lines.find((l) => l['level'] === 60)).toMatchObject({ msg: 'beat failed; stopping the beat driver', beat: 0 });
  });
});
