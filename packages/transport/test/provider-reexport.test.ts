/**
 * `@cep/transport/provider` is kept for providers written before `@cep/provider-spec` existed:
 * it must export the very same values (not copies), so a provider on either import path meets
 * the same `PROVIDER_SPEC_V1` and the same `CepError`.
 */
import { describe, expect, it } from 'vitest';
import * as spec from '@cep/provider-spec';
import * as compat from '@cep/transport/provider';

describe('@cep/transport/provider', () => {
  it('re-exports every value of @cep/provider-spec, identical', () => {
    // Compared as entry maps: a namespace read by a computed name defeats tree shaking (lint).
    const compatValues = new Map<string, unknown>(Object.entries(compat));
    expect([...compatValues.keys()].sort()).toEqual(Object.keys(spec).sort());
    for (const [name, value] of Object.entries(spec)) expect(compatValues.get(name), name).toBe(value);
    expect(Object.keys(spec)).toEqual(expect.arrayContaining(['PROVIDER_SPEC_V1', 'providerError', 'CepError', 'isCepError']));
  });
});
