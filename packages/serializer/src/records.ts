/**
 * Bodies of the data records (see FORMAT.md §3): cell_desc with its payload-ref block,
 * payload_chunk, manifest_delta, order_delta, namepool_delta. Pure byte codecs; every
 * read is bounded by the record's own length.
 */
import type { Name } from '@cep/cells';
import { ByteReader, ByteWriter, putVarint, varintLength } from './bytes.ts';
import { serializerError } from './errors.ts';
import type { NameTableReader, NameTableWriter } from './names.ts';
import { ALL_STRICT, refuse, resolveStrictness, type LenientMask, type Strictness } from './strictness.ts';

/** Options of the public record parsers. */
export interface ReadRecordOptions {
  /** Which value-set checks apply (default `'strict'`; see FORMAT.md §16). */
  readonly strictness?: Strictness;
}

export interface PayloadRef {
  readonly refKind: number;
  readonly hashAlg: number;
  readonly codec: number;
  readonly aeadMode: number;
  readonly size: number;
  readonly hash: Uint8Array;
}

export interface CellDesc {
  readonly cellType: number;
  readonly storeDescriptor: number;
  readonly created: bigint;
  readonly latest: bigint;
  readonly revision: Uint8Array;
  readonly payloadKind: number;
  readonly fingerprint: bigint | undefined;
  readonly inline: Uint8Array;
  readonly ref: PayloadRef | undefined;
  readonly metaMask: number;
}

export const STORE = { none: 0, dictionary: 0x0202, list: 0x0103 } as const;
export const META = { tombstone: 1, veiled: 2 } as const;
export const CELL_TYPE = { normal: 1, link: 3 } as const;
/** Children per manifest and order page (the reference's page size). */
export const PAGE_ENTRIES = 64;
/** Largest single payload this reader accepts (a remote peer controls the claimed size). */
export const MAX_PAYLOAD_BYTES = 1 << 30;

export function writeCellDesc(d: CellDesc): Uint8Array {
  const out = new ByteWriter(64 + d.inline.length);
  writeCellDescInto(out, d);
  return out.result().slice();
}

/**
 * What {@link writeCellDescInto} takes: a {@link CellDesc} whose beats may also be plain
 * numbers, and whose `revision` may be longer than 16 bytes (its first 16 are written: the
 * branch writer passes the payload's 32-byte hash rather than a view of it per cell).
 */
export type CellDescInput = Omit<CellDesc, 'created' | 'latest'> & { readonly created: bigint | number; readonly latest: bigint | number };

/** Appends a cell_desc body to `out` (the branch writer reuses one writer for every record). */
export function writeCellDescInto(out: ByteWriter, d: CellDescInput): void {
  out.u8(d.cellType);
  out.u16(d.storeDescriptor);
  out.varint(d.created);
  out.varint(d.latest);
  out.bytesFrom(d.revision, 0, Math.min(d.revision.length, 16));
  out.u8(d.payloadKind);
  if (d.fingerprint !== undefined && d.fingerprint !== 0n) {
    out.varint(8);
    out.u64(d.fingerprint);
  } else out.varint(0);
  out.lengthPrefixed(d.inline);
  if (d.ref) {
    // The payload-ref block is length-prefixed; its length is known without writing it twice.
    out.varint(4 + varintLength(d.ref.size) + varintLength(d.ref.hash.length) + d.ref.hash.length);
    out.u8(d.ref.refKind);
    out.u8(d.ref.hashAlg);
    out.u8(d.ref.codec);
    out.u8(d.ref.aeadMode);
    out.varint(d.ref.size);
    out.lengthPrefixed(d.ref.hash);
  } else out.varint(0);
  out.varint(0); // namepool map ref: a placeholder the reference always writes as 0
  out.u16(d.metaMask);
}

/** Parses and checks a cell_desc body (FORMAT.md §8.1). */
export function readCellDesc(body: Uint8Array, options: ReadRecordOptions = {}): CellDesc {
  const s = scanCellDesc(body, 0, body.length, new CellDescScan(), resolveStrictness(options.strictness));
  const at = (offset: number): ByteReader => new ByteReader(body, offset, body.length, 'cell_desc');
  return {
    cellType: s.cellType,
    storeDescriptor: s.storeDescriptor,
    created: at(s.createdAt).varintBig(),
    latest: at(s.latestAt).varintBig(),
    revision: body.subarray(s.revisionAt, s.revisionAt + 16),
    payloadKind: s.payloadKind,
    fingerprint: s.fingerprintAt < 0 ? undefined : at(s.fingerprintAt).u64(),
    inline: body.subarray(s.inlineStart, s.inlineEnd),
    ref:
      s.refAt < 0
        ? undefined
        : {
            refKind: s.refKind,
            hashAlg: s.hashAlg,
            codec: s.codec,
            aeadMode: s.aeadMode,
            size: s.size,
            hash: body.subarray(s.hashStart, s.hashEnd),
          },
    metaMask: s.metaMask,
  };
}

