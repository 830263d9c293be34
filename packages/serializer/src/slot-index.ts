/**
 * Slots by string key for the small tables a frame's writer keeps (its reference names, their
 * wire bytes, its values by reference data type): 0, 1, 2, … in the order keys are added.
 *
 * Why not a Map per frame: a small frame has one or two such keys, and making, filling and
 * reading three maps cost more than the compare of a key or two; a map is built only once a
 * table outgrows a short linear search. Clearing keeps the key array for the next frame (a
 * cleared long-lived Map would link its old table to its new one, keeping them alive).
 */

/** Keys searched linearly up to this many; past it a Map indexes them. */
const LINEAR_MAX = 8;
/** A key array grown past this is dropped on clear rather than kept. */
const KEEP_KEYS = 1024;

export class SlotIndex {
  private keys: string[] = [];
  private count = 0;
  private map: Map<string, number> | undefined;

  get size(): number {
    return this.count;
  }

  /** The slot of `key`, or −1. */
  get(key: string): number {
    if (this.map !== undefined) return this.map.get(key) ?? -1;
    const keys = this.keys;
    for (let i = 0; i < this.count; i++) if (keys[i] === key) return i;
    return -1;
  }

  /** Adds `key` (not in the index) as the next slot, and returns that slot. */
  add(key: string): number {
    const slot = this.count++;
    this.keys[slot] = key;
    if (this.map !== undefined) this.map.set(key, slot);
    else if (this.count > LINEAR_MAX) {
      this.map = new Map();
      for (let i = 0; i < this.count; i++) this.map.set(this.keys[i]!, i);
    }
    return slot;
  }

  /** The key of `slot` (< size). */
  keyAt(slot: number): string {
    return this.keys[slot]!;
  }

  /** Empties the index. */
  clear(): void {
    if (this.keys.length > KEEP_KEYS) this.keys = [];
    this.count = 0;
    this.map = undefined;
  }
}
