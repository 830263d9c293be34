import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { negotiate, negotiateSerializer } from '@cep/transport';

const tcp = { id: 'tcp', caps: ['reliable', 'ordered', 'streaming', 'remote_net', 'crc32c', 'deflate', 'aead'] };
const pipe = { id: 'pipe', caps: ['reliable', 'ordered', 'streaming', 'local_ipc', 'crc32c'] };
const udp = { id: 'udp', caps: ['unreliable', 'datagram', 'low_latency', 'remote_net'] };

describe('negotiate', () => {
  it('admits only providers with every required cap', () => {
    const result = negotiate([tcp, pipe, udp], { required: ['reliable', 'local_ipc'] });
    expect(result).toMatchObject({ ok: true, provider: { id: 'pipe' } });
  });

  it('prefers the provider with the most preferred caps', () => {
    const result = negotiate([tcp, pipe], { required: ['reliable'], preferred: ['remote_net', 'deflate'] });
    expect(result).toMatchObject({ ok: true, provider: { id: 'tcp' }, preferredHits: 2 });
  });

  it('breaks ties by provider id', () => {
    const a = { id: 'bravo', caps: ['reliable'] };
    const b = { id: 'alpha', caps: ['reliable'] };
    expect(negotiate([a, b], { required: ['reliable'] })).toMatchObject({ ok: true, provider: { id: 'alpha' } });
  });

  it('honours pref_prov when it qualifies, and ignores it when it does not', () => {
    expect(negotiate([tcp, pipe], { required: ['reliable'], preferred: ['remote_net'], prefProv: 'pipe' })).toMatchObject({ provider: { id: 'pipe' } });
    expect(negotiate([tcp, pipe], { required: ['remote_net'], prefProv: 'pipe' })).toMatchObject({ provider: { id: 'tcp' } });
  });

  it('upd_latest admits only unreliable providers', () => {
    expect(negotiate([tcp, pipe, udp], { updLatest: true })).toMatchObject({ ok: true, provider: { id: 'udp' } });
    const none = negotiate([tcp, pipe], { updLatest: true });
    expect(none.ok).toBe(false);
    expect(!none.ok && none.note).toContain('unreliable');
  });

  it('says why when no provider qualifies', () => {
    const none = negotiate([tcp], { required: ['multicast'] });
    expect(none).toEqual({ ok: false, note: expect.stringContaining('multicast') });
    expect(negotiate([], {})).toEqual({ ok: false, note: 'no provider is registered' });
  });

  it('property: the choice qualifies and no other qualifying provider beats it', () => {
    const caps = fc.subarray(['reliable', 'ordered', 'unreliable', 'crc32c', 'deflate', 'aead', 'low_latency']);
    const catalog = fc.uniqueArray(fc.record({ id: fc.constantFrom('a', 'b', 'c', 'd', 'e'), caps }), { selector: (e) => e.id, maxLength: 5 });
    fc.assert(
      fc.property(
        catalog,
        caps,
        caps,
        fc.boolean(),
        fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined }),
        (cat, required, preferred, updLatest, prefProv) => {
          const result = negotiate(cat, { required, preferred, updLatest, prefProv });
          const qualifies = (e: { caps: readonly string[] }) => required.every((c) => e.caps.includes(c)) && (!updLatest || e.caps.includes('unreliable'));
          const candidates = cat.filter(qualifies);
          if (!result.ok) {
            expect(candidates).toEqual([]);
            return;
          }
          expect(qualifies(result.provider)).toBe(true);
          if (prefProv !== undefined && candidates.some((c) => c.id === prefProv)) {
            expect(result.provider.id).toBe(prefProv);
            return;
          }
          const hits = (e: { caps: readonly string[] }) => preferred.filter((c) => e.caps.includes(c)).length;
          for (const other of candidates) {
            expect(hits(other) < hits(result.provider) || (hits(other) === hits(result.provider) && other.id >= result.provider.id)).toBe(true);
          }
        },
      ),
    );
  });
});

describe('negotiateSerializer', () => {
  it('keeps a feature only when the mount allows it and the provider has the cap', () => {
    expect(negotiateSerializer({ crc32c: true, deflate: true, aead: true }, pipe.caps)).toEqual({
      on: { crc32c: true, deflate: false, aead: false },
      downgraded: ['deflate', 'aead'],
    });
    expect(negotiateSerializer({ crc32c: false, deflate: true, aead: false }, tcp.caps)).toEqual({
      on: { crc32c: false, deflate: true, aead: false },
      downgraded: [],
    });
    expect(negotiateSerializer({ crc32c: true, deflate: false, aead: false }, udp.caps)).toEqual({
      on: { crc32c: false, deflate: false, aead: false },
      downgraded: ['crc32c'],
    });
  });
});
