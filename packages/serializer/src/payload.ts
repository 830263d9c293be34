/** Payload fingerprints, chunking and chunk encryption for cell values. */
import type { Name } from '@cep/cells';
import { AEAD_MODE, aeadOpen, aeadSealTo, nonceLength } from './aead.ts';
import { blake3Chunk, CHUNK_LEN } from './blake3-chunk.ts';
import type { FrameWriter } from './frame-writer.ts';
import { countReserved, reserveBytes } from './alloc-meter.ts';
import { serializerError } from './errors.ts';
import { blake3, blake3Into, blake3Keyed } from './hash.ts';
import type { NameTableWriter } from './names.ts';
import { ChunkScan, scanChunk } from './records.ts';
import { ALL_STRICT, refuse, type LenientMask } from './strictness.ts';

/** Values up to this size travel inline in the cell_desc (when no AEAD is asked for). */
export const INLINE_MAX = 64;
/** Default chunk size (the reference's blob_payload_bytes). */
export const CHUNK_BYTES = 4096;
/**
 * The reference reader misreads chunk ordinals ≥ 128 (bug B1), so the writer grows the
 * chunk size to keep a payload within 128 chunks; our reader accepts any ordinal.
 */
export const MAX_CHUNKS_FOR_REFERENCE = 128;

// Scratch for fingerprints: the 32-byte input and its digest (hashing is synchronous and
// nothing keeps them), so a fingerprint allocates nothing per value.
const fpInput = new Uint8Array(32);
const fpInputView = new DataView(fpInput.buffer);
const fpDigest = new Uint8Array(32);
const fpDigestView = new DataView(fpDigest.buffer);

/** The reference's payload fingerprint: H64(LE64 domain ‖ LE64 tag ‖ LE64 size ‖ LE64 H64(bytes)). */
export function payloadFingerprint(dataType: Name, data: Uint8Array, names: NameTableWriter, digest?: Uint8Array): bigint {
  fpInputView.setBigUint64(0, names.code(dataType.domain), true);
  fpInputView.setBigUint64(8, names.code(dataType.tag), true);
  fpInputView.setBigUint64(16, BigInt(data.length), true);
  // H64(bytes) is the first 8 bytes of BLAKE3(bytes), little-endian: copy them (0 for no bytes).
  const h = data.length === 0 ? undefined : (digest ?? blake3(data));
  for (let i = 0; i < 8; i++) fpInput[24 + i] = h === undefined ? 0 : h[i]!;
  blake3Into(fpInput, 0, 32, fpDigest, 0);
  return fpDigestView.getBigUint64(0, true);
}

/** The fingerprint of a child with no data (H64 of 32 zero bytes), as the reference writes it. */
export const DATALESS_FINGERPRINT = 0x72539a81c183da2an;

// Scratch for writing chunk records in place: the record key, the nonce input and output,
// the AAD hash (all consumed before the next chunk; encoding is synchronous).
let keyScratch = new Uint8Array(256);
let nonceInput = new Uint8Array(256 + 32);
/** A view of `nonceInput`, remade only when it grows (a view per chunk was most of the nonce's own cost). */
let nonceView = new DataView(nonceInput.buffer);
const nonceOut = new Uint8Array(24);
const aadHash = new Uint8Array(32);

/** The reference's chunk nonce for the key in `keyScratch[0, keyLength)`, into `nonceOut` (no allocation for keys up to a BLAKE3 chunk). */
function nonceInto(key: Uint8Array, keyLength: number, fp: bigint, offset: number, size: number, total: number): Uint8Array {
  const length = keyLength + 32;
  if (nonceInput.length < length) {
    nonceInput = new Uint8Array(length * 2);
    nonceView = new DataView(nonceInput.buffer);
  }
  for (let i = 0; i < keyLength; i++) nonceInput[i] = keyScratch[i]!;
  const view = nonceView;
  view.setBigUint64(keyLength, fp, true);
  // Offsets and sizes are whole numbers below 2^53: written as two 32-bit halves, no BigInt each.
  setU64(view, keyLength + 8, offset);
  setU64(view, keyLength + 16, size);
  setU64(view, keyLength + 24, total);
  if (length <= CHUNK_LEN) blake3Chunk(nonceInput, 0, length, nonceOut, 0, key, 24);
  else nonceOut.set(blake3Keyed(key, nonceInput.subarray(0, length), 24));
  return nonceOut;
}

