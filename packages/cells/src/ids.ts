/**
 * CEP identifiers: the 58-bit name field of the reference kernel.
 *
 * Bits 57..56 say the kind (word, acronym, reference, numeric) and bits 55..0 carry
 * the payload. Words, acronyms and numerics are self-contained values and travel as
 * their 58-bit code. References are interned text whose number is local to one
 * runtime, so here a reference is identified by its text and has no code: anything
 * that crosses a boundary ships the text (the serializer's name table does that).
 */
import { cellsError } from './errors.ts';

/** The four encodings of a CEP identifier, in sort order. */
export type IdKind = 'word' | 'acronym' | 'reference' | 'numeric';

/** One CEP identifier (the domain or the tag of a name). Immutable. */
export interface Id {
  readonly kind: IdKind;
  /** Canonical text: trimmed word/acronym text, the reference's text, decimal for a numeric. */
  readonly text: string;
  /** The reference's 58-bit value (kind bits + payload); `undefined` for references (runtime-local). */
  readonly code: bigint | undefined;
  /** A word or acronym containing `*` (a pattern, never a stored cell name). */
  readonly glob: boolean;
}

/** Longest word, in characters. */
export const WORD_MAX_CHARS = 11;
/** Longest acronym, in characters. */
export const ACRONYM_MAX_CHARS = 9;
/** Longest reference, in UTF-8 bytes. */
export const REFERENCE_MAX_BYTES = 256;
/** Largest numeric identifier (2^56 − 2; 2^56 − 1 is the reference's auto-id sentinel). */
export const NUMERIC_MAX = (1n << 56n) - 2n;

const PAYLOAD_MASK = (1n << 56n) - 1n;
const KIND_BITS: Record<IdKind, bigint> = { word: 0n, acronym: 1n, reference: 2n, numeric: 3n };
const KIND_ORDER: Record<IdKind, number> = { word: 0, acronym: 1, reference: 2, numeric: 3 };
const KIND_BY_BITS: readonly IdKind[] = ['word', 'acronym', 'reference', 'numeric'];

/** 5-bit word alphabet: index = code. */
const WORD_ALPHABET = ' abcdefghijklmnopqrstuvwxyz:_-.*';
const WORD_CODE = new Int8Array(128).fill(-1);
for (let i = 0; i < WORD_ALPHABET.length; i++) WORD_CODE[WORD_ALPHABET.charCodeAt(i)] = i;

const encoder = new TextEncoder();

/** Why a text is not a word, or `undefined` when it is one. */
function wordProblem(trimmed: string): { code: 'NAME_EMPTY' | 'NAME_TOO_LONG' | 'NAME_BAD_CHAR' | 'NAME_NO_LETTER'; why: string } | undefined {
  if (trimmed.length === 0) return { code: 'NAME_EMPTY', why: 'it is empty' };
  if (trimmed.length > WORD_MAX_CHARS) return { code: 'NAME_TOO_LONG', why: `it has ${trimmed.length} characters (a word has at most ${WORD_MAX_CHARS})` };
  let letters = 0;
  for (let i = 0; i < trimmed.length; i++) {
    const c = trimmed.charCodeAt(i);
    if (c >= 128 || WORD_CODE[c] === -1) {
      return { code: 'NAME_BAD_CHAR', why: `character ${JSON.stringify(trimmed[i])} is not in a-z, space, ':', '_', '-', '.', '*'` };
    }
    if (c >= 0x61 && c <= 0x7a) letters++;
  }
  if (letters === 0) return { code: 'NAME_NO_LETTER', why: 'it has no letter a-z' };
  return undefined;
}

function acronymProblem(trimmed: string): { code: 'NAME_EMPTY' | 'NAME_TOO_LONG' | 'NAME_BAD_CHAR' | 'NAME_ALL_DIGITS'; why: string } | undefined {
  if (trimmed.length === 0) return { code: 'NAME_EMPTY', why: 'it is empty' };
  if (trimmed.length > ACRONYM_MAX_CHARS)
    return { code: 'NAME_TOO_LONG', why: `it has ${trimmed.length} characters (an acronym has at most ${ACRONYM_MAX_CHARS})` };
  let digits = 0;
  for (let i = 0; i < trimmed.length; i++) {
    const c = trimmed.charCodeAt(i);
    if (c < 0x20 || c > 0x5f) return { code: 'NAME_BAD_CHAR', why: `character ${JSON.stringify(trimmed[i])} is outside ASCII 0x20-0x5F (no lowercase)` };
    if (c >= 0x30 && c <= 0x39) digits++;
  }
  if (digits === trimmed.length) return { code: 'NAME_ALL_DIGITS', why: 'it is all digits (that is a numeric)' };
  return undefined;
}

