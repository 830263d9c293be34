/**
 * Typed cell values and their byte form.
 *
 * The byte form is the reference kernel's: a text is UTF-8 plus a terminating NUL
 * under data type `CEP:text`; a u64 is 8 little-endian bytes under `CEP:val/u64`; and
 * so on. The serializer ships that form, and the digest hashes it.
 */
import { cellsError } from './errors.ts';
import { name, nameEquals, type Name } from './names.ts';

/** A value a cell can hold. `raw` keeps a data type this library does not interpret, byte for byte. */
export type Value =
  | { readonly type: 'text'; readonly value: string }
  | { readonly type: 'u64'; readonly value: bigint }
  | { readonly type: 'i64'; readonly value: bigint }
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'bytes'; readonly value: Uint8Array }
  | { readonly type: 'raw'; readonly dataType: Name; readonly value: Uint8Array };

/** The value types, as in `Value['type']`. */
export type ValueType = Value['type'];

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

/** A text value. */
export function text(value: string): Value {
  if (typeof value !== 'string') throw cellsError('VALUE_INVALID', `text() needs a string, got ${typeof value}`);
  return { type: 'text', value };
}

/** An unsigned 64-bit value (`VALUE_OUT_OF_RANGE` outside 0..2^64−1). */
export function u64(value: bigint | number): Value {
  const n = toBigInt(value, 'u64');
  if (n < 0n || n > U64_MAX) throw cellsError('VALUE_OUT_OF_RANGE', `${n} does not fit an unsigned 64-bit value`, { value: n });
  return { type: 'u64', value: n };
}

/** The two beat values {@link beatValue} made last (two: a process may run two runtimes a beat apart). */
let beatSlots: Array<{ beat: number; value: Value }> = [];

/**
 * `beat` as a u64 value, shared: one frozen object per beat for every cell written with it (a
 * cell's value is replaced, never edited, so one object can stand in many cells). Records that
 * stamp every call or dossier with the current beat write the same object instead of making one
 * each. Throws what {@link u64} throws for a beat that is no unsigned 64-bit whole number.
 */
export function beatValue(beat: number): Value {
  const [last, before] = beatSlots;
  if (last?.beat === beat) return last.value;
  if (before?.beat === beat) return before.value;
  const made = { beat, value: Object.freeze(u64(beat)) };
  beatSlots = last === undefined ? [made] : [made, last];
  return made.value;
}

/** A signed 64-bit value (`VALUE_OUT_OF_RANGE` outside −2^63..2^63−1). */
export function i64(value: bigint | number): Value {
  const n = toBigInt(value, 'i64');
  if (n < I64_MIN || n > I64_MAX) throw cellsError('VALUE_OUT_OF_RANGE', `${n} does not fit a signed 64-bit value`, { value: n });
  return { type: 'i64', value: n };
}

/** A boolean value. */
export function bool(value: boolean): Value {
  if (typeof value !== 'boolean') throw cellsError('VALUE_INVALID', `bool() needs a boolean, got ${typeof value}`);
  return { type: 'bool', value };
}

/** A byte-string value (copied, so later changes to `value` do not leak in). */
export function bytes(value: Uint8Array): Value {
  return { type: 'bytes', value: new Uint8Array(value) };
}

/** Bytes under a data type this library does not interpret (copied). */
export function raw(dataType: Name, value: Uint8Array): Value {
  return { type: 'raw', dataType, value: new Uint8Array(value) };
}

function toBigInt(value: bigint | number, what: string): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  throw cellsError('VALUE_INVALID', `${what}() needs an integer, got ${String(value)}`, { value });
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Structural equality (same type, same value; same data type for `raw`). */
export function valueEquals(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (a.type !== b.type) return false;
  switch (a.type) {
    case 'bytes':
      return bytesEqual(a.value, (b as typeof a).value);
    case 'raw': {
      const other = b as typeof a;
      return nameEquals(a.dataType, other.dataType) && bytesEqual(a.value, other.value);
    }
    default:
      return a.value === (b as typeof a).value;
  }
}

/** Data type names of the reference kernel. */
export const DATA_TYPES = {
  text: name('text'),
  u64: name('val/u64'),
  i64: name('val/i64'),
  bool: name('val/bool'),
  bytes: name('val/bytes'),
} as const;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** The reference's byte form of a value: its data type and its bytes. */
export function valueToData(value: Value): { dataType: Name; bytes: Uint8Array } {
  switch (value.type) {
    case 'text': {
      const encoded = utf8.encode(value.value);
      const out = new Uint8Array(encoded.length + 1);
      out.set(encoded);
      return { dataType: DATA_TYPES.text, bytes: out };
    }
    case 'u64':
    case 'i64': {
      const out = new Uint8Array(8);
      new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, value.value), true);
      return { dataType: DATA_TYPES[value.type], bytes: out };
    }
    case 'bool':
      return { dataType: DATA_TYPES.bool, bytes: Uint8Array.of(value.value ? 1 : 0) };
    case 'bytes':
      return { dataType: DATA_TYPES.bytes, bytes: value.value };
    case 'raw':
      return { dataType: value.dataType, bytes: value.value };
  }
}

/**
 * The inverse of {@link valueToData}. Known data types with malformed bytes are refused
 * with `VALUE_INVALID`; unknown data types come back as `raw`.
 */
export function valueFromData(dataType: Name, data: Uint8Array): Value {
  // Called once per decoded value: compare name keys (what nameEquals compares) without a closure.
  const key = dataType.key;
  if (key === DATA_TYPES.text.key || dataType.tag.text === 'val/text') {
    // The reference stores texts with a terminating NUL; accept a missing one.
    const end = data.length > 0 && data[data.length - 1] === 0 ? data.length - 1 : data.length;
    try {
      return { type: 'text', value: utf8Strict.decode(data.subarray(0, end)) };
    } catch {
      throw cellsError('VALUE_INVALID', 'text value is not valid UTF-8', { length: data.length });
    }
  }
  const u64 = key === DATA_TYPES.u64.key;
  if (u64 || key === DATA_TYPES.i64.key) {
    if (data.length !== 8) throw cellsError('VALUE_INVALID', `a 64-bit value needs 8 bytes, got ${data.length}`, { length: data.length });
    const view = new DataView(data.buffer, data.byteOffset, 8);
    return u64 ? { type: 'u64', value: view.getBigUint64(0, true) } : { type: 'i64', value: view.getBigInt64(0, true) };
  }
  if (key === DATA_TYPES.bool.key) {
    if (data.length !== 1 || data[0]! > 1) throw cellsError('VALUE_INVALID', 'a bool value is one byte, 0 or 1', { length: data.length });
    return { type: 'bool', value: data[0] === 1 };
  }
  if (key === DATA_TYPES.bytes.key) return { type: 'bytes', value: new Uint8Array(data) };
  return { type: 'raw', dataType, value: new Uint8Array(data) };
}

/** A short human rendering (for notes and logs). */
export function formatValue(value: Value): string {
  switch (value.type) {
    case 'text':
      return JSON.stringify(value.value);
    case 'bytes':
    case 'raw':
      return `<${value.value.length} bytes>`;
    default:
      return String(value.value);
  }
}