/** A checked cell_desc as numbers and positions in its body (see {@link scanCellDesc}). */
export class CellDescScan {
  cellType = 0;
  storeDescriptor = 0;
  createdAt = 0;
  latestAt = 0;
  revisionAt = 0;
  payloadKind = 0;
  /** Where the 8 fingerprint bytes are, or -1 without a fingerprint. */
  fingerprintAt = -1;
  inlineStart = 0;
  inlineEnd = 0;
  /** Where the payload-ref block starts, or -1 without one (then the fields below are 0). */
  refAt = -1;
  refKind = 0;
  hashAlg = 0;
  codec = 0;
  aeadMode = 0;
  size = 0;
  hashStart = 0;
  hashEnd = 0;
  metaMask = 0;
}

// One reader each for a cell_desc and its payload-ref block, reset per scan (scans are synchronous).
const descReader = new ByteReader(new Uint8Array(0));
/**
 * The reader of manifest and order pages, reset per page (scans are synchronous, and their
 * entry callbacks never scan another page), so a store's pages make no reader objects.
 */
const pageReader = new ByteReader(new Uint8Array(0));
const refReader = new ByteReader(new Uint8Array(0));

/**
 * Checks the cell_desc body at `data[start, end)` and says where its parts are (offsets in
 * `data`), allocating no views or BigInts: the branch decoder reads one per cell, in place
 * in the frame, into one reused {@link CellDescScan}. {@link readCellDesc} builds the full
 * object. Error messages count offsets from `start`, as if the body had been passed alone.
 */
export function scanCellDesc(data: Uint8Array, start: number, end: number, s = new CellDescScan(), lenient: LenientMask = ALL_STRICT): CellDescScan {
  if (scanCellDescCommon(data, start, end, s)) return s;
  const r = descReader.reset(data, start, end, 'cell_desc', start);
  s.cellType = r.u8();
  if (s.cellType > 3) refuse(lenient, 'body-values', 'FRAME_BAD_RECORD', `cell type ${s.cellType} is not 0-3 (void, normal, proxy, link)`);
  s.storeDescriptor = r.u16();
  if (s.storeDescriptor >> 8 > 5 || (s.storeDescriptor & 0xff) > 6)
    refuse(lenient, 'body-values', 'FRAME_BAD_RECORD', `store descriptor 0x${s.storeDescriptor.toString(16)} names no known organiser (0-5) and storage (0-6)`);
  s.createdAt = r.offset;
  r.skipVarint64();
  s.latestAt = r.offset;
  r.skipVarint64();
  s.revisionAt = r.offset;
  r.skip(16);
  s.payloadKind = r.u8();
  if (s.payloadKind > 3) refuse(lenient, 'body-values', 'FRAME_BAD_RECORD', `payload kind ${s.payloadKind} is not 0-3`);
  const fpLen = r.varint(8, 'fingerprint length');
  if (fpLen !== 0 && fpLen !== 8) throw serializerError('FRAME_BAD_RECORD', `fingerprint length ${fpLen} is not 0 or 8`);
  s.fingerprintAt = fpLen === 8 ? r.offset : -1;
  if (fpLen === 8) r.skip(8);
  const inlineLength = r.varint(64, 'inline payload length');
  s.inlineStart = r.offset;
  r.skip(inlineLength);
  s.inlineEnd = r.offset;
  const refLen = r.varint(r.remaining, 'payload-ref length');
  s.refAt = refLen > 0 ? r.offset : -1;
  s.refKind = s.hashAlg = s.codec = s.aeadMode = s.size = s.hashStart = s.hashEnd = 0;
  if (refLen > 0) {
    r.skip(refLen);
    const rr = refReader.reset(data, s.refAt, s.refAt + refLen, 'payload-ref block', s.refAt);
    s.refKind = rr.u8();
    s.hashAlg = rr.u8();
    s.codec = rr.u8();
    s.aeadMode = rr.u8();
    if (s.refKind > 1) refuse(lenient, 'body-values', 'FRAME_BAD_RECORD', `payload ref kind ${s.refKind} is not 0 (in frame) or 1 (CAS)`);
    if (s.hashAlg !== 1) refuse(lenient, 'body-values', 'FRAME_BAD_RECORD', `payload hash algorithm ${s.hashAlg} is not 1 (BLAKE3)`);
    if (s.codec > 1) refuse(lenient, 'body-values', 'FRAME_BAD_RECORD', `payload codec ${s.codec} is not 0 (none) or 1 (deflate)`);
    if (s.aeadMode === 1 || s.aeadMode > 3) refuse(lenient, 'body-values', 'FRAME_BAD_RECORD', `payload AEAD mode ${s.aeadMode} is not 0, 2 or 3`);
    s.size = rr.varint(MAX_PAYLOAD_BYTES, 'payload size');
    const hashLength = rr.varint(64, 'payload hash length');
    if (s.hashAlg === 1 && hashLength !== 32) refuse(lenient, 'body-values', 'FRAME_BAD_RECORD', `a BLAKE3 payload hash is 32 bytes, not ${hashLength}`);
    s.hashStart = rr.offset;
    rr.skip(hashLength);
    s.hashEnd = rr.offset;
    if (rr.remaining !== 0) throw serializerError('FRAME_BAD_RECORD', 'payload-ref block has trailing bytes');
  }
  if (refLen === 0 && s.inlineEnd > s.inlineStart)
    refuse(lenient, 'inline-without-ref', 'FRAME_BAD_RECORD', 'cell_desc has inline bytes but no payload-ref block');
  const mapRef = r.varint(0xffffffff, 'namepool map ref');
  if (mapRef !== 0) refuse(lenient, 'body-values', 'FRAME_BAD_RECORD', `namepool map ref ${mapRef} is not 0`);
  s.metaMask = r.u16();
  if (s.metaMask > 3) refuse(lenient, 'body-values', 'FRAME_BAD_RECORD', `meta mask 0x${s.metaMask.toString(16)} sets bits other than tombstone and veiled`);
  if (r.remaining !== 0) throw serializerError('FRAME_BAD_RECORD', `cell_desc has ${r.remaining} trailing byte(s)`);
  return s;
}

