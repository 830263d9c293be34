/**
 * The frame layer: records (type, version, flags, key, body, CRC) closed by a trailer
 * with magic, version, beat, counts, algorithms, Merkle root, TOC, history windows and
 * capability bits; optionally inside a TLFC container. See FORMAT.md. The format's
 * constants, the writer and the reader live in frame-format.ts, frame-writer.ts and
 * frame-reader.ts; this module gathers them.
 */
export {
  CAP,
  DEFAULT_MAX_FRAME_BYTES,
  KNOWN_CAPS,
  RECORD_TYPE,
  type BranchBlock,
  type DecodeFrameOptions,
  type EncodeFrameOptions,
  type RawRecord,
  type TrailerInfo,
} from './frame-format.ts';
export { encodeFrame, FrameWriter } from './frame-writer.ts';
export { decodeFrame, readFrame, recordBody, recordKey, type RecordTable } from './frame-reader.ts';
