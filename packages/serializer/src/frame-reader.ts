/**
 * Reading a frame: container, records, trailer, and every check (each record's CRC, the
 * trailer, the record count, the TOC, the Merkle root, nothing after the trailer) before
 * anything is returned. Records come back as a table of offsets into the frame, so the
 * branch decoder reads keys and bodies in place; {@link decodeFrame} turns rows into
 * {@link RawRecord}s for its callers.
 */
import { ByteReader, rangesEqual } from './bytes.ts';
import { recordChecksumAt } from './checksum.ts';
import { countReserved } from './alloc-meter.ts';
import { checkChunkSeries } from './chunk-series.ts';
import { isContainer, unwrapContainer } from './container.ts';
import { serializerError } from './errors.ts';
import {
  CAP,
  DEFAULT_MAX_FRAME_BYTES,
  FORMAT_VERSION,
  KNOWN_CAPS,
  RECORD_TYPE,
  TRAILER_MAGIC,
  type BranchBlock,
  type DecodeFrameOptions,
  type RawRecord,
  type TrailerInfo,
} from './frame-format.ts';
import { rangeChecksums, type RangeChecksums } from './blake3-batch.ts';
import { merkleOfRangesIs } from './hash.ts';
import { recordLeafOrder } from './leaf-order.ts';
import { refuse, isStrict, resolveStrictness, type LenientMask } from './strictness.ts';
import { recordBody, recordKey, type RecordTable } from './record-table.ts';

export { recordBody, recordKey, recordKeys, type RecordTable } from './record-table.ts';

/**
 * Reads and verifies a whole frame: container, every record's CRC, the trailer, the
 * record count, the TOC, the Merkle root, and that nothing follows the trailer. Returns
 * nothing partial: any defect throws a typed error.
 */
export function decodeFrame(bytes: Uint8Array, options: DecodeFrameOptions = {}): { records: RawRecord[]; trailer: TrailerInfo; frame: Uint8Array } {
  const table = readFrame(bytes, options, true);
  const records = Array.from(table.types, (type, i) => ({
    type,
    version: table.versions![i]!,
    flags: table.flags![i]!,
    key: recordKey(table, i),
    body: recordBody(table, i),
  }));
  return { records, trailer: table.trailer, frame: table.frame };
}

/**
 * An empty column for `count` records. A plain array: a typed array per column costs twice as
 * much to make, and a small frame makes five. Made at its size (pushing one by one regrew it
 * several times, a fifth of the scan's own time); past COLUMN_PRESIZED_MAX, where V8 may make a
 * presized array a slow dictionary, empty and grown by writing index after index.
 */
function newColumn(count: number): number[] {
  return count > COLUMN_PRESIZED_MAX ? [] : new Array<number>(count);
}

/** Column `c` of the first `count` rows of 8 (see {@link readFrame}). */
function column(rows: Uint32Array, count: number, c: number): number[] {
  const out = newColumn(count);
  for (let i = 0; i < count; i++) out[i] = rows[i * 8 + c]!;
  return out;
}

/** Columns up to this many records are made at their size (see {@link newColumn}). */
const COLUMN_PRESIZED_MAX = 65536;

/**
 * {@link decodeFrame} as a {@link RecordTable}; `keepToc` false leaves `trailer.toc` empty
 * after checking it (the branch decoder never reads it), and the version and flag columns out.
 */
export function readFrame(bytes: Uint8Array, options: DecodeFrameOptions = {}, keepToc = false): RecordTable {
  return readFrameWith(
    bytes,
    options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    options.maxRecords ?? DEFAULT_MAX_RECORDS,
    resolveStrictness(options.strictness),
    keepToc,
  );
}

/** Most records a frame may hold unless the caller says otherwise. */
export const DEFAULT_MAX_RECORDS = 1_000_000;