/** Where the varint {@link shortVarint} read last ends. */
let varintEnd = 0;

/**
 * The varint at `data[at]` when it has at most 7 bytes, all before `stop` (value < 2^49, as
 * ByteReader's short path reads it; {@link varintEnd} is set past it), else -1.
 */
function shortVarint(data: Uint8Array, at: number, stop: number): number {
  const last = Math.min(stop, at + 7);
  let value = 0;
  for (let scale = 1; at < last; at++, scale *= 128) {
    const byte = data[at]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      varintEnd = at + 1;
      return value;
    }
  }
  return -1;
}

/**
 * {@link scanCellDesc} for a body every check passes, read with a local index: a cell_desc
 * took some twenty reader calls, each re-checking the bounds, and the branch decoder reads one
 * per cell. False, with `s` partly written, for anything else (a value a rule refuses, a long
 * varint, a short body): the reader then reads it again from its start and words the error, so
 * what the caller gets, result or error, is what the reader alone gives.
 */
function scanCellDescCommon(data: Uint8Array, start: number, end: number, s: CellDescScan): boolean {
  // Type, store descriptor, two beats of a byte each, revision, payload kind, fingerprint length: 23 bytes at least.
  if (end - start < 23 || end > data.length) return false;
  const cellType = data[start]!;
  const storeDescriptor = data[start + 1]! | (data[start + 2]! << 8);
  if (cellType > 3 || storeDescriptor >> 8 > 5 || (storeDescriptor & 0xff) > 6) return false;
  if (shortVarint(data, start + 3, end) < 0) return false;
  const latestAt = varintEnd;
  if (shortVarint(data, latestAt, end) < 0) return false;
  const revisionAt = varintEnd;
  let p = revisionAt + 16;
  if (p + 3 > end) return false;
  const payloadKind = data[p++]!;
  const fpLen = data[p++]!;
  if (payloadKind > 3 || (fpLen !== 0 && fpLen !== 8)) return false;
  const fingerprintAt = fpLen === 8 ? p : -1;
  p += fpLen;
  if (p >= end) return false;
  const inlineLength = data[p++]!;
  if (inlineLength > 64) return false;
  const inlineStart = p;
  p += inlineLength;
  const refLen = shortVarint(data, p, end);
  if (refLen < 0) return false;
  const refAt = varintEnd;
  p = refAt + refLen;
  if (p > end) return false;
  if (refLen === 0) {
    if (inlineLength > 0) return false;
    s.refAt = -1;
    s.refKind = s.hashAlg = s.codec = s.aeadMode = s.size = s.hashStart = s.hashEnd = 0;
  } else {
    if (refLen < 6) return false;
    const refKind = data[refAt]!;
    const hashAlg = data[refAt + 1]!;
    const codec = data[refAt + 2]!;
    const aeadMode = data[refAt + 3]!;
    if (refKind > 1 || hashAlg !== 1 || codec > 1 || aeadMode === 1 || aeadMode > 3) return false;
    const size = shortVarint(data, refAt + 4, p);
    if (size < 0 || size > MAX_PAYLOAD_BYTES) return false;
    const hashStart = varintEnd + 1;
    if (hashStart > p || data[hashStart - 1] !== 32 || hashStart + 32 !== p) return false;
    s.refAt = refAt;
    s.refKind = refKind;
    s.hashAlg = hashAlg;
    s.codec = codec;
    s.aeadMode = aeadMode;
    s.size = size;
    s.hashStart = hashStart;
    s.hashEnd = p;
  }
  // Namepool map ref 0, then the meta mask, then nothing.
  if (p + 3 !== end || data[p] !== 0) return false;
  const metaMask = data[p + 1]! | (data[p + 2]! << 8);
  if (metaMask > 3) return false;
  s.cellType = cellType;
  s.storeDescriptor = storeDescriptor;
  s.createdAt = start + 3;
  s.latestAt = latestAt;
  s.revisionAt = revisionAt;
  s.payloadKind = payloadKind;
  s.fingerprintAt = fingerprintAt;
  s.inlineStart = inlineStart;
  s.inlineEnd = inlineStart + inlineLength;
  s.metaMask = metaMask;
  return true;
}

