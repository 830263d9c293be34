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
    expect(Object.keys(compat).sort()).toEqual(Object.keys(spec).sort());
    for (const [name, value] of Object.entries(spec)) expect(compat[name as keyof typeof compat], name).toBe(value);
    expect(Object.keys(spec)).toEqual(expect.arrayContaining(['PROVIDER_SPEC_V1', 'providerError', 'CepError', 'isCepError']));
  });
});
