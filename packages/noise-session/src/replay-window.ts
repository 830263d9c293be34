/** Counters a datagram session remembers behind the highest one it accepted. */
export const REPLAY_WINDOW = 2048;

/**
 * A sliding replay window (in the spirit of RFC 6479): accepts each counter once, in any
 * order, as long as it is no more than {@link REPLAY_WINDOW} behind the highest accepted.
 */
export class ReplayWindow {
  private readonly bits = new Uint32Array(REPLAY_WINDOW / 32);
  private highest = -1;

  /** True when `counter` is new and inside the window (does not record it). */
  fresh(counter: number): boolean {
    if (counter > this.highest) return true;
    if (counter + REPLAY_WINDOW <= this.highest) return false;
    return !this.has(counter);
  }

  /** Records `counter` as seen; call only after the datagram proved authentic. */
  accept(counter: number): void {
    if (counter > this.highest) {
      const advance = counter - this.highest;
      if (advance >= REPLAY_WINDOW) this.bits.fill(0);
      else for (let c = this.highest + 1; c < counter; c++) this.clear(c);
      this.highest = counter;
    }
    const slot = counter % REPLAY_WINDOW;
    this.bits[slot >>> 5]! |= 1 << (slot & 31);
  }

  private has(counter: number): boolean {
    const slot = counter % REPLAY_WINDOW;
    return (this.bits[slot >>> 5]! & (1 << (slot & 31))) !== 0;
  }

  private clear(counter: number): void {
    const slot = counter % REPLAY_WINDOW;
    this.bits[slot >>> 5]! &= ~(1 << (slot & 31));
  }
}
