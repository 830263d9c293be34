/**
 * The Merkle leaf order of a large frame (records sorted by key bytes, ties in emission
 * order) in about one key comparison per record, where a general sort pays 7–14.
 *
 * Why it can: a branch frame's key is the record type, the cell's path (17-byte names from the
 * branch root), the cell's suffix name, then a few extras (FORMAT.md §7.3). The writer emits a
 * cell's own records together, its cell_desc first, then its children's subtrees depth first.
 * Rebuilding that tree from the cell_desc keys and placing, at each cell, its own records and its
 * children by the 17 bytes where their keys first differ (the suffix against each child's name)
 * gives every record type's keys in order; a stable split by the first key byte (the type) then
 * orders the types.
 *
 * Nothing of that is trusted. The candidate is a permutation by construction (every record
 * lies in exactly one cell's range, every cell is placed once), and one linear pass checks
 * that each neighbour pair is ascending by key, then by emission index, which only the stable
 * sort satisfies; a type whose keys fail is sorted in full. So the result equals
 * {@link leafOrder} for any keys, and a frame of another shape (a reference frame, a frame of
 * loose records, a hostile one) costs a pass more than the plain sort.
 */
import { compareRangesSkipping, latin1Slicer } from './bytes.ts';
import { leafOrderInPlace } from './hash.ts';

/** Wire bytes of a name (FORMAT.md §7.1). */
const NAME = 17;
/** The cell_desc record type, the first byte of its key: one per cell, first of the cell's records. */
const CELL_DESC = 0x01;
/** Up to this many children of a cell are put in name order by binary insertion, more by the built-in sort. */
const INSERTION_MAX = 16;

/**
 * Record indices in key order, ties in emission order: the order {@link leafOrder} gives.
 * `keys`, when the caller has them (latin1 strings of the same ranges), make the check
 * faster; without them it compares bytes in place. `firstBytes`, when the caller has them,
 * are each key's first byte (−1 for an empty key), read where the key was just written.
 */
export function leafOrderByTree(
  data: Uint8Array,
  keyStarts: ArrayLike<number>,
  keyEnds: ArrayLike<number>,
  count: number,
  keys?: readonly string[],
  firstBytes?: ArrayLike<number>,
): Int32Array {
  const firsts = firstBytes ?? firstBytesOf(data, keyStarts, keyEnds, count);
  const candidate = treeOrder(data, keyStarts, keyEnds, count, firsts);
  return settle(data, keyStarts, keyEnds, count, candidate, keys, firsts);
}

/** Each key's first byte, −1 for an empty key (a reused column, valid until the next call). */
function firstBytesOf(data: Uint8Array, keyStarts: ArrayLike<number>, keyEnds: ArrayLike<number>, count: number): Int32Array {
  let firsts: Int32Array;
  if (count > SCRATCH_KEEP_RECORDS) firsts = new Int32Array(count);
  else {
    if (firstScratch.length < count) firstScratch = new Int32Array(Math.max(count, firstScratch.length * 2));
    firsts = firstScratch;
  }
  for (let r = 0; r < count; r++) firsts[r] = keyEnds[r]! > keyStarts[r]! ? data[keyStarts[r]!]! : -1;
  return firsts;
}

let firstScratch = new Int32Array(0);

/** Up to this many records the leaves are sorted in place by key bytes (hash.ts), above it through the records' tree. */
const IN_PLACE_SORT_MAX = 16;

/**
 * The Merkle leaf order of a frame's records from their key ranges in `data`, as encoder and
 * reader both take it: a few records by an insertion sort in place, more through the records'
 * tree ({@link leafOrderByTree}: about a comparison per record, checked in place). The encoder
 * passes each key's first byte, read as it closed the record.
 */
export function recordLeafOrder(
  data: Uint8Array,
  keyStarts: ArrayLike<number>,
  keyEnds: ArrayLike<number>,
  count: number,
  firstBytes?: ArrayLike<number>,
): ArrayLike<number> {
  return count <= IN_PLACE_SORT_MAX
    ? leafOrderInPlace(data, keyStarts, keyEnds, count, firstBytes)
    : leafOrderByTree(data, keyStarts, keyEnds, count, undefined, firstBytes);
}

/** Scratch columns, reused (ordering is synchronous and never nested) up to frames of {@link SCRATCH_KEEP_RECORDS} records. */
let scratch = new Int32Array(0);
/** A larger frame's columns are its own, dropped after it, as the frame writer's scratch is. */
const SCRATCH_KEEP_RECORDS = 64 * 1024;

