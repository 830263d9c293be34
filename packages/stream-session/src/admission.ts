/**
 * Who may sit in a listener's handshake slots.
 *
 * Unauthenticated connections are cheap to open and cost the listener a slot each until
 * they finish or time out, so one client that keeps reopening silent sockets could hold
 * every slot and lock real peers out. The slots are therefore shared, never first-come
 * first-served: a new connection is always admitted, and when its source (remote address)
 * or the whole listener is at its bound, an older connection is evicted instead —
 *
 *   - from the new connection's own source when that source is at `perSource`,
 *   - otherwise from the source holding the most slots,
 *   - within a source, the oldest connection that has not yet said HELLO first (a real
 *     peer speaks at once), and only then the oldest one mid-handshake.
 *
 * A flood therefore churns its own slots, while a peer's connection lives until its
 * handshake (one round trip after HELLO) is done. Connections with no remote address
 * (Unix sockets) share one source, so the same eviction order protects peers there.
 * Nothing here reads a clock: deadlines are the handshake's own.
 */

/** One admitted connection. */
export interface Slot {
  readonly source: string;
  /** True once the connection's HELLO has been read (it is mid-handshake, not silent). */
  spoke: boolean;
}

/** The source key of a connection without a remote address (Unix sockets). */
export const LOCAL_SOURCE = 'local';

/** Bounded, fairly shared handshake slots. */
export class HandshakeSlots<T extends Slot> {
  // Insertion-ordered: iteration yields the oldest first.
  private readonly bySource = new Map<string, Set<T>>();
  private count = 0;

  constructor(
    private readonly max: number,
    private readonly perSource: number,
  ) {}

  /** Connections holding a slot now. */
  get size(): number {
    return this.count;
  }

  /**
   * Admits `slot`; returns the connections it displaced (the caller drops and reports them).
   * With `max` 0 nothing is admitted and `slot` itself is returned.
   */
  admit(slot: T): T[] {
    if (this.max === 0 || this.perSource === 0) return [slot];
    const evicted: T[] = [];
    const own = this.bySource.get(slot.source);
    if (own !== undefined && own.size >= this.perSource) evicted.push(this.evictFrom(own));
    else if (this.count >= this.max) evicted.push(this.evictFrom(this.largestSource()));
    let set = this.bySource.get(slot.source);
    if (set === undefined) {
      set = new Set();
      this.bySource.set(slot.source, set);
    }
    set.add(slot);
    this.count += 1;
    return evicted;
  }

  /** Frees the slot of a connection that finished, failed or was dropped (idempotent). */
  release(slot: T): void {
    const set = this.bySource.get(slot.source);
    if (set === undefined || !set.delete(slot)) return;
    this.count -= 1;
    if (set.size === 0) this.bySource.delete(slot.source);
  }

  private largestSource(): Set<T> {
    let largest: Set<T> | undefined;
    for (const set of this.bySource.values()) if (largest === undefined || set.size > largest.size) largest = set;
    return largest!;
  }

  private evictFrom(set: Set<T>): T {
    let victim: T | undefined;
    for (const slot of set) {
      if (!slot.spoke) {
        victim = slot;
        break;
      }
      victim ??= slot;
    }
    this.release(victim!);
    return victim!;
  }
}

/** The source a connection is counted under: its remote IP (not the port), or {@link LOCAL_SOURCE}. */
export function sourceOf(remoteAddress: string | undefined): string {
  return remoteAddress === undefined || remoteAddress === '' ? LOCAL_SOURCE : remoteAddress;
}
