/**
 * Names on the wire: 17 bytes (domain u64 LE, tag u64 LE, glob byte) carrying the
 * reference's 58-bit codes. References have no portable code, so each frame numbers
 * its own and ships their text in `namepool_delta` records.
 */
import { acronymId, idFromCode, name, referenceId, type Id, type Name } from '@cep/cells';
import { isCepError } from '@cep/errors';
import type { ByteReader, ByteWriter } from './bytes.ts';
import { serializerError } from './errors.ts';
import { SlotIndex } from './slot-index.ts';
import { WireNames } from './wire-names.ts';

const REFERENCE_KIND = 2n << 56n;
/** The reference allocates interned ids from page 1 slot 1: 0x1001, 0x1002, … */
const FIRST_LOCAL = 0x1001n;

/** Wire bytes of names without references, by name key: a pure function, bounded like CODE_MEMO. */
const PURE_NAMES = new Map<string, Uint8Array>();
const PURE_NAMES_LIMIT = 1 << 16;

/**
 * Wire bytes of names with a reference, by name key, with the frame-local codes they were
 * encoded with (see {@link NameTableWriter.nameBytes}); bounded like {@link PURE_NAMES}.
 */
const REFERENCE_NAMES = new Map<string, { readonly domain: bigint; readonly tag: bigint; readonly bytes: Uint8Array }>();

/** The 17 wire bytes of a name whose domain and tag codes are known. */
function encodeName(domain: bigint, tag: bigint, n: Name): Uint8Array {
  const bytes = new Uint8Array(17);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, domain, true);
  view.setBigUint64(8, tag, true);
  bytes[16] = n.tag.glob || n.domain.glob ? 1 : 0;
  return bytes;
}

const NO_BYTES = new Uint8Array(0);

/** Whether `n` holds no reference (its wire bytes are the same in every frame; asking for them registers nothing). */
export function hasNoReference(n: Name): boolean {
  return n.domain.code !== undefined && n.tag.code !== undefined;
}

/** Frame-local reference ids by their place in a table (0 is FIRST_LOCAL), made once: a frame's few ids allocate no BigInt. */
const LOCAL_IDS: bigint[] = [];
const LOCAL_IDS_KEPT = 4096;

function localId(slot: number): bigint {
  if (slot >= LOCAL_IDS_KEPT) return REFERENCE_KIND | (FIRST_LOCAL + BigInt(slot));
  return (LOCAL_IDS[slot] ??= REFERENCE_KIND | (FIRST_LOCAL + BigInt(slot)));
}

/** Assigns frame-local ids to reference names while a frame is written. */
export class NameTableWriter {
  // Texts in id order: ids are handed out in increasing order as texts are first seen.
  private readonly ids = new SlotIndex();

  code(value: Id): bigint {
    if (value.code !== undefined) return value.code;
    let slot = this.ids.get(value.text);
    if (slot < 0) slot = this.ids.add(value.text);
    return localId(slot);
  }

  writeName(out: ByteWriter, n: Name): void {
    out.bytes(this.nameBytes(n));
  }

  /** Wire bytes of this frame's names holding a reference, by name key (slots of {@link encodedBytes}). */
  private readonly encoded = new SlotIndex();
  private readonly encodedBytes: Uint8Array[] = [];

  /**
   * The 17 wire bytes of a name (shared: callers copy them, never write into them). A name
   * of words, acronyms and numbers encodes the same in every frame and is kept process-wide;
   * one holding a reference is encoded once per frame, when its frame-local id is assigned
   * (the order of those calls is part of the output).
   */
  nameBytes(n: Name): Uint8Array {
    // The last two names asked for, by identity: a branch of records asks for its few data
    // types once per value, alternating (text, u64, …), and a map lookup by key each time was
    // ~2% of encoding the 10,000-value branch.
    if (n === this.recent0) return this.recentBytes0;
    if (n === this.recent1) return this.recentBytes1;
    const bytes = this.lookUp(n);
    this.recent1 = this.recent0;
    this.recentBytes1 = this.recentBytes0;
    this.recent0 = n;
    this.recentBytes0 = bytes;
    return bytes;
  }

