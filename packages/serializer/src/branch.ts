/**
 * Branches of a @cep/cells tree as flat frames. One frame carries a whole branch: one
 * cell_desc per cell (keyed by its path from the branch root), manifest and order pages
 * for every store, payload chunks for large or encrypted values, and the name table.
 * Decoding verifies everything and stages the result; `applyBranch` then writes it into
 * a tree all or nothing.
 */
import { name, nameEquals, valueFromData, type Cell, type Name, type PathLike, type Tree, type Value } from '@cep/cells';
import { isCepError } from '@cep/errors';
import { ByteReader, ByteWriter, toHex } from './bytes.ts';
import { serializerError } from './errors.ts';
import { decodeFrame, RECORD_TYPE, type RawRecord } from './frame.ts';
import { blake3 } from './hash.ts';
import { BranchWriter, DICTIONARY, LIST } from './branch-writer.ts';
import { NameTableReader, ROOT_NAME } from './names.ts';
import { assemblePayload } from './payload.ts';
import { checkComparator, resolvePolicy, type SerializerPolicy } from './policy.ts';
import { CELL_TYPE, META, STORE, readCellDesc, readManifest, readNamepool, readOrder, type ManifestEntry } from './records.ts';

/** A decoded cell, staged: nothing is in any tree until {@link applyBranch}. */
export interface StagedCell {
  readonly name: Name;
  readonly kind: 'value' | 'dictionary' | 'list' | 'link';
  readonly value?: Value;
  readonly storeType?: Name;
  readonly linkTarget?: readonly Name[];
  readonly deleted: boolean;
  readonly children: readonly StagedCell[];
}

/** A verified branch frame. */
export interface DecodedBranch {
  readonly root: StagedCell;
  readonly beat: number;
  readonly cellCount: number;
}

/** Options of {@link encodeBranch}. */
export interface EncodeBranchOptions {
  /** Beat written in the trailer (default: the newest beat in the branch). */
  readonly beat?: number;
  /** Ship soft-deleted cells as tombstones (default false: the live view). */
  readonly includeDeleted?: boolean;
}

const MAX_DEPTH = 512;

function prefixed(type: number, body: Uint8Array, ...suffixVarints: number[]): Uint8Array {
  const w = new ByteWriter(body.length + 8);
  w.u8(type);
  w.bytes(body);
  for (const v of suffixVarints) w.varint(v);
  return w.result().slice();
}

/** Encodes `cell` and everything below it into one flat frame. */
export function encodeBranch(cell: Cell, policy: SerializerPolicy = {}, options: EncodeBranchOptions = {}): Uint8Array {
  const resolved = resolvePolicy(policy);
  checkComparator(resolved, 'write');
  const writer = new BranchWriter(resolved, options.includeDeleted === true);
  writer.writeBranch(cell);
  const frameOptions = { beat: BigInt(options.beat ?? writer.newest), caps: writer.caps, checksum: resolved.checksum };
  const plain = writer.frame.finish(frameOptions);
  let out = plain;
  if (resolved.deflate) {
    // Same records and Merkle root; only the trailer (compression flag and cap) differs.
    const packed = writer.frame.finish({ ...frameOptions, compress: true });
    if (packed.length < plain.length) out = packed;
  }
  if (out.length > resolved.maxFrameBytes) {
    throw serializerError('FRAME_TOO_LARGE', `the branch encodes to ${out.length} bytes; the policy allows ${resolved.maxFrameBytes}`, { size: out.length, limit: resolved.maxFrameBytes });
  }
  return out;
}

