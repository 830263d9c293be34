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
 *     peer speaks at once), and only then the oldest one mid-handshake,
 *   - and never one admitted in the current or the previous turn of the event loop: the
 *     listener accepts connections in batches, before reading any of them, so a peer's
 *     connection must keep its slot until its HELLO, already waiting in the socket, has had
 *     a turn to be read. When every slot is that young, the new connection is refused.
 *
 * A flood therefore churns its own slots, while a peer's connection lives until its
 * handshake (one round trip after HELLO) is done. Connections with no remote address
 * (Unix sockets) are one source bounded only by `max`; the same eviction order protects
 * peers there.
 * Nothing here reads a clock: deadlines are the handshake's own.
 */

/** One admitted connection. */
export interface Slot {
  readonly source: string;
  /** True once the connection's HELLO has been read (it is mid-handshake, not silent). */
  spoke: boolean;
  /** The turn it was admitted in (set by `admit`). */
  turn?: number;
}

/** The source key of a connection without a remote address (Unix sockets). */
export const LOCAL_SOURCE = 'local';

/** Bounded, fairly shared handshake slots. */
export class HandshakeSlots<T extends Slot> {
  // Insertion-ordered: iteration yields the oldest first.
  private readonly bySource = new Map<string, Set<T>>();
  private count = 0;
  private turn = 0;

  constructor(
    private readonly max: number,
    private readonly perSource: number,
  ) {}

  /** Connections holding a slot now. */
  get size(): number {
    return this.count;
  }

  /**
   * Starts a new turn of the event loop (the caller calls it once per turn in which it
   * admitted connections, after the turn's I/O): connections admitted two turns ago or more
   * have had their chance to be read and may be displaced.
   */
  nextTurn(): void {
    this.turn += 1;
  }

  /**
   * Admits `slot`; returns the connections it displaced (the caller drops and reports them),
   * or `[slot]` when it was refused: no slot may be taken from anyone, or `max` is 0.
   */
  admit(slot: T): T[] {
    if (this.max === 0 || this.perSource === 0) return [slot];
    const own = this.bySource.get(slot.source);
    // Clients of a Unix socket are one source that cannot be told apart: only the total bounds them.
    const share = slot.source === LOCAL_SOURCE ? this.max : this.perSource;
    let victim: T | undefined;
    if (own !== undefined && own.size >= share) {
      victim = this.victimIn(own);
      if (victim === undefined) return [slot];
    } else if (this.count >= this.max) {
      victim = this.victimOfLargest();
      if (victim === undefined) return [slot];
    }
    if (victim !== undefined) this.release(victim);
    slot.turn = this.turn;
    let set = this.bySource.get(slot.source);
    if (set === undefined) {
      set = new Set();
      this.bySource.set(slot.source, set);
    }
    set.add(slot);
    this.count += 1;
    return victim === undefined ? [] : [victim];
  }

  /** Frees the slot of a connection that finished, failed or was dropped (idempotent). */
  release(slot: T): void {
    const set = this.bySource.get(slot.source);
    if (set === undefined || !set.delete(slot)) return;
    this.count -= 1;
    if (set.size === 0) this.bySource.delete(slot.source);
  }

  /** A victim from the source holding the most slots that has one (sources sorted lazily: floods are one or few). */
  private victimOfLargest(): T | undefined {
    const sources = [...this.bySource.values()].sort((a, b) => b.size - a.size);
    for (const set of sources) {
      const victim = this.victimIn(set);
      if (victim !== undefined) return victim;
    }
    return undefined;
  }

  /** The oldest silent connection of `set` old enough to be displaced, else the oldest such one that spoke. */
  private victimIn(set: Set<T>): T | undefined {
    let victim: T | undefined;
    for (const slot of set) {
      // Admitted this turn or the one before: its bytes may not have been read yet.
      if ((slot.turn ?? 0) >= this.turn - 1) break;
      if (!slot.spoke) return slot;
      victim ??= slot;
    }
    return victim;
  }
}

/** The source a connection is counted under: its remote IP (not the port), or {@link LOCAL_SOURCE}. */
export function sourceOf(remoteAddress: string | undefined): string {
  return remoteAddress === undefined || remoteAddress === '' ? LOCAL_SOURCE : remoteAddress;
}
