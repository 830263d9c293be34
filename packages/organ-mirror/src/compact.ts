/**
 * The packed form of an op's content (`vb`, a `bytes` value in place of the `v` branch).
 *
 * Why: the serializer writes a record per cell (descriptor, manifest entry, fingerprint, a
 * Merkle leaf, and with AEAD one sealed payload per value), about 200 bytes and tens of µs of
 * CPU per cell on both sides. A mirror part only needs each cell's name, kind, store type,
 * value and link target, so a run of cells travels as one value in this form: the frame
 * still checks and seals it as a whole (crc, Merkle root, AEAD), once instead of per cell.
 * The source uses it only when the receiver's `sub` says it reads it (`packed`).
 *
 * Layout (all integers unsigned LEB128 unless noted), version byte 1 first, then one cell:
 *
 *   cell  = head:u8 [domain id] tag-text body
 *           head bits 0-1: kind (0 value, 1 dictionary, 2 list, 3 link); bit 2: the name has a
 *           domain of its own (else CEP); bits 3-4: the tag's id kind; bits 5-7: a value's type
 *           (0 text, 1 u64, 2 i64, 3 bool, 4 bytes, 5 raw), for a store bit 5: it has a store type
 *   body  = value: text (len utf8) | u64 (LEB128) | i64 (8 bytes LE) | bool (u8) | bytes (len data)
 *                  | raw (name len data)
 *         | store: [store type: name] count; count cells
 *         | link: count; count names
 *   name  = 0 id | 1 id id           (domain CEP, or domain then tag)
 *   id    = kind:u8 len utf8         (0 word, 1 acronym, 2 reference, 3 numeric; canonical text)
 *
 * One head byte and the tag's text carry what the serializer spends a record and a manifest
 * entry on: the bench's cells take 8–15 bytes each.
 *
 * Soft-deleted children are left out (the live view, as everywhere in a bundle).
 */
import { acronymId, CEP, idEquals, name, numericId, referenceId, wordId, type Cell, type Id, type Name, type Value } from '@cep/cells';
import type { StagedCell } from '@cep/serializer';

const VERSION = 1;
const KIND_CODE = { value: 0, dictionary: 1, list: 2, link: 3 } as const;
const KINDS = ['value', 'dictionary', 'list', 'link'] as const;
const ID_CODE = { word: 0, acronym: 1, reference: 2, numeric: 3 } as const;
const VALUE_CODE = { text: 0, u64: 1, i64: 2, bool: 3, bytes: 4, raw: 5 } as const;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** A growable byte buffer: one per packed op, its bytes copied out once at the end. */
export class PackedWriter {
  private buf = new Uint8Array(4096);
  private view = new DataView(this.buf.buffer);
  private at = 0;

  /** Bytes written so far. */
  get length(): number {
    return this.at;
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.at + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.at));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }

  u8(b: number): void {
    this.room(1);
    this.buf[this.at++] = b;
  }

  uint(n: number): void {
    this.room(10);
    while (n >= 0x80) {
      this.buf[this.at++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.at++] = n;
  }

  raw(bytes: Uint8Array): void {
    this.uint(bytes.length);
    this.room(bytes.length);
    this.buf.set(bytes, this.at);
    this.at += bytes.length;
  }

  /** A length-prefixed UTF-8 string; ASCII (every name and most texts) without an encoder call. */
  str(s: string): void {
    const n = s.length;
    if (n < 128) {
      this.room(n + 1);
      const start = this.at;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        this.buf[start + 1 + i] = c;
      }
      if (i === n) {
        this.buf[start] = n;
        this.at = start + 1 + n;
        return;
      }
    }
    this.raw(utf8.encode(s));
  }

  /** A u64 as LEB128 (1–10 bytes): most counters and ids are far below 2^64. */
  uvar(v: bigint): void {
    if (v < 0x20000000000000n) {
      this.uint(Number(v));
      return;
    }
    this.room(10);
    while (v >= 0x80n) {
      this.buf[this.at++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.at++] = Number(v);
  }

  u64le(v: bigint): void {
    this.room(8);
    this.view.setBigUint64(this.at, BigInt.asUintN(64, v), true);
    this.at += 8;
  }

  /** Appends another writer's bytes. */
  append(other: PackedWriter): void {
    this.room(other.at);
    this.buf.set(other.buf.subarray(0, other.at), this.at);
    this.at += other.at;
  }

  /** A copy of what was written. */
  bytes(): Uint8Array {
    return this.buf.slice(0, this.at);
  }
}

function writeId(w: PackedWriter, id: Id): void {
  w.u8(ID_CODE[id.kind]);
  w.str(id.text);
}

/** Writes a name. */
export function writeName(w: PackedWriter, n: Name): void {
  if (n.domain === CEP || idEquals(n.domain, CEP)) {
    w.u8(0);
  } else {
    w.u8(1);
    writeId(w, n.domain);
  }
  writeId(w, n.tag);
}

