/**
 * Writing frames: records straight into one buffer, closed by a trailer (TOC, Merkle root,
 * capability bits), optionally wrapped in the TLFC container.
 */
import { ByteWriter, putVarint, putWordsFrom, varintLength } from './bytes.ts';
import { recordChecksumAt } from './checksum.ts';
import { wrapContainer } from './container.ts';
import { CAP, FORMAT_VERSION, RECORD_TYPE, TRAILER_MAGIC, type EncodeFrameOptions, type RawRecord } from './frame-format.ts';
import { rangeChecksums, type RangeChecksums } from './blake3-batch.ts';
import { merkleOfRanges } from './hash.ts';
import { recordLeafOrder } from './leaf-order.ts';

/**
 * What {@link FrameWriter.finish} takes: {@link EncodeFrameOptions}, the beat also as a number
 * (the branch encoder's beats are numbers; a BigInt made for each frame's trailer was written
 * back as a number anyway). Both write the same varint, and fail alike for a fraction.
 */
export type FinishOptions = Omit<EncodeFrameOptions, 'beat'> & { readonly beat?: number | bigint };

/** A scratch buffer grown past this is dropped after its frame rather than kept for the next. */
const SCRATCH_KEEP = 16 * 1024 * 1024;
/** Columns grown past this many records are dropped after their frame, as the buffer is. */
const COLUMNS_KEEP = 64 * 1024;
/** The writer of the last frame, kept for the next (see {@link FrameWriter.take}). */
let spare: FrameWriter | undefined;

/**
 * Writes records straight into one growing buffer and closes them with a trailer. The
 * branch encoder writes keys and bodies in place ({@link FrameWriter.beginRecord}), so a
 * record costs its bytes and a checksum; {@link encodeFrame} is a loop over `add`.
 * `finish` may be called more than once (plain and compressed variants share the records
 * and the Merkle root; only the trailer differs).
 */
export class FrameWriter {
  // One writer serves every frame (encoding is synchronous; see take): a frame no longer pays
  // for zero-filling and regrowing its own buffer, nor for building its five columns again
  // (a small frame's pushes regrew them, a third of its allocation); `finish` copies the
  // frame out at its size.
  private readonly out = new ByteWriter(4096);
  // Per record: type, where it starts, where its key starts and ends, where its CRC starts.
  // Written by index up to `count`: past entries are overwritten, never shrunk away.
  private readonly types: number[] = [];
  private readonly starts: number[] = [];
  private readonly keyStarts: number[] = [];
  private readonly keyEnds: number[] = [];
  private readonly ends: number[] = [];
  /** Per record, its key's first byte (−1: empty key), read as the record closes, while it is in cache (leaf-order.ts). */
  private readonly firstBytes: number[] = [];
  private records = 0;
  private recordsEnd = 0;
  /** The Merkle root of the records, once {@link rooted} (kept for a second `finish`). */
  private readonly root = new Uint8Array(32);
  private rooted = false;
  /** The checksum request of the last {@link merkleRoot}, reused frame after frame. */
  private crc: RangeChecksums | undefined;
  private checksum: 0 | 1;

  constructor(checksum: 0 | 1) {
    this.checksum = checksum;
  }

  /**
   * A writer for one frame: the one the last frame disposed of, reset (its buffer and columns
   * kept), or a new one while that is in use. Give it back with {@link dispose}.
   */
  static take(checksum: 0 | 1): FrameWriter {
    const writer = spare;
    if (writer === undefined) return new FrameWriter(checksum);
    spare = undefined;
    writer.reset(checksum);
    return writer;
  }

  private reset(checksum: 0 | 1): void {
    this.checksum = checksum;
    this.out.reset();
    this.records = 0;
    this.recordsEnd = 0;
    this.rooted = false;
    this.gap = 2;
  }

  get count(): number {
    return this.records;
  }

  /** The frame's buffer, for writers that put keys and bodies straight into it. */
  get output(): ByteWriter {
    return this.out;
  }

