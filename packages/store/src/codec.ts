/**
 * The byte form of names, values and cell images in the journal and the snapshot.
 * Little-endian, unsigned LEB128 varints for counts and beats; every variable part is
 * length-prefixed, so a reader never guesses.
 */
import {
  acronymId,
  CEP,
  idEquals,
  name,
  numericId,
  referenceId,
  wordId,
  type CellImage,
  type HistoryEntry,
  type Id,
  type IdKind,
  type Name,
  type Value,
} from '@cep/cells';
import { storeError } from './errors.ts';

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** A growable byte buffer. */
export class ByteWriter {
  private buffer: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(initial = 4096) {
    this.buffer = new Uint8Array(initial);
    this.view = new DataView(this.buffer.buffer);
  }

  private room(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + bytes) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
    this.view = new DataView(next.buffer);
  }

  u8(value: number): void {
    this.room(1);
    this.buffer[this.length++] = value;
  }

  u32(value: number): void {
    this.room(4);
    this.view.setUint32(this.length, value, true);
    this.length += 4;
  }

  u64(value: bigint): void {
    this.room(8);
    this.view.setBigUint64(this.length, value, true);
    this.length += 8;
  }

  /** A non-negative safe integer as LEB128. */
  varint(value: number): void {
    this.room(8);
    while (value >= 0x80) {
      this.buffer[this.length++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.buffer[this.length++] = value;
  }

  /** A safe integer of either sign (zigzag). */
  signed(value: number): void {
    this.varint(value < 0 ? -2 * value - 1 : 2 * value);
  }

  bytes(data: Uint8Array): void {
    this.varint(data.length);
    this.raw(data);
  }

  raw(data: Uint8Array): void {
    this.room(data.length);
    this.buffer.set(data, this.length);
    this.length += data.length;
  }

  text(value: string): void {
    // Worst case 3 bytes per UTF-16 unit; encode in place after a varint of the real length.
    const most = value.length * 3;
    if (most < 0x80) {
      this.room(1 + most);
      const { written } = utf8.encodeInto(value, this.buffer.subarray(this.length + 1));
      this.buffer[this.length] = written;
      this.length += 1 + written;
      return;
    }
    if (most < 0x4000) {
      // A two-byte varint even for short texts (readers accept it), so no second pass.
      this.room(2 + most);
      const { written } = utf8.encodeInto(value, this.buffer.subarray(this.length + 2));
      this.buffer[this.length] = (written & 0x7f) | 0x80;
      this.buffer[this.length + 1] = written >>> 7;
      this.length += 2 + written;
      return;
    }
    this.bytes(utf8.encode(value));
  }

  /** Writes `value` at `offset` (a u32 reserved earlier). */
  patchU32(offset: number, value: number): void {
    this.view.setUint32(offset, value, true);
  }

  /** The bytes written so far (a view: copy it before writing more). */
  view8(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

/** Reads what {@link ByteWriter} wrote; any overrun or malformed field is `STORE_CORRUPT`. */
export class ByteReader {
  offset = 0;
  private readonly view: DataView;
  /** Ids already decoded in this read (building a word id is not free). */
  private readonly ids: Array<Map<string, Id>> = [new Map(), new Map(), new Map(), new Map()];
  private readonly cepNames = new Map<Id, Name>();
  private readonly otherNames = new Map<Id, Map<Id, Name>>();

  constructor(private readonly data: Uint8Array) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  get done(): boolean {
    return this.offset >= this.data.length;
  }

  private need(bytes: number): void {
    if (this.offset + bytes > this.data.length)
      throw storeError('STORE_CORRUPT', `record ends early: needs ${bytes} bytes at offset ${this.offset} of ${this.data.length}`);
  }

  u8(): number {
    this.need(1);
    return this.data[this.offset++]!;
  }

  u32(): number {
    this.need(4);
    const value = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return value;
  }

  u64(): bigint {
    this.need(8);
    const value = this.view.getBigUint64(this.offset, true);
    this.offset += 8;
    return value;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const byte = this.u8();
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (!Number.isSafeInteger(value)) break;
        return value;
      }
      scale *= 0x80;
    }
    throw storeError('STORE_CORRUPT', `bad varint at offset ${this.offset}`);
  }

  signed(): number {
    const zigzag = this.varint();
    return zigzag % 2 === 1 ? -(zigzag + 1) / 2 : zigzag / 2;
  }

  bytes(): Uint8Array {
    const length = this.varint();
    this.need(length);
    const out = this.data.slice(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  text(): string {
    const length = this.varint();
    this.need(length);
    if (length <= 16) {
      // Names and short texts: ASCII is common and decoding it by hand skips a native call.
      let ascii = '';
      let i = 0;
      for (; i < length; i++) {
        const byte = this.data[this.offset + i]!;
        if (byte >= 0x80) break;
        ascii += String.fromCharCode(byte);
      }
      if (i === length) {
        this.offset += length;
        return ascii;
      }
    }
    try {
      const value = utf8Strict.decode(this.data.subarray(this.offset, this.offset + length));
      this.offset += length;
      return value;
    } catch {
      throw storeError('STORE_CORRUPT', `text at offset ${this.offset} is not UTF-8`);
    }
  }

  id(): Id {
    const kind = this.u8();
    const idKind = ID_KINDS[kind];
    if (idKind === undefined) throw storeError('STORE_CORRUPT', `unknown identifier kind ${kind}`);
    const text = this.text();
    const known = this.ids[kind]!;
    let found = known.get(text);
    if (found === undefined) {
      try {
        found = makeId(idKind, text);
      } catch (error) {
        throw storeError('STORE_CORRUPT', `bad identifier ${JSON.stringify(text)}: ${(error as Error).message}`);
      }
      known.set(text, found);
    }
    return found;
  }

  name(): Name {
    // Ids are cached per reader, so an id object stands for its kind and text.
    const cep = this.u8();
    const domain = cep === 1 ? CEP : this.id();
    const tag = this.id();
    let byTag = cep === 1 ? this.cepNames : this.otherNames.get(domain);
    if (byTag === undefined) this.otherNames.set(domain, (byTag = new Map()));
    let found = byTag.get(tag);
    if (found === undefined) {
      found = name(tag, domain);
      byTag.set(tag, found);
    }
    return found;
  }
}

const ID_KINDS: readonly IdKind[] = ['word', 'acronym', 'reference', 'numeric'];
const ID_KIND_BYTE: Record<IdKind, number> = { word: 0, acronym: 1, reference: 2, numeric: 3 };

function makeId(kind: IdKind, text: string): Id {
  switch (kind) {
    case 'word':
      return wordId(text);
    case 'acronym':
      return acronymId(text);
    case 'reference':
      return referenceId(text);
    case 'numeric':
      return numericId(BigInt(text));
  }
}

export function writeName(out: ByteWriter, value: Name): void {
  if (value.domain === CEP || idEquals(value.domain, CEP)) {
    out.u8(1);
  } else {
    out.u8(0);
    out.u8(ID_KIND_BYTE[value.domain.kind]);
    out.text(value.domain.text);
  }
  out.u8(ID_KIND_BYTE[value.tag.kind]);
  out.text(value.tag.text);
}

export function writePath(out: ByteWriter, path: readonly Name[]): void {
  out.varint(path.length);
  for (const segment of path) writeName(out, segment);
}

/**
 * A path as the number of leading segments it shares with `previous`, then the rest: the
 * paths of one journal entry share most of their segments.
 */
export function writePathAfter(out: ByteWriter, path: readonly Name[], previous: readonly Name[]): void {
  let shared = 0;
  const most = Math.min(path.length, previous.length);
  while (shared < most && path[shared]!.key === previous[shared]!.key) shared++;
  out.varint(shared);
  out.varint(path.length - shared);
  for (let i = shared; i < path.length; i++) writeName(out, path[i]!);
}

export function readPathAfter(input: ByteReader, previous: readonly Name[]): Name[] {
  const shared = input.varint();
  if (shared > previous.length) throw storeError('STORE_CORRUPT', `path shares ${shared} segments with a path of ${previous.length}`);
  const path = previous.slice(0, shared);
  for (let n = input.varint(), i = 0; i < n; i++) path.push(input.name());
  return path;
}

export function readPath(input: ByteReader): Name[] {
  const length = input.varint();
  const path: Name[] = [];
  for (let i = 0; i < length; i++) path.push(input.name());
  return path;
}

const VALUE_TYPE_BYTE = { text: 0, u64: 1, i64: 2, bool: 3, bytes: 4, raw: 5 } as const;

export function writeValue(out: ByteWriter, value: Value): void {
  out.u8(VALUE_TYPE_BYTE[value.type]);
  switch (value.type) {
    case 'text':
      out.text(value.value);
      break;
    case 'u64':
    case 'i64': {
      out.u64(BigInt.asUintN(64, value.value));
      break;
    }
    case 'bool':
      out.u8(value.value ? 1 : 0);
      break;
    case 'bytes':
      out.bytes(value.value);
      break;
    case 'raw':
      writeName(out, value.dataType);
      out.bytes(value.value);
      break;
  }
}

export function readValue(input: ByteReader): Value {
  const type = input.u8();
  switch (type) {
    case 0:
      return { type: 'text', value: input.text() };
    case 1:
    case 2: {
      const unsigned = input.u64();
      return type === 1 ? { type: 'u64', value: unsigned } : { type: 'i64', value: BigInt.asIntN(64, unsigned) };
    }
    case 3: {
      const flag = input.u8();
      if (flag > 1) throw storeError('STORE_CORRUPT', `bad bool byte ${flag}`);
      return { type: 'bool', value: flag === 1 };
    }
    case 4:
      return { type: 'bytes', value: input.bytes() };
    case 5: {
      const dataType = input.name();
      return { type: 'raw', dataType, value: input.bytes() };
    }
    default:
      throw storeError('STORE_CORRUPT', `unknown value type ${type}`);
  }
}

const NO_HISTORY: readonly HistoryEntry[] = Object.freeze([]);
const KIND_BYTE = { value: 0, dictionary: 1, list: 2, link: 3 } as const;
const KINDS = ['value', 'dictionary', 'list', 'link'] as const;
// Presence flags of the optional parts of an image.
const HAS_DELETED = 1;
const HAS_VALUE = 2;
const HAS_STORE_TYPE = 4;
const HAS_LINK = 8;
const HAS_HISTORY = 16;
const HAS_ORDER = 32;

/** An image without its path (the journal writes the path, the snapshot writes the name only). */
export function writeImageBody(out: ByteWriter, image: CellImage): void {
  let flags = 0;
  if (image.deleted !== undefined) flags |= HAS_DELETED;
  if (image.value !== undefined) flags |= HAS_VALUE;
  if (image.storeType !== undefined) flags |= HAS_STORE_TYPE;
  if (image.linkTarget !== undefined) flags |= HAS_LINK;
  if (image.history.length > 0) flags |= HAS_HISTORY;
  if (image.order !== undefined) flags |= HAS_ORDER;
  out.u8(KIND_BYTE[image.kind]);
  out.u8(flags);
  out.varint(image.created);
  // Later stamps as distances from `created`: small numbers, short varints.
  out.signed(image.modified - image.created);
  out.signed(image.subtreeModified - image.created);
  if (image.deleted !== undefined) out.signed(image.deleted - image.created);
  if (image.value !== undefined) writeValue(out, image.value);
  if (image.storeType !== undefined) writeName(out, image.storeType);
  if (image.linkTarget !== undefined) writePath(out, image.linkTarget);
  if (image.history.length > 0) writeHistory(out, image.history);
  if (image.kind === 'list') out.varint(image.nextAuto);
  if (image.order !== undefined) writePath(out, image.order);
}

function writeHistory(out: ByteWriter, history: readonly HistoryEntry[]): void {
  out.varint(history.length);
  for (const entry of history) {
    out.varint(entry.beat);
    if (entry.value === undefined) {
      out.u8(0);
    } else {
      out.u8(1);
      writeValue(out, entry.value);
    }
  }
}

export function readImageBody(input: ByteReader, path: readonly Name[]): CellImage {
  const kind = KINDS[input.u8()];
  if (kind === undefined) throw storeError('STORE_CORRUPT', `unknown cell kind at offset ${input.offset - 1}`);
  const flags = input.u8();
  const created = input.varint();
  const modified = created + input.signed();
  const subtreeModified = created + input.signed();
  const deleted = flags & HAS_DELETED ? created + input.signed() : undefined;
  const value = flags & HAS_VALUE ? readValue(input) : undefined;
  const storeType = flags & HAS_STORE_TYPE ? input.name() : undefined;
  const linkTarget = flags & HAS_LINK ? readPath(input) : undefined;
  let history: HistoryEntry[] = NO_HISTORY as HistoryEntry[];
  if (flags & HAS_HISTORY) {
    history = [];
    const count = input.varint();
    for (let i = 0; i < count; i++) {
      const beat = input.varint();
      history.push({ beat, value: input.u8() === 1 ? readValue(input) : undefined });
    }
  }
  const nextAuto = kind === 'list' ? input.varint() : 1;
  const order = flags & HAS_ORDER ? readPath(input) : undefined;
  return { path, kind, created, modified, deleted, subtreeModified, value, storeType, linkTarget, history, nextAuto, order };
}
