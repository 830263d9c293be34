/**
 * The branch encoder's walk: one cell_desc per cell (keyed by its path from the branch
 * root), manifest and order pages for every store, payload chunks for large or encrypted
 * values, then the name table. Keys and bodies are written straight into the
 * {@link FrameWriter}'s buffer (FrameWriter.beginRecord); the path of the current cell lives
 * in one growing stack.
 *
 * The order of name-table calls is part of the output: reference names get frame-local
 * ids in first-use order, so this walk asks for names exactly when the reference does
 * (a store's suffix, link targets, value data types, then per manifest page its children's
 * data types followed by its bounds and child names). Values are gathered and hashed for the
 * whole branch first (value-batch.ts); that pass asks only for names that hold no reference,
 * which registers nothing.
 */
import { name, valueToData, type Cell, type Name } from '@cep/cells';
import { ByteWriter, putAll, putBytes, putVarint, putWords, putWordsFrom, varintLength } from './bytes.ts';
import { serializerError } from './errors.ts';
import { CAP, RECORD_TYPE } from './frame-format.ts';
import { FrameWriter } from './frame-writer.ts';
import { blake3 } from './hash.ts';
import { hasNoReference, NameTableWriter, ROOT_NAME } from './names.ts';
import { DATALESS_FINGERPRINT, writeChunkRecords, INLINE_MAX, payloadFingerprint } from './payload.ts';
import type { ResolvedPolicy } from './policy.ts';
import { CELL_TYPE, META, STORE, namepoolBodyLength, putNamepool } from './records.ts';
import { SlotIndex } from './slot-index.ts';
import { giveValueBatch, takeValueBatch } from './value-batch.ts';

const DICTIONARY = name('dictionary');
const LIST = name('list');
const LINK = name('link');
/** Children per manifest / order page. */
const PAGE = 64;
const NAME_BYTES = 17;
/** A manifest entry: flag, child name, meta, a 16-byte revision (FORMAT.md §8.3). */
const MANIFEST_ENTRY = 1 + NAME_BYTES + 2 + 16;
const EMPTY = new Uint8Array(0);
/** Inline values from this many bytes on are copied a word at a time (see writeDesc). */
const WORD_COPY_MIN = 32;

/** A value's bytes, BLAKE3 and fingerprint, for a value the batch did not gather (see value-batch.ts). */
interface Payload {
  readonly dataType: Name;
  readonly data: Uint8Array;
  readonly hash: Uint8Array | undefined;
}

function valuePayload(cell: Cell): Payload {
  const { dataType, bytes } = valueToData(cell.value!);
  return { dataType, data: bytes, hash: bytes.length > 0 ? blake3(bytes) : undefined };
}

/** A manifest revision: a fingerprint's 8 bytes little-endian, then 8 zero bytes. */
const DATALESS_REVISION = new Uint8Array(8);
new DataView(DATALESS_REVISION.buffer).setBigUint64(0, DATALESS_FINGERPRINT, true);

// The fingerprint of a value the batch did not gather or of a link, as 8 bytes (one at a time: written before the next).
const fpScratch = new Uint8Array(8);
const fpScratchView = new DataView(fpScratch.buffer);

/** A path stack grown past this many bytes is dropped after its frame rather than kept. */
const PATH_KEEP = NAME_BYTES * 1024;
let sparePath: Uint8Array | undefined;

/** The spare path stack (a writer made while another is in use gets its own). */
function takePath(): Uint8Array {
  const path = sparePath ?? new Uint8Array(NAME_BYTES * 16);
  sparePath = undefined;
  return path;
}

/** The writer of the last branch, kept for the next (see {@link BranchWriter.take}). */
let spareWriter: BranchWriter | undefined;
const NO_CELLS: readonly Cell[] = [];
/** What a writer waiting for its next frame holds as its policy. */
const NO_POLICY: ResolvedPolicy = Object.freeze({ checksum: 0, deflate: false, deflateMinBytes: 0, aead: undefined, cmpMaxVer: 0, maxFrameBytes: 0 });

