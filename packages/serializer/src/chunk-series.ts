/**
 * The frame layer's checks of payload chunks and history records (FORMAT.md §8.2, §6.2),
 * so a frame that passes `decodeFrame` has the same chunk guarantees as one that passes
 * `decodeBranch`: every chunk body parses (mode, nonce length, data length), the chunks of
 * one payload (the records whose keys differ only in the trailing ordinal) arrive in order
 * (ordinals 0, 1, 2… in frame order, contiguous offsets, one total), and every series that
 * starts completes. History bodies are parsed too.
 */
import { ByteReader, latin1Slicer, rangesEqual, sameBytes } from './bytes.ts';
import { serializerError } from './errors.ts';
import { RECORD_TYPE } from './frame-format.ts';
import { blake3Into } from './hash.ts';
import { ChunkScan, payloadHistoryChunkStart, scanChunk } from './records.ts';
import type { RecordTable } from './record-table.ts';
import { refuse, isStrict, type LenientMask } from './strictness.ts';

const NAME_BYTES = 17;
const REVISION_BYTES = 16;

interface Series {
  next: number;
  offset: number;
  readonly total: number;
  readonly mode: number;
  readonly type: number;
}

const scan = new ChunkScan();
const digest = new Uint8Array(32);
const shapeReader = new ByteReader(new Uint8Array(0));

/**
 * The ordinal at the end of a chunk key `data[start, end)` laid out as `type ‖ 17·n bytes ‖
 * extra bytes ‖ varint ordinal`, with its byte length; undefined when the key has no such shape.
 */
function keyOrdinal(data: Uint8Array, start: number, end: number, extra: number): { ordinal: number; length: number } | undefined {
  const length = (end - start - 1 - extra) % NAME_BYTES;
  if (end - start - 1 - extra < 1 || length < 1 || length > 10) return undefined;
  let ordinal = 0;
  let scale = 1;
  for (let at = end - length; at < end; at++) {
    const byte = data[at]!;
    const last = at === end - 1;
    if (((byte & 0x80) === 0) !== last) return undefined;
    ordinal += (byte & 0x7f) * scale;
    scale *= 128;
  }
  return Number.isSafeInteger(ordinal) ? { ordinal, length } : undefined;
}

