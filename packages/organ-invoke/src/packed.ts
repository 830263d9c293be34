/**
 * The packed layout: every call (or reply) a mount sends in one beat, written into the bytes of
 * one value, so the frame is two cells (the root and its `packed` value) whatever the number of calls.
 *
 * Why: the serializer's cost is per cell (a record, its CRC32C, its BLAKE3 leaf, its share of the
 * Merkle tree, an AEAD seal per value), and a call was 6 cells and a reply 5. Inside one value a
 * call costs a few dozen bytes written here, and the frame pays framing, hashing and sealing once.
 *
 * Nothing about a call's fields changes: each item is the same named fields, each with its own
 * value type (the cell form's value types, written by type code), read back into the same fields
 * and checked by the same code as a cell frame (`frames.ts`), so a field of the wrong type is
 * refused exactly as in a cell frame. Layout (integers little-endian):
 *
 *   items  = version (u8 = 1), count (u32), count × item
 *   item   = length (u32), then fields: code (u8, the FIELDS table below), value
 *   value  = type (u8), then by type: 1 text = length (u32) + UTF-8;  2 u64, 3 i64 = 8 bytes;
 *            4 bool = one byte 0 | 1;  5 bytes = length (u32) + bytes;
 *            6 raw = data type (domain, tag: id kind (u8) + length (u32) + text) + length (u32) + bytes
 *
 * A reader never trusts a length: each is checked against the bytes left before anything is
 * read or allocated, so the work and memory of a read are bounded by the frame's own size.
 */
import { acronymId, name, numericId, referenceId, wordId, type Id, type Value } from '@cep/cells';

/** Layout version, the first byte of the items. */
export const PACKED_VERSION = 1;

/** Field codes (code = index + 1). The four pipeline fields form the call's `pipeline` dictionary. */
export const FIELDS = [
  'kind',
  'id',
  'signal',
  'target',
  'payload',
  'timeout',
  'expires_at',
  'status',
  'result',
  'note',
  'code',
  'pipeline_id',
  'stage_id',
  'dag_run_id',
  'hop_index',
] as const;

/** A field's name. */
export type FieldName = (typeof FIELDS)[number];

/** The pipeline fields (the last four codes), written flat and read back as the call's `pipeline` dictionary. */
const FIRST_PIPELINE_CODE = FIELDS.indexOf('pipeline_id') + 1;

const CODE: Readonly<Record<string, number>> = Object.freeze(Object.fromEntries(FIELDS.map((f, i) => [f, i + 1])));

const TYPE = { text: 1, u64: 2, i64: 3, bool: 4, bytes: 5, raw: 6 } as const;
const ID_KIND = ['word', 'acronym', 'reference', 'numeric'] as const;

/** Fields of one item, in the order they are written. */
export type PackedFields = ReadonlyArray<readonly [FieldName, Value]>;

/** Texts up to this many UTF-16 units are tried as ASCII in JavaScript before `Buffer.write`. */
const SHORT_TEXT = 96;

