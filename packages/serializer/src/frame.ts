/**
 * The frame layer: records (type, version, flags, key, body, CRC) closed by a trailer
 * with magic, version, beat, counts, algorithms, Merkle root, TOC, history windows and
 * capability bits; optionally inside a TLFC container. See FORMAT.md.
 */
import { ByteReader, ByteWriter, bytesEqual, bytesEqualAt, latin1Slicer } from './bytes.ts';
import { recordChecksum } from './checksum.ts';
import { isContainer, unwrapContainer, wrapContainer } from './container.ts';
import { serializerError } from './errors.ts';
import { blake3Into, leafOrder, merkleCombine } from './hash.ts';

/** Record type bytes. */
export const RECORD_TYPE = {
  CELL_DESC: 0x01,
  PAYLOAD_CHUNK: 0x02,
  MANIFEST_DELTA: 0x03,
  ORDER_DELTA: 0x04,
  NAMEPOOL_DELTA: 0x05,
  PAYLOAD_HISTORY: 0x06,
  MANIFEST_HISTORY: 0x07,
  TRAILER: 0xff,
} as const;

/** Frame capability bits (trailer u32). */
export const CAP = {
  SPLIT_DESC: 0x001,
  NAMEPOOL_MAP: 0x002,
  PAYLOAD_FP: 0x004,
  PAGED_CHILDSET: 0x008,
  PAGED_ORDER: 0x010,
  FRAME_COMPRESSION: 0x020,
  PAYLOAD_HISTORY: 0x040,
  MANIFEST_HISTORY: 0x080,
  PAYLOAD_REF: 0x100,
  FRAME_TOC: 0x200,
  BRANCH_METADATA: 0x400,
} as const;
/** Every bit this reader understands; others are refused (the reference accepts them: a bug its docs disagree with). */
export const KNOWN_CAPS = 0x7ff;

/** One record as it travels. */
export interface RawRecord {
  readonly type: number;
  readonly version: number;
  readonly flags: number;
  readonly key: Uint8Array;
  readonly body: Uint8Array;
}

/** The optional branch block of the trailer (cap 0x400). */
export interface BranchBlock {
  readonly glob: number;
  readonly domain: bigint;
  readonly tag: bigint;
  readonly frameId: bigint;
}

/** What the trailer says. */
export interface TrailerInfo {
  readonly beat: bigint;
  readonly recordCount: number;
  readonly applyMode: number;
  readonly hashAlg: number;
  readonly compression: number;
  readonly checksum: 0 | 1;
  readonly root: Uint8Array;
  readonly toc: readonly { readonly type: number; readonly key: Uint8Array; readonly offset: number }[];
  readonly historyWindows: { readonly payload: number; readonly manifest: number };
  readonly caps: number;
  readonly branch?: BranchBlock;
}

/** Options of {@link encodeFrame}. */
export interface EncodeFrameOptions {
  readonly beat?: bigint;
  readonly checksum?: 0 | 1;
  /** Capability bits (FRAME_TOC is added when there are records, FRAME_COMPRESSION when compressing). */
  readonly caps?: number;
  /** Wrap in a TLFC container (only when `compressOnlyIfSmaller` is false or it shrinks the frame). */
  readonly compress?: boolean;
  readonly compressOnlyIfSmaller?: boolean;
  readonly applyMode?: number;
  readonly historyWindows?: { readonly payload: number; readonly manifest: number };
  readonly branch?: BranchBlock;
}

/** Options of {@link decodeFrame}. */
export interface DecodeFrameOptions {
  /** Largest frame accepted, compressed or inflated (default 64 MiB). */
  readonly maxFrameBytes?: number;
  /** Largest number of records (default 1,000,000). */
  readonly maxRecords?: number;
}

export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;
const TRAILER_MAGIC = Uint8Array.of(0x46, 0x50, 0x45, 0x43); // "FPEC"
const FORMAT_VERSION = 1;

/**
 * Writes records straight into one growing buffer and closes them with a trailer. The
 * branch encoder feeds it from reusable key/body writers, so a record costs a copy and a
 * checksum rather than several small allocations; {@link encodeFrame} is a loop over `add`.
 * `finish` may be called more than once (plain and compressed variants share the records
 * and the Merkle root; only the trailer differs).
 */