/** {@link readFrame} with its options resolved (the branch decoder has resolved them already). */
export function readFrameWith(bytes: Uint8Array, maxFrameBytes: number, maxRecords: number, lenient: LenientMask, keepToc: boolean): RecordTable {
  if (bytes.length > maxFrameBytes) {
    throw serializerError('FRAME_TOO_LARGE', `frame is ${bytes.length} bytes; the limit is ${maxFrameBytes}`, { size: bytes.length, limit: maxFrameBytes });
  }
  const container = isContainer(bytes) ? unwrapContainer(bytes, maxFrameBytes, lenient) : undefined;
  const frame = container?.frame ?? bytes;
  // One row of 8 numbers per record (offsets are below 2^32: a Uint8Array is no longer), grown by
  // doubling, split into columns once the count is known: far less garbage than 8 growing arrays.
  // Sized to the frame (a record takes at least 10 bytes), so a small frame does not pay for
  // zeroing a table made for a large one, and no frame reserves more than its size allows.
  let rows = rowTable(8 * Math.max(4, Math.min(1024, Math.ceil(frame.length / 10))), true);
  let count = 0;
  const reader = frameReader.reset(frame, 0, frame.length, 'frame', 0);
  let trailerStart = -1;
  let trailerBodyStart = 0;
  let trailerEnd = 0;
  let trailerCrc = 0;
  const size = frame.length;
  while (reader.remaining > 0) {
    const start = reader.offset;
    const type = frame[start]!;
    const version = frame[start + 1]!;
    let flags: number;
    let keyLen: number;
    let bodyLen: number;
    let keyStart: number;
    // The common record, read with a local index: its two lengths are varints of one or two
    // bytes and the whole record lies inside the frame. Anything else (a longer varint, a
    // record running past the end) is read again from its start by the reader, which words
    // the errors; what both read from a well-formed record is the same.
    let p = start + 4;
    let k = p < size ? frame[p]! : 0x80;
    if (k < 0x80) p++;
    else if (p + 1 < size && frame[p + 1]! < 0x80) k = (k & 0x7f) | (frame[(p += 2) - 1]! << 7);
    else k = -1;
    let b = k >= 0 && p < size ? frame[p]! : 0x80;
    if (b < 0x80) p++;
    else if (k >= 0 && p + 1 < size && frame[p + 1]! < 0x80) b = (b & 0x7f) | (frame[(p += 2) - 1]! << 7);
    else b = -1;
    if (b >= 0 && p + k + b + 4 <= size) {
      flags = frame[start + 2]! | (frame[start + 3]! << 8);
      keyLen = k;
      bodyLen = b;
      keyStart = p;
      reader.offset = p + k + b;
    } else {
      reader.u8();
      reader.u8();
      flags = reader.u16();
      keyLen = reader.varint(reader.remaining, 'record key length');
      bodyLen = reader.varint(reader.remaining, 'record body length');
      keyStart = reader.offset;
      reader.skip(keyLen);
      reader.skip(bodyLen);
    }
    const bodyStart = keyStart + keyLen;
    const end = reader.offset;
    const crc = reader.u32();
    if (type === RECORD_TYPE.TRAILER) {
      if (version !== 1 || flags !== 0 || keyLen !== 0)
        refuse(
          lenient,
          'trailer-envelope',
          'FRAME_BAD_TRAILER',
          `the trailer record has version ${version}, flags ${flags} and a ${keyLen}-byte key (1, 0 and empty)`,
        );
      trailerStart = start;
      trailerBodyStart = bodyStart;
      trailerEnd = end;
      trailerCrc = crc;
      break;
    }
    if (count >= maxRecords) throw serializerError('FRAME_TOO_LARGE', `frame has more than ${maxRecords} records`, { limit: maxRecords });
    if (type < RECORD_TYPE.CELL_DESC || type > RECORD_TYPE.MANIFEST_HISTORY)
      refuse(lenient, 'record-type', 'FRAME_UNKNOWN_RECORD', `record type 0x${type.toString(16)} at offset ${start} is not one this reader knows`);
    if (version !== 1) refuse(lenient, 'record-version', 'FRAME_BAD_RECORD', `record at offset ${start} has version ${version}, not 1`);
    if (flags !== 0) refuse(lenient, 'record-flags', 'FRAME_BAD_RECORD', `record at offset ${start} has flags 0x${flags.toString(16)}, not 0`);
    if ((count + 1) * 8 > rows.length) {
      const grown = rowTable(rows.length * 2);
      grown.set(rows);
      rows = grown;
    }
    const row = count++ * 8;
    rows[row] = type;
    rows[row + 1] = version;
    rows[row + 2] = flags;
    rows[row + 3] = start;
    rows[row + 4] = keyStart;
    rows[row + 5] = bodyStart;
    rows[row + 6] = end;
    rows[row + 7] = crc;
  }
  if (trailerStart < 0) throw serializerError('FRAME_NO_TRAILER', 'frame has no trailer record (truncated?)');
  if (reader.remaining !== 0) {
    throw serializerError('FRAME_TRAILING_BYTES', `${reader.remaining} byte(s) follow the trailer`, { extra: reader.remaining });
  }
  const trailer = parseTrailer(frame, trailerBodyStart, trailerEnd, keepToc, lenient, rows, count);
  const tocCount = tocRead.count;
  const tocMismatch = tocRead.mismatch;
  if (container !== undefined && trailer.compression !== 1)
    throw serializerError('FRAME_BAD_CONTAINER', 'a frame inside a container must say compression 1 in its trailer');
  if (container === undefined && trailer.compression === 1)
    refuse(lenient, 'compression-flag', 'FRAME_BAD_CONTAINER', 'the trailer says compression 1 but the frame is not in a container');
  if (container !== undefined && container.checksum !== trailer.checksum)
    refuse(
      lenient,
      'container-checksum',
      'FRAME_BAD_CONTAINER',
      `the container's checksum byte ${container?.checksum} differs from the trailer's ${trailer.checksum}`,
    );
  // The columns first: the records' and the trailer's checksums are computed in the same
  // kernel call as the Merkle root (one copy of the frame into its memory, one call instead of
  // a native call per record), and checked in the order they always were: the trailer's, each
  // record's, the count, the TOC, the capabilities, then the root.
  // The five columns every reader uses, in one pass over the rows: a pass (and a call) per
  // column was ~1.5% of decoding a 2-cell frame.
  const types = newColumn(count);
  const starts = newColumn(count);
  const keyStarts = newColumn(count);
  const bodyStarts = newColumn(count);
  const ends = newColumn(count);
  for (let i = 0, row = 0; i < count; i++, row += 8) {
    types[i] = rows[row]!;
    starts[i] = rows[row + 3]!;
    keyStarts[i] = rows[row + 4]!;
    bodyStarts[i] = rows[row + 5]!;
    ends[i] = rows[row + 6]!;
  }
  const table: RecordTable = {
    frame,
    types,
    versions: keepToc ? column(rows, count, 1) : undefined,
    flags: keepToc ? column(rows, count, 2) : undefined,
    starts,
    keyStarts,
    bodyStarts,
    ends,
    trailer,
    keyStrings: undefined,
  };
  countReserved(count * 32 + 32);
  // The tree's order is checked on key bytes in place (leaf-order.ts): a string per key made
  // for that check alone cost more than the comparisons it saved, and the branch decoder's walk
  // in writer order needs none (only its fallback, for frames in another order, makes them).
  const order = recordLeafOrder(frame, table.keyStarts, table.bodyStarts, count);
  const crc = rangeChecksums(trailer.checksum, table.starts, table.ends, count, trailerStart, trailerEnd, -1, countReserved, readerCrc);
  // Kept for the next frame only when small: a kept request holds this frame's columns.
  readerCrc = count <= CRC_KEEP_RECORDS ? crc : undefined;
  const rootMatches = merkleOfRangesIs(frame, table.starts, table.ends, order, trailer.root, crc);
  const crcs = crc.done ? crc.out : undefined;
  if ((crcs !== undefined ? crcs[count] : recordChecksumAt(trailer.checksum, frame, trailerStart, trailerEnd)) !== trailerCrc) {
    throw serializerError('FRAME_BAD_CRC', 'the trailer checksum does not match', { record: 'trailer' });
  }
  for (let i = 0; i < count; i++) {
    const row = i * 8;
    if ((crcs !== undefined ? crcs[i] : recordChecksumAt(trailer.checksum, frame, rows[row + 3]!, rows[row + 6]!)) !== rows[row + 7]) {
      throw serializerError('FRAME_BAD_CRC', `record ${i} (offset ${rows[row + 3]}) fails its ${trailer.checksum === 1 ? 'CRC32C' : 'CRC-32'} check`, {
        record: i,
        offset: rows[row + 3],
      });
    }
  }
  if (trailer.recordCount !== count) {
    throw serializerError('FRAME_COUNT_MISMATCH', `trailer says ${trailer.recordCount} records, frame has ${count}`);
  }
  if (tocCount === 0 && count > 0) refuse(lenient, 'toc-complete', 'FRAME_BAD_TOC', `the TOC is empty and the frame has ${count} record(s)`);
  if (tocCount > 0 && isStrict(lenient, 'toc-match')) {
    // The reference never checks its TOC; we do when one is present, so a frame that lies about itself is refused.
    if (tocCount !== count) throw serializerError('FRAME_BAD_TOC', `TOC lists ${tocCount} records, frame has ${count} (strictness rule 'toc-match')`);
    // Compared while the trailer was parsed (one pass over the TOC); refused here, in the order the checks always came.
    if (tocMismatch >= 0) throw serializerError('FRAME_BAD_TOC', `TOC entry ${tocMismatch} does not match record ${tocMismatch}`, { entry: tocMismatch });
  }
  checkCaps(trailer, tocCount, table.types, lenient);
  if (!rootMatches) throw serializerError('FRAME_BAD_ROOT', 'the Merkle root does not match the records');
  checkChunkSeries(table, lenient);
  return table;
}