/** Seven columns of `count` entries (+1), zeroed. */
function columns(count: number): Int32Array {
  const size = 7 * (count + 1);
  if (count > SCRATCH_KEEP_RECORDS) return new Int32Array(size);
  if (scratch.length < size) scratch = new Int32Array(size);
  const out = scratch.subarray(0, size);
  out.fill(0);
  return out;
}

/**
 * The writer's tree rebuilt from the cell_desc keys, walked with each cell's own records
 * and children in key order (a view of scratch, valid until the next call); undefined when
 * the records do not have that shape.
 */
export function treeOrder(
  data: Uint8Array,
  keyStarts: ArrayLike<number>,
  keyEnds: ArrayLike<number>,
  count: number,
  firstBytes: ArrayLike<number>,
): Int32Array | undefined {
  if (count === 0) return new Int32Array(0);
  const all = columns(count);
  const n1 = count + 1;
  // Per cell, in emission order: its first record (its cell_desc), where its name (under its
  // parent) starts in `data` (its suffix follows), and its children as a list (child + 1, 0 for none).
  const first = all.subarray(0, n1);
  const nameAt = all.subarray(n1, 2 * n1);
  const firstChild = all.subarray(2 * n1, 3 * n1);
  const lastChild = all.subarray(3 * n1, 4 * n1);
  const nextSibling = all.subarray(4 * n1, 5 * n1);
  // The latest cell at each depth from the first cell's: a cell's parent is the latest one level up.
  const open = all.subarray(5 * n1, 6 * n1);
  const order = all.subarray(6 * n1, 7 * n1 - 1);
  let top = 0;
  let rootDepth = 0;
  let cells = 0;
  for (let i = 0; i < count; i++) {
    const start = keyStarts[i]!;
    const length = keyEnds[i]! - start;
    if (firstBytes[i] !== CELL_DESC) {
      if (i === 0) return undefined; // a record before any cell belongs to none
      continue;
    }
    if ((length - 1) % NAME !== 0 || length < 1 + 2 * NAME) return undefined;
    const d = (length - 1) / NAME - 1; // names in the path (the name after them is the suffix)
    const cell = cells++;
    first[cell] = i;
    nameAt[cell] = start + 1 + NAME * (d - 1);
    if (cell === 0) rootDepth = d;
    else {
      const level = d - 1 - rootDepth;
      if (level < 0 || level >= top) return undefined;
      const parent = open[level]!;
      const last = lastChild[parent]!;
      if (last === 0) firstChild[parent] = cell + 1;
      else nextSibling[last - 1] = cell + 1;
      lastChild[parent] = cell + 1;
    }
    top = d - rootDepth;
    open[top++] = cell;
  }
  first[cells] = count;
  const words = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  // Work stack (the lastChild column, no longer needed): a cell ≥ 0 still to expand, ~cell for
  // its own records to emit; a cell's entries replace its own, so it never holds more than one per cell.
  const work = lastChild;
  let sp = 0;
  work[sp++] = 0;
  while (sp > 0) {
    const item = work[--sp]!;
    if (item < 0 || firstChild[item] === 0) {
      // Own records (a cell without children, most of them, emits them straight away).
      const cell = item < 0 ? ~item : item;
      for (let r = first[cell]!, end = first[cell + 1]!; r < end; r++) order[at++] = r;
      continue;
    }
    // The children in name order (already in order, as often, costs one comparison each).
    let n = 0;
    for (let c = firstChild[item]!; c !== 0; c = nextSibling[c - 1]!) {
      if (n === kids.length) {
        const grown = new Int32Array(n * 2);
        grown.set(kids);
        kids = grown;
      }
      kids[n++] = c - 1;
    }
    if (n <= INSERTION_MAX) {
      // Binary insertion, after one comparison with the last placed (in order: one comparison each).
      for (let i = 1; i < n; i++) {
        const c = kids[i]!;
        const cAt = nameAt[c]!;
        if (compareName(words, nameAt[kids[i - 1]!]!, cAt) <= 0) continue;
        let lo = 0;
        let hi = i - 1;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (compareName(words, nameAt[kids[mid]!]!, cAt) <= 0) lo = mid + 1;
          else hi = mid;
        }
        for (let j = i; j > lo; j--) kids[j] = kids[j - 1]!;
        kids[lo] = c;
      }
    } else kids.subarray(0, n).sort((a, b) => compareName(words, nameAt[a]!, nameAt[b]!) || a - b);
    // The cell's own records go before the first child whose name is not below its suffix (a binary search).
    const suffixAt = nameAt[item]! + NAME;
    let own = 0;
    let end = n;
    while (own < end) {
      const mid = (own + end) >> 1;
      if (compareName(words, nameAt[kids[mid]!]!, suffixAt) < 0) own = mid + 1;
      else end = mid;
    }
    for (let k = n - 1; k >= own; k--) work[sp++] = kids[k]!;
    work[sp++] = ~item;
    for (let k = own - 1; k >= 0; k--) work[sp++] = kids[k]!;
  }
  if (kids.length > SCRATCH_KEEP_RECORDS) kids = new Int32Array(64); // a very wide store's list is not kept
  return order;
}

