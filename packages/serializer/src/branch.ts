/**
 * Branches of a @cep/cells tree as flat frames. One frame carries a whole branch: one
 * cell_desc per cell (keyed by its path from the branch root), manifest and order pages
 * for every store, payload chunks for large or encrypted values, and the name table.
 * Decoding verifies everything and stages the result; `applyBranch` then writes it into
 * a tree all or nothing.
 */
import { name, nameEquals, valueFromData, valueToData, type Cell, type Name, type PathLike, type Tree, type Value } from '@cep/cells';
import { isCepError } from '@cep/errors';
import { ByteReader, ByteWriter, toHex } from './bytes.ts';
import { serializerError } from './errors.ts';
import { CAP, decodeFrame, encodeFrame, RECORD_TYPE, type RawRecord } from './frame.ts';
import { blake3 } from './hash.ts';
import { NameTableReader, NameTableWriter, ROOT_NAME } from './names.ts';
import { assemblePayload, chunkPayload, DATALESS_FINGERPRINT, INLINE_MAX, payloadFingerprint } from './payload.ts';
import { checkComparator, resolvePolicy, type SerializerPolicy } from './policy.ts';
import {
  CELL_TYPE, META, STORE, readCellDesc, readManifest, readNamepool, readOrder, writeCellDesc, writeManifest, writeNamepool, writeOrder,
  type ManifestEntry,
} from './records.ts';

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

const DICTIONARY = name('dictionary');
const LIST = name('list');
const LINK = name('link');
const PAGE = 64;
const MAX_DEPTH = 512;

