/**
 * One journal entry per committed beat: the beat's change set (removals and cell images)
 * and the inputs it admitted.
 *
 *   magic "CEPJ" (u32 LE 0x4a504543) · crc32c u32 of everything after it ·
 *   version u8 (1) · beat varint · edit count varint · edits · input count varint · inputs
 *   edit:  0 · path          (a removal)
 *          1 · path · image  (see codec.ts)
 *   path:  segments shared with the previous edit's path varint · count varint · names
 *   input: kind text · stream text · seq varint · data bytes
 */
import { isRemoval, type CellEdit, type Name } from '@cep/cells';
import type { LoggedInput } from '@cep/heartbeat';
import { crc32c } from './checksum.ts';
import { ByteReader, ByteWriter, readImageBody, readPathAfter, writeImageBody, writePathAfter } from './codec.ts';
import { storeError } from './errors.ts';

export const JOURNAL_MAGIC = 0x4a504543;
const VERSION = 1;
const HEADER = 8;

/** A decoded journal entry. */
export interface BeatEntry {
  readonly beat: number;
  readonly edits: readonly CellEdit[];
  readonly inputs: readonly LoggedInput[];
}

/** Encodes a beat's entry (a fresh buffer). */
export function encodeEntry(beat: number, edits: readonly CellEdit[], inputs: readonly LoggedInput[]): Uint8Array {
  const out = new ByteWriter(256);
  out.u32(JOURNAL_MAGIC);
  out.u32(0);
  out.u8(VERSION);
  out.varint(beat);
  out.varint(edits.length);
  let previous: readonly Name[] = [];
  for (const edit of edits) {
    if (isRemoval(edit)) {
      out.u8(0);
      writePathAfter(out, edit.removed, previous);
      previous = edit.removed;
    } else {
      out.u8(1);
      writePathAfter(out, edit.path, previous);
      writeImageBody(out, edit);
      previous = edit.path;
    }
  }
  out.varint(inputs.length);
  for (const input of inputs) {
    out.text(input.kind);
    out.text(input.stream);
    out.varint(input.seq);
    out.bytes(input.data);
  }
  const bytes = out.view8().slice();
  new DataView(bytes.buffer).setUint32(4, crc32c(bytes.subarray(HEADER)), true);
  return bytes;
}

/** The beat of an entry whose checksum holds, without decoding the rest; `STORE_CORRUPT` otherwise. */
export function checkEntry(bytes: Uint8Array): number {
  if (bytes.length < HEADER + 2) throw storeError('STORE_CORRUPT', `journal entry of ${bytes.length} bytes is too short`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== JOURNAL_MAGIC) throw storeError('STORE_CORRUPT', 'journal entry does not start with the CEPJ magic');
  const stored = view.getUint32(4, true);
  const actual = crc32c(bytes.subarray(HEADER));
  if (stored !== actual) throw storeError('STORE_CORRUPT', `journal entry checksum mismatch (stored ${hex(stored)}, computed ${hex(actual)})`);
  const input = new ByteReader(bytes.subarray(HEADER));
  const version = input.u8();
  if (version !== VERSION) throw storeError('STORE_CORRUPT', `journal entry version ${version} is not known (this library writes ${VERSION})`);
  return input.varint();
}

/** Decodes an entry whose checksum {@link checkEntry} accepted. */
export function decodeEntry(bytes: Uint8Array): BeatEntry {
  checkEntry(bytes);
  const input = new ByteReader(bytes.subarray(HEADER));
  input.u8();
  const beat = input.varint();
  const edits: CellEdit[] = [];
  let previous: readonly Name[] = [];
  for (let n = input.varint(), i = 0; i < n; i++) {
    const tag = input.u8();
    const path = readPathAfter(input, previous);
    previous = path;
    if (tag === 0) edits.push({ removed: path });
    else if (tag === 1) edits.push(readImageBody(input, path));
    else throw storeError('STORE_CORRUPT', `unknown edit tag ${tag} in the entry of beat ${beat}`);
  }
  const inputs: LoggedInput[] = [];
  for (let n = input.varint(), i = 0; i < n; i++) {
    const kind = input.text();
    const stream = input.text();
    const seq = input.varint();
    inputs.push(Object.freeze({ beat, kind, stream, seq, data: input.bytes() }));
  }
  if (!input.done) throw storeError('STORE_CORRUPT', `the entry of beat ${beat} has trailing bytes`);
  return { beat, edits, inputs };
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}
