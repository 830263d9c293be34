/**
 * Drives a runtime's `step()` on a timer. This is the only place the peer reads
 * the wall clock for pacing: the runtime itself counts beats, never milliseconds.
 *
 * Slots are `periodMs` apart. A beat that ends after the next slot is an overrun:
 * it is counted and logged (at most once per `logEveryMs`), and the schedule
 * restarts from now — missed slots are skipped, never run back to back as a burst.
 */
import type { Logger } from 'pino';

/**
 * Anything with a `step()`: a `@cep/heartbeat` `Runtime`, whose step is synchronous.
 * A returned promise is awaited, so a test can hold a beat open across a stop.
 */
export interface Steppable {
  readonly beat: number;
  step(): unknown;
}

/** Counters of a running driver. */
export interface BeatDriverStats {
  /** Beats stepped. */
  readonly beats: number;
  /** Beats that ended after the next slot. */
  readonly overruns: number;
  /** Slots skipped because of overruns. */
  readonly missedSlots: number;
  /** Longest `step()` seen, in ms. */
  readonly worstStepMs: number;
}

/** Options of {@link createBeatDriver}. */
export interface BeatDriverOptions {
  readonly runtime: Steppable;
  readonly periodMs: number;
  readonly log: Logger;
  /** Monotonic milliseconds; `performance.now` by default (tests pass their own). */
  readonly clock?: () => number;
  /** Timer functions; the global `setTimeout`/`clearTimeout` by default (tests simulate time). */
  readonly timers?: { set(fn: () => void, ms: number): unknown; clear(handle: unknown): void };
  /** Rate limit of overrun warnings. */
  readonly logEveryMs?: number;
  /** Hears each beat's `step()` duration in ms (the beat-duration histogram of the metrics). */
  readonly onStep?: (stepMs: number) => void;
  /** Called once when `step()` throws; the driver has stopped by then. */
  readonly onFatal?: (error: unknown) => void;
  /**
   * Called right before each `step()`, e.g. to record the wall clock as an input of the beat
   * (a process paused between beats records the time it resumes at, not the time it stopped).
   */
  readonly beforeStep?: () => void;
}

/** A running (or stopped) beat driver. */
export interface BeatDriver {
  start(): void;
  /** Stops after the beat in progress, if any, has finished. */
  stop(): Promise<void>;
  readonly running: boolean;
  readonly stats: BeatDriverStats;
}

/** Creates a driver; call `start()` to begin stepping. */
export function createBeatDriver(options: BeatDriverOptions): BeatDriver {
  const { runtime, periodMs, log } = options;
  const clock = options.clock ?? (() => performance.now());
  const logEveryMs = options.logEveryMs ?? 1000;
  const stats = { beats: 0, overruns: 0, missedSlots: 0, worstStepMs: 0 };
  let running = false;
  const timers = options.timers ?? { set: (fn: () => void, ms: number) => setTimeout(fn, ms), clear: (h: unknown) => clearTimeout(h as NodeJS.Timeout) };
  let timer: unknown;
  let inFlight: Promise<void> | undefined;
  let nextSlot = 0;
  let lastWarnAt = -Infinity;
  let unreported = 0;

  const schedule = (now: number): void => {
    if (!running) return;
    timer = timers.set(
      () => {
        timer = undefined;
        inFlight = tick().finally(() => {
          inFlight = undefined;
        });
      },
      Math.max(0, nextSlot - now),
    );
  };

  const tick = async (): Promise<void> => {
    if (!running) return;
    const beat = runtime.beat;
    const started = clock();
    // The schedule starts with the first beat, not with start(): when the first timer is
    // due the process is still finishing its start-up, and that is not an overrun.
    if (stats.beats === 0) nextSlot = started;
    try {
      options.beforeStep?.();
      const result = runtime.step();
      if (result instanceof Promise) await result;
    } catch (error) {
      running = false;
      log.fatal({ err: error, beat }, 'beat failed; stopping the beat driver');
      options.onFatal?.(error);
      return;
    }
    const ended = clock();
    const stepMs = ended - started;
    // How late the timer fired: an overrun with a short step and a large lateMs is a
    // busy event loop or machine, not a slow beat.
    const lateMs = Math.max(0, started - nextSlot);
    stats.beats += 1;
    if (stepMs > stats.worstStepMs) stats.worstStepMs = stepMs;
    options.onStep?.(stepMs);
    nextSlot += periodMs;
    if (ended > nextSlot) {
      const missed = Math.floor((ended - nextSlot) / periodMs);
      stats.overruns += 1;
      stats.missedSlots += missed;
      unreported += 1;
      if (ended - lastWarnAt >= logEveryMs) {
        log.warn(
          {
            beat,
            stepMs: Number(stepMs.toFixed(3)),
            lateMs: Number(lateMs.toFixed(3)),
            periodMs,
            missedSlots: missed,
            overrunsSinceLastWarning: unreported,
            overrunsTotal: stats.overruns,
          },
          'beat overran its slot; skipping missed slots',
        );
        lastWarnAt = ended;
        unreported = 0;
      }
      nextSlot = ended;
    }
    schedule(ended);
  };

  return {
    start() {
      if (running) return;
      running = true;
      nextSlot = clock();
      schedule(nextSlot);
    },
    async stop() {
      running = false;
      if (timer !== undefined) timers.clear(timer);
      timer = undefined;
      if (inFlight !== undefined) await inFlight;
    },
    get running() {
      return running;
    },
    stats,
  };
}
