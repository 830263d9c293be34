/**
 * The packed form of an op's content (`vb`, a `bytes` value in place of the `v` branch).
 *
 * Why: the serializer writes a record per cell (descriptor, manifest entry, fingerprint, a
 * Merkle leaf, and with AEAD one sealed payload per value), about 200 bytes and tens of µs of
 * CPU per cell on both sides. A mirror part only needs each cell's name, kind, store type,
 * value and link target, so a run of cells travels as one value in this form: the frame
 * still checks and seals it as a whole (crc, Merkle root, AEAD), once instead of per cell.
 * The source uses it only when the receiver's `sub` says it reads it (`packed`). This module
 * writes it; `compact-read.ts` reads it.
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
import { CEP, idEquals, type Cell, type Id, type Name, type Value } from '@cep/cells';

/** The layout's version, the first byte of every packed value. */
export const VERSION = 1;
export const KIND_CODE = { value: 0, dictionary: 1, list: 2, link: 3 } as const;
export const KINDS = ['value', 'dictionary', 'list', 'link'] as const;
export const ID_CODE = { word: 0, acronym: 1, reference: 2, numeric: 3 } as const;
export const VALUE_CODE = { text: 0, u64: 1, i64: 2, bool: 3, bytes: 4, raw: 5 } as const;

const utf8 = new TextEncoder();

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

  /**
   * A value cell of the CEP domain whose tag and text value are short ASCII, or whose u64 value is
   * below 2^53 (most cells of a snapshot): the head byte `head`, the tag and the value written in
   * place after one room check. False, with nothing written, for any other cell.
   */
  shortCell(head: number, tag: string, value: Value): boolean {
    const t = tag.length;
    let most: number;
    if (value.type === 'text') most = value.value.length + 1;
    else if (value.type === 'u64' && value.value < 0x20000000000000n) most = 8;
    else return false;
    if (t >= 128 || most > 128) return false;
    this.room(2 + t + most);
    const buf = this.buf;
    let at = this.at;
    buf[at++] = head;
    buf[at++] = t;
    for (let i = 0; i < t; i++) {
      const c = tag.charCodeAt(i);
      if (c >= 0x80) return false;
      buf[at++] = c;
    }
    if (value.type === 'text') {
      const text = value.value;
      buf[at++] = text.length;
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c >= 0x80) return false;
        buf[at++] = c;
      }
    } else {
      let n = Number(value.value);
      while (n >= 0x80) {
        buf[at++] = (n & 0x7f) | 0x80;
        n = Math.floor(n / 128);
      }
      buf[at++] = n;
    }
    // Only now is the cell part of what was written.
    this.at = at;
    return true;
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
    case 'value': {
      const value = cell.value!;
      // Most cells: a CEP name and a short value, written in one step.
      if (as.domain === CEP && w.shortCell((ID_CODE[as.tag.kind] << 3) | (VALUE_CODE[value.type] << 5), as.tag.text, value)) return 1;
      writeHead(w, 'value', as, VALUE_CODE[value.type]);
      writeValue(w, value);
      return 1;
    }
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
      for (let i = 0; i < children.length; i++) if (children[i]!.deleted === undefined) live++;
      w.uint(live);
      let n = 1;
      for (let i = 0; i < children.length; i++) {
        const c = children[i]!;
        if (c.deleted === undefined) n += writeCell(w, c);
      }
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
