/**
 * Two installed copies of @cep/errors in one tree (a provider built against one, the transport
 * against another) must agree on what a CepError is. The second copy here is the same source
 * loaded again under another module id: a separate module instance with its own class.
 */
import { describe, expect, it } from 'vitest';
import { CepError, isCepError } from '@cep/errors';

type ErrorsModule = typeof import('@cep/errors');

async function secondCopy(): Promise<ErrorsModule> {
  const specifier = new URL('../src/index.ts?copy=b', import.meta.url).href;
  return (await import(/* @vite-ignore */ specifier)) as ErrorsModule;
}

describe('CepError across copies of @cep/errors', () => {
  it('the second copy is a different class (so instanceof alone could not tell)', async () => {
    const b = await secondCopy();
    expect(b.CepError).not.toBe(CepError);
    expect(Object.getPrototypeOf(new b.CepError('X', 'x'))).not.toBe(CepError.prototype);
  });

  it('an error from copy B is recognised by copy A, and the other way round', async () => {
    const b = await secondCopy();
    const fromB: unknown = new b.CepError('AUTH_FAILED', 'wrong key', { peer: 'saturn' });
    expect(isCepError(fromB)).toBe(true);
    expect(isCepError(fromB, 'AUTH_FAILED')).toBe(true);
    expect(isCepError(fromB, 'OPEN_FAILED')).toBe(false);
    expect(fromB instanceof CepError).toBe(true);
    const fromA: unknown = new CepError('FRAME_BAD_CRC', 'damaged');
    expect(b.isCepError(fromA, 'FRAME_BAD_CRC')).toBe(true);
    expect(fromA instanceof b.CepError).toBe(true);
  });

  it('the brand is the registry-wide symbol, not enumerable, and not faked by a look-alike', () => {
    const error = new CepError('A', 'a');
    const brand = Symbol.for('@cep/errors.CepError');
    expect(Object.getOwnPropertyDescriptor(error, brand)).toMatchObject({ value: true, enumerable: false });
    expect(Object.keys(error)).not.toContain(brand);
    const lookAlike = Object.assign(new Error('a'), { code: 'A', name: 'CepError' });
    expect(isCepError(lookAlike)).toBe(false);
    expect(lookAlike instanceof CepError).toBe(false);
    expect(isCepError({ [brand]: true })).toBe(false); // a brand without a string code is not an error we made
    expect(isCepError(null)).toBe(false);
    expect(isCepError('AUTH_FAILED')).toBe(false);
  });

  it('a subclass keeps the ordinary prototype check', () => {
    class SpecialError extends CepError<'SPECIAL'> {}
    const special = new SpecialError('SPECIAL', 's');
    expect(special instanceof SpecialError).toBe(true);
    expect(special instanceof CepError).toBe(true);
    expect(new CepError('SPECIAL', 's') instanceof SpecialError).toBe(false);
  });
});
