/**
 * The TLFC compression container: a 24-byte header and a zlib (RFC 1950) stream of the
 * whole frame. node:zlib is the fast path; pako is the portable one (same format, tested
 * to read each other's output).
 */
import { deflateSync, inflateSync, constants } from 'node:zlib';
import { deflate as pakoDeflate, inflate as pakoInflate } from 'pako';
import { countReserved } from './alloc-meter.ts';
import { serializerError } from './errors.ts';
import { ALL_STRICT, refuse, type LenientMask } from './strictness.ts';

export const CONTAINER_MAGIC = Uint8Array.of(0x54, 0x4c, 0x46, 0x43); // "TLFC"
const HEADER = 24;

/** zlib-format deflate at level 1 (the reference uses Z_BEST_SPEED). */
export function zlibDeflate(data: Uint8Array): Uint8Array {
  return new Uint8Array(deflateSync(data, { level: constants.Z_BEST_SPEED }));
}

/** Inflates a zlib stream, refusing output over `maxOutput` bytes (a deflate bomb stops there). */
export function zlibInflate(data: Uint8Array, maxOutput: number): Uint8Array {
  try {
    return new Uint8Array(inflateSync(data, { maxOutputLength: Math.max(1, maxOutput) }));
  } catch (error) {
    throw serializerError('FRAME_BAD_CONTAINER', `the container's zlib stream does not inflate within ${maxOutput} bytes: ${(error as Error).message}`, {
      maxOutput,
    });
  }
}

/** Wraps a frame in a container. */
export function wrapContainer(frame: Uint8Array, checksum: 0 | 1): Uint8Array {
  const z = zlibDeflate(frame);
  const out = new Uint8Array(HEADER + z.length);
  const view = new DataView(out.buffer);
  out.set(CONTAINER_MAGIC, 0);
  out[4] = 1;
  out[5] = 1;
  out[6] = checksum;
  out[7] = 0;
  view.setBigUint64(8, BigInt(frame.length), true);
  view.setBigUint64(16, BigInt(z.length), true);
  out.set(z, HEADER);
  return out;
}

export function isContainer(bytes: Uint8Array): boolean {
  return bytes.length >= HEADER && bytes[0] === 0x54 && bytes[1] === 0x4c && bytes[2] === 0x46 && bytes[3] === 0x43;
}

/**
 * The most a zlib stream can inflate to per compressed byte (deflate's longest match, 258
 * bytes, costs at least 2 bits: 1032 to 1), with room for the stream's own framing.
 */
const MAX_INFLATE_RATIO = 1032;

/**
 * Unwraps a container, checking its header and that it inflates to exactly the raw size.
 * Returns the frame and the header's checksum byte (the frame reader compares it with the
 * trailer's). A raw size the compressed bytes cannot produce is refused before inflating.
 */
export function unwrapContainer(bytes: Uint8Array, maxFrameBytes: number, lenient: LenientMask = ALL_STRICT): { frame: Uint8Array; checksum: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[4] !== 1) throw serializerError('FRAME_BAD_CONTAINER', `container version ${bytes[4]} is not 1`);
  if (bytes[5] !== 1) throw serializerError('FRAME_BAD_CONTAINER', `container compression ${bytes[5]} is not 1 (deflate)`);
  if (bytes[6]! > 1) throw serializerError('FRAME_BAD_CONTAINER', `container checksum byte ${bytes[6]} is not 0 or 1`);
  if (bytes[7] !== 0) refuse(lenient, 'container-reserved', 'FRAME_BAD_CONTAINER', `container reserved byte is ${bytes[7]}, not 0`);
  const raw = view.getBigUint64(8, true);
  const zLen = view.getBigUint64(16, true);
  if (raw > BigInt(maxFrameBytes)) {
    throw serializerError('FRAME_TOO_LARGE', `the container says the frame is ${raw} bytes; the limit is ${maxFrameBytes}`, {
      size: raw,
      limit: maxFrameBytes,
    });
  }
  if (zLen > BigInt(bytes.length - HEADER))
    throw serializerError('FRAME_TRUNCATED', `the container promises ${zLen} compressed bytes but holds ${bytes.length - HEADER}`);
  if (zLen < BigInt(bytes.length - HEADER))
    refuse(lenient, 'container-trailing', 'FRAME_TRAILING_BYTES', `${BigInt(bytes.length - HEADER) - zLen} byte(s) follow the container's compressed stream`);
  if (raw > zLen * BigInt(MAX_INFLATE_RATIO) + 64n) {
    throw serializerError('FRAME_BAD_CONTAINER', `${zLen} compressed bytes cannot inflate to the ${raw} bytes the container declares`);
  }
  const inflated = zlibInflate(bytes.subarray(HEADER, HEADER + Number(zLen)), Number(raw));
  // zlib grows its output as it inflates (never to the declared size up front), then joins
  // the pieces: twice what actually came out.
  countReserved(2 * inflated.length);
  if (inflated.length !== Number(raw)) {
    throw serializerError('FRAME_BAD_CONTAINER', `the container inflates to ${inflated.length} bytes, not the ${raw} its header says`);
  }
  return { frame: inflated, checksum: bytes[6]! };
}

/** The same zlib operations through pako (portable path, and the cross-check in tests). */
export const portableZlib = {
  deflate(data: Uint8Array): Uint8Array {
    return pakoDeflate(data, { level: 1 });
  },
  inflate(data: Uint8Array, maxOutput: number): Uint8Array {
    let out: Uint8Array;
    try {
      out = pakoInflate(data);
    } catch (error) {
      throw serializerError('FRAME_BAD_CONTAINER', `the zlib stream does not inflate: ${(error as Error).message}`);
    }
    if (out.length > maxOutput) throw serializerError('FRAME_BAD_CONTAINER', `the zlib stream inflates past ${maxOutput} bytes`);
    return out;
  },
};