/** Checks every chunk and history record of a verified frame (see the module comment). */
export function checkChunkSeries(table: RecordTable, lenient: LenientMask): void {
  const { frame, types, keyStarts, bodyStarts, ends } = table;
  let latin1: ((start: number, end: number) => string) | undefined;
  /** Every series by its key string, once the frame has more than one (see below). */
  let series: Map<string, Series> | undefined;
  /** The frame's one series until then, and where its key (less the ordinal) is. */
  let only: Series | undefined;
  let onlyStart = 0;
  let onlyEnd = 0;
  const historyBodies = isStrict(lenient, 'history-body');
  const historySeries = historyBodies && isStrict(lenient, 'history-series');
  for (let i = 0; i < types.length; i++) {
    const type = types[i]!;
    if (type === RECORD_TYPE.MANIFEST_HISTORY) {
      if (historyBodies) checkManifestShape(frame, bodyStarts[i]!, ends[i]!);
      continue;
    }
    if (type !== RECORD_TYPE.PAYLOAD_CHUNK && type !== RECORD_TYPE.PAYLOAD_HISTORY) continue;
    const history = type === RECORD_TYPE.PAYLOAD_HISTORY;
    if (history && !historyBodies) continue;
    const what = history ? 'payload_history' : 'payload_chunk';
    const bodyStart = history ? payloadHistoryChunkStart(frame, bodyStarts[i]!, ends[i]!) : bodyStarts[i]!;
    const c = scanChunk(frame, bodyStart, ends[i]!, scan, lenient, what);
    if (!history) {
      blake3Into(frame, keyStarts[i]!, bodyStarts[i]!, digest, 0);
      if (!sameBytes(frame, c.aadHashAt, digest, 0, 32)) refuse(lenient, 'chunk-aad', 'FRAME_BAD_RECORD', `record ${i}: chunk AAD hash does not match its key`);
    }
    if (history && !historySeries) continue;
    const key = keyOrdinal(frame, keyStarts[i]!, bodyStarts[i]!, history ? REVISION_BYTES : 0);
    if (key === undefined)
      throw serializerError(
        'FRAME_BAD_RECORD',
        `record ${i}: a ${what} key is its type, a path of 17-byte names${history ? ', a 16-byte revision' : ''} and a varint ordinal`,
      );
    // The series is the key without its ordinal. While the frame has met one series only (a
    // small frame's sealed values, a large payload's chunks) it is compared in place with that
    // one's key bytes; from a second series on, every series is indexed by its key as a latin1
    // string, sliced for its record alone. Either way a series is found exactly when its key
    // bytes match an earlier one's (making every record's key string for this cost a small
    // frame with one sealed value more than its checks).
    const idStart = keyStarts[i]!;
    const idEnd = bodyStarts[i]! - key.length;
    let known: Series | undefined;
    let id = '';
    if (
      series === undefined &&
      (only === undefined || (idEnd - idStart === onlyEnd - onlyStart && rangesEqual(frame, idStart, idEnd, frame, onlyStart, onlyEnd)))
    )
      known = only;
    else {
      latin1 ??= latin1Slicer(frame);
      series ??= new Map([[latin1(onlyStart, onlyEnd), only!]]);
      id = latin1(idStart, idEnd);
      known = series.get(id);
    }
    if (known === undefined) {
      if (key.ordinal !== 0 || c.offset !== 0)
        throw serializerError(
          'CHUNK_OUT_OF_ORDER',
          `record ${i}: a payload's first chunk in the frame has ordinal ${key.ordinal} at offset ${c.offset} (0 and 0 expected)`,
        );
      const started = { next: 1, offset: c.size, total: c.total, mode: c.aeadMode, type };
      if (series !== undefined) series.set(id, started);
      else {
        only = started;
        onlyStart = idStart;
        onlyEnd = idEnd;
      }
      continue;
    }
    if (key.ordinal !== known.next) throw serializerError('CHUNK_OUT_OF_ORDER', `record ${i}: chunk ordinal ${key.ordinal} where ${known.next} was expected`);
    if (c.total !== known.total)
      throw serializerError('CHUNK_CONFLICT', `record ${i}: a chunk says its payload is ${c.total} bytes, an earlier one ${known.total}`);
    if (c.offset !== known.offset) throw serializerError('CHUNK_OUT_OF_ORDER', `record ${i}: chunk at offset ${c.offset} where ${known.offset} was expected`);
    if (c.aeadMode !== known.mode)
      refuse(lenient, 'body-values', 'CHUNK_CONFLICT', `record ${i}: the chunks of one payload use AEAD modes ${known.mode} and ${c.aeadMode}`);
    known.next++;
    known.offset += c.size;
  }
  const all = series?.values() ?? (only === undefined ? [] : [only]);
  for (const s of all) {
    if (s.offset !== s.total) {
      throw serializerError(
        'CHUNK_INCOMPLETE',
        `a ${s.type === RECORD_TYPE.PAYLOAD_HISTORY ? 'payload_history' : 'payload_chunk'} series covers ${s.offset} of its ${s.total} bytes`,
      );
    }
  }
}

/** A manifest_history body has the shape of a manifest_delta body (names are not resolved here). */
function checkManifestShape(frame: Uint8Array, start: number, end: number): void {
  const r = shapeReader.reset(frame, start, end, 'manifest_history', start);
  r.skipVarint64();
  const rangeKind = r.u8();
  if (rangeKind > 1) throw serializerError('FRAME_BAD_RECORD', `manifest_history range kind ${rangeKind} is not 0 or 1`);
  for (let bound = 0; bound < 2; bound++) {
    const length = r.varint(NAME_BYTES, 'range bound length');
    if (length !== 0 && length !== NAME_BYTES) throw serializerError('FRAME_BAD_RECORD', `range bound length ${length} is not 17`);
    r.skip(length);
  }
  const count = r.varint(Math.floor(r.remaining / 36), 'manifest_history child count');
  for (let i = 0; i < count; i++) {
    const op = r.u8();
    if (op !== 1 && op !== 2) throw serializerError('FRAME_BAD_RECORD', `manifest_history op ${op} is not 1 or 2`);
    r.skip(NAME_BYTES + 2 + REVISION_BYTES);
  }
  if (r.remaining !== 0) throw serializerError('FRAME_BAD_RECORD', `manifest_history has ${r.remaining} trailing byte(s)`);
}