/** Reads and verifies a branch frame; nothing is applied anywhere. */
export function decodeBranch(bytes: Uint8Array, policy: SerializerPolicy = {}): DecodedBranch {
  const resolved = resolvePolicy(policy);
  checkComparator(resolved, 'read');
  const { records, trailer } = decodeFrame(bytes, { maxFrameBytes: resolved.maxFrameBytes });
  const names = new NameTableReader();
  const byKey = new Map<string, RawRecord>();
  for (const record of records) {
    const hex = toHex(record.key);
    if (byKey.has(hex)) throw serializerError('FRAME_DUPLICATE_RECORD', `two records share the key ${hex.slice(0, 40)}…`);
    byKey.set(hex, record);
    if (record.type === RECORD_TYPE.NAMEPOOL_DELTA) {
      if (record.key.length !== 9) throw serializerError('FRAME_BAD_RECORD', 'a namepool_delta key is 9 bytes');
      const { text } = readNamepool(record.body);
      names.add(new DataView(record.key.buffer, record.key.byteOffset + 1, 8).getBigUint64(0, true), text);
    } else if (record.type === RECORD_TYPE.PAYLOAD_HISTORY || record.type === RECORD_TYPE.MANIFEST_HISTORY) {
      throw serializerError('BRANCH_INCONSISTENT', 'history records are not part of branch frames');
    }
  }
  const first = records[0];
  if (first === undefined || first.type !== RECORD_TYPE.CELL_DESC) throw serializerError('BRANCH_INCONSISTENT', 'a branch frame starts with the cell_desc of its root');

  // Index every cell_desc by its path without the kind suffix.
  const cells = new Map<string, { record: RawRecord; path: Name[]; suffix: Name }>();
  for (const record of records) {
    if (record.type !== RECORD_TYPE.CELL_DESC) continue;
    const segments = (record.key.length - 1) / 17;
    if (!Number.isInteger(segments) || segments < 2) throw serializerError('FRAME_BAD_RECORD', `cell_desc key of ${record.key.length} bytes is not 1 + 17·n (n ≥ 2)`);
    const r = new ByteReader(record.key, 1);
    const path: Name[] = [];
    for (let i = 0; i < segments; i++) path.push(names.readName(r));
    const suffix = path.pop()!;
    const index = path.map((n) => n.key).join('\u0001');
    if (cells.has(index)) throw serializerError('FRAME_DUPLICATE_RECORD', 'two cell_desc records describe the same cell');
    cells.set(index, { record, path, suffix });
  }
  if (!nameEquals(cells.get(ROOT_NAME.key)?.path[0] ?? name('x'), ROOT_NAME) || cells.get(ROOT_NAME.key)?.record !== first) {
    throw serializerError('BRANCH_INCONSISTENT', 'the first cell_desc is not the branch root (path /)');
  }
  let consumed = records.filter((r) => r.type === RECORD_TYPE.NAMEPOOL_DELTA).length;
  let cellCount = 0;

  const build = (path: Name[], depth: number): StagedCell => {
    if (depth > MAX_DEPTH) throw serializerError('BRANCH_INCONSISTENT', `branch is deeper than ${MAX_DEPTH} levels`);
    const entry = cells.get(path.map((n) => n.key).join('\u0001'));
    if (entry === undefined) throw serializerError('BRANCH_INCONSISTENT', `a manifest names a child that has no cell_desc (${path.map((n) => n.tag.text).join('/')})`);
    cells.delete(path.map((n) => n.key).join('\u0001'));
    consumed++;
    cellCount++;
    const desc = readCellDesc(entry.record.body);
    const pathKey = entry.record.key.subarray(1);
    const deleted = (desc.metaMask & META.tombstone) !== 0;
    const own = path[path.length - 1]!;
    let data: Uint8Array | undefined;
    if (desc.ref !== undefined) {
      if (desc.ref.refKind !== 0 || desc.ref.hashAlg !== 1 || desc.ref.codec !== 0) throw serializerError('FRAME_BAD_RECORD', 'branch payloads travel in the frame (ref kind 0, BLAKE3, no codec)');
      if (desc.inline.length > 0) {
        if (resolved.aead !== undefined) throw serializerError('AEAD_REQUIRED', 'this mount requires encrypted payloads and a payload arrived inline in plaintext');
        if (desc.inline.length !== desc.ref.size) throw serializerError('CHUNK_CONFLICT', 'inline payload length differs from its declared size');
        data = desc.inline;
      } else {
        const chunks: RawRecord[] = [];
        for (let ordinal = 0; ; ordinal++) {
          const record = byKey.get(toHex(prefixed(RECORD_TYPE.PAYLOAD_CHUNK, pathKey, ordinal)));
          if (record === undefined) break;
          chunks.push(record);
        }
        consumed += chunks.length;
        data = assemblePayload(chunks, desc.ref.size, resolved.aead?.key, resolved.aead !== undefined);
      }
      if (toHex(blake3(data)) !== toHex(desc.ref.hash)) throw serializerError('PAYLOAD_HASH_MISMATCH', 'a payload does not hash to the value its cell_desc declares');
    }
    const common = { name: own, deleted };
    if (desc.cellType === CELL_TYPE.link) {
      const target = data ?? new Uint8Array(0);
      if (target.length % 17 !== 0 || target.length === 0) throw serializerError('FRAME_BAD_RECORD', 'a link payload is one or more 17-byte names');
      const r = new ByteReader(target);
      const linkTarget: Name[] = [];
      while (r.remaining > 0) linkTarget.push(names.readName(r));
      return { ...common, kind: 'link', linkTarget, children: [] };
    }
    if (desc.storeDescriptor === STORE.none) {
      try {
        return { ...common, kind: 'value', value: valueFromData(entry.suffix, data ?? new Uint8Array(0)), children: [] };
      } catch (error) {
        if (isCepError(error)) throw serializerError('FRAME_BAD_RECORD', `a value does not match its data type: ${error.message}`);
        throw error;
      }
    }
    const kind = desc.storeDescriptor === STORE.list ? 'list' : desc.storeDescriptor === STORE.dictionary ? 'dictionary' : undefined;
    if (kind === undefined) throw serializerError('FRAME_BAD_RECORD', `store descriptor 0x${desc.storeDescriptor.toString(16)} is neither a dictionary nor a list`);
    const defaultType = kind === 'list' ? LIST : DICTIONARY;
    const entries: ManifestEntry[] = [];
    for (let page = 0; ; page++) {
      const record = byKey.get(toHex(prefixed(RECORD_TYPE.MANIFEST_DELTA, pathKey, page)));
      if (record === undefined) break;
      consumed++;
      entries.push(...readManifest(record.body, names).entries);
    }
    const projection = kind === 'list' ? 1 : 0;
    let positions = 0;
    for (let page = 0; ; page++) {
      const record = byKey.get(toHex(prefixed(RECORD_TYPE.ORDER_DELTA, pathKey, projection, page)));
      if (record === undefined) break;
      consumed++;
      const order = readOrder(record.body, names);
      for (const e of order.entries) {
        const expected = entries[e.position];
        if (expected === undefined || e.position !== positions++ || !nameEquals(expected.name, e.name)) {
          throw serializerError('BRANCH_INCONSISTENT', 'order pages disagree with the manifest');
        }
      }
    }
    if (positions !== entries.length) throw serializerError('BRANCH_INCONSISTENT', 'order pages do not cover every child');
    const seen = new Set<string>();
    const children = entries.map((e) => {
      if (seen.has(e.name.key)) throw serializerError('FRAME_DUPLICATE_RECORD', `child ${e.name.tag.text} is listed twice`);
      seen.add(e.name.key);
      return build([...path, e.name], depth + 1);
    });
    return { ...common, kind, ...(nameEquals(entry.suffix, defaultType) ? {} : { storeType: entry.suffix }), children };
  };

  const root = build([ROOT_NAME], 0);
  if (cells.size > 0 || consumed !== records.length) {
    throw serializerError('BRANCH_INCONSISTENT', `${records.length - consumed} record(s) belong to no cell of the branch`);
  }
  return { root, beat: Number(trailer.beat), cellCount };
}