export interface Chunk {
  readonly payloadKind: number;
  readonly total: number;
  readonly offset: number;
  readonly size: number;
  readonly fingerprint: bigint | undefined;
  readonly aeadMode: number;
  readonly nonce: Uint8Array;
  readonly aadHash: Uint8Array;
  readonly data: Uint8Array;
}

export function writeChunk(c: Chunk): Uint8Array {
  const out = new ByteWriter(80 + c.data.length);
  out.u8(c.payloadKind);
  out.varint(c.total);
  out.varint(c.offset);
  out.varint(c.size);
  if (c.fingerprint !== undefined && c.fingerprint !== 0n) {
    out.varint(8);
    out.u64(c.fingerprint);
  } else out.varint(0);
  out.u8(c.aeadMode);
  out.lengthPrefixed(c.nonce);
  out.bytes(c.aadHash);
  out.bytes(c.data);
  return out.result().slice();
}

/** A checked payload_chunk body as numbers and positions (see {@link scanChunk}). */
export class ChunkScan {
  payloadKind = 0;
  total = 0;
  offset = 0;
  size = 0;
  /** Where the 8 fingerprint bytes are, or -1 without a fingerprint. */
  fingerprintAt = -1;
  aeadMode = 0;
  nonceStart = 0;
  nonceEnd = 0;
  aadHashAt = 0;
  dataStart = 0;
  dataEnd = 0;
}

const chunkReader = new ByteReader(new Uint8Array(0));

/** Nonce bytes each AEAD mode takes (mode 1, AES-GCM, is reserved: -1, any length). */
export function modeNonceLength(mode: number): number {
  return mode === 0 ? 0 : mode === 2 ? 12 : mode === 3 ? 24 : -1;
}

/**
 * Checks the payload_chunk body at `data[start, end)` and says where its parts are: the
 * fields, the nonce length by mode and the data length by size (`size` plaintext bytes, or
 * `size + 16` sealed). The series rules (ordinals, offsets, completion) need the other chunks
 * and are checked by the frame reader.
 */