  private recordStart = 0;
  private recordType = 0;
  /** Bytes left for the length varints of the next record begun in place (a guess: the last record's). */
  private gap = 2;
  private keyStartAt = 0;
  private bodyStart = 0;

  /** Where the key of the record begun by {@link beginRecord} starts in {@link output}. */
  get keyStart(): number {
    return this.keyStartAt;
  }

  /**
   * Starts a record written in place: the caller writes its key into the returned writer,
   * calls {@link beginBody}, writes the body, then calls {@link endRecord}. The two length
   * varints go in a gap left before the key, sized like the previous record's and moved only
   * when the lengths need another size, so a record's bytes are written once, straight into
   * the frame.
   */
  beginRecord(type: number): ByteWriter {
    const out = this.out;
    out.truncate(this.recordsEnd);
    this.rooted = false;
    this.recordType = type;
    this.recordStart = out.length;
    out.u8(type);
    out.u8(1);
    out.u16(0);
    out.skip(this.gap);
    this.keyStartAt = out.length;
    return out;
  }

  /** Marks the end of the key of the record begun by {@link beginRecord}. */
  beginBody(): void {
    this.bodyStart = this.out.length;
  }

  /** Closes the record begun by {@link beginRecord}: its lengths, then its checksum. */
  endRecord(): void {
    const out = this.out;
    const keyLength = this.bodyStart - this.keyStartAt;
    const bodyLength = out.length - this.bodyStart;
    const keyVarint = varintLength(keyLength);
    const needed = keyVarint + varintLength(bodyLength);
    const by = this.gap - needed;
    if (by !== 0) out.shift(this.keyStartAt, by);
    this.gap = needed; // the next record is most likely of the same kind and sizes
    const lengthsAt = this.recordStart + 4;
    out.varintAt(lengthsAt, keyLength);
    out.varintAt(lengthsAt + keyVarint, bodyLength);
    const keyStart = this.keyStartAt - by;
    this.close(this.recordType, this.recordStart, keyStart, keyStart + keyLength);
  }

  /** Where the record begun by {@link beginSized} ends (its checksum follows). */
  private sizedEnd = 0;

  /**
   * Starts a record whose key and body lengths are known: its header and both lengths are
   * written and room is made for key, body and checksum. Returns where the key goes in
   * `output.buffered` (valid until the next write); the caller writes exactly
   * `keyLength + bodyLength` bytes from there, then calls {@link endSized}. The record is
   * written in one pass, with no gap to move and no call per field.
   */
  beginSized(type: number, keyLength: number, bodyLength: number): number {
    const out = this.out;
    out.truncate(this.recordsEnd);
    this.rooted = false;
    const start = out.length;
    const keyVarint = varintLength(keyLength);
    const head = 4 + keyVarint + varintLength(bodyLength);
    const b = out.reserve(head + keyLength + bodyLength + 4);
    b[start] = type;
    b[start + 1] = 1;
    b[start + 2] = 0;
    b[start + 3] = 0;
    putVarint(b, putVarint(b, start + 4, keyLength), bodyLength);
    const keyStart = start + head;
    this.recordType = type;
    this.recordStart = start;
    this.keyStartAt = keyStart;
    this.bodyStart = keyStart + keyLength;
    this.sizedEnd = this.bodyStart + bodyLength;
    return keyStart;
  }

  /** Closes the record begun by {@link beginSized} (its bytes must all be written by now). */
  endSized(): void {
    this.out.length = this.sizedEnd;
    this.close(this.recordType, this.recordStart, this.keyStartAt, this.bodyStart);
  }

  /** Hands this writer to the next frame (unless one big frame grew it past the bounds); it must not be used after. */
  dispose(): void {
    if (this.out.capacity <= SCRATCH_KEEP && this.types.length <= COLUMNS_KEEP) spare = this;
  }

