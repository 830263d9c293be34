import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isCepError } from '@cep/errors';
import { CEP, NUMERIC_MAX, acronymId, compareIds, id, idFromCode, isWordText, name, numericId, parsePath, referenceId, wordId, type IdKind } from '@cep/cells';

const WORD_CHARS = ' abcdefghijklmnopqrstuvwxyz:_-.'.split(''); // '*' left out: globs are tested apart
const LETTERS = 'abcdefghijklmnopqrstuvwxyz'.split('');
const ACRONYM_CHARS = Array.from({ length: 0x40 }, (_, i) => String.fromCharCode(0x20 + i)).filter((c) => c !== '*');

/**
 * Canonical words: no leading/trailing space, at least one letter, 1..11 characters. Built as
 * (before, letter, after) with no space at either end, so every generated value has one source
 * and a failure shrinks in a few steps. (An earlier form trimmed spaces after the fact: many
 * sources mapped to the same word, and a failing property shrank for minutes without end.)
 */
const wordSide = (edge: 'start' | 'end') =>
  fc.array(fc.constantFrom(...WORD_CHARS), { maxLength: 5 }).filter((chars) => chars.length === 0 || chars[edge === 'start' ? 0 : chars.length - 1] !== ' ');
const canonicalWord = fc
  .tuple(wordSide('start'), fc.constantFrom(...LETTERS), wordSide('end'))
  .map(([before, letter, after]) => [...before, letter, ...after].join(''));

const canonicalAcronym = fc
  .array(fc.constantFrom(...ACRONYM_CHARS), { minLength: 1, maxLength: 9 })
  .map((chars) => chars.join('').replace(/^ +| +$/g, ''))
  .filter((t) => t.length >= 1 && !/^[0-9]+$/.test(t) && !/[a-z]/.test(t) && !isWordText(t));