  private recent0: Name | undefined;
  private recent1: Name | undefined;
  private recentBytes0: Uint8Array = NO_BYTES;
  private recentBytes1: Uint8Array = NO_BYTES;

  private lookUp(n: Name): Uint8Array {
    if (hasNoReference(n)) {
      let bytes = PURE_NAMES.get(n.key);
      if (bytes === undefined) {
        bytes = encodeName(this.code(n.domain), this.code(n.tag), n);
        if (PURE_NAMES.size >= PURE_NAMES_LIMIT) PURE_NAMES.clear();
        PURE_NAMES.set(n.key, bytes);
      }
      return bytes;
    }
    const slot = this.encoded.get(n.key);
    if (slot >= 0) return this.encodedBytes[slot]!;
    const domain = this.code(n.domain);
    const tag = this.code(n.tag);
    // A name with a reference encodes to the same bytes in every frame that numbers its
    // references alike (most frames of one kind do): those are kept, by name, with the codes
    // they carry, and reused when this frame's codes are the same, instead of encoded again.
    let bytes: Uint8Array;
    const seen = REFERENCE_NAMES.get(n.key);
    if (seen !== undefined && seen.domain === domain && seen.tag === tag) bytes = seen.bytes;
    else {
      bytes = encodeName(domain, tag, n);
      if (REFERENCE_NAMES.size >= PURE_NAMES_LIMIT) REFERENCE_NAMES.clear();
      REFERENCE_NAMES.set(n.key, { domain, tag, bytes });
    }
    this.encodedBytes[this.encoded.add(n.key)] = bytes;
    return bytes;
  }

  /** Forgets the frame's references, for the next frame (the branch writer is reused: BranchWriter.take). */
  reset(): void {
    this.ids.clear();
    this.encoded.clear();
    this.recent0 = this.recent1 = undefined;
    this.recentBytes0 = this.recentBytes1 = NO_BYTES;
  }

  /** The text of the table's entry `i` (< {@link size}; entries in id order, the reference's emission order). */
  textAt(i: number): string {
    return this.ids.keyAt(i);
  }

  /** The id of the table's entry `i` (< {@link size}). */
  idAt(i: number): bigint {
    return localId(i);
  }

  get size(): number {
    return this.ids.size;
  }
}

/** Resolves wire codes back to names once the frame's name table has been read. */
export class NameTableReader {
  // Made on first use: most small frames carry one reference name or none, and a decode
  // used to pay for four empty maps before reading a byte.
  private texts: Map<bigint, string> | undefined;

  add(id: bigint, text: string): void {
    if (id >> 56n !== 2n) throw serializerError('NAME_INVALID', `name table entry 0x${id.toString(16)} is not a reference id`);
    this.texts ??= new Map();
    const existing = this.texts.get(id);
    if (existing !== undefined && existing !== text)
      throw serializerError('FRAME_DUPLICATE_RECORD', `name table lists id 0x${id.toString(16)} twice with different texts`);
    this.texts.set(id, text);
  }

  /** Reference ids already resolved in this frame (their numbers are local to it). */
  private references: Map<bigint, Id> | undefined;

  id(code: bigint): Id {
    if (code >> 56n !== 2n) return idOfCode(code);
    this.references ??= new Map();
    let found = this.references.get(code);
    if (found === undefined) {
      const text = this.texts?.get(code);
      if (text === undefined) throw serializerError('NAME_UNRESOLVED', `reference name 0x${code.toString(16)} is not in the frame's name table`, { code });
      found = referenceOf(text);
      this.references.set(code, found);
    }
    return found;
  }

  /** Names holding a reference already read in this frame, by their 16 code bytes. */
  private byWire: WireNames | undefined;

  /** How many names holding a reference this reader remembers (a reader kept across frames is bounded by it). */
  get rememberedReferences(): number {
    return this.byWire?.size ?? 0;
  }