function suffixOf(cell: Cell): Name {
  switch (cell.kind) {
    case 'value':
      return valueToData(cell.value!).dataType;
    case 'link':
      return LINK;
    case 'dictionary':
      return cell.storeType ?? DICTIONARY;
    case 'list':
      return cell.storeType ?? LIST;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

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
  const names = new NameTableWriter();
  const records: RawRecord[] = [];
  let caps = 0;
  let newest = 0;
  const include = (c: Cell) => options.includeDeleted === true || !c.isDeleted;
  // A value's fingerprint is needed twice (its parent's manifest, then its own cell_desc): compute it once.
  const fingerprints = new Map<Cell, bigint>();
  const fingerprintOf = (c: Cell, dataType: Name, data: Uint8Array, hash?: Uint8Array): bigint => {
    let fp = fingerprints.get(c);
    if (fp === undefined) {
      fp = payloadFingerprint(dataType, data, names, hash ?? blake3(data));
      fingerprints.set(c, fp);
    }
    return fp;
  };
  const childRevision = (child: Cell): Uint8Array => {
    const out = new Uint8Array(16);
    if (child.isDeleted) return out;
    let fp = DATALESS_FINGERPRINT;
    if (child.kind === 'value') {
      const { dataType, bytes } = valueToData(child.value!);
      if (bytes.length > 0) fp = fingerprintOf(child, dataType, bytes);
    }
    new DataView(out.buffer).setBigUint64(0, fp, true);
    return out;
  };

  const visit = (node: Cell, path: Uint8Array): void => {
    newest = Math.max(newest, node.modified, node.deleted ?? 0);
    const pathKey = concat(path, names.nameBytes(suffixOf(node)));
    let data: Uint8Array | undefined;
    let dataType: Name | undefined;
    if (node.kind === 'value') ({ dataType, bytes: data } = valueToData(node.value!));
    if (node.kind === 'link') {
      dataType = LINK;
      const target = new ByteWriter(17 * node.linkTarget!.length);
      for (const segment of node.linkTarget!) names.writeName(target, segment);
      data = target.result().slice();
    }
    const hash = data !== undefined && data.length > 0 ? blake3(data) : undefined;
    const fp = hash !== undefined ? fingerprintOf(node, dataType!, data!, hash) : undefined;
    const inline = data !== undefined && data.length > 0 && data.length <= INLINE_MAX && resolved.aead === undefined;
    if (fp !== undefined) caps |= CAP.PAYLOAD_FP | CAP.PAYLOAD_REF;
    records.push({
      type: RECORD_TYPE.CELL_DESC, version: 1, flags: 0, key: prefixed(RECORD_TYPE.CELL_DESC, pathKey),
      body: writeCellDesc({
        cellType: node.kind === 'link' ? CELL_TYPE.link : CELL_TYPE.normal,
        storeDescriptor: node.kind === 'dictionary' ? STORE.dictionary : node.kind === 'list' ? STORE.list : STORE.none,
        created: BigInt(node.created),
        latest: BigInt(node.modified),
        revision: hash !== undefined ? hash.subarray(0, 16) : new Uint8Array(16),
        payloadKind: 0,
        fingerprint: fp,
        inline: inline ? data! : new Uint8Array(0),
        ref: hash !== undefined ? { refKind: 0, hashAlg: 1, codec: 0, aeadMode: resolved.aead?.mode ?? 0, size: data!.length, hash } : undefined,
        metaMask: node.isDeleted ? META.tombstone : 0,
      }),
    });
    if (node.kind === 'dictionary' || node.kind === 'list') {
      const children = node.children().filter(include);
      if (children.length > 0) caps |= CAP.PAGED_CHILDSET | CAP.PAGED_ORDER;
      for (let page = 0; page * PAGE < children.length; page++) {
        const slice = children.slice(page * PAGE, (page + 1) * PAGE);
        const entries: ManifestEntry[] = slice.map((child) => ({
          op: child.isDeleted ? 2 : 1,
          name: child.name,
          mask: child.isDeleted ? META.tombstone : 0,
          revision: childRevision(child),
        }));
        records.push({
          type: RECORD_TYPE.MANIFEST_DELTA, version: 1, flags: 0, key: prefixed(RECORD_TYPE.MANIFEST_DELTA, pathKey, page),
          body: writeManifest({ epoch: BigInt(node.modified), rangeKind: 0, min: slice[0]!.name, max: children[(page + 1) * PAGE]?.name, entries }, names),
        });
      }
      const projection = node.kind === 'list' ? 1 : 0;
      for (let page = 0; page * PAGE < children.length; page++) {
        const slice = children.slice(page * PAGE, (page + 1) * PAGE);
        records.push({
          type: RECORD_TYPE.ORDER_DELTA, version: 1, flags: 0, key: prefixed(RECORD_TYPE.ORDER_DELTA, pathKey, projection, page),
          body: writeOrder({ projection, epoch: BigInt(node.modified), rankMin: page * PAGE, entries: slice.map((child, i) => ({ op: child.isDeleted ? 2 : 1, name: child.name, position: page * PAGE + i })) }, names),
        });
      }
    }
    if (data !== undefined && data.length > 0 && !inline) {
      for (const chunk of chunkPayload(pathKey, data, fp!, resolved.aead)) {
        records.push({ type: RECORD_TYPE.PAYLOAD_CHUNK, version: 1, flags: 0, key: chunk.key, body: chunk.body });
      }
    }
    if (node.kind === 'dictionary' || node.kind === 'list') {
      for (const child of node.children()) {
        if (!include(child)) continue;
        visit(child, concat(path, names.nameBytes(child.name)));
      }
    }
  };

  visit(cell, names.nameBytes(ROOT_NAME));
  for (const entry of names.entries()) {
    const key = new ByteWriter(9);
    key.u8(RECORD_TYPE.NAMEPOOL_DELTA);
    key.u64(entry.id);
    records.push({ type: RECORD_TYPE.NAMEPOOL_DELTA, version: 1, flags: 0, key: key.result().slice(), body: writeNamepool(entry.text, false) });
  }
  if (names.size > 0) caps |= CAP.NAMEPOOL_MAP;
  const beat = BigInt(options.beat ?? newest);
  const plain = encodeFrame(records, { beat, caps, checksum: resolved.checksum });
  let out = plain;
  if (resolved.deflate) {
    const packed = encodeFrame(records, { beat, caps, checksum: resolved.checksum, compress: true });
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
