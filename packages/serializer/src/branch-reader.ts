/**
 * The branch decoder: from a verified frame's record table to a staged tree. Every record
 * is indexed by its key as a latin1 string (the frame reader made those for the Merkle
 * sort), so finding a cell's manifest, order or chunk records is one string concatenation
 * and a map lookup; bodies are read in place in the frame. Every cell must be reached from
 * the root, and every record used exactly once.
 */
import { DATA_TYPES, name, nameEquals, valueFromData, type Name, type Value } from '@cep/cells';
import { isCepError } from '@cep/errors';
import { ByteReader, latin1Slicer, rangesEqual, sameBytes, toHex } from './bytes.ts';
import { serializerError } from './errors.ts';
import { RECORD_TYPE } from './frame-format.ts';
import { recordBody, recordKey, recordKeys, type RecordTable } from './record-table.ts';
import { blake3Into } from './hash.ts';
import { NameTableReader, ROOT_NAME } from './names.ts';
import { assemblePayload } from './payload.ts';
import { PayloadBatch } from './payload-batch.ts';
import type { ResolvedPolicy } from './policy.ts';
import { CELL_TYPE, CellDescScan, META, STORE, readNamepoolWith, scanCellDesc, scanManifest, scanOrder } from './records.ts';
import type { StagedCell } from './branch.ts';
import { ALL_STRICT, refuse, type LenientMask } from './strictness.ts';

const DICTIONARY = name('dictionary');
const TEXT_KEY = DATA_TYPES.text.key;
const U64_KEY = DATA_TYPES.u64.key;
const BYTES_KEY = DATA_TYPES.bytes.key;
const LIST = name('list');
const MAX_DEPTH = 512;
const EMPTY = new Uint8Array(0);
/**
 * What {@link Staging.payload} returns for an inline payload left in the frame: a view per
 * value cost 2.4% of decoding the 10,000-value branch, and the common values (ASCII texts,
 * u64s) are read from the frame's bytes without one. Compared by identity, never read.
 */
const IN_FRAME = new Uint8Array(0);
/** Leaves share one frozen empty child list (10,000 fewer arrays on a 10,000-value branch). */
const NO_CHILDREN: readonly StagedCell[] = Object.freeze([]);
/** What the ordered walk passes as a store's path (it never reads one). */
const NO_PATH: readonly Name[] = Object.freeze([]);

/** Every cell_desc's row by its path (name keys joined by U+0001), and each row's suffix name. */
interface CellIndex {
  readonly rows: Map<string, number>;
  readonly suffixes: Name[];
}