/** Writes `value` (a whole number, 0 ≤ value < 2^53) at `at` as a little-endian u64. */
function setU64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value >>> 0, true);
  view.setUint32(at + 4, Math.floor(value / 0x100000000), true);
}

/**
 * Writes the payload_chunk records of one payload straight into `frame`: the same bytes as
 * `writeChunk` for each piece, without an intermediate key, nonce, hash or body
 * per chunk. `startKey` begins a record (FrameWriter.beginRecord) and writes its key up to,
 * not including, the ordinal.
 *
 * Returns how many of the bytes written no compressor can shrink: under AEAD, each chunk's
 * nonce (with its length prefix), AAD hash, ciphertext and tag, counted as written; 0 without
 * AEAD (the plaintext may well compress). The writer's deflate decision reads it.
 */
export function writeChunkRecords(
  frame: FrameWriter,
  startKey: () => void,
  data: Uint8Array,
  fp: bigint,
  aead: { mode: number; key: Uint8Array } | undefined,
): number {
  let incompressible = 0;
  const size = Math.max(CHUNK_BYTES, Math.ceil(data.length / MAX_CHUNKS_FOR_REFERENCE));
  const mode = aead?.mode ?? AEAD_MODE.none;
  const out = frame.output;
  for (let offset = 0, ordinal = 0; offset < data.length; offset += size, ordinal++) {
    const piece = data.subarray(offset, Math.min(data.length, offset + size));
    startKey();
    out.varint(ordinal);
    const keyStart = frame.keyStart;
    const keyLength = out.length - keyStart;
    if (keyScratch.length < keyLength) keyScratch = new Uint8Array(keyLength * 2);
    keyScratch.set(out.window(keyStart, out.length));
    const key = keyScratch.subarray(0, keyLength);
    frame.beginBody();
    out.u8(0);
    out.varint(data.length);
    out.varint(offset);
    out.varint(piece.length);
    if (fp !== 0n) {
      out.varint(8);
      out.u64(fp);
    } else out.varint(0);
    out.u8(mode);
    if (aead === undefined) out.varint(0);
    else {
      const nonce = nonceInto(aead.key, keyLength, fp, offset, piece.length, data.length).subarray(0, nonceLength(mode));
      const sealedFrom = out.length;
      out.lengthPrefixed(nonce);
      blake3Into(key, 0, keyLength, aadHash, 0);
      out.bytes(aadHash);
      aeadSealTo(out, mode, aead.key, nonce, piece, key);
      incompressible += out.length - sealedFrom;
      frame.endRecord();
      continue;
    }
    blake3Into(key, 0, keyLength, aadHash, 0);
    out.bytes(aadHash);
    out.bytes(piece);
    frame.endRecord();
  }
  return incompressible;
}

/** What the branch reader knows about a payload before its chunks are read. */
export interface PayloadExpectation {
  readonly size: number;
  /**
   * Where the cell_desc's 8 fingerprint bytes are in `fingerprintIn` (-1: it has none). Compared
   * as bytes with each chunk's (two u64s are equal exactly when their bytes are), so no view or
   * BigInt is made per payload.
   */
  readonly fingerprintAt: number;
  readonly fingerprintIn: Uint8Array;
  /** The AEAD byte of the cell_desc's payload-ref block. */
  readonly refAeadMode: number;
}

const scan = new ChunkScan();