/** Writes into one growing buffer (one allocation per frame in the common case). */
class Writer {
  private buf: Buffer;
  /**
   * A view of `buf` for 64-bit numbers: `Buffer.writeBigUInt64LE` splits the value with bigint
   * shifts and masks, two or three bigints per number written (every call and reply has one).
   */
  private view: DataView;
  pos = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(Math.max(64, size));
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }
  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.length);
  }
  u8(v: number): void {
    this.room(1);
    this.buf[this.pos++] = v;
  }
  u32(v: number): void {
    this.room(4);
    this.buf.writeUInt32LE(v, this.pos);
    this.pos += 4;
  }
  u32At(at: number, v: number): void {
    this.buf.writeUInt32LE(v, at);
  }
  text(s: string): void {
    // A UTF-16 unit is at most 3 UTF-8 bytes: reserve that, write, then record the true length.
    this.room(4 + s.length * 3);
    if (s.length <= SHORT_TEXT) {
      // Short ASCII (ids, paths, words: nearly every text of a call) byte by byte, no native call.
      const buf = this.buf;
      const at = this.pos + 4;
      let i = 0;
      for (; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + i] = c;
      }
      if (i === s.length) {
        buf.writeUInt32LE(i, this.pos);
        this.pos = at + i;
        return;
      }
    }
    const n = this.buf.write(s, this.pos + 4, 'utf8');
    this.buf.writeUInt32LE(n, this.pos);
    this.pos += 4 + n;
  }
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  big(v: bigint, signed: boolean): void {
    this.room(8);
    // Wrapped to 64 bits as the cell form writes them (`valueToData`), never a RangeError mid-frame.
    if (signed) this.view.setBigInt64(this.pos, BigInt.asIntN(64, v), true);
    else this.view.setBigUint64(this.pos, BigInt.asUintN(64, v), true);
    this.pos += 8;
  }
  id(v: Id): void {
    this.u8(ID_KIND.indexOf(v.kind));
    this.text(v.text);
  }
  value(v: Value): void {
    switch (v.type) {
      case 'text':
        this.u8(TYPE.text);
        return this.text(v.value);
      case 'u64':
      case 'i64':
        this.u8(TYPE[v.type]);
        return this.big(v.value, v.type === 'i64');
      case 'bool':
        this.u8(TYPE.bool);
        return this.u8(v.value ? 1 : 0);
      case 'bytes':
        this.u8(TYPE.bytes);
        return this.bytes(v.value);
      case 'raw':
        this.u8(TYPE.raw);
        this.id(v.dataType.domain);
        this.id(v.dataType.tag);
        return this.bytes(v.value);
    }
  }
  done(): Uint8Array {
    return new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.pos);
  }
}

/**
 * Writes items field by field straight into the output (the sender's path: no list of fields, no
 * value objects per call). `begin(count)`, then per item `item()`, its fields, `end()`; `done()`.
 */
export class PackedWriter {
  private readonly w: Writer;
  private at = -1;
  constructor(count: number, sizeHint = 5 + count * 96) {
    this.w = new Writer(sizeHint);
    this.w.u8(PACKED_VERSION);
    this.w.u32(count);
  }
  item(): void {
    this.at = this.w.pos;
    this.w.u32(0);
  }
  end(): void {
    this.w.u32At(this.at, this.w.pos - this.at - 4);
  }
  value(field: FieldName, value: Value): void {
    this.w.u8(CODE[field]!);
    this.w.value(value);
  }
  text(field: FieldName, value: string): void {
    this.w.u8(CODE[field]!);
    this.w.u8(TYPE.text);
    this.w.text(value);
  }
  u64(field: FieldName, value: bigint): void {
    this.w.u8(CODE[field]!);
    this.w.u8(TYPE.u64);
    this.w.big(value, false);
  }
  done(): Uint8Array {
    return this.w.done();
  }
}

/** The bytes of `items` (each a list of fields) in the packed layout (tools and tests: any field, any type). */
export function writePacked(items: ReadonlyArray<PackedFields>): Uint8Array {
  const w = new PackedWriter(items.length);
  for (const fields of items) {
    w.item();
    for (const [field, value] of fields) w.value(field, value);
    w.end();
  }
  return w.done();
}

/** One item read back: its fields by name and its pipeline fields (when it has any), or why it could not be read. */
export type PackedItem =
  | { readonly fields: ReadonlyMap<string, Value>; readonly pipeline: ReadonlyMap<string, Value> | undefined }
  | { readonly problem: string; readonly id?: string };

/** The packed items read back, or why the whole value could not be (then nothing in it may run). */
export type PackedRead = { readonly items: PackedItem[] } | { readonly problem: string };

const strict = new TextDecoder('utf-8', { fatal: true });

/** Thrown inside an item read; caught there and turned into the item's problem. */
class Bad extends Error {}