/**
 * What {@link parseTrailer} found of the TOC besides the trailer, read at once by its caller
 * (reads are synchronous and never nested): a result object per frame was garbage for nothing.
 */
const tocRead = { count: 0, mismatch: -1 };

/** The checksum request of the last small frame read, refilled for the next (reads are synchronous and never nested). */
let readerCrc: RangeChecksums | undefined;
/** Frames of up to this many records leave their checksum request for the next (it holds their columns). */
const CRC_KEEP_RECORDS = 1024;

/** The `toc` of a trailer read without its entries kept (never written: entries are pushed only when kept). */
const NO_TOC: { type: number; key: Uint8Array; offset: number }[] = [];

// The readers of the record scan and of the trailer, reset per frame (reads are synchronous
// and never nested), so a small frame makes no reader objects.
const frameReader = new ByteReader(new Uint8Array(0));
const trailerReader = new ByteReader(new Uint8Array(0));

/** The reader's record table: 4 bytes an entry, counted (see alloc-meter.ts). */
function rowTable(entries: number, scratchOk = false): Uint32Array {
  countReserved(entries * 4);
  // The first table of a frame comes from one scratch array, reused by every read: the scan is
  // synchronous and copies its rows out before returning, and an array of this size costs a
  // native allocation (~4% of decoding a small frame). Grown tables (large frames) are fresh.
  if (scratchOk && entries <= SCRATCH_ENTRIES) return scratchRows;
  return new Uint32Array(entries);
}

