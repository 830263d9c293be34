/**
 * The frame layer: records (type, version, flags, key, body, CRC) closed by a trailer
 * with magic, version, beat, counts, algorithms, Merkle root, TOC, history windows and
 * capability bits; optionally inside a TLFC container. See FORMAT.md.
 */
import { ByteReader, ByteWriter, bytesEqual, compareBytes } from './bytes.ts';
import { recordChecksum } from './checksum.ts';
import { isContainer, unwrapContainer, wrapContainer } from './container.ts';
import { serializerError } from './errors.ts';
import { merkleRoot } from './hash.ts';

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

function writeRecord(out: ByteWriter, record: RawRecord, checksum: 0 | 1): Uint8Array {
  const start = out.length;
  out.u8(record.type);
  out.u8(record.version);
  out.u16(record.flags);
  out.varint(record.key.length);
  out.varint(record.body.length);
  out.bytes(record.key);
  out.bytes(record.body);
  const covered = out.result().subarray(start, out.length);
  const crc = recordChecksum(checksum, covered);
  out.u32(crc);
  return covered;
}

/** Writes records and a trailer (and the container, if asked). */
export function encodeFrame(records: readonly RawRecord[], options: EncodeFrameOptions = {}): Uint8Array {
  const checksum = options.checksum ?? 0;
  const out = new ByteWriter(1024);
  const leaves: { key: Uint8Array; covered: Uint8Array }[] = [];
  const toc: { type: number; key: Uint8Array; offset: number }[] = [];
  const offsets: number[] = [];
  for (const record of records) {
    offsets.push(out.length);
    writeRecord(out, record, checksum);
  }
  // Covered bytes are re-sliced after writing: the writer's buffer may have moved.
  const all = out.result();
  records.forEach((record, i) => {
    const start = offsets[i]!;
    const headerLen = 4 + varintLength(record.key.length) + varintLength(record.body.length);
    leaves.push({ key: record.key, covered: all.subarray(start, start + headerLen + record.key.length + record.body.length) });
    toc.push({ type: record.type, key: record.key, offset: start });
  });
  let caps = options.caps ?? 0;
  if (records.length > 0) caps |= CAP.FRAME_TOC;
  const compressing = options.compress === true;
  if (compressing) caps |= CAP.FRAME_COMPRESSION;
  if (options.branch) caps |= CAP.BRANCH_METADATA;
  const body = new ByteWriter(64 + toc.length * 32);
  body.bytes(TRAILER_MAGIC);
  body.u8(FORMAT_VERSION);
  body.varint(options.beat ?? 0n);
  body.varint(records.length);
  body.u8(options.applyMode ?? 0);
  body.u8(1);
  body.u8(compressing ? 1 : 0);
  body.u8(checksum);
  body.varint(32);
  body.bytes(merkleRoot(leaves));
  body.varint(toc.length);
  for (const entry of toc) {
    body.u8(entry.type);
    body.lengthPrefixed(entry.key);
    body.varint(entry.offset);
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
  writeRecord(out, { type: RECORD_TYPE.TRAILER, version: 1, flags: 0, key: new Uint8Array(0), body: body.result() }, checksum);
  const frame = out.result().slice();
  if (!compressing) return frame;
  const wrapped = wrapContainer(frame, checksum);
  return wrapped;
}

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

/**
 * Reads and verifies a whole frame: container, every record's CRC, the trailer, the
 * record count, the TOC, the Merkle root, and that nothing follows the trailer. Returns
 * nothing partial: any defect throws a typed error.
 */
export function decodeFrame(bytes: Uint8Array, options: DecodeFrameOptions = {}): { records: RawRecord[]; trailer: TrailerInfo; frame: Uint8Array } {
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const maxRecords = options.maxRecords ?? 1_000_000;
  if (bytes.length > maxFrameBytes) {
    throw serializerError('FRAME_TOO_LARGE', `frame is ${bytes.length} bytes; the limit is ${maxFrameBytes}`, { size: bytes.length, limit: maxFrameBytes });
  }
  const inContainer = isContainer(bytes);
  const frame = inContainer ? unwrapContainer(bytes, maxFrameBytes) : bytes;
  const reader = new ByteReader(frame);
  const records: RawRecord[] = [];
  const leaves: { key: Uint8Array; covered: Uint8Array; crc: number }[] = [];
  const offsets: number[] = [];
  let trailerRecord: { covered: Uint8Array; crc: number; body: Uint8Array } | undefined;
  while (reader.remaining > 0) {
    const start = reader.offset;
    const type = reader.u8();
    const version = reader.u8();
    const flags = reader.u16();
    const keyLen = reader.varint(reader.remaining, 'record key length');
    const bodyLen = reader.varint(reader.remaining, 'record body length');
    const key = reader.bytes(keyLen);
    const body = reader.bytes(bodyLen);
    const covered = frame.subarray(start, reader.offset);
    const crc = reader.u32();
    if (type === RECORD_TYPE.TRAILER) {
      trailerRecord = { covered, crc, body };
      break;
    }
    if (records.length >= maxRecords) throw serializerError('FRAME_TOO_LARGE', `frame has more than ${maxRecords} records`, { limit: maxRecords });
    if (type < RECORD_TYPE.CELL_DESC || type > RECORD_TYPE.MANIFEST_HISTORY) {
      throw serializerError('FRAME_UNKNOWN_RECORD', `record type 0x${type.toString(16)} at offset ${start} is not one this reader knows`, { type, offset: start });
    }
    records.push({ type, version, flags, key, body });
    leaves.push({ key, covered, crc });
    offsets.push(start);
  }
  if (trailerRecord === undefined) throw serializerError('FRAME_NO_TRAILER', 'frame has no trailer record (truncated?)');
  if (reader.remaining !== 0) {
    throw serializerError('FRAME_TRAILING_BYTES', `${reader.remaining} byte(s) follow the trailer`, { extra: reader.remaining });
  }
  const trailer = parseTrailer(trailerRecord.body);
  if (inContainer && trailer.compression !== 1) throw serializerError('FRAME_BAD_CONTAINER', 'a frame inside a container must say compression 1 in its trailer');
  if (recordChecksum(trailer.checksum, trailerRecord.covered) !== trailerRecord.crc) {
    throw serializerError('FRAME_BAD_CRC', 'the trailer checksum does not match', { record: 'trailer' });
  }
  leaves.forEach((leaf, i) => {
    if (recordChecksum(trailer.checksum, leaf.covered) !== leaf.crc) {
      throw serializerError('FRAME_BAD_CRC', `record ${i} (offset ${offsets[i]}) fails its ${trailer.checksum === 1 ? 'CRC32C' : 'CRC-32'} check`, { record: i, offset: offsets[i] });
    }
  });
  if (trailer.recordCount !== records.length) {
    throw serializerError('FRAME_COUNT_MISMATCH', `trailer says ${trailer.recordCount} records, frame has ${records.length}`);
  }
  if (trailer.toc.length > 0) {
    // The reference never checks its TOC; we do when one is present, so a frame that lies about itself is refused.
    if (trailer.toc.length !== records.length) throw serializerError('FRAME_BAD_TOC', `TOC lists ${trailer.toc.length} records, frame has ${records.length}`);
    trailer.toc.forEach((entry, i) => {
      const record = records[i]!;
      if (entry.type !== record.type || entry.offset !== offsets[i] || !bytesEqual(entry.key, record.key)) {
        throw serializerError('FRAME_BAD_TOC', `TOC entry ${i} does not match record ${i}`, { entry: i });
      }
    });
  }
  const root = merkleRoot(leaves);
  if (compareBytes(root, trailer.root) !== 0) throw serializerError('FRAME_BAD_ROOT', 'the Merkle root does not match the records');
  return { records, trailer, frame };
}

function parseTrailer(body: Uint8Array): TrailerInfo {
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
  const toc: { type: number; key: Uint8Array; offset: number }[] = [];
  for (let i = 0; i < tocCount; i++) {
    const type = r.u8();
    const key = r.lengthPrefixed(r.remaining, 'TOC key length');
    const offset = r.varint(Number.MAX_SAFE_INTEGER, 'TOC offset');
    toc.push({ type, key, offset });
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
  return {
    beat, recordCount, applyMode, hashAlg, compression, checksum: checksum as 0 | 1, root, toc,
    historyWindows: { payload, manifest }, caps, ...(branch ? { branch } : {}),
  };
}
