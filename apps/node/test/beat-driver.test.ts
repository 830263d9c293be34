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

// Deferred early beats (the driver's `defer`), run when the test says the event loop turns.
let deferred: Array<() => void> = [];
beforeEach(() => {
  deferred = [];
});
async function turn(): Promise<void> {
  const due = deferred;
  deferred = [];
  for (const fn of due) fn();
  for (let i = 0; i < 5; i++) await Promise.resolve();
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
  const driver = createBeatDriver({
    runtime: stepped,
    periodMs,
    log,
    clock: () => now,
    timers,
    logEveryMs: 1000,
    defer: (fn) => void deferred.push(fn),
  });
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

  describe('early beats (wake)', () => {
    it('an input arriving on an idle runtime starts a beat before the next slot; the slots keep their times', async () => {
      const { driver, starts, runtime } = setup(() => 1);
      runtime.defineInput('ping', () => {});
      const stop = runtime.onInput(() => driver.wake());
      driver.start();
      await advance(7); // slot beats at 0 and 5
      runtime.pushInput('ping', { stream: 's', seq: 1, data: new Uint8Array([1]) });
      await turn();
      expect(starts).toEqual([0, 5, 7]);
      expect(runtime.inboundLog.map((l) => l.beat)).toEqual([2]); // admitted by the early beat
      await advance(13); // slot beats at 10, 15 and 20, as if no early beat had run
      expect(starts).toEqual([0, 5, 7, 10, 15, 20]);
      expect(driver.stats).toMatchObject({ beats: 6, earlyBeats: 1, overruns: 0 });
      stop();
      await driver.stop();
    });

    it('a flood of inputs runs at most one early beat between two slot beats (≤ 2 beats per period)', async () => {
      const { driver, starts, runtime } = setup(() => 1);
      runtime.defineInput('ping', () => {});
      const stop = runtime.onInput(() => driver.wake());
      driver.start();
      await advance(1);
      let seq = 0;
      // An input every 0.5 ms for 100 ms, the event loop turning after each.
      for (let t = 0; t < 200; t++) {
        runtime.pushInput('ping', { stream: 's', seq: ++seq, data: new Uint8Array([1]) });
        await turn();
        await advance(0.5);
      }
      await advance(5); // the last input's beat
      stop();
      await driver.stop();
      const slots = Math.floor(now / 5) + 1;
      expect(driver.stats.beats - driver.stats.earlyBeats).toBeLessThanOrEqual(slots);
      expect(driver.stats.earlyBeats).toBeGreaterThan(0);
      // Between two consecutive slot times there is at most one early beat.
      for (let slot = 0; slot < slots; slot++) {
        const inside = starts.filter((s) => s > slot * 5 && s < (slot + 1) * 5);
        expect(inside.length).toBeLessThanOrEqual(1);
      }
      // Every input was admitted, none twice.
      expect(runtime.inboundLog.map((l) => l.seq)).toEqual(Array.from({ length: seq }, (_, i) => i + 1));
    });

    it('does nothing during a beat, before the first beat, or after stop', async () => {
      const { driver, starts, runtime } = setup(() => 1);
      runtime.defineInput('ping', () => {});
      driver.wake(); // not started
      await turn();
      expect(starts).toEqual([]);
      driver.start();
      driver.wake(); // started, no beat yet: the first slot is due now anyway
      await turn();
      expect(deferred).toHaveLength(0);
      await advance(0);
      expect(starts).toEqual([0]);
      await driver.stop();
      driver.wake();
      await turn();
      expect(starts).toEqual([0]);
    });

    it('an input pushed while a beat runs (its beforeStep, its step) wakes nothing: the next slot takes it', async () => {
      const runtime = createRuntime();
      runtime.defineInput('ping', () => {});
      let seq = 0;
      const push = () => runtime.pushInput('ping', { stream: 's', seq: ++seq, data: new Uint8Array([1]) });
      const starts: number[] = [];
      const driver = createBeatDriver({
        runtime: {
          get beat() {
            return runtime.beat;
          },
          step() {
            starts.push(now);
            push();
            now += 1;
            runtime.step();
          },
        },
        periodMs: 5,
        log: createLogger({ level: 'info', destination: logSink().destination, isTTY: false }),
        clock: () => now,
        timers,
        beforeStep: push,
        defer: (fn) => void deferred.push(fn),
      });
      const stop = runtime.onInput(() => driver.wake());
      driver.start();
      await advance(12);
      expect(deferred).toHaveLength(0);
      expect(starts).toEqual([0, 5, 10]);
      expect(driver.stats.earlyBeats).toBe(0);
      stop();
      await driver.stop();
    });

    it('an early beat that runs past the slot leaves the slot beat to run at once, counted as late', async () => {
      const { driver, starts } = setup((beat) => (beat === 1 ? 8 : 1));
      driver.start();
      await advance(2); // slot beat 0 at 0
      driver.wake();
      await turn(); // early beat 1 at 2, ends at 10 (past the slot at 5)
      await advance(12);
      expect(starts.slice(0, 3)).toEqual([0, 2, 10]);
      expect(driver.stats.earlyBeats).toBe(1);
      await driver.stop();
    });
  });
});