/** The scratch table's size: the largest first table (8 × 1024 entries, 32 KiB). */
const SCRATCH_ENTRIES = 8 * 1024;
const scratchRows = new Uint32Array(SCRATCH_ENTRIES);

/**
 * Which capability bit each record type needs (FORMAT.md §6.1), by type byte (0: none). A typed
 * table rather than an object keyed by type: the object's lookups were ~0.3% of decoding a 2-cell frame.
 */
const CAP_OF_TYPE = new Uint32Array(256);
CAP_OF_TYPE[RECORD_TYPE.MANIFEST_DELTA] = CAP.PAGED_CHILDSET;
CAP_OF_TYPE[RECORD_TYPE.ORDER_DELTA] = CAP.PAGED_ORDER;
CAP_OF_TYPE[RECORD_TYPE.NAMEPOOL_DELTA] = CAP.NAMEPOOL_MAP;
CAP_OF_TYPE[RECORD_TYPE.PAYLOAD_HISTORY] = CAP.PAYLOAD_HISTORY;
CAP_OF_TYPE[RECORD_TYPE.MANIFEST_HISTORY] = CAP.MANIFEST_HISTORY;

/**
 * The capability bits agree with the frame (rule 'caps-match'): FRAME_TOC set exactly when
 * the TOC lists records, FRAME_COMPRESSION exactly when the trailer says compression 1, each
 * record type's bit set when such a record is present, and a history bit only with history.
 */
