/**
 * @cep/serializer — flat frames, byte-compatible with the CEP reference implementation,
 * with CRC32C, deflate, AEAD and a comparator ceiling. See README.md and FORMAT.md.
 */
export { SERIALIZER_ERROR_CODES, type SerializerErrorCode } from './errors.ts';
export {
  encodeFrame,
  decodeFrame,
  CAP,
  KNOWN_CAPS,
  RECORD_TYPE,
  DEFAULT_MAX_FRAME_BYTES,
  type RawRecord,
  type TrailerInfo,
  type BranchBlock,
  type EncodeFrameOptions,
  type DecodeFrameOptions,
} from './frame.ts';
export { encodeBranch, decodeBranch, applyBranch, type DecodedBranch, type StagedCell, type EncodeBranchOptions, type DecodeBranchOptions } from './branch.ts';
export { STRICTNESS_RULES, type Strictness, type StrictnessRule } from './strictness.ts';
export { resolvePolicy, COMPARATOR_VERSION, DEFLATE_MIN_BYTES, type SerializerPolicy } from './policy.ts';
export { crc32, crc32cRaw, NATIVE_CRC32C } from './checksum.ts';
export { blake3, blake3Keyed, merkleRoot } from './hash.ts';
export { AEAD_MODE, type AeadModeName } from './aead.ts';
export {
  readCellDesc,
  readChunk,
  readManifest,
  readOrder,
  readNamepool,
  readHistory,
  type CellDesc,
  type PayloadHistory,
  type ReadRecordOptions,
  type Chunk,
  type Manifest,
  type Order,
  type PayloadRef,
} from './records.ts';
export { NameTableReader } from './names.ts';