export class FrameWriter {
  private readonly out = new ByteWriter(64 * 1024);
  // Per record: type, where it starts, where its key starts and ends, where its CRC starts.
  private readonly types: number[] = [];
  private readonly starts: number[] = [];
  private readonly keyStarts: number[] = [];
  private readonly keyEnds: number[] = [];
  private readonly ends: number[] = [];
  private recordsEnd = 0;
  private root: Uint8Array | undefined;

  constructor(private readonly checksum: 0 | 1) {}

  get count(): number {
    return this.starts.length;
  }

  /** Appends a record whose key and body were written into `key` and `body`. */
  addFrom(type: number, key: ByteWriter, body: ByteWriter): void {
    const start = this.header(type, 1, 0, key.length, body.length);
    const keyStart = this.out.length;
    this.out.append(key);
    const keyEnd = this.out.length;
    this.out.append(body);
    this.close(type, start, keyStart, keyEnd);
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
    this.root = undefined;
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
    this.out.u32(recordChecksum(this.checksum, this.out.window(start, end)));
    this.types.push(type);
    this.starts.push(start);
    this.keyStarts.push(keyStart);
    this.keyEnds.push(keyEnd);
    this.ends.push(end);
    this.recordsEnd = this.out.length;
  }

  /** BLAKE3 of every record's covered bytes, in key order, combined. */
  private merkleRoot(): Uint8Array {
    const all = this.out.result();
    const slice = latin1Slicer(all);
    const keys = this.starts.map((_, i) => slice(this.keyStarts[i]!, this.keyEnds[i]!));
    return merkleOfRanges(all, this.starts, this.ends, leafOrder(keys));
  }

  /** The frame: the records, then a trailer (and the container, if asked). */
  finish(options: EncodeFrameOptions = {}): Uint8Array {
    const out = this.out;
    out.truncate(this.recordsEnd);
    this.root ??= this.merkleRoot();
    const body = this.trailerBody(options, this.root);
    const start = out.length;
    out.u8(RECORD_TYPE.TRAILER);
    out.u8(1);
    out.u16(0);
    out.varint(0);
    out.varint(body.length);
    out.append(body);
    out.u32(recordChecksum(this.checksum, out.window(start, out.length)));
    const frame = out.result().slice();
    return options.compress === true ? wrapContainer(frame, this.checksum) : frame;
  }

  private trailerBody(options: EncodeFrameOptions, root: Uint8Array): ByteWriter {
    const count = this.starts.length;
    let caps = options.caps ?? 0;
    if (count > 0) caps |= CAP.FRAME_TOC;
    const compressing = options.compress === true;
    if (compressing) caps |= CAP.FRAME_COMPRESSION;
    if (options.branch) caps |= CAP.BRANCH_METADATA;
    const body = new ByteWriter(64 + count * 32);
    body.bytes(TRAILER_MAGIC);
    body.u8(FORMAT_VERSION);
    body.varint(options.beat ?? 0n);
    body.varint(count);
    body.u8(options.applyMode ?? 0);
    body.u8(1);
    body.u8(compressing ? 1 : 0);
    body.u8(this.checksum);
    body.varint(32);
    body.bytes(root);
    body.varint(count);
    const frame = this.out.result();
    for (let i = 0; i < count; i++) {
      body.u8(this.types[i]!);
      body.varint(this.keyEnds[i]! - this.keyStarts[i]!);
      body.bytesFrom(frame, this.keyStarts[i]!, this.keyEnds[i]!);
      body.varint(this.starts[i]!);
    }
    body.varint(options.historyWindows?.payload ?? 0);
    body.varint(options.historyWindows?.manifest ?? 0);
    body.u32(caps);
    if (options.branch) {
      body.varint(25);
      body.u8(options.branch.glob);
      body.u64(options.branch.domain);
      body.u64(options.branch.tag);
      body.u64(options.branch.frameId);
    }
    return body;
  }
}

/** The Merkle root over records given as byte ranges of `frame`, leaves in `order`. */
function merkleOfRanges(frame: Uint8Array, starts: readonly number[], ends: readonly number[], order: readonly number[]): Uint8Array {
  const level = new Uint8Array(order.length * 32 + 32);
  for (let i = 0; i < order.length; i++) blake3Into(frame, starts[order[i]!]!, ends[order[i]!]!, level, i * 32);
  return merkleCombine(level, order.length);
}

/** Writes records and a trailer (and the container, if asked). */
export function encodeFrame(records: readonly RawRecord[], options: EncodeFrameOptions = {}): Uint8Array {
  const writer = new FrameWriter(options.checksum ?? 0);
  for (const record of records) writer.add(record);
  return writer.finish(options);
}

