/**
 * The branch decoder: from a verified frame's record table to a staged tree. Every record
 * is indexed by its key as a latin1 string (the frame reader made those for the Merkle
 * sort), so finding a cell's manifest, order or chunk records is one string concatenation
 * and a map lookup; bodies are read in place in the frame. Every cell must be reached from
 * the root, and every record used exactly once.
 */
import { name, nameEquals, valueFromData, type Name } from '@cep/cells';
import { isCepError } from '@cep/errors';
import { ByteReader, rangesEqual, toHex } from './bytes.ts';
import { serializerError } from './errors.ts';
import { RECORD_TYPE } from './frame-format.ts';
import { recordBody, recordKey, type RecordTable } from './frame-reader.ts';
import { blake3Into } from './hash.ts';
import { NameTableReader, ROOT_NAME } from './names.ts';
import { assemblePayload } from './payload.ts';
import type { ResolvedPolicy } from './policy.ts';
import { CELL_TYPE, CellDescScan, META, STORE, readNamepoolWith, scanCellDesc, scanManifest, scanOrder } from './records.ts';
import type { StagedCell } from './branch.ts';
import { ALL_STRICT, refuse, type LenientMask } from './strictness.ts';

const DICTIONARY = name('dictionary');
const LIST = name('list');
const MAX_DEPTH = 512;
const EMPTY = new Uint8Array(0);
/** Leaves share one frozen empty child list (10,000 fewer arrays on a 10,000-value branch). */
const NO_CHILDREN: readonly StagedCell[] = Object.freeze([]);

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