/** Whether two optional 8-byte fingerprints (at `aAt` of `a`, `bAt` of `b`; -1: none) are the same. */
function sameFingerprint(a: Uint8Array, aAt: number, b: Uint8Array, bAt: number): boolean {
  if (aAt < 0 || bAt < 0) return aAt < 0 && bAt < 0;
  for (let i = 0; i < 8; i++) if (a[aAt + i] !== b[bAt + i]) return false;
  return true;
}

/**
 * Reassembles a payload from its chunk records (in ordinal order), checking the series
 * (contiguous offsets, one total, lengths by mode) and decrypting. Every chunk is checked
 * before the payload's buffer is allocated, and that buffer is the sum of the chunks' own
 * sizes: a declared size the frame's bytes do not back allocates nothing. The records come
 * from a frame the frame reader verified (chunk bodies, series and AAD hashes).
 */
export function assemblePayload(
  chunks: readonly { key: Uint8Array; body: Uint8Array }[],
  expected: PayloadExpectation,
  aeadKey: Uint8Array | undefined,
  requireAead: boolean,
  lenient: LenientMask = ALL_STRICT,
): Uint8Array {
  const expectedSize = expected.size;
  let offset = 0;
  for (const record of chunks) {
    const c = scanChunk(record.body, 0, record.body.length, scan, lenient);
    if (c.total !== expectedSize) throw serializerError('CHUNK_CONFLICT', `a chunk says the payload is ${c.total} bytes, the cell says ${expectedSize}`);
    if (c.offset !== offset) throw serializerError('CHUNK_OUT_OF_ORDER', `chunk at offset ${c.offset} where ${offset} was expected`);
    if (c.aeadMode === 1) throw serializerError('FRAME_BAD_RECORD', 'chunk AEAD mode 1 (AES-GCM) is reserved: this reader cannot open it');
    // The AAD hash was checked by the frame reader (rule 'chunk-aad'), under the same strictness.
    if (!sameFingerprint(record.body, c.fingerprintAt, expected.fingerprintIn, expected.fingerprintAt))
      refuse(lenient, 'chunk-fingerprint', 'CHUNK_CONFLICT', "a chunk's fingerprint differs from its cell's");
    if (c.aeadMode !== expected.refAeadMode)
      refuse(
        lenient,
        'ref-aead-mode',
        'FRAME_BAD_RECORD',
        `a chunk sealed in mode ${c.aeadMode} belongs to a payload whose ref says mode ${expected.refAeadMode}`,
      );
    if (c.aeadMode === AEAD_MODE.none) {
      if (requireAead) throw serializerError('AEAD_REQUIRED', 'this mount requires encrypted payloads and a chunk arrived in plaintext');
    } else if (aeadKey === undefined) throw serializerError('AEAD_KEY_MISSING', 'a chunk is encrypted and no AEAD key was given for this mount');
    offset += c.size;
  }
  if (offset !== expectedSize) throw serializerError('CHUNK_INCOMPLETE', `payload chunks cover ${offset} of ${expectedSize} bytes`);
  // Every chunk checked: `offset` bytes are backed by the chunks' own data.
  if (chunks.length === 1) {
    // One sealed chunk (every small value under AEAD): its plaintext is the payload, no second copy.
    const record = chunks[0]!;
    // `scan` still holds this chunk's fields: it was the loop's only (and last) scan.
    const c = scan;
    if (c.aeadMode !== AEAD_MODE.none) {
      countReserved(c.size);
      return aeadOpen(c.aeadMode, aeadKey!, record.body.subarray(c.nonceStart, c.nonceEnd), record.body.subarray(c.dataStart, c.dataEnd), record.key);
    }
  }
  const out = reserveBytes(offset);
  offset = 0;
  for (const record of chunks) {
    const c = scanChunk(record.body, 0, record.body.length, scan, lenient);
    const data = record.body.subarray(c.dataStart, c.dataEnd);
    if (c.aeadMode === AEAD_MODE.none) out.set(data, offset);
    else out.set(aeadOpen(c.aeadMode, aeadKey!, record.body.subarray(c.nonceStart, c.nonceEnd), data, record.key), offset);
    offset += c.size;
  }
  return out;
}
