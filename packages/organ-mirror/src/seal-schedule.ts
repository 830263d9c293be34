/**
 * When a source's pending changes are due to seal — at the end of the beat window their first
 * change fell in — and the one timer that wakes the source for it, in the commit before that
 * beat so the slice runs at the seal beat. The unicast source and the group publication both
 * seal this way.
 */
import type { BranchLog } from './delta.ts';
import type { Env } from './env.ts';

export class SealSchedule {
  private cancelTimer: (() => void) | undefined;

  constructor(
    private readonly log: BranchLog,
    private readonly env: Pick<Env, 'runtime' | 'timers'>,
    /** The current beat window (a unicast source's can change when its receiver resumes). */
    private readonly window: () => number,
    private readonly wake: () => void,
  ) {}

  /** The beat the pending changes seal at. */
  due(): number {
    const first = this.log.firstChange ?? this.env.runtime.beat;
    const window = this.window();
    return (Math.floor(first / window) + 1) * window;
  }

  /** A change was logged: the first one after a seal arms the wake-up. */
  noticed(): void {
    if (this.log.firstChange !== undefined) this.arm(this.due());
  }

  /** A slice left changes pending (and is not held back): wake for them, no earlier than the next beat. */
  rearm(beat: number): void {
    this.arm(Math.max(this.due(), beat + 1));
  }

  /** The changes were sealed, or the source ended: no wake-up is due. */
  cancel(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  private arm(at: number): void {
    if (this.cancelTimer !== undefined) return;
    this.cancelTimer = this.env.timers.at(at - 1, () => {
      this.cancelTimer = undefined;
      this.wake();
    });
  }
}
