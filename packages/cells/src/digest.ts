/**
 * A deterministic digest of a branch: SHA-256 over a canonical pre-order encoding of the
 * live cells below (and including the content of) the given cell.
 *
 * Covered: names (kind and text of domain and tag), cell kinds, values in their byte
 * form with their data type, store types, link targets, child order. Not covered: beat
 * stamps, history, soft-deleted cells (the digest is of the live view, so a branch that
 * deleted a cell equals one that never had it), the name of the cell itself (so a branch
 * mirrored under another name compares equal), and anything process-local.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Cell } from './cell.ts';
import type { Id } from './ids.ts';
import type { Name } from './names.ts';
import { DATA_TYPES, valueToData } from './values.ts';

const KIND_BYTE = { value: 0x56, dictionary: 0x44, list: 0x4c, link: 0x4b } as const; // V D L K
const ID_KIND_BYTE = { word: 0, acronym: 1, reference: 2, numeric: 3 } as const;
const CHUNK = 64 * 1024;
const utf8 = new TextEncoder();
/** Ids are immutable, so their encoded text can be kept beside them. */
const idBytes = new WeakMap<Id, Uint8Array>();

/**
 * The 64 KiB staging buffer, shared by every digest: digests run synchronously and never nest,
 * so one buffer serves them all (a fresh zeroed 64 KiB per digest cost more than hashing a small
 * branch). A writer that finds it taken (it never should) allocates its own.
 */
let shared: Uint8Array | undefined = new Uint8Array(CHUNK);

/** Accumulates the canonical encoding and feeds it to the hash in 64 KiB pieces. */
class DigestWriter {
  private buffer: Uint8Array;
  private view: DataView;
  private length = 0;
  private readonly borrowed: Uint8Array | undefined;
  constructor(private readonly hash: Hash) {
    this.borrowed = shared;
    shared = undefined;
    this.buffer = this.borrowed ?? new Uint8Array(CHUNK);
    this.view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
  }

  /** Gives the shared buffer back (after the last flush). */
  release(): void {
    if (this.borrowed !== undefined) shared = this.borrowed;
  }

  private room(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    this.flush();
    if (bytes > this.buffer.length) {
      this.buffer = new Uint8Array(bytes);
      this.view = new DataView(this.buffer.buffer);
    }
  }

  byte(value: number): void {
    this.room(1);
    this.buffer[this.length++] = value;
  }

  u32(value: number): void {
    this.room(4);
    this.view.setUint32(this.length, value, false);
    this.length += 4;
  }

  bytes(data: Uint8Array): void {
    this.u32(data.length);
    if (data.length > CHUNK) {
      this.flush();
      this.hash.update(data);
      return;
    }
    this.room(data.length);
    this.buffer.set(data, this.length);
    this.length += data.length;
  }

  /** A length-prefixed UTF-8 text plus the NUL the reference stores (the text value's byte form). */
  nulText(value: string): void {
    const most = value.length * 3 + 1;
    if (most > CHUNK) {
      const encoded = utf8.encode(value);
      const withNul = new Uint8Array(encoded.length + 1);
      withNul.set(encoded);
      this.bytes(withNul);
      return;
    }
    this.room(4 + most);
    const at = this.length;
    const { written } = utf8.encodeInto(value, this.buffer.subarray(at + 4));
    this.view.setUint32(at, written + 1, false);
    this.buffer[at + 4 + written] = 0;
    this.length = at + 4 + written + 1;
  }

  /** An identifier's text, encoded once per identifier. */
  idText(value: Id): void {
    let encoded = idBytes.get(value);
    if (encoded === undefined) {
      encoded = utf8.encode(value.text);
      idBytes.set(value, encoded);
    }
    this.bytes(encoded);
  }

  flush(): void {
    if (this.length > 0) this.hash.update(this.buffer.subarray(0, this.length));
    this.length = 0;
  }
}

function writeId(out: DigestWriter, value: Id): void {
  out.byte(ID_KIND_BYTE[value.kind]);
  out.idText(value);
}

function writeName(out: DigestWriter, value: Name): void {
  writeId(out, value.domain);
  writeId(out, value.tag);
}

function writeContent(out: DigestWriter, cell: Cell): void {
  out.byte(KIND_BYTE[cell.kind]);
  const value = cell.value;
  if (value !== undefined) {
    out.byte(1);
    if (value.type === 'text') {
      // Same bytes as valueToData, without allocating them.
      writeName(out, DATA_TYPES.text);
      out.nulText(value.value);
    } else {
      const data = valueToData(value);
      writeName(out, data.dataType);
      out.bytes(data.bytes);
    }
  } else {
    out.byte(0);
  }
  if (cell.storeType !== undefined) {
    out.byte(1);
    writeName(out, cell.storeType);
  } else {
    out.byte(0);
  }
  if (cell.linkTarget !== undefined) {
    out.u32(cell.linkTarget.length);
    for (const segment of cell.linkTarget) writeName(out, segment);
  }
  const children = cell.children();
  let live = 0;
  for (const child of children) if (!child.isDeleted) live++;
  out.u32(live);
  for (const child of children) {
    if (child.isDeleted) continue;
    writeName(out, child.name);
    writeContent(out, child);
  }
}

/** The 32-byte digest of `cell`'s live branch (see the module comment for what it covers). */
export function digest(cell: Cell): Uint8Array {
  const hash = createHash('sha256');
  const out = new DigestWriter(hash);
  try {
    out.byte(0x01); // encoding version
    writeContent(out, cell);
    out.flush();
  } finally {
    out.release();
  }
  return new Uint8Array(hash.digest());
}

/** {@link digest} as lowercase hex. */
export function digestHex(cell: Cell): string {
  return Buffer.from(digest(cell)).toString('hex');
}