/** Walks a branch into a frame writer. */
export class BranchWriter {
  readonly names = new NameTableWriter();
  frame: FrameWriter;
  caps = 0;
  newest = 0;
  /** The frame's buffer: keys and bodies are written straight into it (see FrameWriter.beginRecord). */
  private out: ByteWriter;
  /** Wire names from the branch root to the cell being written, 17 bytes each (reused across frames: see {@link dispose}). */
  private path = takePath();
  /** Views of the first `depth` names of {@link path}, by depth: a key copies its path as a whole array (see ByteWriter.bytes). */
  private pathViews: Uint8Array[] = [];
  /** The payloads of the value children of the stores being written (reused across frames: see {@link dispose}). */
  private batch = takeValueBatch();

  constructor(
    private policy: ResolvedPolicy,
    private includeDeleted: boolean,
  ) {
    this.frame = FrameWriter.take(policy.checksum);
    this.out = this.frame.output;
  }

  /**
   * A writer for one branch: the one the last branch disposed of, reset, or a new one while that
   * is in use (encoding is synchronous, so that is only a writer made inside another's walk).
   * Building a writer each frame (its maps and arrays, a name table, a frame writer and its
   * columns) was most of a 2-cell frame's 5.1 KB of allocation, paid back in minor GCs.
   */
  static take(policy: ResolvedPolicy, includeDeleted: boolean): BranchWriter {
    const writer = spareWriter;
    if (writer === undefined) return new BranchWriter(policy, includeDeleted);
    spareWriter = undefined;
    writer.reset(policy, includeDeleted);
    return writer;
  }

  private reset(policy: ResolvedPolicy, includeDeleted: boolean): void {
    this.policy = policy;
    this.includeDeleted = includeDeleted;
    this.frame = FrameWriter.take(policy.checksum);
    this.out = this.frame.output;
    this.names.reset();
    this.caps = 0;
    this.newest = 0;
    this.sealedBytes = 0;
    const path = takePath();
    if (path !== this.path) {
      this.path = path;
      this.pathViews = [];
    }
    this.batch = takeValueBatch();
    this.stores = 0;
    this.storeCursor = 0;
    // gatherBranch leaves it empty unless a walk threw: setting the length of an empty array still cost ~0.4% of a 2-cell encode.
    if (this.pending.length !== 0) this.pending.length = 0;
    this.referenceTypes.clear();
  }

  /** Hands the path stack, the value batch, the frame's buffer and this writer to the next frame; this writer must not be used after. */
  dispose(): void {
    if (this.path.length <= PATH_KEEP) sparePath = this.path;
    giveValueBatch(this.batch);
    this.frame.dispose();
    // Neither the branch's cells nor the policy (its AEAD key) are kept alive by a writer waiting for the next frame.
    for (let i = 0; i < this.stores; i++) this.storeChildren[i] = NO_CELLS;
    this.stores = 0;
    this.policy = NO_POLICY;
    spareWriter = this;
  }

  /** Writes `root` and everything below it, then the name table. */
  writeBranch(root: Cell): void {
    this.gatherBranch(root);
    this.path.set(this.names.nameBytes(ROOT_NAME), 0);
    this.visit(root, 1, -1);
    const names = this.names;
    for (let i = 0; i < names.size; i++) {
      // Key: the type byte, then the id as a u64; both lengths known, so written in one pass like the other records.
      const text = names.textAt(i);
      const at = this.frame.beginSized(RECORD_TYPE.NAMEPOOL_DELTA, 9, namepoolBodyLength(text));
      const b = this.out.buffered;
      b[at] = RECORD_TYPE.NAMEPOOL_DELTA;
      this.out.dataView().setBigUint64(at + 1, names.idAt(i), true);
      putNamepool(b, at + 9, text, false);
      this.frame.endSized();
    }
    if (this.names.size > 0) this.caps |= CAP.NAMEPOOL_MAP;
  }

