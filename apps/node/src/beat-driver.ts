/**
 * Drives a runtime's `step()` on a timer. This is the only place the peer reads
 * the wall clock for pacing: the runtime itself counts beats, never milliseconds.
 *
 * Slots are `periodMs` apart. A beat that ends after the next slot is an overrun:
 * it is counted and logged (at most once per `logEveryMs`), and the schedule
 * restarts from now — missed slots are skipped, never run back to back as a burst.
 *
 * `wake()` (called when an input arrives) runs an *early* beat when no beat is running,
 * instead of letting the input wait for the next slot: at most one between two slot beats,
 * and the slots keep their times, so a peer runs at most two beats per period and a
 * timeout counted in beats keeps its meaning within 2×. When a beat runs decides nothing
 * the runtime decides: inputs are admitted and logged at the next capture either way.
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
  /** Beats run early by {@link BeatDriver.wake} (included in `beats`). */
  readonly earlyBeats: number;
}

/** What {@link BeatDriverOptions.beforeStep} is told about the beat about to run. */
export interface BeatStart {
  /** True for a beat started by {@link BeatDriver.wake}, false for a slot's. */
  readonly early: boolean;
  /** On the driver's clock: the slot's time, or for an early beat when `wake()` was called. */
  readonly dueMs: number;
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
  readonly beforeStep?: (start: BeatStart) => void;
  /** Called after each `step()` that returned (slot and early beats), e.g. to tidy the heap between beats. */
  readonly afterStep?: () => void;
  /**
   * Runs an early beat's `step()` soon after `wake()`, outside the caller's stack (`setImmediate` by
   * default: the frames that arrived in the same I/O turn are queued by then, and join the beat).
   */
  readonly defer?: (fn: () => void) => void;
}

/** A running (or stopped) beat driver. */
export interface BeatDriver {
  start(): void;
  /**
   * Something arrived for the runtime (a frame, a submission): run a beat now if none is
   * running and no early beat has run since the last slot's beat; otherwise the input waits for
   * the beat already coming. Safe to call from a `Runtime.onInput` listener, during a beat too
   * (then it does nothing: the input is for the next beat, whose slot is near).
   */
  wake(): void;
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
  const stats = { beats: 0, overruns: 0, missedSlots: 0, worstStepMs: 0, earlyBeats: 0 };
  const defer = options.defer ?? ((fn: () => void) => void setImmediate(fn));
  let running = false;
  const timers = options.timers ?? { set: (fn: () => void, ms: number) => setTimeout(fn, ms), clear: (h: unknown) => clearTimeout(h as NodeJS.Timeout) };
  let timer: unknown;
  let inFlight: Promise<void> | undefined;
  let nextSlot = 0;
  let lastWarnAt = -Infinity;
  let unreported = 0;
  /** A `step()` is running (set before `beforeStep`, whose own inputs must not wake a beat). */
  let stepping = false;
  /** An early beat ran since the last slot's beat (the bound: one per slot). */
  let earlyUsed = false;
  /** When the pending wake was asked for (undefined: none pending). */
  let wokenAt: number | undefined;

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

  /** Runs one `step()`; false when it threw (the driver has stopped then). */
  const runStep = async (start: BeatStart): Promise<boolean> => {
    const beat = runtime.beat;
    stepping = true;
    try {
      options.beforeStep?.(start);
      const result = runtime.step();
      if (result instanceof Promise) await result;
      options.afterStep?.();
      return true;
    } catch (error) {
      running = false;
      log.fatal({ err: error, beat }, 'beat failed; stopping the beat driver');
      options.onFatal?.(error);
      return false;
    } finally {
      stepping = false;
    }
  };

  /** Counts a finished beat, slot or early, and reports its step time. */
  const counted = (stepMs: number): void => {
    stats.beats += 1;
    if (stepMs > stats.worstStepMs) stats.worstStepMs = stepMs;
    options.onStep?.(stepMs);
  };

  /** An early beat: the slot schedule is left as it was, and its timer armed again after. */
  const early = async (dueMs: number): Promise<void> => {
    const started = clock();
    if (!(await runStep({ early: true, dueMs }))) return;
    stats.earlyBeats += 1;
    counted(clock() - started);
    // A slot that passed meanwhile runs at once; its beat counts an overrun if it is late.
    schedule(clock());
  };

  const wake = (): void => {
    if (!running || stepping || earlyUsed || wokenAt !== undefined || inFlight !== undefined || stats.beats === 0) return;
    wokenAt = clock();
    defer(() => {
      const at = wokenAt!;
      wokenAt = undefined;
      // Checked again: a slot's beat may have started (and reset the bound) or be running.
      if (!running || stepping || earlyUsed || inFlight !== undefined || timer === undefined) return;
      timers.clear(timer);
      timer = undefined;
      earlyUsed = true;
      inFlight = early(at).finally(() => {
        inFlight = undefined;
      });
    });
  };

  const tick = async (): Promise<void> => {
    if (!running) return;
    const beat = runtime.beat;
    const started = clock();
    // The schedule starts with the first beat, not with start(): when the first timer is
    // due the process is still finishing its start-up, and that is not an overrun.
    if (stats.beats === 0) nextSlot = started;
    earlyUsed = false;
    if (!(await runStep({ early: false, dueMs: nextSlot }))) return;
    const ended = clock();
    const stepMs = ended - started;
    // How late the timer fired: an overrun with a short step and a large lateMs is a
    // busy event loop or machine, not a slow beat.
    const lateMs = Math.max(0, started - nextSlot);
    counted(stepMs);
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
    wake,
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