export function scanChunk(
  data: Uint8Array,
  start: number,
  end: number,
  s = new ChunkScan(),
  lenient: LenientMask = ALL_STRICT,
  what = 'payload_chunk',
): ChunkScan {
  const r = chunkReader.reset(data, start, end, what, start);
  s.payloadKind = r.u8();
  if (s.payloadKind > 3) refuse(lenient, 'body-values', 'FRAME_BAD_RECORD', `chunk payload kind ${s.payloadKind} is not 0-3`);
  s.total = r.varint(MAX_PAYLOAD_BYTES, 'payload total');
  s.offset = r.varint(MAX_PAYLOAD_BYTES, 'chunk offset');
  s.size = r.varint(MAX_PAYLOAD_BYTES, 'chunk size');
  const fpLen = r.varint(8, 'fingerprint length');
  if (fpLen !== 0 && fpLen !== 8) throw serializerError('FRAME_BAD_RECORD', `fingerprint length ${fpLen} is not 0 or 8`);
  s.fingerprintAt = fpLen === 8 ? r.offset : -1;
  if (fpLen === 8) r.skip(8);
  s.aeadMode = r.u8();
  const nonceLength = r.varint(24, 'nonce length');
  s.nonceStart = r.offset;
  r.skip(nonceLength);
  s.nonceEnd = r.offset;
  s.aadHashAt = r.offset;
  r.skip(32);
  s.dataStart = r.offset;
  s.dataEnd = end;
  if (s.aeadMode > 3) throw serializerError('FRAME_BAD_RECORD', `chunk AEAD mode ${s.aeadMode} is unknown`);
  if (s.aeadMode === 1) refuse(lenient, 'chunk-aead-mode', 'FRAME_BAD_RECORD', 'chunk AEAD mode 1 (AES-GCM) is reserved and never produced');
  const expectedNonce = modeNonceLength(s.aeadMode);
  if (expectedNonce >= 0 && nonceLength !== expectedNonce) {
    throw serializerError('FRAME_BAD_RECORD', `chunk AEAD mode ${s.aeadMode} takes a ${expectedNonce}-byte nonce, not ${nonceLength}`);
  }
  const dataLength = end - s.dataStart;
  if (s.aeadMode === 0 ? dataLength !== s.size : s.aeadMode !== 1 && dataLength !== s.size + 16) {
    throw serializerError(
      'CHUNK_CONFLICT',
      `chunk holds ${dataLength} data bytes for ${s.size} ${s.aeadMode === 0 ? 'plaintext bytes' : 'sealed bytes (+16 tag)'}`,
    );
  }
  if (s.size < 1) throw serializerError('CHUNK_CONFLICT', 'a chunk carries at least 1 byte');
  if (s.offset + s.size > s.total) throw serializerError('CHUNK_CONFLICT', `chunk of ${s.size} bytes at ${s.offset} overruns the ${s.total}-byte payload`);
  return s;
}

function chunkOf(body: Uint8Array, s: ChunkScan): Chunk {
  return {
    payloadKind: s.payloadKind,
    total: s.total,
    offset: s.offset,
    size: s.size,
    fingerprint: s.fingerprintAt < 0 ? undefined : new DataView(body.buffer, body.byteOffset + s.fingerprintAt, 8).getBigUint64(0, true),
    aeadMode: s.aeadMode,
    nonce: body.subarray(s.nonceStart, s.nonceEnd),
    aadHash: body.subarray(s.aadHashAt, s.aadHashAt + 32),
    data: body.subarray(s.dataStart, s.dataEnd),
  };
}

/**
 * Parses and checks a payload_chunk body (FORMAT.md §8.2): its fields, the nonce length its
 * AEAD mode takes, and its data length. The series rules are the frame reader's.
 */
export function readChunk(body: Uint8Array, options: ReadRecordOptions = {}): Chunk {
  return chunkOf(body, scanChunk(body, 0, body.length, new ChunkScan(), resolveStrictness(options.strictness)));
}

/** A payload_history body: the past revision's stamp and a chunk of that revision. */
export interface PayloadHistory {
  readonly revisionStamp: bigint;
  readonly chunk: Chunk;
}

/** Where the chunk of a payload_history body at `data[start, end)` starts (after its stamp varint). */
export function payloadHistoryChunkStart(data: Uint8Array, start: number, end: number): number {
  const r = chunkReader.reset(data, start, end, 'payload_history', start);
  r.skipVarint64();
  return r.offset;
}

/**
 * Parses and checks a history record body (FORMAT.md §6.2): a `payload_history` (type 6) is
 * a revision stamp and a payload_chunk body; a `manifest_history` (type 7) has the body of a
 * manifest_delta.
 */