/** Reads a packed value. Never throws. `maxItems` bounds the count before anything is read. */
export function readPacked(bytes: Uint8Array, maxItems: number): PackedRead {
  if (bytes.length < 5) return { problem: `packed: ${bytes.length} bytes is too short for a packed layout` };
  if (bytes[0] !== PACKED_VERSION) return { problem: `packed: packed layout version ${bytes[0]} is not ${PACKED_VERSION}` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const count = view.getUint32(1, true);
  if (count === 0 || count > maxItems) return { problem: `packed: a batch carries 1..${maxItems} items, found ${count}` };
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const items: PackedItem[] = [];
  let pos = 5;
  for (let i = 0; i < count; i++) {
    if (pos + 4 > bytes.length) return { problem: `packed: item ${i} of ${count} is missing (the value ends at byte ${bytes.length})` };
    const length = view.getUint32(pos, true);
    pos += 4;
    if (length > bytes.length - pos) return { problem: `packed: item ${i} declares ${length} bytes, only ${bytes.length - pos} are left` };
    items.push(new ItemReader(buf, view, pos, pos + length).read());
    pos += length;
  }
  if (pos !== bytes.length) return { problem: `packed: ${bytes.length - pos} bytes follow the last of ${count} items` };
  return { items };
}

/** Reads one item's fields between `pos` and `end` (methods, not closures: this runs once per call). */
class ItemReader {
  constructor(
    private readonly bytes: Buffer,
    private readonly view: DataView,
    private pos: number,
    private readonly end: number,
  ) {}

  private need(n: number, what: string): void {
    if (n > this.end - this.pos) throw new Bad(`${what}: needs ${n} bytes, ${this.end - this.pos} left in the item`);
  }

  private u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  private text(what: string): string {
    const n = this.u32(what);
    this.need(n, what);
    const from = this.pos;
    const to = (this.pos += n);
    const bytes = this.bytes;
    // ASCII (every id, path and word in practice) needs no validation; anything else is decoded strictly.
    let k = from;
    while (k < to && bytes[k]! < 0x80) k++;
    if (k === to) return bytes.toString('latin1', from, to);
    try {
      return strict.decode(bytes.subarray(from, to));
    } catch {
      throw new Bad(`${what}: text is not valid UTF-8`);
    }
  }

  private blob(what: string): Uint8Array {
    const n = this.u32(what);
    this.need(n, what);
    // A copy: the value outlives the frame's buffer (as a cell value does).
    const out = new Uint8Array(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  private id(what: string): Id {
    this.need(1, what);
    const kind = ID_KIND[this.bytes[this.pos++]!];
    const t = this.text(what);
    try {
      if (kind === 'word') return wordId(t);
      if (kind === 'acronym') return acronymId(t);
      if (kind === 'reference') return referenceId(t);
      if (kind === 'numeric' && /^[0-9]+$/.test(t)) return numericId(BigInt(t));
    } catch (error) {
      throw new Bad(`${what}: ${(error as Error).message}`);
    }
    throw new Bad(`${what}: not an identifier`);
  }

  private value(field: string): Value {
    this.need(1, field);
    const type = this.bytes[this.pos++]!;
    switch (type) {
      case TYPE.text:
        return { type: 'text', value: this.text(field) };
      case TYPE.u64:
      case TYPE.i64: {
        this.need(8, field);
        const at = this.pos;
        this.pos += 8;
        return type === TYPE.u64 ? { type: 'u64', value: this.view.getBigUint64(at, true) } : { type: 'i64', value: this.view.getBigInt64(at, true) };
      }
      case TYPE.bool: {
        this.need(1, field);
        const b = this.bytes[this.pos++]!;
        if (b > 1) throw new Bad(`${field}: a bool is one byte, 0 or 1, found ${b}`);
        return { type: 'bool', value: b === 1 };
      }
      case TYPE.bytes:
        return { type: 'bytes', value: this.blob(field) };
      case TYPE.raw: {
        const domain = this.id(field);
        const tag = this.id(field);
        return { type: 'raw', dataType: name(tag, domain), value: this.blob(field) };
      }
      default:
        throw new Bad(`${field}: value type ${type} is not one of 1..6`);
    }
  }

  read(): PackedItem {
    const fields = new Map<string, Value>();
    let pipeline: Map<string, Value> | undefined;
    try {
      while (this.pos < this.end) {
        const code = this.bytes[this.pos++]!;
        const field = FIELDS[code - 1];
        if (field === undefined) throw new Bad(`field code ${code} is not one of 1..${FIELDS.length}`);
        if (fields.has(field)) throw new Bad(`${field}: given twice`);
        const value = this.value(field);
        fields.set(field, value);
        if (code >= FIRST_PIPELINE_CODE) (pipeline ??= new Map()).set(field, value);
      }
    } catch (error) {
      if (!(error instanceof Bad)) throw error;
      const id = fields.get('id');
      return { problem: error.message, ...(id?.type === 'text' && id.value.length <= 64 ? { id: id.value } : {}) };
    }
    return { fields, pipeline };
  }
}