function writeValue(w: PackedWriter, v: Value): void {
  switch (v.type) {
    case 'text':
      w.str(v.value);
      return;
    case 'u64':
      w.uvar(v.value);
      return;
    case 'i64':
      w.u64le(v.value);
      return;
    case 'bool':
      w.u8(v.value ? 1 : 0);
      return;
    case 'bytes':
      w.raw(v.value);
      return;
    case 'raw':
      writeName(w, v.dataType);
      w.raw(v.value);
      return;
  }
}

/** A cell's head byte and its name (`extra`: the value type, or 1 for a store with a store type). */
function writeHead(w: PackedWriter, kind: Cell['kind'], as: Name, extra: number): void {
  const own = as.domain !== CEP && !idEquals(as.domain, CEP);
  w.u8(KIND_CODE[kind] | (own ? 4 : 0) | (ID_CODE[as.tag.kind] << 3) | (extra << 5));
  if (own) writeId(w, as.domain);
  w.str(as.tag.text);
}

/** A store's type (its head said it has one). */
function writeStoreType(w: PackedWriter, storeType: Name | undefined): void {
  if (storeType !== undefined) writeName(w, storeType);
}

/** Writes `cell`'s live branch under the name `as`; returns the cells written. */
export function writeCell(w: PackedWriter, cell: Cell, as: Name = cell.name): number {
  switch (cell.kind) {
    case 'value':
      writeHead(w, 'value', as, VALUE_CODE[cell.value!.type]);
      writeValue(w, cell.value!);
      return 1;
    case 'link': {
      writeHead(w, 'link', as, 0);
      const target = cell.linkTarget ?? [];
      w.uint(target.length);
      for (const n of target) writeName(w, n);
      return 1;
    }
    default: {
      writeHead(w, cell.kind, as, cell.storeType === undefined ? 0 : 1);
      writeStoreType(w, cell.storeType);
      const children = cell.children();
      let live = 0;
      for (const c of children) if (!c.isDeleted) live++;
      w.uint(live);
      let n = 1;
      for (const c of children) if (!c.isDeleted) n += writeCell(w, c);
      return n;
    }
  }
}

/**
 * A store shell (`cell`'s kind and store type) named `as` around children already written in
 * `children` (`count` of them): the `vb` of an `add` op built a run at a time.
 */
export function packShell(as: Name, cell: Cell, count: number, children: PackedWriter): Uint8Array {
  const w = new PackedWriter();
  w.u8(VERSION);
  writeHead(w, cell.kind, as, cell.storeType === undefined ? 0 : 1);
  writeStoreType(w, cell.storeType);
  w.uint(count);
  w.append(children);
  return w.bytes();
}

/** `cell`'s live branch named `as`, packed. */
export function packCell(cell: Cell, as: Name): Uint8Array {
  const w = new PackedWriter();
  w.u8(VERSION);
  writeCell(w, cell, as);
  return w.bytes();
}

/** Why a packed value could not be read (the receiver turns it into a note; nothing is applied). */
export class PackedFormError extends Error {}

/**
 * Names of the CEP domain seen while reading, per id kind by their text: a part repeats the
 * same few names thousands of times. Names of other domains are rare and built each time.
 */
const nameCache: ReadonlyArray<Map<string, Name>> = [new Map(), new Map(), new Map(), new Map()];
const NAME_CACHE_LIMIT = 1 << 14;

class Reader {
  private at = 0;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get done(): boolean {
    return this.at === this.buf.length;
  }

  u8(): number {
    if (this.at >= this.buf.length) throw new PackedFormError('packed value ends early');
    return this.buf[this.at++]!;
  }

  uint(): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 128;
    }
    throw new PackedFormError('packed value has an overlong length');
  }

  take(n: number): Uint8Array {
    if (n > this.buf.length - this.at) throw new PackedFormError('packed value ends early');
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  str(): string {
    const n = this.uint();
    const start = this.at;
    if (n > this.buf.length - start) throw new PackedFormError('packed value ends early');
    this.at = start + n;
    if (n < 64) {
      // Short ASCII (names, most texts) read in place: no subarray, no decoder call.
      const buf = this.buf;
      let s = '';
      let i = start;
      for (; i < start + n; i++) {
        const c = buf[i]!;
        if (c >= 0x80) break;
        s += String.fromCharCode(c);
      }
      if (i === start + n) return s;
    }
    try {
      return utf8Strict.decode(this.buf.subarray(start, start + n));
    } catch {
      throw new PackedFormError('packed text is not valid UTF-8');
    }
  }

  /** A LEB128 u64 (at most 10 bytes, below 2^64). */
  uvar(): bigint {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 7; i++) {
      const b = this.u8();
      n += (b & 0x7f) * scale;
      if (b < 0x80) return BigInt(n);
      scale *= 128;
    }
    // Past 49 bits: go on in bigint.
    let big = BigInt(n);
    let shift = 49n;
    for (let i = 7; i < 10; i++) {
      const b = this.u8();
      big |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) {
        if (big >> 64n !== 0n) throw new PackedFormError('a u64 value is 2^64 or more');
        return big;
      }
      shift += 7n;
    }
    throw new PackedFormError('a u64 value runs past 10 bytes');
  }

  u64le(): bigint {
    const at = this.at;
    this.take(8);
    return this.view.getBigUint64(at, true);
  }
}