function checkCaps(trailer: TrailerInfo, tocCount: number, types: readonly number[], lenient: LenientMask): void {
  if (!isStrict(lenient, 'caps-match')) return;
  const caps = trailer.caps;
  if (((caps & CAP.FRAME_TOC) !== 0) !== tocCount > 0) capsDisagree(caps, tocCount > 0 ? 'a TOC without FRAME_TOC' : 'FRAME_TOC without a TOC');
  if (((caps & CAP.FRAME_COMPRESSION) !== 0) !== (trailer.compression === 1)) capsDisagree(caps, "FRAME_COMPRESSION and the trailer's compression byte differ");
  let present = 0;
  for (let i = 0; i < types.length; i++) present |= CAP_OF_TYPE[types[i]!]!;
  const missing = present & ~caps;
  if (missing !== 0) capsDisagree(caps, `records present whose bit 0x${missing.toString(16)} is clear`);
  if ((caps & (CAP.PAYLOAD_HISTORY | CAP.MANIFEST_HISTORY) & ~present) !== 0) capsDisagree(caps, 'a history bit without history records');
}

function capsDisagree(caps: number, why: string): never {
  throw serializerError('FRAME_BAD_TRAILER', `capability bits 0x${caps.toString(16)} disagree with the frame: ${why} (strictness rule 'caps-match')`, {
    caps,
    rule: 'caps-match',
  });
}

/**
 * Parses and checks a trailer body. The TOC is always parsed (its errors come in order);
 * its entries become objects only when `keepToc` (the branch decoder skips 13,000 small
 * allocations on a 10,000-cell frame). Each entry is compared with the scanned record of the
 * same index (`rows`, 8 numbers a record, see {@link readFrame}) as it is read: `tocRead.mismatch`
 * is the first entry that differs in type, key bytes or offset (−1: none), for the caller to
 * refuse after the checksums, as before; `tocRead.count` the entries listed.
 */