export function readHistory(
  record: { readonly type: number; readonly body: Uint8Array },
  names: NameTableReader,
  options: ReadRecordOptions = {},
): { readonly kind: 'payload'; readonly history: PayloadHistory } | { readonly kind: 'manifest'; readonly manifest: Manifest } {
  const { type, body } = record;
  const lenient = resolveStrictness(options.strictness);
  if (type === 6) {
    const r = new ByteReader(body, 0, body.length, 'payload_history');
    const revisionStamp = r.varintBig();
    const chunkBody = body.subarray(r.offset);
    return {
      kind: 'payload',
      history: { revisionStamp, chunk: chunkOf(chunkBody, scanChunk(chunkBody, 0, chunkBody.length, new ChunkScan(), lenient, 'payload_history')) },
    };
  }
  if (type === 7) return { kind: 'manifest', manifest: readManifest(body, names, options) };
  throw serializerError('FRAME_BAD_RECORD', `record type 0x${type.toString(16)} is not a history record (6 or 7)`);
}

export interface ManifestEntry {
  readonly op: number;
  readonly name: Name;
  readonly mask: number;
  readonly revision: Uint8Array;
}

export interface Manifest {
  readonly epoch: bigint;
  readonly rangeKind: number;
  readonly min: Name | undefined;
  readonly max: Name | undefined;
  readonly entries: readonly ManifestEntry[];
}

export function writeManifest(m: Manifest, names: NameTableWriter): Uint8Array {
  const out = new ByteWriter(64 + m.entries.length * 36);
  writeManifestInto(out, m, names);
  return out.result().slice();
}

/**
 * A manifest entry to write. Its revision may also be given as a fingerprint: the 16 bytes
 * are then the fingerprint little-endian and 8 zero bytes, which is every revision the
 * branch writer produces (it spares a 16-byte array per child).
 */
export type ManifestEntryInput = Omit<ManifestEntry, 'revision'> & { readonly revision: Uint8Array | bigint };

/** Appends a manifest_delta body to `out`. */
export function writeManifestInto(
  out: ByteWriter,
  m: Omit<Manifest, 'entries'> & { readonly entries: readonly ManifestEntryInput[] },
  names: NameTableWriter,
): void {
  out.varint(m.epoch);
  out.u8(m.rangeKind);
  for (const bound of [m.min, m.max]) {
    if (bound) {
      out.varint(17);
      names.writeName(out, bound);
    } else out.varint(0);
  }
  out.varint(m.entries.length);
  for (const e of m.entries) {
    out.u8(e.op);
    names.writeName(out, e.name);
    out.u16(e.mask);
    if (typeof e.revision === 'bigint') {
      out.u64(e.revision);
      out.zeros(8);
    } else out.bytes(e.revision);
  }
}

/** Parses and checks a manifest_delta body (FORMAT.md §8.3), resolving names through `names`. */
export function readManifest(body: Uint8Array, names: NameTableReader, options: ReadRecordOptions = {}): Manifest {
  const entries: ManifestEntry[] = [];
  const head = scanManifest(
    body,
    0,
    body.length,
    names,
    (op, name, mask, revisionAt) => {
      entries.push({ op, name, mask, revision: body.subarray(revisionAt, revisionAt + 16) });
    },
    resolveStrictness(options.strictness),
  );
  return { ...head, entries };
}

/**
 * Checks the manifest_delta body at `data[start, end)`, calling `onEntry` for each child in
 * order (with where its 16-byte revision is) instead of building entry objects: the branch
 * decoder needs only the names. {@link readManifest} builds the objects from it.
 */