  /** Appends a record. */
  add(record: RawRecord): void {
    const start = this.header(record.type, record.version, record.flags, record.key.length, record.body.length);
    const keyStart = this.out.length;
    this.out.bytes(record.key);
    const keyEnd = this.out.length;
    this.out.bytes(record.body);
    this.close(record.type, start, keyStart, keyEnd);
  }

  private header(type: number, version: number, flags: number, keyLength: number, bodyLength: number): number {
    const out = this.out;
    out.truncate(this.recordsEnd);
    this.rooted = false;
    const start = out.length;
    out.u8(type);
    out.u8(version);
    out.u16(flags);
    out.varint(keyLength);
    out.varint(bodyLength);
    return start;
  }

  private close(type: number, start: number, keyStart: number, keyEnd: number): void {
    const end = this.out.length;
    // The checksum is written by finish, every record's in the same kernel call as the Merkle
    // leaves (one native call per record cost ~180 ns each, most of a small record's checksum).
    this.out.u32(0);
    const i = this.records++;
    this.types[i] = type;
    this.starts[i] = start;
    this.keyStarts[i] = keyStart;
    this.keyEnds[i] = keyEnd;
    this.ends[i] = end;
    this.firstBytes[i] = keyEnd > keyStart ? this.out.buffered[keyStart]! : -1;
    this.recordsEnd = this.out.length;
  }

  /** Where the trailer being written holds the Merkle root (set by {@link trailerBody}). */
  private rootAt = 0;

  /**
   * BLAKE3 of every record's covered bytes, in key order, combined; and every record's
   * checksum written after it, computed from the same copy of the records in the kernel (or
   * record by record without one). With a trailer at `[trailerStart, trailerEnd)` (its root
   * not yet written: −1 for none), the root is written into it at {@link rootAt} and its
   * checksum, taken in the same kernel call, is returned (−1 without a trailer).
   */
  private merkleRoot(trailerStart: number, trailerEnd: number): number {
    const all = this.out.result();
    const count = this.records;
    const order = recordLeafOrder(all, this.keyStarts, this.keyEnds, count, this.firstBytes);
    const crc = rangeChecksums(
      this.checksum,
      this.starts,
      this.ends,
      count,
      trailerStart,
      trailerEnd,
      trailerStart >= 0 ? this.rootAt : -1,
      undefined,
      this.crc,
    );
    this.crc = crc;
    const root = merkleOfRanges(all, this.starts, this.ends, order, crc, this.root);
    this.rooted = true;
    const out = this.out;
    for (let i = 0; i < count; i++) {
      const end = this.ends[i]!;
      out.u32At(end, crc.done ? crc.out[i]! : recordChecksumAt(this.checksum, out.buffered, this.starts[i]!, end));
    }
    if (trailerStart < 0) return -1;
    out.buffered.set(root, this.rootAt);
    return crc.done ? crc.out[count]! : recordChecksumAt(this.checksum, out.buffered, trailerStart, trailerEnd);
  }

  /**
   * The frame: the records, then a trailer (and the container, if asked). The trailer's body
   * is written straight after the records (its length is worked out first), so a frame is
   * copied once, when it is cut out of the scratch buffer at its size.
   */
  finish(options: FinishOptions = {}): Uint8Array {
    const out = this.out;
    out.truncate(this.recordsEnd);
    const start = out.length;
    out.u8(RECORD_TYPE.TRAILER);
    out.u8(1);
    out.u16(0);
    out.varint(0);
    const lengthAt = out.length;
    const expected = this.trailerBodyLength(options);
    out.varint(expected);
    const bodyStart = out.length;
    this.trailerBody(options, this.rooted ? this.root : NO_ROOT_YET);
    const length = out.length - bodyStart;
    if (length !== expected) {
      // Only for values the length count does not foresee (it is exact for every valid field): fix it up.
      const by = bodyStart - lengthAt - varintLength(length);
      out.shift(bodyStart, by);
      out.varintAt(lengthAt, length);
      this.rootAt -= by;
    }
    const end = out.length;
    let checksum: number;
    if (!this.rooted && end - start <= TRAILER_IN_KERNEL_MAX) {
      // The first trailer after the records: its checksum is taken in the kernel call of the
      // records' (the root written into the kernel's copy first), as a reader checks it. A
      // native call for it cost ~0.45 µs, 2% of a 2-cell frame's encode.
      checksum = this.merkleRoot(start, end);
    } else {
      if (!this.rooted) this.merkleRoot(-1, -1);
      out.buffered.set(this.root, this.rootAt);
      checksum = recordChecksumAt(this.checksum, out.buffered, start, end);
    }
    out.u32(checksum);
    // One copy, at the frame's size (a small frame into the shared block: see frameCopy).
    const frame = frameCopy(out.buffered, out.length);
    return options.compress === true ? wrapContainer(frame, this.checksum) : frame;
  }

