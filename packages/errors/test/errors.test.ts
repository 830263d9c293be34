import { describe, expect, it } from 'vitest';
import { CepError, isCepError } from '@cep/errors';

describe('CepError', () => {
  it('carries a stable code, details and a cause', () => {
    const cause = new Error('root');
    const error = new CepError('NAME_TOO_LONG', 'name "x" is too long', { limit: 11 }, { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('NAME_TOO_LONG');
    expect(error.details).toEqual({ limit: 11 });
    expect(error.cause).toBe(cause);
    expect(error.name).toBe('CepError');
  });

  it('isCepError narrows by code', () => {
    const error: unknown = new CepError('A', 'a');
    expect(isCepError(error)).toBe(true);
    expect(isCepError(error, 'A', 'B')).toBe(true);
    expect(isCepError(error, 'B')).toBe(false);
    expect(isCepError(new Error('plain'))).toBe(false);
  });
});