export function scanManifest(
  data: Uint8Array,
  start: number,
  end: number,
  names: NameTableReader,
  onEntry: (op: number, name: Name, mask: number, revisionAt: number) => void,
  lenient: LenientMask = ALL_STRICT,
  what = 'manifest_delta',
): Omit<Manifest, 'entries'> {
  const r = pageReader.reset(data, start, end, what, start);
  const epoch = r.varintBig();
  const rangeKind = r.u8();
  if (rangeKind > 1) refuse(lenient, 'body-values', 'FRAME_BAD_RECORD', `range kind ${rangeKind} is not 0 or 1`);
  const min = readBound(r, names);
  const max = readBound(r, names);
  const count = r.varint(Math.floor(r.remaining / 36), 'manifest child count');
  if (count > PAGE_ENTRIES) refuse(lenient, 'page-size', 'FRAME_BAD_RECORD', `a manifest page holds at most ${PAGE_ENTRIES} children, not ${count}`);
  for (let i = 0; i < count; i++) {
    const at = r.offset;
    // An entry (op, name, mask, revision: 36 bytes) wholly in the page is read with a local
    // index around the name; only one running past the end needs the reader's bound checks.
    const whole = at + 36 <= end && end <= data.length;
    const op = whole ? data[at]! : r.u8();
    if (op !== 1 && op !== 2) throw serializerError('FRAME_BAD_RECORD', `manifest op ${op} is not 1 (add) or 2 (remove)`);
    if (whole) r.offset = at + 1;
    const name = names.readName(r);
    const mask = whole ? data[at + 18]! | (data[at + 19]! << 8) : r.u16();
    if (mask > 3) refuse(lenient, 'body-values', 'FRAME_BAD_RECORD', `manifest meta mask 0x${mask.toString(16)} sets bits other than tombstone and veiled`);
    const revisionAt = whole ? at + 20 : r.offset;
    if (whole) r.offset = at + 36;
    else r.skip(16);
    onEntry(op, name, mask, revisionAt);
  }
  if (r.remaining !== 0) throw serializerError('FRAME_BAD_RECORD', `${what} has ${r.remaining} trailing byte(s)`);
  return { epoch, rangeKind, min, max };
}

/** A manifest's range bound: empty, or one 17-byte name (a function, not a closure per page). */
function readBound(r: ByteReader, names: NameTableReader): Name | undefined {
  const len = r.varint(17, 'range bound length');
  if (len === 0) return undefined;
  if (len !== 17) throw serializerError('FRAME_BAD_RECORD', `range bound length ${len} is not 17`);
  return names.readName(r);
}

export interface OrderEntry {
  readonly op: number;
  readonly name: Name;
  readonly position: number;
}

export interface Order {
  readonly projection: number;
  readonly epoch: bigint;
  readonly rankMin: number;
  readonly entries: readonly OrderEntry[];
}

export function writeOrder(o: Order, names: NameTableWriter): Uint8Array {
  const out = new ByteWriter(32 + o.entries.length * 22);
  writeOrderInto(out, o, names);
  return out.result().slice();
}

/** Appends an order_delta body to `out`. */
export function writeOrderInto(out: ByteWriter, o: Order, names: NameTableWriter): void {
  out.u8(o.projection);
  out.varint(o.epoch);
  out.varint(o.rankMin);
  out.varint(o.entries.length);
  for (const e of o.entries) {
    out.u8(e.op);
    names.writeName(out, e.name);
    out.varint(e.position);
    out.varint(0); // sort key: a declared TODO in the reference, always empty
  }
}

/** Parses and checks an order_delta body (FORMAT.md §8.4), resolving names through `names`. */
export function readOrder(body: Uint8Array, names: NameTableReader, options: ReadRecordOptions = {}): Order {
  const entries: OrderEntry[] = [];
  const head = scanOrder(body, 0, body.length, names, (op, name, position) => entries.push({ op, name, position }), resolveStrictness(options.strictness));
  return { ...head, entries };
}

