/**
 * The wall clock as a recorded input. Expiry decisions need wall time (a paused callee's beats
 * stand still, so beats alone cannot tell that a caller gave up), but no decision may read the
 * clock: the embedder pushes the time before each beat (`organ.clock(ms)` → input `inv.clock`),
 * the capture admits and logs it, and every decision of that beat reads the admitted value. A
 * replay admits the logged values and decides the same.
 */
import type { Runtime } from '@cep/heartbeat';

/** Input kind of recorded wall-clock readings (ms since the epoch, decimal text). */
export const CLOCK_INPUT = 'inv.clock';

/** The latest recorded wall time of a runtime. */
export interface RecordedClock {
  /** The time admitted at the latest capture that had one; `undefined` before any. */
  now: number | undefined;
  /** Records `wallMs` for the next capture. */
  push(wallMs: number): void;
}

const clocks = new WeakMap<Runtime, RecordedClock>();
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The runtime's recorded clock (the input kind is defined once per runtime; a reinstalled organ shares it). */
export function recordedClock(runtime: Runtime): RecordedClock {
  let clock = clocks.get(runtime);
  if (clock !== undefined) return clock;
  let seq = 0;
  const fresh: RecordedClock = {
    now: undefined,
    push(wallMs) {
      if (!Number.isSafeInteger(wallMs) || wallMs < 0) return; // not a time: nothing is recorded
      runtime.pushInput(CLOCK_INPUT, { stream: 'wall', seq: ++seq, data: encoder.encode(String(wallMs)) }, { owned: true }); // fresh bytes: no copy in the log
    },
  };
  runtime.defineInput(CLOCK_INPUT, (input) => {
    const ms = Number(decoder.decode(input.data));
    // The newest reading wins; a clock stepped backwards is taken as it is (a skew, documented).
    if (Number.isSafeInteger(ms) && ms >= 0) fresh.now = ms;
  });
  clocks.set(runtime, (clock = fresh));
  return clock;
}