function parseTrailer(
  frame: Uint8Array,
  bodyStart: number,
  bodyEnd: number,
  keepToc: boolean,
  lenient: LenientMask,
  rows: Uint32Array,
  count: number,
): TrailerInfo {
  // Offsets in errors count from the body's start, as if it had been read alone.
  const r = trailerReader.reset(frame, bodyStart, bodyEnd, 'trailer', bodyStart);
  // The magic compared in place (no view made for four bytes).
  if (
    r.remaining < 4 ||
    frame[bodyStart] !== TRAILER_MAGIC[0] ||
    frame[bodyStart + 1] !== TRAILER_MAGIC[1] ||
    frame[bodyStart + 2] !== TRAILER_MAGIC[2] ||
    frame[bodyStart + 3] !== TRAILER_MAGIC[3]
  ) {
    r.bytes(4); // a trailer shorter than its magic reports as truncated, as it always did
    throw serializerError('FRAME_BAD_MAGIC', 'trailer magic is not "FPEC"; this is not a flat frame');
  }
  r.skip(4);
  const version = r.u8();
  if (version !== FORMAT_VERSION)
    throw serializerError('FRAME_BAD_VERSION', `frame format version ${version} is not supported (this reader speaks ${FORMAT_VERSION})`, { version });
  const beat = r.varintBig();
  const recordCount = r.varint(0xffffffff, 'record count');
  const applyMode = r.u8();
  if (applyMode > 2) throw serializerError('FRAME_BAD_TRAILER', `apply mode ${applyMode} is unknown`);
  const hashAlg = r.u8();
  if (hashAlg !== 1) throw serializerError('FRAME_BAD_TRAILER', `hash algorithm ${hashAlg} is unknown (1 = BLAKE3)`);
  const compression = r.u8();
  if (compression > 1) throw serializerError('FRAME_BAD_TRAILER', `compression ${compression} is unknown`);
  const checksum = r.u8();
  if (checksum > 1) throw serializerError('FRAME_BAD_TRAILER', `checksum id ${checksum} is unknown`);
  const rootLen = r.varint(64, 'root length');
  if (rootLen !== 32) throw serializerError('FRAME_BAD_TRAILER', `Merkle root length ${rootLen} is not 32`);
  const root = r.bytes(32);
  const tocCount = r.varint(r.remaining, 'TOC count');
  // Entries are kept only for decodeFrame; the branch decoder gets a shared empty list.
  const toc: { type: number; key: Uint8Array; offset: number }[] = keepToc ? [] : NO_TOC;
  let tocMismatch = -1;
  const end = r.end;
  for (let i = 0; i < tocCount; i++) {
    const at = r.offset;
    let type = 0;
    let keyLength = 0;
    let keyAt = 0;
    let offset = -1;
    if (!keepToc && at + 2 < end && frame[at + 1]! < 0x80) {
      // The common entry, read with a local index (13,000 entries on the 10,000-value branch):
      // a one-byte key length and an offset varint of at most four bytes, all inside the
      // trailer. Anything else is read again below by the reader, which words the errors.
      type = frame[at]!;
      keyLength = frame[at + 1]!;
      keyAt = at + 2;
      let p = keyAt + keyLength;
      const stop = Math.min(end, p + 4);
      for (let value = 0, scale = 1; p < stop; p++, scale *= 128) {
        const byte = frame[p]!;
        value += (byte & 0x7f) * scale;
        if (byte < 0x80) {
          offset = value;
          r.offset = p + 1;
          break;
        }
      }
    }
    let key: Uint8Array | undefined;
    if (offset < 0) {
      r.offset = at;
      type = r.u8();
      keyLength = r.varint(r.remaining, 'TOC key length');
      keyAt = r.offset;
      key = keepToc ? r.bytes(keyLength) : (r.skip(keyLength), undefined);
      offset = r.varint(Number.MAX_SAFE_INTEGER, 'TOC offset');
      if (key !== undefined) toc.push({ type, key, offset });
    }
    if (tocMismatch < 0 && i < count) {
      const row = i * 8;
      if (type !== rows[row] || offset !== rows[row + 3] || !rangesEqual(frame, keyAt, keyAt + keyLength, frame, rows[row + 4]!, rows[row + 5]!))
        tocMismatch = i;
    }
  }
  const payload = r.varint(0xffffffff, 'payload history window');
  const manifest = r.varint(0xffffffff, 'manifest history window');
  const caps = r.u32();
  if ((caps & ~KNOWN_CAPS) !== 0)
    refuse(lenient, 'caps-known', 'FRAME_UNKNOWN_CAPS', `capability bits 0x${(caps & ~KNOWN_CAPS).toString(16)} are not understood by this reader`);
  let branch: BranchBlock | undefined;
  if (caps & CAP.BRANCH_METADATA) {
    const len = r.varint(64, 'branch block length');
    if (len !== 25) throw serializerError('FRAME_BAD_TRAILER', `branch block length ${len} is not 25`);
    branch = { glob: r.u8(), domain: r.u64(), tag: r.u64(), frameId: r.u64() };
    if (branch.glob > 1) refuse(lenient, 'body-values', 'FRAME_BAD_TRAILER', `branch block glob byte ${branch?.glob} is not 0 or 1`);
  }
  if (r.remaining !== 0) throw serializerError('FRAME_BAD_TRAILER', `${r.remaining} unexpected byte(s) at the end of the trailer`);
  // Two literals rather than a spread of an optional block (a spread costs a copy per frame).
  const historyWindows = { payload, manifest };
  const trailer: TrailerInfo =
    branch === undefined
      ? { beat, recordCount, applyMode, hashAlg, compression, checksum: checksum as 0 | 1, root, toc, historyWindows, caps }
      : { beat, recordCount, applyMode, hashAlg, compression, checksum: checksum as 0 | 1, root, toc, historyWindows, caps, branch };
  tocRead.count = tocCount;
  tocRead.mismatch = tocMismatch;
  return trailer;
}