/** Stages the branch a verified frame carries. Throws a typed error for anything inconsistent. */
export function readBranch(table: RecordTable, policy: ResolvedPolicy, lenient: LenientMask = ALL_STRICT): { root: StagedCell; cellCount: number } {
  const count = table.types.length;
  const names = new NameTableReader();
  const byKey = indexRecords(table, names, lenient);
  if (count === 0 || table.types[0] !== RECORD_TYPE.CELL_DESC) throw serializerError('BRANCH_INCONSISTENT', 'a branch frame starts with the cell_desc of its root');
  const cells = indexCells(table, names);
  // The entry indexed by the root's key alone is a one-segment path of the root name.
  if (cells.rows.get(segment(ROOT_NAME.key)) !== 0) {
    throw serializerError('BRANCH_INCONSISTENT', 'the first cell_desc is not the branch root (path /)');
  }
  const staging = new Staging(table, byKey, cells, names, policy, lenient);
  staging.consumed = table.types.filter((type) => type === RECORD_TYPE.NAMEPOOL_DELTA).length;
  const root = staging.build([], ROOT_NAME, segment(ROOT_NAME.key), 0);
  if (staging.cellCount !== cells.rows.size || staging.consumed !== count) {
    throw serializerError('BRANCH_INCONSISTENT', `${count - staging.consumed} record(s) belong to no cell of the branch`);
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
  for (let i = 0; i < types.length; i++) {
    const size = byKey.size;
    byKey.set(table.keys[i]!, i);
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
class Staging {
  consumed = 0;
  cellCount = 0;
  /** Scratch for payload hashes (compared, never kept). */
  private readonly digest = new Uint8Array(32);
  /** The cell_desc being read (each build overwrites it; fields are copied out before recursing). */
  private readonly desc = new CellDescScan();
  /** Per record row: 1 once the walk from the root has reached that cell (a cell is reached once). */
  private readonly reached: Uint8Array;
  private readonly frame: Uint8Array;

  constructor(
    private readonly table: RecordTable,
    private readonly byKey: ReadonlyMap<string, number>,
    private readonly cells: CellIndex,
    private readonly names: NameTableReader,
    private readonly policy: ResolvedPolicy,
    private readonly lenient: LenientMask,
  ) {
    this.frame = table.frame;
    this.reached = new Uint8Array(table.types.length);
  }

  /** The cell `own` below `parents` (the path array is built only for stores, which pass it on). */
  build(parents: readonly Name[], own: Name, index: string, depth: number): StagedCell {
    if (depth > MAX_DEPTH) throw serializerError('BRANCH_INCONSISTENT', `branch is deeper than ${MAX_DEPTH} levels`);
    const row = this.cells.rows.get(index);
    if (row === undefined || this.reached[row] === 1) {
      throw serializerError('BRANCH_INCONSISTENT', `a manifest names a child that has no cell_desc (${[...parents, own].map((n) => n.tag.text).join('/')})`);
    }
    this.reached[row] = 1;
    this.consumed++;
    this.cellCount++;
    const suffix = this.cells.suffixes[row]!;
    const desc = scanCellDesc(this.frame, this.table.bodyStarts[row]!, this.table.ends[row]!, this.desc, this.lenient);
    const deleted = (desc.metaMask & META.tombstone) !== 0;
    const { cellType, storeDescriptor } = desc;
    if (cellType !== CELL_TYPE.normal && cellType !== CELL_TYPE.link) refuse(this.lenient, 'body-values', 'FRAME_BAD_RECORD', `branch cells are of type 1 (normal) or 3 (link), not ${cellType}`);
    if (desc.payloadKind !== 0) refuse(this.lenient, 'body-values', 'FRAME_BAD_RECORD', `branch payloads are of kind 0 (VALUE), not ${desc.payloadKind}`);
    const data = desc.refAt >= 0 ? this.payload(row, desc) : undefined;
    if (cellType === CELL_TYPE.link) {
      const target = data ?? EMPTY;
      if (target.length % 17 !== 0 || target.length === 0) throw serializerError('FRAME_BAD_RECORD', 'a link payload is one or more 17-byte names');
      const r = new ByteReader(target);
      const linkTarget: Name[] = [];
      while (r.remaining > 0) linkTarget.push(this.names.readName(r));
      return { name: own, deleted, kind: 'link', linkTarget, children: NO_CHILDREN };
    }
    if (storeDescriptor === STORE.none) {
      try {
        return { name: own, deleted, kind: 'value', value: valueFromData(suffix, data ?? EMPTY), children: NO_CHILDREN };
      } catch (error) {
        if (isCepError(error)) throw serializerError('FRAME_BAD_RECORD', `a value does not match its data type: ${error.message}`);
        throw error;
      }
    }
    const kind = storeDescriptor === STORE.list ? 'list' : storeDescriptor === STORE.dictionary ? 'dictionary' : undefined;
    if (kind === undefined) throw serializerError('FRAME_BAD_RECORD', `store descriptor 0x${storeDescriptor.toString(16)} is neither a dictionary nor a list`);
    const seen = new Set<string>();
    const path = [...parents, own];
    const children = this.childNames(this.pathKey(row), kind).map((child) => {
      if (seen.has(child.key)) throw serializerError('FRAME_DUPLICATE_RECORD', `child ${child.tag.text} is listed twice`);
      seen.add(child.key);
      return this.build(path, child, index + segment(child.key), depth + 1);
    });
    const defaultType = kind === 'list' ? LIST : DICTIONARY;
    return { name: own, deleted, kind, ...(nameEquals(suffix, defaultType) ? {} : { storeType: suffix }), children };
  }

  /** A cell record's key as latin1 without its type byte: the prefix of the cell's other records' keys. */
  private pathKey(row: number): string {
    return this.table.keys[row]!.slice(1);
  }

  /** A cell's payload bytes (inline or reassembled from chunks), checked against its declared hash. */
  private payload(row: number, desc: CellDescScan): Uint8Array {
    if (desc.refKind !== 0 || desc.hashAlg !== 1 || desc.codec !== 0) throw serializerError('FRAME_BAD_RECORD', 'branch payloads travel in the frame (ref kind 0, BLAKE3, no codec)');
    let data: Uint8Array;
    const inlineLength = desc.inlineEnd - desc.inlineStart;
    if (inlineLength > 0) {
      if (this.policy.aead !== undefined) throw serializerError('AEAD_REQUIRED', 'this mount requires encrypted payloads and a payload arrived inline in plaintext');
      if (inlineLength !== desc.size) throw serializerError('CHUNK_CONFLICT', 'inline payload length differs from its declared size');
      if (desc.aeadMode !== 0) refuse(this.lenient, 'ref-aead-mode', 'FRAME_BAD_RECORD', `an inline (plaintext) payload's ref says AEAD mode ${desc.aeadMode}`);
      data = this.frame.subarray(desc.inlineStart, desc.inlineEnd);
    } else {
      const chunks: { key: Uint8Array; body: Uint8Array }[] = [];
      for (let ordinal = 0; ; ordinal++) {
        const chunk = this.byKey.get(keyOf(RECORD_TYPE.PAYLOAD_CHUNK, this.pathKey(row), ordinal));
        if (chunk === undefined) break;
        chunks.push({ key: recordKey(this.table, chunk), body: recordBody(this.table, chunk) });
      }
      this.consumed += chunks.length;
      const fingerprint = desc.fingerprintAt < 0 ? undefined : new DataView(this.frame.buffer, this.frame.byteOffset + desc.fingerprintAt, 8).getBigUint64(0, true);
      data = assemblePayload(chunks, { size: desc.size, fingerprint, refAeadMode: desc.aeadMode }, this.policy.aead?.key, this.policy.aead !== undefined, this.lenient);
    }
    blake3Into(data, 0, data.length, this.digest, 0);
    if (!rangesEqual(this.frame, desc.hashStart, desc.hashEnd, this.digest, 0, 32)) throw serializerError('PAYLOAD_HASH_MISMATCH', 'a payload does not hash to the value its cell_desc declares');
    return data;
  }

  /** A store's children from its manifest pages, checked against its order pages. */
  private childNames(pathKey: string, kind: 'list' | 'dictionary'): Name[] {
    const { bodyStarts, ends } = this.table;
    const children: Name[] = [];
    for (let page = 0; ; page++) {
      const row = this.byKey.get(keyOf(RECORD_TYPE.MANIFEST_DELTA, pathKey, page));
      if (row === undefined) break;
      this.consumed++;
      scanManifest(this.frame, bodyStarts[row]!, ends[row]!, this.names, (_op, name) => children.push(name), this.lenient);
    }
    const projection = kind === 'list' ? 1 : 0;
    let positions = 0;
    for (let page = 0; ; page++) {
      const row = this.byKey.get(keyOf(RECORD_TYPE.ORDER_DELTA, pathKey, projection, page));
      if (row === undefined) break;
      this.consumed++;
      // A page is read whole before it is compared, so a malformed entry after a mismatch still reports as malformed.
      let agrees = true;
      const pageStart = positions;
      const head = scanOrder(this.frame, bodyStarts[row]!, ends[row]!, this.names, (_op, name, position) => {
        if (!agrees) return;
        const expected = children[position];
        if (expected === undefined || position !== positions++ || !nameEquals(expected, name)) agrees = false;
      }, this.lenient);
      if (!agrees) throw serializerError('BRANCH_INCONSISTENT', 'order pages disagree with the manifest');
      if (head.projection !== projection) refuse(this.lenient, 'body-values', 'BRANCH_INCONSISTENT', `order page says projection ${head.projection}, its key ${projection}`);
      if (head.rankMin !== pageStart) refuse(this.lenient, 'body-values', 'BRANCH_INCONSISTENT', `order page says rank min ${head.rankMin}, its first position is ${pageStart}`);
    }
    if (positions !== children.length) throw serializerError('BRANCH_INCONSISTENT', 'order pages do not cover every child');
    return children;
  }
}