/** Checks the order_delta body at `data[start, end)`, calling `onEntry` per entry in order (see {@link scanManifest}). */
export function scanOrder(
  data: Uint8Array,
  start: number,
  end: number,
  names: NameTableReader,
  onEntry: (op: number, name: Name, position: number) => void,
  lenient: LenientMask = ALL_STRICT,
): Omit<Order, 'entries'> {
  const r = pageReader.reset(data, start, end, 'order_delta', start);
  const projection = r.u8();
  if (projection > 2) refuse(lenient, 'body-values', 'FRAME_BAD_RECORD', `order projection ${projection} is not 0, 1 or 2`);
  const epoch = r.varintBig();
  const rankMin = r.varint(0xffffffff, 'rank min');
  const count = r.varint(Math.floor(r.remaining / 20), 'order child count');
  if (count > PAGE_ENTRIES) refuse(lenient, 'page-size', 'FRAME_BAD_RECORD', `an order page holds at most ${PAGE_ENTRIES} children, not ${count}`);
  for (let i = 0; i < count; i++) {
    const at = r.offset;
    // The common entry (op, name, a position of one or two bytes, an empty sort key) wholly in
    // the page is read with a local index around the name; anything else through the reader.
    const op = at < end ? data[at]! : r.u8();
    if (op !== 1 && op !== 2) refuse(lenient, 'body-values', 'FRAME_BAD_RECORD', `order op ${op} is not 1 (add) or 2 (remove)`);
    if (at < end) r.offset = at + 1;
    const name = names.readName(r);
    const p = r.offset;
    let position: number;
    if (p + 2 <= end && end <= data.length && data[p]! < 0x80 && data[p + 1] === 0) {
      position = data[p]!;
      r.offset = p + 2;
    } else if (p + 3 <= end && end <= data.length && data[p]! >= 0x80 && data[p + 1]! < 0x80 && data[p + 2] === 0) {
      position = (data[p]! & 0x7f) | (data[p + 1]! << 7);
      r.offset = p + 3;
    } else {
      position = r.varint(0xffffffff, 'position');
      const sortKeyLength = r.varint(r.remaining, 'sort key length');
      if (sortKeyLength !== 0) refuse(lenient, 'body-values', 'FRAME_BAD_RECORD', 'order sort keys are empty (the reference never writes one)');
      r.skip(sortKeyLength);
    }
    onEntry(op, name, position);
  }
  if (r.remaining !== 0) throw serializerError('FRAME_BAD_RECORD', `order_delta has ${r.remaining} trailing byte(s)`);
  return { projection, epoch, rankMin };
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

export function writeNamepool(text: string, glob: boolean): Uint8Array {
  const out = new ByteWriter(8 + text.length * 3);
  writeNamepoolInto(out, text, glob);
  return out.result().slice();
}

/** Appends a namepool_delta body to `out`. */
export function writeNamepoolInto(out: ByteWriter, text: string, glob: boolean): void {
  const b = out.reserve(namepoolBodyLength(text));
  out.length = putNamepool(b, out.length, text, glob);
}

/** Bytes of the namepool_delta body {@link putNamepool} writes for `text`. */
export function namepoolBodyLength(text: string): number {
  const n = isShortAscii(text) ? text.length : utf8.encode(text).length;
  return varintLength(n) + 1 + n;
}

/**
 * Writes a namepool_delta body (text length, flags byte, text) at `at` of `b`, room made for
 * {@link namepoolBodyLength} bytes, and returns where it ends: with a local index, so the
 * branch writer puts its name table in place like its other records (FrameWriter.beginSized).
 */
export function putNamepool(b: Uint8Array, at: number, text: string, glob: boolean): number {
  if (isShortAscii(text)) {
    // Almost every reference name: its UTF-8 is its character codes, written without an encoder call.
    const n = text.length;
    b[at++] = n; // below 128: a one-byte varint
    b[at++] = glob ? 1 : 0;
    for (let i = 0; i < n; i++) b[at + i] = text.charCodeAt(i);
    return at + n;
  }
  const bytes = utf8.encode(text);
  at = putVarint(b, at, bytes.length);
  b[at++] = glob ? 1 : 0;
  b.set(bytes, at);
  return at + bytes.length;
}

function isShortAscii(text: string): boolean {
  if (text.length > 64) return false;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** Parses and checks a namepool_delta body (FORMAT.md §7.2). */
export function readNamepool(body: Uint8Array, options: ReadRecordOptions = {}): { text: string; glob: boolean } {
  return readNamepoolWith(body, resolveStrictness(options.strictness));
}

/**
 * A short all-ASCII text (what almost every reference name is), or undefined: built by
 * character codes, which for a few dozen bytes costs a fraction of a TextDecoder call.
 */
function asciiText(bytes: Uint8Array): string | undefined {
  if (bytes.length > 64) return undefined;
  let text = '';
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c >= 0x80) return undefined;
    text += String.fromCharCode(c);
  }
  return text;
}

/** {@link readNamepool} under a resolved strictness. */
export function readNamepoolWith(body: Uint8Array, lenient: LenientMask): { text: string; glob: boolean } {
  const r = new ByteReader(body, 0, body.length, 'namepool_delta');
  const len = r.varint(256, 'name text length');
  const flags = r.u8();
  if (flags > 1) refuse(lenient, 'body-values', 'FRAME_BAD_RECORD', `name flags 0x${flags.toString(16)} set bits other than the pattern bit`);
  const bytes = r.bytes(len);
  if (r.remaining !== 0) throw serializerError('FRAME_BAD_RECORD', 'namepool_delta has trailing bytes');
  const ascii = asciiText(bytes);
  if (ascii !== undefined) return { text: ascii, glob: (flags & 1) === 1 };
  try {
    return { text: utf8Strict.decode(bytes), glob: (flags & 1) === 1 };
  } catch {
    throw serializerError('NAME_INVALID', 'a name in the name table is not valid UTF-8');
  }
}