/**
 * Reads and verifies a whole frame: container, every record's CRC, the trailer, the
 * record count, the TOC, the Merkle root, and that nothing follows the trailer. Returns
 * nothing partial: any defect throws a typed error.
 */
export function decodeFrame(bytes: Uint8Array, options: DecodeFrameOptions = {}): { records: RawRecord[]; trailer: TrailerInfo; frame: Uint8Array } {
  const { records, trailer, frame } = readFrame(bytes, options, true);
  return { records, trailer, frame };
}

/** A verified frame, with each record's key also as a latin1 string (see `latin1Slicer`). */
export interface ReadFrame {
  readonly records: RawRecord[];
  readonly keys: string[];
  /** With `keepToc` false its `toc` is empty (the TOC was still checked). */
  readonly trailer: TrailerInfo;
  readonly frame: Uint8Array;
}

/**
 * {@link decodeFrame}, also handing back the key strings it sorted by (the branch decoder
 * indexes by them); `keepToc` false leaves `trailer.toc` empty after checking it.
 */
export function readFrame(bytes: Uint8Array, options: DecodeFrameOptions = {}, keepToc = false): ReadFrame {
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const maxRecords = options.maxRecords ?? 1_000_000;
  if (bytes.length > maxFrameBytes) {
    throw serializerError('FRAME_TOO_LARGE', `frame is ${bytes.length} bytes; the limit is ${maxFrameBytes}`, { size: bytes.length, limit: maxFrameBytes });
  }
  const inContainer = isContainer(bytes);
  const frame = inContainer ? unwrapContainer(bytes, maxFrameBytes) : bytes;
  const reader = new ByteReader(frame);
  const records: RawRecord[] = [];
  // Per record: where it starts, where its key starts, where its CRC starts, the CRC.
  const starts: number[] = [];
  const keyStarts: number[] = [];
  const ends: number[] = [];
  const crcs: number[] = [];
  let trailerRecord: { covered: Uint8Array; crc: number; body: Uint8Array } | undefined;
  while (reader.remaining > 0) {
    const start = reader.offset;
    const type = reader.u8();
    const version = reader.u8();
    const flags = reader.u16();
    const keyLen = reader.varint(reader.remaining, 'record key length');
    const bodyLen = reader.varint(reader.remaining, 'record body length');
    const keyStart = reader.offset;
    const key = reader.bytes(keyLen);
    const body = reader.bytes(bodyLen);
    const end = reader.offset;
    const crc = reader.u32();
    if (type === RECORD_TYPE.TRAILER) {
      trailerRecord = { covered: frame.subarray(start, end), crc, body };
      break;
    }
    if (records.length >= maxRecords) throw serializerError('FRAME_TOO_LARGE', `frame has more than ${maxRecords} records`, { limit: maxRecords });
    if (type < RECORD_TYPE.CELL_DESC || type > RECORD_TYPE.MANIFEST_HISTORY) {
      throw serializerError('FRAME_UNKNOWN_RECORD', `record type 0x${type.toString(16)} at offset ${start} is not one this reader knows`, { type, offset: start });
    }
    records.push({ type, version, flags, key, body });
    starts.push(start);
    keyStarts.push(keyStart);
    ends.push(end);
    crcs.push(crc);
  }
  if (trailerRecord === undefined) throw serializerError('FRAME_NO_TRAILER', 'frame has no trailer record (truncated?)');
  if (reader.remaining !== 0) {
    throw serializerError('FRAME_TRAILING_BYTES', `${reader.remaining} byte(s) follow the trailer`, { extra: reader.remaining });
  }
  const { trailer, tocAt, tocCount } = parseTrailer(trailerRecord.body, keepToc);
  if (inContainer && trailer.compression !== 1) throw serializerError('FRAME_BAD_CONTAINER', 'a frame inside a container must say compression 1 in its trailer');
  if (recordChecksum(trailer.checksum, trailerRecord.covered) !== trailerRecord.crc) {
    throw serializerError('FRAME_BAD_CRC', 'the trailer checksum does not match', { record: 'trailer' });
  }
  for (let i = 0; i < records.length; i++) {
    if (recordChecksum(trailer.checksum, frame.subarray(starts[i]!, ends[i]!)) !== crcs[i]) {
      throw serializerError('FRAME_BAD_CRC', `record ${i} (offset ${starts[i]}) fails its ${trailer.checksum === 1 ? 'CRC32C' : 'CRC-32'} check`, { record: i, offset: starts[i] });
    }
  }
  if (trailer.recordCount !== records.length) {
    throw serializerError('FRAME_COUNT_MISMATCH', `trailer says ${trailer.recordCount} records, frame has ${records.length}`);
  }
  if (tocCount > 0) {
    // The reference never checks its TOC; we do when one is present, so a frame that lies about itself is refused.
    if (tocCount !== records.length) throw serializerError('FRAME_BAD_TOC', `TOC lists ${tocCount} records, frame has ${records.length}`);
    checkToc(trailerRecord.body, tocAt, records, starts);
  }
  const slice = latin1Slicer(frame);
  const keys = records.map((record, i) => slice(keyStarts[i]!, keyStarts[i]! + record.key.length));
  const root = merkleOfRanges(frame, starts, ends, leafOrder(keys));
  if (!bytesEqual(root, trailer.root)) throw serializerError('FRAME_BAD_ROOT', 'the Merkle root does not match the records');
  return { records, keys, trailer, frame };
}

