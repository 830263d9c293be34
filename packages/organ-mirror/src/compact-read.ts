/**
 * Reading the packed form of op content (`vb`) back into the staged branch it stands for. The
 * layout is described in `compact.ts`, which writes it. Every id goes through the tree's
 * constructors, and anything malformed is a {@link PackedFormError}: the receiver turns the
 * frame into a note and applies nothing of it.
 */
import { acronymId, name, numericId, referenceId, wordId, type Id, type Name, type Value } from '@cep/cells';
import type { StagedCell } from '@cep/serializer';
import { ID_CODE, KINDS, VALUE_CODE, VERSION } from './compact.ts';

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

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