function trimSpaces(text: string): string {
  // Only ASCII spaces: the reference trims nothing else.
  let start = 0;
  let end = text.length;
  while (start < end && text.charCodeAt(start) === 0x20) start++;
  while (end > start && text.charCodeAt(end - 1) === 0x20) end--;
  return text.slice(start, end);
}

function make(kind: IdKind, text: string, code: bigint | undefined): Id {
  const glob = (kind === 'word' || kind === 'acronym') && text.includes('*');
  return Object.freeze({ kind, text, code, glob });
}

/** Encodes `text` as a WORD or throws (`NAME_EMPTY`, `NAME_TOO_LONG`, `NAME_BAD_CHAR`, `NAME_NO_LETTER`). */
export function wordId(text: string): Id {
  const trimmed = trimSpaces(text);
  const problem = wordProblem(trimmed);
  if (problem) {
    throw cellsError(problem.code, `${JSON.stringify(text)} is not a CEP word: ${problem.why}`, { text, kind: 'word' });
  }
  let payload = 0n;
  for (let i = 0; i < WORD_MAX_CHARS; i++) {
    const c = i < trimmed.length ? WORD_CODE[trimmed.charCodeAt(i)]! : 0;
    payload = (payload << 5n) | BigInt(c);
  }
  return make('word', trimmed, (KIND_BITS.word << 56n) | payload);
}

/** Encodes `text` as an ACRONYM or throws (`NAME_EMPTY`, `NAME_TOO_LONG`, `NAME_BAD_CHAR`, `NAME_ALL_DIGITS`). */
export function acronymId(text: string): Id {
  const trimmed = trimSpaces(text);
  const problem = acronymProblem(trimmed);
  if (problem) {
    throw cellsError(problem.code, `${JSON.stringify(text)} is not a CEP acronym: ${problem.why}`, { text, kind: 'acronym' });
  }
  let payload = 0n;
  for (let i = 0; i < ACRONYM_MAX_CHARS; i++) {
    const c = i < trimmed.length ? trimmed.charCodeAt(i) - 0x20 : 0;
    payload = (payload << 6n) | BigInt(c);
  }
  return make('acronym', trimmed, (KIND_BITS.acronym << 56n) | payload);
}

/** A NUMERIC identifier, 1 ≤ value ≤ 2^56 − 2, or throws `NAME_NOT_NUMERIC`. */
export function numericId(value: bigint | number): Id {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw cellsError('NAME_NOT_NUMERIC', `${value} is not an integer; numeric names are whole numbers 1..${NUMERIC_MAX}`, { value });
  }
  const n = BigInt(value);
  if (n < 1n || n > NUMERIC_MAX) {
    throw cellsError('NAME_NOT_NUMERIC', `${n} is outside 1..${NUMERIC_MAX}, the range of a numeric name`, { value: n });
  }
  return make('numeric', n.toString(), (KIND_BITS.numeric << 56n) | n);
}

/** A REFERENCE identifier for any text of 1..256 UTF-8 bytes (`NAME_EMPTY`, `NAME_TOO_LONG`). */
export function referenceId(text: string): Id {
  if (text.length === 0) throw cellsError('NAME_EMPTY', 'a name cannot be empty', { text });
  const bytes = text.length * 3 <= REFERENCE_MAX_BYTES ? text.length : encoder.encode(text).length;
  if (bytes > REFERENCE_MAX_BYTES) {
    throw cellsError('NAME_TOO_LONG', `name is ${bytes} UTF-8 bytes; a reference holds at most ${REFERENCE_MAX_BYTES}`, { bytes, limit: REFERENCE_MAX_BYTES });
  }
  return make('reference', text, undefined);
}

const ALL_DIGITS = /^[0-9]+$/;

function classify(text: string): Id {
  if (text.length <= REFERENCE_MAX_BYTES && ALL_DIGITS.test(text)) {
    const n = BigInt(text);
    if (n >= 1n && n <= NUMERIC_MAX) return numericId(n);
  }
  if (text.length <= WORD_MAX_CHARS && wordProblem(trimSpaces(text)) === undefined) return wordId(text);
  if (text.length <= ACRONYM_MAX_CHARS && acronymProblem(trimSpaces(text)) === undefined) return acronymId(text);
  return referenceId(text);
}