  /** Every store's children (the live ones, or all with `includeDeleted`), in the order the walk meets the stores (written by index up to {@link stores}). */
  private readonly storeChildren: (readonly Cell[])[] = [];
  /** Every store's first entry in the batch (its children take the entries from there on), same order. */
  private readonly storeFirst: number[] = [];
  /** Stores met so far. */
  private stores = 0;
  /** The next store the walk writes. */
  private storeCursor = 0;

  /**
   * Before anything is written: every value child of every store into the batch, every payload
   * hashed in one batched call, then the fingerprints whose data type holds no reference name
   * in one more (those of a reference data type wait for their manifest page, where the
   * reference registers that name). Stores are met in the order {@link visit} meets them.
   */
  private gatherBranch(root: Cell): void {
    const batch = this.batch;
    const pending = this.pending;
    pending.push(root);
    // Depth first, children in order: a stack of stores, each store's store children pushed in reverse.
    while (pending.length > 0) {
      const node = pending.pop()!;
      if (node.kind !== 'dictionary' && node.kind !== 'list') continue;
      const children = this.liveChildren(node);
      const first = batch.begin(children.length);
      this.storeChildren[this.stores] = children;
      this.storeFirst[this.stores++] = first;
      // A deleted child's payload is left for its own visit, as the reference orders its name-table ids.
      for (let i = 0; i < children.length; i++) {
        const child = children[i]!;
        if (child.kind === 'value' && !child.isDeleted) batch.gather(first + i, child.value!);
      }
      for (let i = children.length - 1; i >= 0; i--) {
        const child = children[i]!;
        if (child.kind === 'dictionary' || child.kind === 'list') pending.push(child);
      }
    }
    const count = batch.top;
    batch.hash(0, count);
    let any = false;
    for (let e = 0; e < count; e++) {
      const type = batch.types[e];
      if (type === undefined || batch.size(e) === 0) continue;
      if (hasNoReference(type)) {
        batch.fingerprintInput(e, this.names.nameBytes(type)); // no reference: asking registers nothing
        batch.fingerprinted[e] = 1;
        any = true;
      } else {
        const slot = this.referenceTypes.get(type.key);
        if (slot < 0) this.referenceEntries[this.referenceTypes.add(type.key)] = [e];
        else this.referenceEntries[slot]!.push(e);
      }
    }
    if (any) batch.fingerprint(0, count);
  }

  /** The stores {@link gatherBranch} has yet to visit (empty between frames). */
  private readonly pending: Cell[] = [];

  /** A store's children to write: all of them (the store's own array, not copied) unless some are deleted and left out. */
  private liveChildren(node: Cell): readonly Cell[] {
    const children = node.children();
    if (this.includeDeleted) return children;
    for (let i = 0; i < children.length; i++) if (children[i]!.isDeleted) return children.filter((c) => !c.isDeleted);
    return children;
  }

  /** Data types holding a reference name, by key, and the entries of each (fingerprinted once that name is registered). */
  private readonly referenceTypes = new SlotIndex();
  private readonly referenceEntries: number[][] = [];

  /**
   * Fingerprints every entry whose data type is `type` (a reference name): called where the
   * first of them needs its fingerprint, the point where the reference registers the name; from
   * then on its frame-local code is fixed, so all of them are hashed in one batched call.
   */
  private fingerprintType(type: Name): void {
    const batch = this.batch;
    const codes = this.names.nameBytes(type);
    const entries = this.referenceEntries[this.referenceTypes.get(type.key)]!;
    for (const e of entries) {
      batch.fingerprintInput(e, codes);
      batch.fingerprinted[e] = 1;
    }
    batch.fingerprintScattered(entries);
  }