  readName(r: ByteReader): Name {
    // A frame repeats a few names many times (every path key starts with the same ones):
    // a repeat costs a table lookup instead of two BigInt reads, two id lookups and a new
    // Name. A name without a reference decodes the same in every frame, so it is looked up
    // in a process-wide table first; one with a reference (a frame-local number) in this
    // frame's. Short input and bad glob bytes take the exact path below.
    const d = r.data;
    const at = r.offset;
    if (r.end - at >= 17 && d[at + 16]! <= 1) {
      // The top byte of each little-endian u64 code holds its kind: 2 is a reference.
      const pure = d[at + 7] !== 2 && d[at + 15] !== 2;
      const table = pure ? PURE_WIRE : (this.byWire ??= new WireNames());
      const known = table.get(d, at);
      if (known !== undefined) {
        r.offset = at + 17;
        return known;
      }
      const n = this.readNameExact(r);
      if (pure && PURE_WIRE.size >= PURE_WIRE_LIMIT) PURE_WIRE.clear();
      table.set(d, at, n);
      return n;
    }
    return this.readNameExact(r);
  }

  private readNameExact(r: ByteReader): Name {
    const domain = r.u64();
    const tag = r.u64();
    const glob = r.u8();
    if (glob > 1) throw serializerError('NAME_INVALID', `glob byte ${glob} is not 0 or 1`);
    return nameOf(this.id(tag), this.id(domain));
  }
}

/**
 * Names of words, acronyms and numbers by their 16 wire code bytes, process-wide (a pure
 * function of the bytes, bounded like {@link CODE_MEMO}): a small frame no longer decodes
 * its few names from scratch, which was a third of staging a 2-cell branch.
 */
const PURE_WIRE = new WireNames();
const PURE_WIRE_LIMIT = 1 << 16;

/**
 * Ids of words, acronyms and numbers are pure functions of their code, and frames of one
 * schema carry the same few thousand again and again: decoding one costs dozens of BigInt
 * operations, so results are remembered process-wide (bounded, like @cep/cells' own name
 * memo). References never come here: their numbers are local to a frame.
 */
const CODE_MEMO = new Map<bigint, Id>();
const CODE_MEMO_LIMIT = 1 << 16;

function idOfCode(code: bigint): Id {
  let found = CODE_MEMO.get(code);
  if (found === undefined) {
    found = wrapNameError(() => idFromCode(code));
    if (CODE_MEMO.size >= CODE_MEMO_LIMIT) CODE_MEMO.clear();
    CODE_MEMO.set(code, found);
  }
  return found;
}

/**
 * Reference ids by text, process-wide (bounded): a frame numbers its references afresh, but
 * peers send the same few texts in every frame, and an id is a pure function of its text.
 */
const REFERENCE_MEMO = new Map<string, Id>();

function referenceOf(text: string): Id {
  let found = REFERENCE_MEMO.get(text);
  if (found === undefined) {
    found = wrapNameError(() => referenceId(text));
    if (REFERENCE_MEMO.size >= CODE_MEMO_LIMIT) REFERENCE_MEMO.clear();
    REFERENCE_MEMO.set(text, found);
  }
  return found;
}

/**
 * Names by their two ids, process-wide (bounded): ids come from the memos above, so the same
 * name read in another frame finds the same objects, and is not built and frozen again.
 */
const NAME_MEMO = new Map<Id, Map<Id, Name>>();
let nameMemoSize = 0;

function nameOf(tag: Id, domain: Id): Name {
  let byTag = NAME_MEMO.get(domain);
  let found = byTag?.get(tag);
  if (found === undefined) {
    found = name(tag, domain);
    if (nameMemoSize >= CODE_MEMO_LIMIT) {
      NAME_MEMO.clear();
      nameMemoSize = 0;
      byTag = undefined;
    }
    if (byTag === undefined) NAME_MEMO.set(domain, (byTag = new Map()));
    byTag.set(tag, found);
    nameMemoSize++;
  }
  return found;
}

function wrapNameError(fn: () => Id): Id {
  try {
    return fn();
  } catch (error) {
    if (isCepError(error)) throw serializerError('NAME_INVALID', `a name on the wire is invalid: ${error.message}`, { cause: error.code });
    throw error;
  }
}

/** The root segment `CEP:/` every path key starts with. */
export const ROOT_NAME: Name = name(acronymId('/'));