// A memo of the text → Id rule; bounded so a peer that sees endless distinct names
// does not grow without limit. It holds immutable values only: no runtime state.
const MEMO_LIMIT = 1 << 16;
const memo = new Map<string, Id>();

/**
 * The one text → identifier rule (SPEC §3), in order: all digits and 1 ≤ n ≤ 2^56−2 →
 * numeric; else a word (≤ 11 of a–z, space, `: _ - . *`, one letter at least); else an
 * acronym (≤ 9 of ASCII 0x20–0x5F, not all digits); else a reference (≤ 256 bytes).
 * Throws `NAME_EMPTY` or `NAME_TOO_LONG` when none applies.
 */
export function id(text: string): Id {
  let found = memo.get(text);
  if (found === undefined) {
    found = classify(text);
    if (memo.size >= MEMO_LIMIT) memo.clear();
    memo.set(text, found);
  }
  return found;
}

/** True when `text` encodes as a WORD (the "CEP word limits" invoke checks). */
export function isWordText(text: string): boolean {
  return text.length <= WORD_MAX_CHARS && wordProblem(trimSpaces(text)) === undefined;
}

/** Why `text` is not a word (for error notes), or `undefined` when it is one. */
export function explainNotWord(text: string): string | undefined {
  if (text.length > WORD_MAX_CHARS) return `it has ${text.length} characters (a word has at most ${WORD_MAX_CHARS})`;
  return wordProblem(trimSpaces(text))?.why;
}

/** Decodes a word, acronym or numeric 58-bit code (`NAME_REFERENCE_CODE` for references, `NAME_BAD_CODE` otherwise). */
export function idFromCode(code: bigint): Id {
  if (code < 0n || code >> 58n !== 0n) throw cellsError('NAME_BAD_CODE', `0x${code.toString(16)} does not fit the 58-bit name field`, { code });
  const kind = KIND_BY_BITS[Number(code >> 56n)]!;
  const payload = code & PAYLOAD_MASK;
  if (payload === 0n) throw cellsError('NAME_BAD_CODE', 'a name code with payload 0 is invalid', { code });
  switch (kind) {
    case 'numeric':
      return numericId(payload);
    case 'reference':
      throw cellsError('NAME_REFERENCE_CODE', 'a reference code is local to the runtime that interned it; look its text up in the frame name table', { code });
    case 'word': {
      let text = '';
      for (let i = WORD_MAX_CHARS - 1; i >= 0; i--) text += WORD_ALPHABET[Number((payload >> BigInt(5 * i)) & 31n)];
      return decodedOrThrow(() => wordId(text.replace(/ +$/, '')), code);
    }
    case 'acronym': {
      let text = '';
      for (let i = ACRONYM_MAX_CHARS - 1; i >= 0; i--) text += String.fromCharCode(Number((payload >> BigInt(6 * i)) & 63n) + 0x20);
      return decodedOrThrow(() => acronymId(text.replace(/ +$/, '')), code);
    }
  }
}

function decodedOrThrow(decode: () => Id, code: bigint): Id {
  try {
    return decode();
  } catch {
    throw cellsError('NAME_BAD_CODE', `0x${code.toString(16)} does not decode to a valid name`, { code });
  }
}

/** Compares code points, which orders like the UTF-8 bytes of the two texts. */
function compareText(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/**
 * Orders identifiers: word < acronym < reference < numeric; words and acronyms by code
 * (the reference's order), numerics by value, references by text. The reference kernel
 * orders references by intern order, which differs between runtimes; ordering by text
 * keeps dictionaries identical everywhere (a documented deviation).
 */
export function compareIds(a: Id, b: Id): number {
  if (a === b) return 0;
  if (a.kind !== b.kind) return KIND_ORDER[a.kind] - KIND_ORDER[b.kind];
  if (a.code !== undefined && b.code !== undefined) return a.code < b.code ? -1 : a.code > b.code ? 1 : 0;
  return compareText(a.text, b.text);
}

/** Structural equality of two identifiers. */
export function idEquals(a: Id, b: Id): boolean {
  return a === b || (a.kind === b.kind && a.text === b.text);
}