/**
 * Parses and checks a trailer body. The TOC is always parsed (its errors come in order);
 * its entries become objects only when `keepToc` (the branch decoder checks them in place,
 * see {@link checkToc}, and skips 13,000 small allocations on a 10,000-cell frame).
 */
function parseTrailer(body: Uint8Array, keepToc: boolean): { trailer: TrailerInfo; tocAt: number; tocCount: number } {
  const r = new ByteReader(body, 0, body.length, 'trailer');
  const magic = r.bytes(4);
  if (!bytesEqual(magic, TRAILER_MAGIC)) throw serializerError('FRAME_BAD_MAGIC', 'trailer magic is not "FPEC"; this is not a flat frame');
  const version = r.u8();
  if (version !== FORMAT_VERSION) throw serializerError('FRAME_BAD_VERSION', `frame format version ${version} is not supported (this reader speaks ${FORMAT_VERSION})`, { version });
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
  const tocAt = r.offset;
  const toc: { type: number; key: Uint8Array; offset: number }[] = [];
  for (let i = 0; i < tocCount; i++) {
    const type = r.u8();
    const keyLength = r.varint(r.remaining, 'TOC key length');
    const key = keepToc ? r.bytes(keyLength) : (r.skip(keyLength), undefined);
    const offset = r.varint(Number.MAX_SAFE_INTEGER, 'TOC offset');
    if (key !== undefined) toc.push({ type, key, offset });
  }
  const payload = r.varint(0xffffffff, 'payload history window');
  const manifest = r.varint(0xffffffff, 'manifest history window');
  const caps = r.u32();
  if ((caps & ~KNOWN_CAPS) !== 0) {
    throw serializerError('FRAME_UNKNOWN_CAPS', `capability bits 0x${(caps & ~KNOWN_CAPS).toString(16)} are not understood by this reader`, { caps });
  }
  let branch: BranchBlock | undefined;
  if (caps & CAP.BRANCH_METADATA) {
    const len = r.varint(64, 'branch block length');
    if (len !== 25) throw serializerError('FRAME_BAD_TRAILER', `branch block length ${len} is not 25`);
    branch = { glob: r.u8(), domain: r.u64(), tag: r.u64(), frameId: r.u64() };
  }
  if (r.remaining !== 0) throw serializerError('FRAME_BAD_TRAILER', `${r.remaining} unexpected byte(s) at the end of the trailer`);
  const trailer: TrailerInfo = {
    beat, recordCount, applyMode, hashAlg, compression, checksum: checksum as 0 | 1, root, toc,
    historyWindows: { payload, manifest }, caps, ...(branch ? { branch } : {}),
  };
  return { trailer, tocAt, tocCount };
}

/** Checks, entry by entry, that an already parsed TOC describes the records. */
function checkToc(body: Uint8Array, tocAt: number, records: readonly RawRecord[], starts: readonly number[]): void {
  const r = new ByteReader(body, tocAt, body.length, 'trailer');
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    const type = r.u8();
    const keyLength = r.varint();
    const keyAt = r.offset;
    r.skip(keyLength);
    const offset = r.varint();
    if (type !== record.type || offset !== starts[i] || !bytesEqualAt(body, keyAt, keyLength, record.key)) {
      throw serializerError('FRAME_BAD_TOC', `TOC entry ${i} does not match record ${i}`, { entry: i });
    }
  }
}