  private capsOf(options: FinishOptions): number {
    let caps = options.caps ?? 0;
    if (this.records > 0) caps |= CAP.FRAME_TOC;
    if (options.compress === true) caps |= CAP.FRAME_COMPRESSION;
    if (options.branch) caps |= CAP.BRANCH_METADATA;
    return caps;
  }

  /** Bytes of the TOC's entries, counted by {@link trailerBodyLength} for {@link trailerBody}. */
  private tocBytes = 0;

  /** Bytes {@link trailerBody} writes. */
  private trailerBodyLength(options: FinishOptions): number {
    const count = this.records;
    let length = 4 + 1 + varintLength64(options.beat ?? 0n) + varintLength(count) + 4 + 1 + 32 + varintLength(count);
    let toc = 0;
    for (let i = 0; i < count; i++) {
      const keyLength = this.keyEnds[i]! - this.keyStarts[i]!;
      toc += 1 + varintLength(keyLength) + keyLength + varintLength(this.starts[i]!);
    }
    this.tocBytes = toc;
    length += toc;
    length += varintLength64(options.historyWindows?.payload ?? 0) + varintLength64(options.historyWindows?.manifest ?? 0) + 4;
    if (options.branch) length += 1 + 25;
    return length;
  }

  /** Appends the trailer body to the frame's buffer. */
  private trailerBody(options: FinishOptions, root: Uint8Array): void {
    const body = this.out;
    const count = this.records;
    body.bytes(TRAILER_MAGIC);
    body.u8(FORMAT_VERSION);
    body.varint(options.beat ?? 0n);
    // From the record count to the TOC's end every field's size is known (trailerBodyLength
    // counted the TOC), so room is made once and they are stored with a local index: a writer
    // call per field was 13,000 × 4 calls on the 10,000-value branch, and nine on any frame.
    const b = body.reserve(10 + 5 + 32 + 10 + this.tocBytes);
    const view = body.dataView();
    let at = putVarint(b, body.length, count);
    b[at++] = options.applyMode ?? 0;
    b[at++] = 1;
    b[at++] = options.compress === true ? 1 : 0;
    b[at++] = this.checksum;
    b[at++] = 32;
    this.rootAt = at;
    b.set(root, at);
    at = putVarint(b, at + 32, count);
    // Keys are earlier in the same buffer, copied from where they are.
    const types = this.types;
    const keyStarts = this.keyStarts;
    const keyEnds = this.keyEnds;
    const starts = this.starts;
    for (let i = 0; i < count; i++) {
      const keyStart = keyStarts[i]!;
      const keyLength = keyEnds[i]! - keyStart;
      b[at++] = types[i]!;
      at = putVarint(b, at, keyLength);
      // A branch frame's keys (35-60 bytes) four bytes a store: ~15 ns a key against ~20 for a native move and ~40 for a byte loop (measured alone).
      at = keyLength <= TOC_WORD_COPY_MAX ? putWordsFrom(view, at, view, keyStart, keyLength) : copyMove(b, at, keyStart, keyLength);
      at = putVarint(b, at, starts[i]!);
    }
    body.length = at;
    body.varint(options.historyWindows?.payload ?? 0);
    body.varint(options.historyWindows?.manifest ?? 0);
    body.u32(this.capsOf(options));
    if (options.branch) {
      body.varint(25);
      body.u8(options.branch.glob);
      body.u64(options.branch.domain);
      body.u64(options.branch.tag);
      body.u64(options.branch.frameId);
    }
  }
}