  /**
   * A cell whose path (`depth` names, root included) is on the stack; `entry` is its value's
   * entry in the batch when its parent gathered it (−1: not gathered).
   */
  private visit(node: Cell, depth: number, entry: number): void {
    this.newest = Math.max(this.newest, node.modified, node.deleted ?? 0);
    if (entry >= 0) return this.visitGathered(node, depth, entry);
    if (node.kind === 'dictionary' || node.kind === 'list') {
      const suffix = this.names.nameBytes(node.storeType ?? (node.kind === 'list' ? LIST : DICTIONARY));
      this.writeDesc(node, depth, suffix, undefined, 0, undefined, EMPTY, 0, 0, false);
      // The store's children and their entries, as gatherBranch found them (stores come in the same order).
      const store = this.storeCursor++;
      const children = this.storeChildren[store]!;
      const first = this.storeFirst[store]!;
      if (children.length > 0) this.caps |= CAP.PAGED_CHILDSET | CAP.PAGED_ORDER;
      this.writeManifest(node, depth, suffix, children, first);
      this.writeOrder(node, depth, suffix, children, first);
      this.visitChildren(children, first, depth);
      return;
    }
    // A value its parent did not gather (the branch root, a deleted child) or a link: one at a time.
    const payload = node.kind === 'value' ? valuePayload(node) : undefined;
    const suffix = this.names.nameBytes(payload?.dataType ?? LINK);
    const data = payload?.data ?? this.linkTarget(node);
    const hash = payload !== undefined ? payload.hash : data.length > 0 ? blake3(data) : undefined;
    if (hash !== undefined) fpScratchView.setBigUint64(0, payloadFingerprint(payload?.dataType ?? LINK, data, this.names, hash), true);
    const inline = data.length > 0 && data.length <= INLINE_MAX && this.policy.aead === undefined;
    this.writeDesc(node, depth, suffix, hash, 0, hash === undefined ? undefined : fpScratch, data, 0, data.length, inline);
    if (hash !== undefined && !inline) this.writeChunks(depth, suffix, data, fpScratchView.getBigUint64(0, true));
  }

  /** A value gathered by its parent's batch: its bytes, digest and fingerprint are there. */
  private visitGathered(node: Cell, depth: number, entry: number): void {
    const batch = this.batch;
    const suffix = this.names.nameBytes(batch.types[entry]!);
    const size = batch.size(entry);
    const source = batch.source(entry);
    const start = batch.external[entry] === undefined ? batch.starts[entry]! : 0;
    if (size === 0) return this.writeDesc(node, depth, suffix, undefined, 0, undefined, source, start, 0, false);
    const inline = size <= INLINE_MAX && this.policy.aead === undefined;
    this.writeDesc(node, depth, suffix, batch.digests, entry * 32, batch.fingerprints, source, start, size, inline);
    if (!inline) {
      const fp = new DataView(batch.fingerprints.buffer, entry * 32, 8).getBigUint64(0, true);
      this.writeChunks(depth, suffix, source.subarray(start, start + size), fp);
    }
  }