function readId(r: Reader): Id {
  const kind = r.u8();
  return makeId(kind, r.str());
}

/** The id of `kind` with canonical `text`, checked as the tree's constructors check it. */
function makeId(kind: number, text: string): Id {
  let id: Id;
  try {
    switch (kind) {
      case ID_CODE.word:
        id = wordId(text);
        break;
      case ID_CODE.acronym:
        id = acronymId(text);
        break;
      case ID_CODE.reference:
        id = referenceId(text);
        break;
      case ID_CODE.numeric:
        if (!/^[0-9]{1,20}$/.test(text)) throw new PackedFormError(`numeric name ${JSON.stringify(text)} is not decimal`);
        id = numericId(BigInt(text));
        break;
      default:
        throw new PackedFormError(`unknown name kind ${kind}`);
    }
  } catch (error) {
    if (error instanceof PackedFormError) throw error;
    throw new PackedFormError(`bad name: ${(error as Error).message}`);
  }
  if (id.text !== text) throw new PackedFormError(`name ${JSON.stringify(text)} is not in canonical form`);
  return id;
}

function readName(r: Reader): Name {
  const scope = r.u8();
  if (scope > 1) throw new PackedFormError(`unknown name scope ${scope}`);
  if (scope === 1) {
    const domain = readId(r);
    return name(readId(r), domain);
  }
  return cepName(r.u8(), r.str());
}

/** The name in a cell's head: its own domain (bit 2) or CEP, and the tag's kind (bits 3-4). */
function readHeadName(r: Reader, head: number): Name {
  const tagKind = (head >> 3) & 3;
  if ((head & 4) !== 0) {
    const domain = readId(r);
    return name(makeId(tagKind, r.str()), domain);
  }
  return cepName(tagKind, r.str());
}

/** A CEP-domain name from its tag's kind and text, through the cache. */
function cepName(tagKind: number, tagText: string): Name {
  const cache = nameCache[tagKind];
  let found = cache?.get(tagText);
  if (found === undefined) {
    found = name(makeId(tagKind, tagText));
    if (cache!.size >= NAME_CACHE_LIMIT) cache!.clear();
    cache!.set(tagText, found);
  }
  return found;
}

function readValue(r: Reader, type: number): Value {
  switch (type) {
    case VALUE_CODE.text:
      return { type: 'text', value: r.str() };
    case VALUE_CODE.u64:
      return { type: 'u64', value: r.uvar() };
    case VALUE_CODE.i64:
      return { type: 'i64', value: BigInt.asIntN(64, r.u64le()) };
    case VALUE_CODE.bool: {
      const b = r.u8();
      if (b > 1) throw new PackedFormError('a bool is 0 or 1');
      return { type: 'bool', value: b === 1 };
    }
    case VALUE_CODE.bytes:
      return { type: 'bytes', value: r.take(r.uint()).slice() };
    case VALUE_CODE.raw: {
      const dataType = readName(r);
      return { type: 'raw', dataType, value: r.take(r.uint()).slice() };
    }
    default:
      throw new PackedFormError(`unknown value type ${type}`);
  }
}

const NO_CHILDREN: readonly StagedCell[] = Object.freeze([]);

function readCell(r: Reader, depth: number): StagedCell {
  if (depth > 256) throw new PackedFormError('packed value nests deeper than 256 levels');
  const head = r.u8();
  const kind = KINDS[head & 3]!;
  const extra = head >> 5;
  const n = readHeadName(r, head);
  switch (kind) {
    case 'value':
      return { name: n, kind, value: readValue(r, extra), deleted: false, children: NO_CHILDREN };
    case 'link': {
      if (extra !== 0) throw new PackedFormError('bad link head');
      const count = r.uint();
      const target: Name[] = [];
      for (let i = 0; i < count; i++) target.push(readName(r));
      return { name: n, kind, linkTarget: target, deleted: false, children: NO_CHILDREN };
    }
    default: {
      if (extra > 1) throw new PackedFormError('bad store head');
      const storeType = extra === 1 ? readName(r) : undefined;
      const count = r.uint();
      const children: StagedCell[] = [];
      for (let i = 0; i < count; i++) children.push(readCell(r, depth + 1));
      return storeType === undefined ? { name: n, kind, deleted: false, children } : { name: n, kind, storeType, deleted: false, children };
    }
  }
}

/** Reads a packed value back into the staged branch it stands for; throws {@link PackedFormError}. */
export function unpackCell(bytes: Uint8Array): StagedCell {
  const r = new Reader(bytes);
  const version = r.u8();
  if (version !== VERSION) throw new PackedFormError(`packed form version ${version} is not ${VERSION}`);
  const cell = readCell(r, 0);
  if (!r.done) throw new PackedFormError('packed value has bytes after its cell');
  return cell;
}
