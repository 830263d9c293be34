/**
 * The frame format's constants and shapes (see FORMAT.md): record types, capability bits,
 * records, trailer contents, and the options of the frame writer and reader.
 */
import type { Strictness } from './strictness.ts';

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
  /**
   * Which checks beyond the reference's apply: `'strict'` (default) refuses every frame that
   * breaks a rule of FORMAT.md §16, `'lenient'` accepts what the reference accepts, and a
   * per-rule object relaxes only the rules it names.
   */
  readonly strictness?: Strictness;
}

export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;
export const TRAILER_MAGIC = Uint8Array.of(0x46, 0x50, 0x45, 0x43); // "FPEC"
export const FORMAT_VERSION = 1;