  /**
   * A cell_desc (FORMAT.md §8.1, the bytes writeCellDescInto writes), from positional fields
   * rather than an object per record: with a payload (`hash` holds its BLAKE3 at `hashAt`, the
   * revision is its first 16 bytes) the fingerprint is the 8 bytes at `hashAt` of `fp` and the
   * payload-ref block follows; without one, the revision is zero and there is no ref.
   *
   * Every length is known before a byte is written, so the record goes into the frame's buffer
   * in one pass with a local index (FrameWriter.beginSized): one record per value, and calls
   * per field were most of the walk's cost.
   */
  private writeDesc(
    node: Cell,
    depth: number,
    suffix: Uint8Array,
    hash: Uint8Array | undefined,
    hashAt: number,
    fp: Uint8Array | undefined,
    data: Uint8Array,
    dataStart: number,
    size: number,
    inline: boolean,
  ): void {
    const created = wholeBeat(node.created);
    const modified = wholeBeat(node.modified);
    const pathLength = depth * NAME_BYTES;
    const keyLength = 1 + pathLength + suffix.length;
    const fpAt = hashAt; // a fingerprint sits at the same offset as its hash (both scratch or both the batch's)
    const withFp = fp !== undefined && !zero8(fp, fpAt);
    // The payload-ref block: ref kind 0, hash algorithm 1 (BLAKE3), codec 0, AEAD mode, size, the 32-byte hash.
    const refLength = 4 + varintLength(size) + 1 + 32;
    const bodyLength =
      3 +
      varintLength(created) +
      varintLength(modified) +
      17 +
      (withFp ? 9 : 1) +
      (inline ? varintLength(size) + size : 1) +
      (hash !== undefined ? varintLength(refLength) + refLength : 1) +
      3;
    let at = this.frame.beginSized(RECORD_TYPE.CELL_DESC, keyLength, bodyLength);
    const b = this.out.buffered;
    at = this.putKey(b, at, RECORD_TYPE.CELL_DESC, pathLength, suffix);
    b[at++] = node.kind === 'link' ? CELL_TYPE.link : CELL_TYPE.normal;
    const store = node.kind === 'dictionary' ? STORE.dictionary : node.kind === 'list' ? STORE.list : STORE.none;
    b[at++] = store;
    b[at++] = store >>> 8;
    at = putVarint(b, at, created);
    at = putVarint(b, at, modified);
    // The batch's digests and fingerprints are copied as words; a lone value's (scratch) byte by byte.
    const words = hash === this.batch.digests ? this.batch.digestWords : undefined;
    const view = words !== undefined ? this.out.dataView() : undefined;
    if (hash === undefined) for (const end = at + 16; at < end; ) b[at++] = 0;
    else if (view !== undefined) at = putWords(view, at, words!, hashAt >> 2, 4);
    else at = putBytes(b, at, hash, hashAt, 16);
    b[at++] = 0; // payload kind
    if (withFp) {
      b[at++] = 8;
      if (view !== undefined) at = putWords(view, at, this.batch.fingerprintWords, fpAt >> 2, 2);
      else at = putBytes(b, at, fp, fpAt, 8);
    } else b[at++] = 0;
    if (inline) {
      at = putVarint(b, at, size);
      // A gathered value of 32 bytes or more comes from the batch's arena four bytes a store (a
      // 64-byte value: 2-cell encode ~0.97 of the byte loop); shorter ones (the 10,000-value
      // branch's 8-12 bytes) were ~3% slower to encode that way.
      const arena = this.batch;
      at =
        size >= WORD_COPY_MIN && data === arena.data
          ? putWordsFrom(this.out.dataView(), at, arena.view, dataStart, size)
          : putBytes(b, at, data, dataStart, size);
    } else b[at++] = 0;
    if (hash !== undefined) {
      this.caps |= CAP.PAYLOAD_FP | CAP.PAYLOAD_REF;
      at = putVarint(b, at, refLength);
      b[at++] = 0;
      b[at++] = 1;
      b[at++] = 0;
      b[at++] = this.policy.aead?.mode ?? 0;
      at = putVarint(b, at, size);
      b[at++] = 32;
      if (view !== undefined) at = putWords(view, at, words!, hashAt >> 2, 8);
      else at = putBytes(b, at, hash, hashAt, 32);
    } else b[at++] = 0;
    b[at++] = 0; // namepool map ref: a placeholder the reference always writes as 0
    const meta = node.isDeleted ? META.tombstone : 0;
    b[at++] = meta;
    b[at++] = meta >>> 8;
    this.frame.endSized();
  }