describe('naming (SPEC §3)', () => {
  it('classifies the reference kernel table of probed texts', () => {
    const expected: Record<string, IdKind> = {
      CEP: 'acronym',
      ABC: 'acronym',
      'A_B-C': 'acronym',
      OPS: 'acronym',
      'ist:run': 'word',
      'sts:cnl': 'word',
      'sev:error': 'word',
      'org:net:vl': 'word',
      'node-local': 'word',
      'hello world': 'word',
      abcdefghijk: 'word',
      abcdefghijkl: 'reference',
      'org:net_discovery:vl': 'reference',
      'op/pause': 'reference',
      'val/u64': 'reference',
      'msg-1': 'reference',
      crc32c_ok: 'reference',
      Hello: 'reference',
      '0': 'reference',
      tp_inv_timeout: 'reference',
      '123': 'numeric',
    };
    for (const [text, kind] of Object.entries(expected)) expect([text, id(text).kind]).toEqual([text, kind]);
  });

  it('produces the reference 58-bit codes seen in the reference fixtures', () => {
    expect(CEP.code).toBe(0x0123970000000000n);
    const tags: Record<string, bigint> = {
      data: 0x0010340800000000n,
      probe: 0x00424f1140000000n,
      greet: 0x001e452d00000000n,
      text: 0x0050b8a000000000n,
      dictionary: 0x001123a25ee0cb20n,
      blob: 0x00098f1000000000n,
      flat_multi: 0x001981a71b565120n,
      outer: 0x003eb42c80000000n,
      inner: 0x0025ce2c80000000n,
      count: 0x000df57500000000n,
    };
    for (const [text, code] of Object.entries(tags)) expect([text, id(text).code]).toEqual([text, code]);
    expect(id('/').kind).toBe('acronym');
    expect(wordId('a*').code).toBe(0x7e00000000000n);
    expect(wordId('a*').glob).toBe(true);
  });

  it('round-trips every canonical word through its code', () => {
    fc.assert(
      fc.property(canonicalWord, (text) => {
        const value = id(text);
        expect(value.kind).toBe('word');
        expect(value.text).toBe(text);
        expect(idFromCode(value.code!).text).toBe(text);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips every canonical acronym through its code', () => {
    fc.assert(
      fc.property(canonicalAcronym, (text) => {
        const value = id(text);
        expect(value.kind).toBe('acronym');
        expect(idFromCode(value.code!).text).toBe(text);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips every numeric 1..2^56-2', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: NUMERIC_MAX }), (n) => {
        const value = id(n.toString());
        expect(value.kind).toBe('numeric');
        expect(idFromCode(value.code!)).toEqual(value);
      }),
      { numRuns: 2000 },
    );
    expect(id((NUMERIC_MAX + 1n).toString()).kind).toBe('reference');
  });

  it('keeps any other text of 1..256 bytes as a reference, verbatim', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 80, unit: 'grapheme' }), (text) => {
        fc.pre(new TextEncoder().encode(text).length <= 256);
        const value = id(text);
        expect(id(value.text)).toEqual(value); // the rule is idempotent on its own output
        if (value.kind === 'reference') {
          expect(value.text).toBe(text);
          expect(value.code).toBeUndefined();
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses invalid texts with a code that says why', () => {
    const cases: Array<[() => unknown, string]> = [
      [() => id(''), 'NAME_EMPTY'],
      [() => id('x'.repeat(257)), 'NAME_TOO_LONG'],
      [() => id('é'.repeat(129)), 'NAME_TOO_LONG'],
      [() => wordId('abcdefghijkl'), 'NAME_TOO_LONG'],
      [() => wordId('Hello'), 'NAME_BAD_CHAR'],
      [() => wordId('a1'), 'NAME_BAD_CHAR'],
      [() => wordId('::'), 'NAME_NO_LETTER'],
      [() => wordId('   '), 'NAME_EMPTY'],
      [() => acronymId('abc'), 'NAME_BAD_CHAR'],
      [() => acronymId('1234'), 'NAME_ALL_DIGITS'],
      [() => acronymId('ABCDEFGHIJ'), 'NAME_TOO_LONG'],
      [() => numericId(0), 'NAME_NOT_NUMERIC'],
      [() => numericId(NUMERIC_MAX + 1n), 'NAME_NOT_NUMERIC'],
      [() => referenceId(''), 'NAME_EMPTY'],
      [() => idFromCode((2n << 56n) | 5n), 'NAME_REFERENCE_CODE'],
      [() => idFromCode(1n << 58n), 'NAME_BAD_CODE'],
      [() => parsePath('/a//b'), 'PATH_INVALID'],
    ];
    for (const [fn, code] of cases) {
      let error: unknown;
      try {
        fn();
      } catch (e) {
        error = e;
      }
      expect([String(fn), isCepError(error, code)]).toEqual([String(fn), true]);
    }
  });

  it('refuses random invalid word texts and accepts random valid ones (both directions)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 14 }), (text) => {
        const trimmed = text.replace(/^ +| +$/g, '');
        const valid = trimmed.length >= 1 && text.length <= 11 && /^[a-z :_\-.*]+$/.test(trimmed) && /[a-z]/.test(trimmed);
        expect(isWordText(text)).toBe(valid);
        if (valid) expect(wordId(text).text).toBe(trimmed);
        else if (text.length <= 11) expect(() => wordId(text)).toThrow();
      }),
      { numRuns: 3000 },
    );
  });

  it('orders words < acronyms < references < numerics, words by the 5-bit alphabet', () => {
    const ordered = ['a', 'ab', 'a:', 'a_', 'a-', 'a.', 'b', 'A', 'Z', 'val/u64', '1', '2', '10'].map(id);
    for (let i = 1; i < ordered.length; i++) expect(compareIds(ordered[i - 1]!, ordered[i]!)).toBeLessThan(0);
    fc.assert(
      fc.property(canonicalWord, canonicalWord, (a, b) => {
        const ab = compareIds(id(a), id(b));
        const ba = compareIds(id(b), id(a));
        // Antisymmetric, and 0 exactly for equal words. (=== on purpose: toBe and toEqual compare
        // with Object.is, and Object.is(0, -0) is false, so they fail on every pair of equal words.)
        expect([a, b, Math.sign(ab) === -Math.sign(ba)]).toEqual([a, b, true]);
        expect([a, b, ab === 0]).toEqual([a, b, a === b]);
      }),
      {
        examples: [
          ['i', 'i'],
          ['a', 'b'],
        ],
      },
    );
  });

  it('names default to the CEP domain and have unique keys', () => {
    expect(name('mounts').domain).toBe(CEP);
    expect(name('mounts').key).not.toBe(name('MOUNTS').key);
    expect(name('x', acronymId('ABC')).key).not.toBe(name('x').key);
  });
});
