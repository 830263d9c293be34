/**
 * Reading the packed form of op content (`vb`) back into the staged branch it stands for. The
 * layout is described in `compact.ts`, which writes it. Every id goes through the tree's
 * constructors, and anything malformed is a {@link PackedFormError}: the receiver turns the
 * frame into a note and applies nothing of it.
 */
import { acronymId, name, numericId, referenceId, wordId, type Id, type Name, type Value } from '@cep/cells';
import type { StagedCell } from '@cep/serializer';
import { ID_CODE, KIND_CODE, VALUE_CODE, VERSION } from './compact.ts';

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** Why a packed value could not be read (the receiver turns it into a note; nothing is applied). */
export class PackedFormError extends Error {}

/**
 * Names of the CEP domain seen while reading, per id kind: a part repeats the same few names
 * thousands of times. Short tags (up to {@link SHORT_TAG} bytes, all of the bench's and most
 * of a tree's) are looked up by a number made of their bytes, so a name seen before costs no
 * string; longer ones by their text. Names of other domains are rare and built each time.
 */
const shortNames: ReadonlyArray<Map<number, Name>> = [new Map(), new Map(), new Map(), new Map()];
const longNames: ReadonlyArray<Map<string, Name>> = [new Map(), new Map(), new Map(), new Map()];
const NAME_CACHE_LIMIT = 1 << 14;
/** Up to 6 bytes and their count make a number below 2^51: exact as a double, one per byte string. */
const SHORT_TAG = 6;
/** Below this length V8 copies a substring; from it on the substring would keep the whole part's text alive. */
const SLICE_MIN = 13;

/** Reads one packed value: a cursor over its bytes, with the bytes as one Latin-1 string for ASCII texts. */
class Reader {
  at = 0;
  private view: DataView | undefined;
  private latin: string | undefined;

  constructor(readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.at === this.buf.length;
  }

  u8(): number {
    if (this.at >= this.buf.length) throw new PackedFormError('packed value ends early');
    return this.buf[this.at++]!;
  }

  uint(): number {
    const buf = this.buf;
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.at >= buf.length) throw new PackedFormError('packed value ends early');
      const b = buf[this.at++]!;
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

  /** The start of a length-prefixed string, its length checked against what is left; the cursor moves past it. */
  private span(): number {
    const n = this.uint();
    const start = this.at;
    if (n > this.buf.length - start) throw new PackedFormError('packed value ends early');
    this.at = start + n;
    return start;
  }

  /** A length-prefixed UTF-8 string. */
  str(): string {
    const start = this.span();
    return this.text(start, this.at);
  }

  /** The UTF-8 text of bytes `start..end` (checked). */
  text(start: number, end: number): string {
    const buf = this.buf;
    let i = start;
    while (i < end && buf[i]! < 0x80) i++;
    if (i === end && end - start < SLICE_MIN) {
      // ASCII, short: a copy out of the part's bytes read as Latin-1 once (no decoder call, no concatenation).
      this.latin ??= Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('latin1');
      return this.latin.substring(start, end);
    }
    try {
      return utf8Strict.decode(buf.subarray(start, end));
    } catch {
      throw new PackedFormError('packed text is not valid UTF-8');
    }
  }

  /** A CEP-domain name from its tag's kind and the tag's length-prefixed text, through the caches. */
  cepName(tagKind: number): Name {
    const start = this.span();
    const end = this.at;
    const length = end - start;
    if (length <= SHORT_TAG) {
      const buf = this.buf;
      let key = length;
      for (let i = start; i < end; i++) key = key * 256 + buf[i]!;
      const cache = shortNames[tagKind];
      if (cache === undefined) throw new PackedFormError(`unknown name kind ${tagKind}`);
      let found = cache.get(key);
      if (found === undefined) {
        found = name(makeId(tagKind, this.text(start, end)));
        if (cache.size >= NAME_CACHE_LIMIT) cache.clear();
        cache.set(key, found);
      }
      return found;
    }
    const text = this.text(start, end);
    const cache = longNames[tagKind];
    if (cache === undefined) throw new PackedFormError(`unknown name kind ${tagKind}`);
    let found = cache.get(text);
    if (found === undefined) {
      found = name(makeId(tagKind, text));
      if (cache.size >= NAME_CACHE_LIMIT) cache.clear();
      cache.set(text, found);
    }
    return found;
  }

  /** A LEB128 u64 (at most 10 bytes, below 2^64). */
  uvar(): bigint {
    const buf = this.buf;
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 7; i++) {
      if (this.at >= buf.length) throw new PackedFormError('packed value ends early');
      const b = buf[this.at++]!;
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
    this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
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
  return r.cepName(r.u8());
}

/** The name in a cell's head: its own domain (bit 2) or CEP, and the tag's kind (bits 3-4). */
function readHeadName(r: Reader, head: number): Name {
  const tagKind = (head >> 3) & 3;
  if ((head & 4) !== 0) {
    const domain = readId(r);
    return name(makeId(tagKind, r.str()), domain);
  }
  return r.cepName(tagKind);
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
/** The fewest bytes a cell takes (a head byte and its tag's length): a store's count is checked against it before its children are read. */
const MIN_CELL_BYTES = 2;

function readCell(r: Reader, depth: number): StagedCell {
  if (depth > 256) throw new PackedFormError('packed value nests deeper than 256 levels');
  const head = r.u8();
  const code = head & 3;
  const extra = head >> 5;
  const n = readHeadName(r, head);
  switch (code) {
    case KIND_CODE.value:
      return { name: n, kind: 'value', value: readValue(r, extra), deleted: false, children: NO_CHILDREN };
    case KIND_CODE.link: {
      if (extra !== 0) throw new PackedFormError('bad link head');
      const count = r.uint();
      const target: Name[] = [];
      for (let i = 0; i < count; i++) target.push(readName(r));
      return { name: n, kind: 'link', linkTarget: target, deleted: false, children: NO_CHILDREN };
    }
    default: {
      if (extra > 1) throw new PackedFormError('bad store head');
      const kind = code === KIND_CODE.list ? 'list' : 'dictionary';
      const storeType = extra === 1 ? readName(r) : undefined;
      const count = r.uint();
      // A count the bytes left cannot hold is refused before an array of that size is made.
      if (count * MIN_CELL_BYTES > r.buf.length - r.at) throw new PackedFormError('packed value ends early');
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