  private visitChildren(children: readonly Cell[], first: number, depth: number): void {
    const at = depth * NAME_BYTES;
    if (this.path.length < at + NAME_BYTES) {
      const grown = new Uint8Array(this.path.length * 2);
      grown.set(this.path);
      this.path = grown;
      this.pathViews = [];
    }
    const types = this.batch.types;
    const wires = this.batch.names;
    for (let i = 0; i < children.length; i++) {
      const child = children[i]!;
      const name = wires[first + i]!; // asked for by the manifest entry
      this.path.set(name, at);
      this.visit(child, depth + 1, types[first + i] !== undefined ? first + i : -1);
    }
  }

  /** The link target as consecutive 17-byte names (names are registered in target order). */
  private linkTarget(node: Cell): Uint8Array {
    const target = new ByteWriter(NAME_BYTES * node.linkTarget!.length);
    for (const segment of node.linkTarget!) this.names.writeName(target, segment);
    return target.result().slice();
  }

  /**
   * Manifest pages (FORMAT.md §8.3). Per page, the names the reference registers come in its
   * order: the data types of the page's value children (as their fingerprints are taken, all
   * in one batched call), then the page's bounds, then its children's names.
   */
  private writeManifest(node: Cell, depth: number, suffix: Uint8Array, children: readonly Cell[], first: number): void {
    const batch = this.batch;
    const names = this.names;
    for (let from = 0, page = 0; from < children.length; from += PAGE, page++) {
      const to = Math.min(children.length, from + PAGE);
      // Fingerprints of a reference data type wait for here, where the reference registers that name.
      for (let i = from; i < to; i++) {
        const e = first + i;
        const type = batch.types[e];
        if (type !== undefined && batch.size(e) > 0 && batch.fingerprinted[e] === 0) this.fingerprintType(type);
      }
      const count = to - from;
      const epoch = wholeBeat(node.modified);
      const pathLength = depth * NAME_BYTES;
      const keyLength = 1 + pathLength + suffix.length + varintLength(page);
      const max = children[to];
      const bodyLength = varintLength(epoch) + 2 + NAME_BYTES + (max !== undefined ? 1 + NAME_BYTES : 1) + varintLength(count) + count * MANIFEST_ENTRY;
      let at = this.frame.beginSized(RECORD_TYPE.MANIFEST_DELTA, keyLength, bodyLength);
      const b = this.out.buffered;
      at = this.putKey(b, at, RECORD_TYPE.MANIFEST_DELTA, pathLength, suffix);
      at = putVarint(b, at, page);
      at = putVarint(b, at, epoch);
      b[at++] = 0; // range kind
      b[at++] = NAME_BYTES;
      at = putAll(b, at, names.nameBytes(children[from]!.name));
      if (max !== undefined) {
        b[at++] = NAME_BYTES;
        at = putAll(b, at, names.nameBytes(max.name));
      } else b[at++] = 0;
      at = putVarint(b, at, count);
      const view = this.out.dataView();
      const fpWords = batch.fingerprintWords;
      for (let i = from; i < to; i++) {
        const child = children[i]!;
        const deleted = child.isDeleted;
        b[at++] = deleted ? 2 : 1;
        const wire = names.nameBytes(child.name);
        batch.names[first + i] = wire;
        at = putAll(b, at, wire);
        const meta = deleted ? META.tombstone : 0;
        b[at++] = meta;
        b[at++] = meta >>> 8;
        // The child's revision: 0 for a deleted child, its fingerprint, or the dataless one; then 8 zero bytes.
        const e = first + i;
        // Zero runs as two word stores each (their byte loops were ~0.4% of encoding the 10,000-value branch).
        if (deleted) at = putZero8(view, at);
        else if (batch.types[e] !== undefined && batch.size(e) > 0) at = putWords(view, at, fpWords, e * 8, 2);
        else at = putBytes(b, at, DATALESS_REVISION, 0, 8);
        at = putZero8(view, at);
      }
      this.frame.endSized();
    }
  }