/**
 * Writes a decoded branch at `path`, replacing what is there, all or nothing (one tree
 * batch: if anything fails, the tree is left as it was).
 */
export function applyBranch(tree: Tree, path: PathLike, branch: DecodedBranch): void {
  const at = typeof path === 'string' ? path.split('/').filter(Boolean) : [...path];
  if (at.length === 0) throw serializerError('BRANCH_INCONSISTENT', 'a branch is applied under a named cell, not at the root');
  tree.batch(() => {
    tree.remove(at);
    const write = (cell: StagedCell, where: (Name | string)[]): void => {
      switch (cell.kind) {
        case 'value':
          tree.set(where, cell.value!);
          break;
        case 'link':
          tree.link(where, [...cell.linkTarget!]);
          break;
        case 'dictionary':
          tree.ensureDictionary(where, cell.storeType);
          for (const child of cell.children) write(child, [...where, child.name]);
          break;
        case 'list':
          tree.ensureList(where, cell.storeType);
          cell.children.forEach((child, index) => {
            // The list API inserts by position; `write` then fills the child (store type, children, tombstone).
            if (child.kind === 'link') throw serializerError('BRANCH_INCONSISTENT', 'links inside lists are not supported');
            tree.insert(where, index, child.kind === 'value' ? child.value! : child.kind, child.name);
            write(child, [...where, child.name]);
          });
          break;
      }
      if (cell.deleted) tree.delete(where);
    };
    write(branch.root, at);
  });
}