/** The latin1 key of a record of `type` for the cell at `pathKey`, with varint suffixes. */
function keyOf(type: number, pathKey: string, ...suffixVarints: number[]): string {
  let key = String.fromCharCode(type) + pathKey;
  for (let v of suffixVarints) {
    while (v >= 0x80) {
      key += String.fromCharCode((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    key += String.fromCharCode(v);
  }
  return key;
}

/**
 * Stages the branch a verified frame carries. Throws a typed error for anything inconsistent.
 *
 * Two walks give the same result. The first expects the records in the order our writer puts
 * them (each cell_desc, then its pages and chunks, then its children; the name table last)
 * and finds every record by comparing key bytes in place at a cursor: no key strings, no maps.
 * Any deviation, or any error, hands the frame to the second walk, which indexes every record
 * by key and accepts any order; its verdict (the result or the precise error) is the answer.
 */
export function readBranch(table: RecordTable, policy: ResolvedPolicy, lenient: LenientMask = ALL_STRICT): { root: StagedCell; cellCount: number } {
  try {
    return readOrdered(table, policy, lenient);
  } catch {
    return readIndexed(table, policy, lenient);
  }
}

/** The ordered walk's payload batch, reused (walks are synchronous and never nested; reset per walk). */
const payloadBatch = new PayloadBatch();

/** Stores of up to this many children check them for repeats without a set. */
const SMALL_STORE = 16;

/** Whether `names[i]` is one of `names[0, i)` (by key, as a set of keys would say). */
function repeatsEarlier(names: readonly Name[], i: number): boolean {
  const key = names[i]!.key;
  for (let k = 0; k < i; k++) if (names[k]!.key === key) return true;
  return false;
}

/** Thrown by the ordered walk when the frame is not in writer order (never leaves this module). */
class NotInWriterOrder extends Error {}

function readOrdered(table: RecordTable, policy: ResolvedPolicy, lenient: LenientMask): { root: StagedCell; cellCount: number } {
  const { frame, types, keyStarts, bodyStarts } = table;
  const count = types.length;
  let namepool = 0;
  for (let i = 0; i < count; i++) {
    const type = types[i]!;
    if (type === RECORD_TYPE.NAMEPOOL_DELTA) {
      if (bodyStarts[i]! - keyStarts[i]! !== 9) throw new NotInWriterOrder();
      namepool++;
    } else if (
      type !== RECORD_TYPE.CELL_DESC &&
      type !== RECORD_TYPE.PAYLOAD_CHUNK &&
      type !== RECORD_TYPE.MANIFEST_DELTA &&
      type !== RECORD_TYPE.ORDER_DELTA
    ) {
      throw new NotInWriterOrder();
    }
  }
  const names = orderedNameTable(table, lenient, namepool);
  if (count === 0 || types[0] !== RECORD_TYPE.CELL_DESC || bodyStarts[0]! - keyStarts[0]! !== 35) throw new NotInWriterOrder();
  if (!nameEquals(names.readName(keyReader.reset(frame, keyStarts[0]! + 1, bodyStarts[0]!, 'frame', keyStarts[0]!)), ROOT_NAME)) throw new NotInWriterOrder();
  const locator = new OrderedLocator(table, names);
  const batch = payloadBatch.reset();
  const staging = new Staging(table, locator, names, policy, lenient, batch);
  const root = staging.build([], ROOT_NAME, -1, -1, 0);
  // Everything after the walk must be the name table.
  if (locator.cursor + namepool !== count) throw new NotInWriterOrder();
  for (let i = locator.cursor; i < count; i++) if (types[i] !== RECORD_TYPE.NAMEPOOL_DELTA) throw new NotInWriterOrder();
  // The inline payloads' hashes, all in one batch (a mismatch sends the frame to the exact walk, which names it).
  if (batch.firstMismatch(frame) >= 0) throw serializerError('PAYLOAD_HASH_MISMATCH', 'a payload does not hash to the value its cell_desc declares');
  return { root, cellCount: staging.cellCount };
}

/**
 * Name tables already read, by the bytes of their namepool records (with the strictness they
 * were read under). A peer sends the same few reference names in every small frame (a value's
 * data type is one), and reading a table afresh (BigInt ids, a map, the reference names
 * decoded again through it) was a fifth of staging a 2-cell branch. A reader is a pure
 * function of those bytes: the same id resolves to the same text, so the names it has
 * decoded hold for every frame with the same table. Kept by a seeded hash of the bytes (no
 * key string: making and hashing one cost as much as reading the table), compared byte for
 * byte on a hit. Bounded: small tables only, a few hundred of them, and a reader that has
 * remembered many names is dropped, not kept.
 */
interface KeptTable {
  readonly lenient: LenientMask;
  /** The namepool records, headers and checksums included (they delimit themselves). */
  readonly bytes: Uint8Array;
  readonly names: NameTableReader;
  readonly next: KeptTable | undefined;
}
const NAME_TABLES = new Map<number, KeptTable>();
let nameTablesKept = 0;
const NAME_TABLES_LIMIT = 256;
/** Bytes of namepool records above which a table is read afresh and not kept. */
const NAME_TABLE_BYTES_MAX = 1024;
/** Reference names a kept reader may remember; past this it is not handed out again. */
const NAME_TABLE_NAMES_MAX = 1024;
const TABLE_SEED = (Math.random() * 0x100000000) | 0;

function mixWord(h: number, w: number): number {
  h = Math.imul(h ^ w, 0xcc9e2d51);
  return Math.imul((h << 15) | (h >>> 17), 0x1b873593);
}

/** A seeded hash of `d[start, end)` and of `lenient`. */
function hashTable(d: Uint8Array, start: number, end: number, lenient: LenientMask): number {
  let h = mixWord(TABLE_SEED, lenient);
  let i = start;
  for (; i + 4 <= end; i += 4) h = mixWord(h, d[i]! | (d[i + 1]! << 8) | (d[i + 2]! << 16) | (d[i + 3]! << 24));
  for (; i < end; i++) h = mixWord(h, d[i]!);
  return mixWord(h, end - start);
}

/**
 * The name table of a frame in writer order (`namepool` records), from {@link NAME_TABLES}
 * when its records are one run of bytes seen before, else read and checked here (and kept
 * when small); throws {@link NotInWriterOrder} for a repeated id, as the exact walk then reports it.
 */
function orderedNameTable(table: RecordTable, lenient: LenientMask, namepool: number): NameTableReader {
  const { frame, types, starts, ends } = table;
  // The records must be one contiguous run (our writer puts them last): then their bytes are the table.
  let first = types.length;
  if (namepool > 0) {
    first = 0;
    while (types[first] !== RECORD_TYPE.NAMEPOOL_DELTA) first++;
  }
  const last = first + namepool - 1;
  const start = namepool > 0 ? starts[first]! : 0;
  const end = namepool > 0 ? ends[last]! + 4 : 0;
  for (let i = first + 1; i <= last; i++) if (types[i] !== RECORD_TYPE.NAMEPOOL_DELTA) return readNameTable(table, lenient, namepool);
  if (end - start > NAME_TABLE_BYTES_MAX) return readNameTable(table, lenient, namepool);
  const hash = hashTable(frame, start, end, lenient);
  const chain = NAME_TABLES.get(hash);
  for (let kept = chain; kept !== undefined; kept = kept.next) {
    if (kept.lenient === lenient && kept.bytes.length === end - start && sameBytes(frame, start, kept.bytes, 0, end - start)) {
      if (kept.names.rememberedReferences <= NAME_TABLE_NAMES_MAX) return kept.names;
      return readNameTable(table, lenient, namepool);
    }
  }
  const names = readNameTable(table, lenient, namepool);
  if (nameTablesKept >= NAME_TABLES_LIMIT) {
    NAME_TABLES.clear();
    nameTablesKept = 0;
  }
  NAME_TABLES.set(hash, { lenient, bytes: frame.slice(start, end), names, next: NAME_TABLES.get(hash) });
  nameTablesKept++;
  return names;
}

/** Reads the frame's `namepool` name-table records into a new reader (see {@link orderedNameTable}). */
function readNameTable(table: RecordTable, lenient: LenientMask, namepool: number): NameTableReader {
  const { frame, types, keyStarts, bodyStarts } = table;
  const names = new NameTableReader();
  let ids: Set<bigint> | undefined;
  for (let i = 0, seen = 0; seen < namepool; i++) {
    if (types[i] !== RECORD_TYPE.NAMEPOOL_DELTA) continue;
    seen++;
    const id = keyReader.reset(frame, keyStarts[i]! + 1, bodyStarts[i]!, 'frame', keyStarts[i]!).u64();
    ids ??= new Set();
    if (ids.has(id)) throw new NotInWriterOrder();
    ids.add(id);
    names.add(id, readNamepoolWith(recordBody(table, i), lenient).text);
  }
  return names;
}

function readIndexed(table: RecordTable, policy: ResolvedPolicy, lenient: LenientMask): { root: StagedCell; cellCount: number } {
  const count = table.types.length;
  const names = new NameTableReader();
  const byKey = indexRecords(table, names, lenient);
  if (count === 0 || table.types[0] !== RECORD_TYPE.CELL_DESC)
    throw serializerError('BRANCH_INCONSISTENT', 'a branch frame starts with the cell_desc of its root');
  const cells = indexCells(table, names);
  // The entry indexed by the root's key alone is a one-segment path of the root name.
  if (cells.rows.get(segment(ROOT_NAME.key)) !== 0) {
    throw serializerError('BRANCH_INCONSISTENT', 'the first cell_desc is not the branch root (path /)');
  }
  const locator = new IndexedLocator(table, byKey, cells);
  const staging = new Staging(table, locator, names, policy, lenient);
  locator.consumed = table.types.filter((type) => type === RECORD_TYPE.NAMEPOOL_DELTA).length;
  const root = staging.build([], ROOT_NAME, -1, -1, 0);
  if (staging.cellCount !== cells.rows.size || locator.consumed !== count) {
    throw serializerError('BRANCH_INCONSISTENT', `${count - locator.consumed} record(s) belong to no cell of the branch`);
  }
  return { root, cellCount: staging.cellCount };
}

/** Every record's row by key (keys are unique); reads the name table on the way. */
/**
 * One path segment of a cell index: length-prefixed, so no name text (a reference name may
 * hold any character, separators included) can make two different paths share an index.
 */
function segment(key: string): string {
  return `${key.length}:${key}`;
}

function indexRecords(table: RecordTable, names: NameTableReader, lenient: LenientMask): Map<string, number> {
  const byKey = new Map<string, number>();
  const { frame, types, keyStarts, bodyStarts } = table;
  const keys = recordKeys(table);
  for (let i = 0; i < types.length; i++) {
    const size = byKey.size;
    byKey.set(keys[i]!, i);
    if (byKey.size === size) throw serializerError('FRAME_DUPLICATE_RECORD', `two records share the key ${toHex(recordKey(table, i)).slice(0, 40)}…`);
    if (types[i] === RECORD_TYPE.NAMEPOOL_DELTA) {
      if (bodyStarts[i]! - keyStarts[i]! !== 9) throw serializerError('FRAME_BAD_RECORD', 'a namepool_delta key is 9 bytes');
      const { text } = readNamepoolWith(recordBody(table, i), lenient);
      names.add(new DataView(frame.buffer, frame.byteOffset + keyStarts[i]! + 1, 8).getBigUint64(0, true), text);
    } else if (types[i] === RECORD_TYPE.PAYLOAD_HISTORY || types[i] === RECORD_TYPE.MANIFEST_HISTORY) {
      throw serializerError('BRANCH_INCONSISTENT', 'history records are not part of branch frames');
    }
  }
  return byKey;
}

/** Every cell_desc by its path without the kind suffix. */
function indexCells(table: RecordTable, names: NameTableReader): CellIndex {
  const rows = new Map<string, number>();
  const suffixes: Name[] = [];
  const { frame, types, keyStarts, bodyStarts } = table;
  // Siblings' records sit next to each other: when a key's parent path is byte for byte the
  // previous key's, that path's index (already read and checked) is reused, not re-read.
  let previous = { at: -1, length: -1, index: '' };
  for (let i = 0; i < types.length; i++) {
    if (types[i] !== RECORD_TYPE.CELL_DESC) continue;
    const keyLength = bodyStarts[i]! - keyStarts[i]!;
    const segments = (keyLength - 1) / 17;
    if (!Number.isInteger(segments) || segments < 2) throw serializerError('FRAME_BAD_RECORD', `cell_desc key of ${keyLength} bytes is not 1 + 17·n (n ≥ 2)`);
    const at = keyStarts[i]! + 1;
    const r = keyReader.reset(frame, at, bodyStarts[i]!, 'frame', keyStarts[i]!);
    const parentLength = (segments - 2) * 17;
    let parentIndex = '';
    if (parentLength === previous.length && rangesEqual(frame, at, at + parentLength, frame, previous.at, previous.at + parentLength)) {
      parentIndex = previous.index;
      r.skip(parentLength);
    } else {
      for (let s = 0; s < segments - 2; s++) parentIndex += segment(names.readName(r).key);
      previous = { at, length: parentLength, index: parentIndex };
    }
    const own = names.readName(r);
    const suffix = names.readName(r);
    const index = parentIndex + segment(own.key);
    const size = rows.size;
    rows.set(index, i);
    if (rows.size === size) throw serializerError('FRAME_DUPLICATE_RECORD', 'two cell_desc records describe the same cell');
    suffixes[i] = suffix;
  }
  return { rows, suffixes };
}

const keyReader = new ByteReader(new Uint8Array(0));

/** The recursive walk from the root, consuming cell_desc, manifest, order and chunk records. */
/** How the walk finds a cell's records (see {@link readBranch}). */
interface Locator {
  /**
   * The row of the cell_desc of `own`, a child of the cell at `parentRow` (-1: the root) whose
   * 17 wire bytes are at `wireAt` in the frame (-1: the root), and that cell's suffix name.
   */
  cell(parents: readonly Name[], own: Name, parentRow: number, wireAt: number): number;
  suffix(row: number): Name;
  /** The row of the record of `type` for the cell at `row` with key suffix varints `a` (and `b`), if any. */
  record(type: number, row: number, a: number, b?: number): number | undefined;
}

const expectedScratch = new Uint8Array(20);
const digestScratch = new Uint8Array(32);
const descScratch = new CellDescScan();

/** Finds records at a cursor, in writer order, by comparing key bytes in place. */
class OrderedLocator implements Locator {
  cursor = 0;
  /** Scratch for an expected key suffix (shared: walks are synchronous and never nested). */
  private readonly expected = expectedScratch;

  constructor(
    private readonly table: RecordTable,
    private readonly names: NameTableReader,
  ) {}

  cell(_parents: readonly Name[], _own: Name, parentRow: number, wireAt: number): number {
    const { frame, types, keyStarts, bodyStarts } = this.table;
    const c = this.cursor;
    if (c >= types.length || types[c] !== RECORD_TYPE.CELL_DESC) throw new NotInWriterOrder();
    if (parentRow < 0) {
      if (c !== 0) throw new NotInWriterOrder();
    } else {
      const parentLength = bodyStarts[parentRow]! - keyStarts[parentRow]!;
      const at = keyStarts[c]!;
      if (bodyStarts[c]! - at !== parentLength + 17) throw new NotInWriterOrder();
      // Type byte aside (the walk does not read it), the parent's path, then the child's wire name.
      const pathLength = parentLength - 1 - 17;
      if (!rangesEqual(frame, at + 1, at + 1 + pathLength, frame, keyStarts[parentRow]! + 1, keyStarts[parentRow]! + 1 + pathLength))
        throw new NotInWriterOrder();
      if (!rangesEqual(frame, at + 1 + pathLength, at + 1 + pathLength + 17, frame, wireAt, wireAt + 17)) throw new NotInWriterOrder();
    }
    this.cursor = c + 1;
    return c;
  }

  suffix(row: number): Name {
    const end = this.table.bodyStarts[row]!;
    return this.names.readName(keyReader.reset(this.table.frame, end - 17, end, 'frame', this.table.keyStarts[row]!));
  }

  record(type: number, row: number, a: number, b?: number): number | undefined {
    const { frame, types, keyStarts, bodyStarts } = this.table;
    const c = this.cursor;
    if (c >= types.length || types[c] !== type) return undefined;
    // The expected key: type ‖ the cell's key without its type byte ‖ varint a ‖ varint b.
    let n = writeVarint(this.expected, 0, a);
    if (b !== undefined) n = writeVarint(this.expected, n, b);
    const cellLength = bodyStarts[row]! - keyStarts[row]!;
    const at = keyStarts[c]!;
    if (bodyStarts[c]! - at !== cellLength + n || frame[at] !== type) return undefined;
    if (!rangesEqual(frame, at + 1, at + cellLength, frame, keyStarts[row]! + 1, keyStarts[row]! + cellLength)) return undefined;
    if (!rangesEqual(frame, at + cellLength, at + cellLength + n, this.expected, 0, n)) return undefined;
    this.cursor = c + 1;
    return c;
  }
}

function writeVarint(out: Uint8Array, at: number, value: number): number {
  while (value >= 0x80) {
    out[at++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  out[at++] = value;
  return at;
}

/** Finds records by key in maps of every record and every cell (any order). */
class IndexedLocator implements Locator {
  consumed = 0;
  /** Per record row: 1 once the walk from the root has reached that cell (a cell is reached once). */
  private readonly reached: Uint8Array;
  /** Each reached cell's index in `cells.rows`, by row. */
  private readonly indexOfRow: string[] = [];

  constructor(
    private readonly table: RecordTable,
    private readonly byKey: ReadonlyMap<string, number>,
    private readonly cells: CellIndex,
  ) {
    this.reached = new Uint8Array(table.types.length);
  }

  cell(parents: readonly Name[], own: Name, parentRow: number): number {
    const index = parentRow < 0 ? segment(ROOT_NAME.key) : this.indexOfRow[parentRow]! + segment(own.key);
    const row = this.cells.rows.get(index);
    if (row === undefined || this.reached[row] === 1) {
      throw serializerError('BRANCH_INCONSISTENT', `a manifest names a child that has no cell_desc (${[...parents, own].map((n) => n.tag.text).join('/')})`);
    }
    this.reached[row] = 1;
    this.indexOfRow[row] = index;
    this.consumed++;
    return row;
  }

  suffix(row: number): Name {
    return this.cells.suffixes[row]!;
  }

  record(type: number, row: number, a: number, b?: number): number | undefined {
    const pathKey = recordKeys(this.table)[row]!.slice(1);
    const found = this.byKey.get(b === undefined ? keyOf(type, pathKey, a) : keyOf(type, pathKey, a, b));
    if (found !== undefined) this.consumed++;
    return found;
  }
}

/** The recursive walk from the root, consuming cell_desc, manifest, order and chunk records. */
class Staging {
  cellCount = 0;
  /** Scratch for payload hashes (compared, never kept; shared by every walk, which are synchronous and never nested). */
  private readonly digest = digestScratch;
  /** The cell_desc being read (each build overwrites it; fields are copied out before recursing). */
  private readonly desc = descScratch;
  private readonly frame: Uint8Array;
  /** Reads an order page's names against the manifest's (see {@link ExpectedNames}). */
  private readonly orderNames: ExpectedNames;
  /** The frame as a DataView, for 64-bit values read in place. */
  private view: DataView | undefined;
  /** The frame's latin1 slicer, for ASCII texts read in place (see {@link latin1Slicer}). */
  private latin1: ((start: number, end: number) => string) | undefined;

  constructor(
    private readonly table: RecordTable,
    private readonly locate: Locator,
    private readonly names: NameTableReader,
    private readonly policy: ResolvedPolicy,
    private readonly lenient: LenientMask,
    /** Where inline payload hashes are noted to be checked later in one batch; undefined: each is checked at once. */
    private readonly batch?: PayloadBatch,
  ) {
    this.frame = table.frame;
    this.orderNames = new ExpectedNames(names);
  }

  /**
   * The cell `own` below `parents` (the path array is built only for stores, which pass it
   * on), a child of the cell at `parentRow` named by the wire bytes at `wireAt`.
   */
  build(parents: readonly Name[], own: Name, parentRow: number, wireAt: number, depth: number): StagedCell {
    if (depth > MAX_DEPTH) throw serializerError('BRANCH_INCONSISTENT', `branch is deeper than ${MAX_DEPTH} levels`);
    const row = this.locate.cell(parents, own, parentRow, wireAt);
    this.cellCount++;
    const suffix = this.locate.suffix(row);
    const desc = scanCellDesc(this.frame, this.table.bodyStarts[row]!, this.table.ends[row]!, this.desc, this.lenient);
    const deleted = (desc.metaMask & META.tombstone) !== 0;
    const { cellType, storeDescriptor } = desc;
    if (cellType !== CELL_TYPE.normal && cellType !== CELL_TYPE.link)
      refuse(this.lenient, 'body-values', 'FRAME_BAD_RECORD', `branch cells are of type 1 (normal) or 3 (link), not ${cellType}`);
    if (desc.payloadKind !== 0) refuse(this.lenient, 'body-values', 'FRAME_BAD_RECORD', `branch payloads are of kind 0 (VALUE), not ${desc.payloadKind}`);
    const payload = desc.refAt >= 0 ? this.payload(row, desc) : undefined;
    // An inline payload stays where it is in the frame until something needs it as bytes.
    const data = payload === IN_FRAME ? undefined : payload;
    if (cellType === CELL_TYPE.link) {
      const target = payload === IN_FRAME ? this.frame.subarray(desc.inlineStart, desc.inlineEnd) : (data ?? EMPTY);
      if (target.length % 17 !== 0 || target.length === 0) throw serializerError('FRAME_BAD_RECORD', 'a link payload is one or more 17-byte names');
      const r = new ByteReader(target);
      const linkTarget: Name[] = [];
      while (r.remaining > 0) linkTarget.push(this.names.readName(r));
      return { name: own, deleted, kind: 'link', linkTarget, children: NO_CHILDREN };
    }
    if (storeDescriptor === STORE.none) {
      try {
        const inline = payload !== undefined && desc.inlineEnd > desc.inlineStart;
        const value =
          (inline ? this.inPlaceValue(suffix, desc.inlineStart, desc.inlineEnd) : undefined) ??
          valueFromData(suffix, payload === IN_FRAME ? this.frame.subarray(desc.inlineStart, desc.inlineEnd) : (data ?? EMPTY));
        return { name: own, deleted, kind: 'value', value, children: NO_CHILDREN };
      } catch (error) {
        if (isCepError(error)) throw serializerError('FRAME_BAD_RECORD', `a value does not match its data type: ${error.message}`);
        throw error;
      }
    }
    const kind = storeDescriptor === STORE.list ? 'list' : storeDescriptor === STORE.dictionary ? 'dictionary' : undefined;
    if (kind === undefined) throw serializerError('FRAME_BAD_RECORD', `store descriptor 0x${storeDescriptor.toString(16)} is neither a dictionary nor a list`);
    // The path is only for the indexed walk's error messages; the ordered walk's errors are worded by a rerun of the indexed one.
    const path = this.batch === undefined ? [...parents, own] : NO_PATH;
    const wires: number[] = [];
    const names = this.childNames(row, kind, wires);
    // A few children (a page or less, the common store) are checked for repeats against the
    // earlier ones directly; more go through a set. Either way a repeat is found where it occurs.
    const seen = names.length > SMALL_STORE ? new Set<string>() : undefined;
    const children = new Array<StagedCell>(names.length);
    for (let i = 0; i < names.length; i++) {
      const child = names[i]!;
      if (seen === undefined ? repeatsEarlier(names, i) : seen.has(child.key))
        throw serializerError('FRAME_DUPLICATE_RECORD', `child ${child.tag.text} is listed twice`);
      seen?.add(child.key);
      children[i] = this.build(path, child, row, wires[i]!, depth + 1);
    }
    const defaultType = kind === 'list' ? LIST : DICTIONARY;
    return nameEquals(suffix, defaultType) ? { name: own, deleted, kind, children } : { name: own, deleted, kind, storeType: suffix, children };
  }

  /**
   * A cell's payload bytes (inline or reassembled from chunks), checked against its declared
   * hash; {@link IN_FRAME} for an inline payload whose hash the batch checks later, which is
   * `frame[desc.inlineStart, desc.inlineEnd)` (no view made: most values are read in place).
   */
  private payload(row: number, desc: CellDescScan): Uint8Array {
    if (desc.refKind !== 0 || desc.hashAlg !== 1 || desc.codec !== 0)
      throw serializerError('FRAME_BAD_RECORD', 'branch payloads travel in the frame (ref kind 0, BLAKE3, no codec)');
    let data: Uint8Array;
    const inlineLength = desc.inlineEnd - desc.inlineStart;
    if (inlineLength > 0) {
      if (this.policy.aead !== undefined)
        throw serializerError('AEAD_REQUIRED', 'this mount requires encrypted payloads and a payload arrived inline in plaintext');
      if (inlineLength !== desc.size) throw serializerError('CHUNK_CONFLICT', 'inline payload length differs from its declared size');
      if (desc.aeadMode !== 0) refuse(this.lenient, 'ref-aead-mode', 'FRAME_BAD_RECORD', `an inline (plaintext) payload's ref says AEAD mode ${desc.aeadMode}`);
      if (this.batch !== undefined && desc.hashEnd - desc.hashStart === 32) {
        this.batch.add(desc.inlineStart, desc.inlineEnd, desc.hashStart);
        return IN_FRAME;
      }
      data = this.frame.subarray(desc.inlineStart, desc.inlineEnd);
    } else {
      const chunks: { key: Uint8Array; body: Uint8Array }[] = [];
      for (let ordinal = 0; ; ordinal++) {
        const chunk = this.locate.record(RECORD_TYPE.PAYLOAD_CHUNK, row, ordinal);
        if (chunk === undefined) break;
        chunks.push({ key: recordKey(this.table, chunk), body: recordBody(this.table, chunk) });
      }
      data = assemblePayload(
        chunks,
        { size: desc.size, fingerprintAt: desc.fingerprintAt, fingerprintIn: this.frame, refAeadMode: desc.aeadMode },
        this.policy.aead?.key,
        this.policy.aead !== undefined,
        this.lenient,
      );
    }
    blake3Into(data, 0, data.length, this.digest, 0);
    if (desc.hashEnd - desc.hashStart !== 32 || !sameBytes(this.frame, desc.hashStart, this.digest, 0, 32))
      throw serializerError('PAYLOAD_HASH_MISMATCH', 'a payload does not hash to the value its cell_desc declares');
    return data;
  }

  /**
   * The most common values read straight from an inline payload at `frame[start, end)`, the
   * same as `valueFromData` makes them: a short ASCII text (its terminating NUL dropped; ASCII
   * is valid UTF-8, so no decoder call), bytes (one copy, no view) and a u64 (no view per
   * value). Undefined for anything else, which `valueFromData` reads.
   */
  private inPlaceValue(dataType: Name, start: number, end: number): Value | undefined {
    const frame = this.frame;
    if (dataType.key === TEXT_KEY) {
      if (end > start && frame[end - 1] === 0) end--;
      if (end - start > 64) return undefined;
      for (let i = start; i < end; i++) if (frame[i]! >= 0x80) return undefined;
      // Node's latin1 slicer makes the string in one native copy (ASCII is latin1).
      // Made on the first text: a small frame often has none.
      this.latin1 ??= latin1Slicer(frame);
      return { type: 'text', value: this.latin1(start, end) };
    }
    if (dataType.key === U64_KEY && end - start === 8) {
      this.view ??= new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
      return { type: 'u64', value: this.view.getBigUint64(start, true) };
    }
    if (dataType.key === BYTES_KEY) {
      // A plain Uint8Array frame is sliced (one native copy, no view first: 0.4× the time of what
      // valueFromData does); a Buffer's slice would be a Buffer, so it keeps the view and copy.
      return { type: 'bytes', value: frame.constructor === Uint8Array ? frame.slice(start, end) : new Uint8Array(frame.subarray(start, end)) };
    }
    return undefined;
  }

  /**
   * A store's children from its manifest pages, checked against its order pages; `wires`
   * receives where each child's 17 wire bytes are in the frame.
   */
  private childNames(cellRow: number, kind: 'list' | 'dictionary', wires: number[]): Name[] {
    const { bodyStarts, ends } = this.table;
    const children: Name[] = [];
    for (let page = 0; ; page++) {
      const row = this.locate.record(RECORD_TYPE.MANIFEST_DELTA, cellRow, page);
      if (row === undefined) break;
      scanManifest(
        this.frame,
        bodyStarts[row]!,
        ends[row]!,
        this.names,
        (_op, name, _mask, revisionAt) => {
          children.push(name);
          wires.push(revisionAt - 2 - 17); // op, name, mask u16, revision
        },
        this.lenient,
      );
    }
    const projection = kind === 'list' ? 1 : 0;
    let positions = 0;
    for (let page = 0; ; page++) {
      const row = this.locate.record(RECORD_TYPE.ORDER_DELTA, cellRow, projection, page);
      if (row === undefined) break;
      // A page is read whole before it is compared, so a malformed entry after a mismatch still reports as malformed.
      let agrees = true;
      const pageStart = positions;
      const orderNames = this.orderNames.expect(children, wires, pageStart);
      const head = scanOrder(
        this.frame,
        bodyStarts[row]!,
        ends[row]!,
        orderNames,
        (_op, name, position) => {
          if (!agrees) return;
          const expected = children[position];
          if (expected === undefined || position !== positions++ || !nameEquals(expected, name)) agrees = false;
        },
        this.lenient,
      );
      if (!agrees) throw serializerError('BRANCH_INCONSISTENT', 'order pages disagree with the manifest');
      if (head.projection !== projection)
        refuse(this.lenient, 'body-values', 'BRANCH_INCONSISTENT', `order page says projection ${head.projection}, its key ${projection}`);
      if (head.rankMin !== pageStart)
        refuse(this.lenient, 'body-values', 'BRANCH_INCONSISTENT', `order page says rank min ${head.rankMin}, its first position is ${pageStart}`);
    }
    if (positions !== children.length) throw serializerError('BRANCH_INCONSISTENT', 'order pages do not cover every child');
    return children;
  }
}

/**
 * The names of an order page, read knowing what they should be: entry k of a page that agrees
 * with the manifest names the manifest's child `first + k`, so when its 17 wire bytes are
 * that child's, byte for byte, the child's Name is the answer (the same bytes in the same
 * frame read to the same name, and they already passed every name check). Any other bytes
 * take the exact path. Spares a hash-table lookup per order entry.
 */
class ExpectedNames extends NameTableReader {
  private children: readonly Name[] = [];
  private wires: readonly number[] = [];
  private next = 0;

  constructor(private readonly names: NameTableReader) {
    super();
  }

  /** Starts a page whose first entry should be child `first`. */
  expect(children: readonly Name[], wires: readonly number[], first: number): this {
    this.children = children;
    this.wires = wires;
    this.next = first;
    return this;
  }

  override readName(r: ByteReader): Name {
    const k = this.next++;
    const at = r.offset;
    const wire = this.wires[k];
    if (wire !== undefined && at + 17 <= r.end && rangesEqual(r.data, at, at + 17, r.data, wire, wire + 17)) {
      r.offset = at + 17;
      return this.children[k]!;
    }
    return this.names.readName(r);
  }
}
