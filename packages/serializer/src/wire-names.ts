/**
 * A map from a wire name's 16 code bytes to its decoded Name, read straight from the frame:
 * a lookup costs four word reads, a hash and a Map probe, with no string or BigInt built.
 * Used by NameTableReader, which decodes tens of thousands of mostly repeated names a frame.
 *
 * The hash is seeded once per process, so a hostile frame cannot aim many distinct names
 * at one bucket (the chains stay short whatever the input).
 */
import type { Name } from '@cep/cells';

interface Entry {
  readonly w0: number;
  readonly w1: number;
  readonly w2: number;
  readonly w3: number;
  readonly name: Name;
  readonly next: Entry | undefined;
}

const SEED = (Math.random() * 0x100000000) | 0;

function word(d: Uint8Array, at: number): number {
  return d[at]! | (d[at + 1]! << 8) | (d[at + 2]! << 16) | (d[at + 3]! << 24);
}

function mix(h: number, w: number): number {
  h = Math.imul(h ^ w, 0xcc9e2d51);
  return Math.imul((h << 15) | (h >>> 17), 0x1b873593);
}

export class WireNames {
  private readonly byHash = new Map<number, Entry>();
  /** Names held. */
  size = 0;

  /** The name whose code bytes are `d[at, at + 16)`, if seen before. */
  get(d: Uint8Array, at: number): Name | undefined {
    const w0 = word(d, at);
    const w1 = word(d, at + 4);
    const w2 = word(d, at + 8);
    const w3 = word(d, at + 12);
    for (let e = this.byHash.get(mix(mix(mix(mix(SEED, w0), w1), w2), w3)); e !== undefined; e = e.next) {
      if (e.w0 === w0 && e.w1 === w1 && e.w2 === w2 && e.w3 === w3) return e.name;
    }
    return undefined;
  }

  /** Remembers `name` for the code bytes `d[at, at + 16)` (not already present). */
  set(d: Uint8Array, at: number, name: Name): void {
    const w0 = word(d, at);
    const w1 = word(d, at + 4);
    const w2 = word(d, at + 8);
    const w3 = word(d, at + 12);
    const hash = mix(mix(mix(mix(SEED, w0), w1), w2), w3);
    this.byHash.set(hash, { w0, w1, w2, w3, name, next: this.byHash.get(hash) });
    this.size++;
  }

  /** Forgets every name. */
  clear(): void {
    this.byHash.clear();
    this.size = 0;
  }
}