/** TOC keys up to this long are copied a word at a time, longer ones by a native move. */
const TOC_WORD_COPY_MAX = 64;

/** Copies `n` bytes of `b` from `from` to `at` natively, and returns where they end. */
function copyMove(b: Uint8Array, at: number, from: number, n: number): number {
  b.copyWithin(at, from, from + n);
  return at + n;
}

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

/** Bytes of a varint of a number or bigint (a bigint above 2^53 by shifting). */
function varintLength64(value: number | bigint): number {
  if (typeof value === 'number') return varintLength(value);
  if (value <= MAX_SAFE_BIG) return varintLength(Number(value));
  let length = 1;
  for (let v = value >> 7n; v !== 0n; v >>= 7n) length++;
  return length;
}

/** Frames up to this size are copied out into a shared block ({@link frameCopy}); larger ones get their own buffer. */
const BLOCK_FRAME_MAX = 4096;
/**
 * The shared block's size. A kept frame keeps its whole block, so the block stays small: a new
 * ArrayBuffer costs ~0.8 µs at 728 B, ~4.9 µs at 16 KiB and ~27 µs at 64 KiB (zeroing), so a
 * 16 KiB block costs a 728-byte frame ~0.22 µs and a 2.6 KB one ~0.8 µs, no more than a 64 KiB
 * block did, while one small frame kept from many pins 16 KiB instead of 64.
 */
const BLOCK_BYTES = 16 * 1024;
let block = new ArrayBuffer(0);
let blockTop = 0;

/**
 * `from[0, length)` copied into a new array. A frame of up to {@link BLOCK_FRAME_MAX} bytes is a
 * view into a shared {@link BLOCK_BYTES}-byte block, as Node's Buffer pool does for small
 * buffers: a new ArrayBuffer per frame (what `slice` makes) cost ~1.6 µs for a 728-byte
 * frame and ~3.5 µs for 2.6 KB, a view into the block ~0.4 and ~1.2 µs. Views start at
 * multiples of 8, so a reader's aligned word views of a frame stay possible. Larger frames
 * pay their own buffer's allocation, small against their bytes.
 */
function frameCopy(from: Uint8Array, length: number): Uint8Array {
  if (length > BLOCK_FRAME_MAX) return from.slice(0, length);
  if (blockTop + length > block.byteLength) {
    block = new ArrayBuffer(BLOCK_BYTES);
    blockTop = 0;
  }
  const frame = new Uint8Array(block, blockTop, length);
  blockTop = (blockTop + length + 7) & ~7;
  frame.set(from.subarray(0, length));
  return frame;
}

/** The root's place in a trailer written before the root is known (the root goes in before its checksum). */
const NO_ROOT_YET = new Uint8Array(32);

/**
 * Trailers up to this many bytes are checksummed in the kernel with the records (its table
 * CRC); longer ones natively, as long records are (blake3-batch.ts NATIVE_RANGE_MIN).
 */
const TRAILER_IN_KERNEL_MAX = 1024;

/** Writes records and a trailer (and the container, if asked); a small frame is a view into a shared block (see frameCopy). */
export function encodeFrame(records: readonly RawRecord[], options: EncodeFrameOptions = {}): Uint8Array {
  const writer = FrameWriter.take(options.checksum ?? 0);
  try {
    for (const record of records) writer.add(record);
    if (options.compress !== true || options.compressOnlyIfSmaller !== true) return writer.finish(options);
    // Same records and Merkle root; only the trailer differs. Keep the container only if it pays.
    const plain = writer.finish({ ...options, compress: false });
    const packed = writer.finish(options);
    return packed.length < plain.length ? packed : plain;
  } finally {
    writer.dispose();
  }
}