  /** Order pages (FORMAT.md §8.4). */
  private writeOrder(node: Cell, depth: number, suffix: Uint8Array, children: readonly Cell[], first: number): void {
    const projection = node.kind === 'list' ? 1 : 0;
    const wires = this.batch.names;
    for (let from = 0, page = 0; from < children.length; from += PAGE, page++) {
      const to = Math.min(children.length, from + PAGE);
      const count = to - from;
      const epoch = wholeBeat(node.modified);
      const pathLength = depth * NAME_BYTES;
      const keyLength = 1 + pathLength + suffix.length + 1 + varintLength(page);
      let bodyLength = 1 + varintLength(epoch) + varintLength(from) + varintLength(count) + count * (2 + NAME_BYTES);
      for (let i = from; i < to; i++) bodyLength += varintLength(i);
      let at = this.frame.beginSized(RECORD_TYPE.ORDER_DELTA, keyLength, bodyLength);
      const b = this.out.buffered;
      at = this.putKey(b, at, RECORD_TYPE.ORDER_DELTA, pathLength, suffix);
      b[at++] = projection;
      at = putVarint(b, at, page);
      b[at++] = projection;
      at = putVarint(b, at, epoch);
      at = putVarint(b, at, from); // rank of the first entry
      at = putVarint(b, at, count);
      for (let i = from; i < to; i++) {
        b[at++] = children[i]!.isDeleted ? 2 : 1;
        at = putAll(b, at, wires[first + i]!); // asked for by the manifest entry
        at = putVarint(b, at, i); // position
        b[at++] = 0; // sort key: a declared TODO in the reference, always empty
      }
      this.frame.endSized();
    }
  }

  /**
   * Bytes of the frame no compressor can shrink, counted as written: each sealed chunk's
   * nonce, AAD hash, ciphertext and tag. The deflate decision reads it (FORMAT.md §9).
   */
  sealedBytes = 0;

  private writeChunks(depth: number, suffix: Uint8Array, data: Uint8Array, fp: bigint): void {
    this.sealedBytes += writeChunkRecords(this.frame, () => this.startKey(RECORD_TYPE.PAYLOAD_CHUNK, depth, suffix), data, fp, this.policy.aead);
  }

  /** Writes a record key's common part at `at` of `b` (room made): type byte, the path on the stack, the cell's suffix name. */
  private putKey(b: Uint8Array, at: number, type: number, pathLength: number, suffix: Uint8Array): number {
    b[at++] = type;
    // Natively, from a view of the path kept per depth: a byte loop over ~50 bytes cost more than the rest of the record.
    at = putAll(b, at, (this.pathViews[pathLength / NAME_BYTES] ??= this.path.subarray(0, pathLength)));
    return putAll(b, at, suffix);
  }

  /** Starts a record key: type byte, the path on the stack, the cell's suffix name. */
  private startKey(type: number, depth: number, suffix: Uint8Array): void {
    const out = this.frame.beginRecord(type);
    out.u8(type);
    out.bytes((this.pathViews[depth] ??= this.path.subarray(0, depth * NAME_BYTES)));
    out.bytes(suffix);
  }
}

/** A beat as a varint takes it: a whole number from 0 to 2^53 (anything else is refused before a byte is written). */
function wholeBeat(beat: number): number {
  if (beat >= 0 && Number.isSafeInteger(beat)) return beat;
  throw serializerError('FRAME_BAD_RECORD', 'a cell beat must be a whole number from 0 to 2^53', { beat });
}

/** Writes 8 zero bytes at `at` of the bytes `view` covers (room made) and returns where they end. */
function putZero8(view: DataView, at: number): number {
  view.setInt32(at, 0);
  view.setInt32(at + 4, 0);
  return at + 8;
}

/** Whether the 8 bytes at `at` of `data` are all zero (a zero fingerprint is written as none). */
function zero8(data: Uint8Array, at: number): boolean {
  for (let i = 0; i < 8; i++) if (data[at + i] !== 0) return false;
  return true;
}
