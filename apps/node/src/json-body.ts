/**
 * JSON request bodies without silent rounding. `JSON.parse` turns every number into a
 * double, so `18446744073709551615` would arrive as `18446744073709552000`: a different
 * value, and no error. Integers beyond 2^53 must come as decimal strings; a body with a
 * number literal that a double cannot hold exactly is refused instead of rounded.
 */

/** The first number literal in `text` (outside strings) that a double cannot hold exactly, or undefined. */
export function unsafeNumberIn(text: string): string | undefined {
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Skip the string, escapes included.
      i += 1;
      while (i < n && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c /* \ */ ? 2 : 1;
      i += 1;
      continue;
    }
    if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
      const literal = m?.[0] ?? text[i]!;
      if (m !== null && !exact(literal, m[1] !== undefined || m[2] !== undefined)) return literal;
      i += literal.length;
      continue;
    }
    i += 1;
  }
  return undefined;
}

function exact(literal: string, fractional: boolean): boolean {
  if (!fractional) {
    const value = BigInt(literal);
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= -BigInt(Number.MAX_SAFE_INTEGER);
  }
  // A fraction or exponent: refused only when it denotes an integer beyond 2^53 (a whole-number field would take it).
  const value = Number(literal);
  return !Number.isInteger(value) || Number.isSafeInteger(value);
}

/** Parses a request body: a JSON value, or the reason it is refused. */
export function parseJsonBody(text: string): { ok: true; value: unknown } | { ok: false; code: 'BAD_JSON' | 'UNSAFE_NUMBER'; message: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, code: 'BAD_JSON', message: `the body is not JSON: ${(error as Error).message}` };
  }
  const unsafe = unsafeNumberIn(text);
  if (unsafe !== undefined) {
    return {
      ok: false,
      code: 'UNSAFE_NUMBER',
      message: `the number ${unsafe.slice(0, 40)} is beyond 2^53 and would be rounded: send it as a decimal string ("${unsafe.slice(0, 40)}")`,
    };
  }
  return { ok: true, value };
}