/** A cell's children while they are put in name order (grown, kept). */
let kids = new Int32Array(64);

/** Byte-wise comparison of the 17-byte names at `a` and `b` of the bytes `words` views (four bytes at a time). */
function compareName(words: DataView, a: number, b: number): number {
  for (let i = 0; i < 16; i += 4) {
    const x = words.getUint32(a + i);
    const y = words.getUint32(b + i);
    if (x !== y) return x < y ? -1 : 1;
  }
  return words.getUint8(a + 16) - words.getUint8(b + 16);
}

/**
 * `candidate` (a permutation, or undefined for emission order) split stably by first key
 * byte, each type checked in one pass and sorted in full only if the check fails.
 */
export function settle(
  data: Uint8Array,
  keyStarts: ArrayLike<number>,
  keyEnds: ArrayLike<number>,
  count: number,
  candidate: Int32Array | undefined,
  keys: readonly string[] | undefined,
  firstBytes: ArrayLike<number>,
): Int32Array {
  // Bucket 0 holds empty keys (they sort first), bucket b + 1 the keys whose first byte is b.
  const bounds = new Int32Array(258);
  // By first bytes read once per record (the writer reads them as it closes each record, its key still in cache): reading
  // them here, twice, was a cache miss each in a large frame.
  for (let r = 0; r < count; r++) bounds[firstBytes[r]! + 2]!++;
  for (let b = 1; b < 258; b++) bounds[b]! += bounds[b - 1]!;
  const fill = bounds.slice(0, 257);
  const order = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const r = candidate === undefined ? i : candidate[i]!;
    order[fill[firstBytes[r]! + 1]!++] = r;
  }
  const words = new DataView(data.buffer, data.byteOffset, data.byteLength);
  /** Key strings made for the types that need a full sort (by record index), when the caller gave none. */
  let made: string[] | undefined;
  for (let b = 0; b < 257; b++) {
    const lo = bounds[b]!;
    const hi = bounds[b + 1]!;
    let ok = true;
    for (let i = lo + 1; i < hi && ok; i++) {
      const x = order[i - 1]!;
      const y = order[i]!;
      const c = keys !== undefined ? (keys[x]! < keys[y]! ? -1 : keys[x]! > keys[y]! ? 1 : 0) : compareKeys(data, words, keyStarts, keyEnds, x, y);
      ok = c < 0 || (c === 0 && x < y);
    }
    if (ok) continue;
    // Not in the writer's shape: this type's records sorted in full, as leafOrder sorts them. Only
    // this type's keys are made strings: a branch whose names need the name table (names with
    // digits, say) has its namepool records, keyed by little-endian ids and emitted in id order,
    // sorted here on every encode, and strings of all its keys (14,000 in a 10,000-value branch
    // with 1,000 such names) were made for records already in order.
    let s: readonly string[];
    if (keys !== undefined) s = keys;
    else {
      made ??= new Array<string>(count);
      const slice = latin1Slicer(data);
      for (let i = lo; i < hi; i++) {
        const r = order[i]!;
        made[r] = slice(keyStarts[r]!, keyEnds[r]!);
      }
      s = made;
    }
    order.subarray(lo, hi).sort((x, y) => (s[x]! < s[y]! ? -1 : s[x]! > s[y]! ? 1 : x - y));
  }
  return order;
}

/**
 * Byte-wise comparison of the keys of records `a` and `b` (see compareRanges), shorter first on
 * a common prefix; neighbours in the order share most of their key (a path), skipped eight bytes a step.
 */
function compareKeys(data: Uint8Array, words: DataView, keyStarts: ArrayLike<number>, keyEnds: ArrayLike<number>, a: number, b: number): number {
  return compareRangesSkipping(data, words, keyStarts[a]!, keyEnds[a]!, keyStarts[b]!, keyEnds[b]!);
}
