import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { openSmall, sealSmall, sealSmallInto, SMALL_AEAD_MAX } from '../src/chacha-small.ts';
import { aeadOpen, aeadSeal, portableAead } from '../src/aead.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const fromHex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/** OpenSSL's ChaCha20-Poly1305 through node:crypto, called directly (an independent implementation). */
function opensslSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  return Uint8Array.from(Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]));
}

describe('the small-message ChaCha20-Poly1305', () => {
  it("gives RFC 8439 §2.8.2's ciphertext and tag", () => {
    const key = fromHex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
    const nonce = fromHex('070000004041424344454647');
    const aad = fromHex('50515253c0c1c2c3c4c5c6c7');
    const plaintext = new TextEncoder().encode(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
    );
    const sealed = sealSmall(key, nonce, plaintext, aad);
    expect(hex(sealed.subarray(plaintext.length))).toBe('1ae10b594f09e26a7e902ecbd0600691');
    expect(hex(sealed)).toBe(hex(opensslSeal(key, nonce, plaintext, aad)));
    expect(hex(openSmall(key, nonce, sealed, aad)!)).toBe(hex(plaintext));
  });

  it('matches OpenSSL and @noble/ciphers byte for byte at every length it takes', () => {
    const key = new Uint8Array(32);
    const nonce = new Uint8Array(12);
    for (let length = 0; length <= SMALL_AEAD_MAX; length++) {
      for (let i = 0; i < 32; i++) key[i] = (length * 7 + i * 13) & 0xff;
      for (let i = 0; i < 12; i++) nonce[i] = (length * 3 + i * 29) & 0xff;
      const plaintext = Uint8Array.from({ length }, (_, i) => (i * 31 + length) & 0xff);
      const aad = Uint8Array.from({ length: length % 97 }, (_, i) => (i * 5 + 1) & 0xff);
      const ours = sealSmall(key, nonce, plaintext, aad);
      expect(hex(ours)).toBe(hex(opensslSeal(key, nonce, plaintext, aad)));
      expect(hex(ours)).toBe(hex(chacha20poly1305(key, nonce, aad).encrypt(plaintext)));
      expect(hex(openSmall(key, nonce, ours, aad)!)).toBe(hex(plaintext));
    }
  });

  it('matches OpenSSL on random keys, nonces, data and associated data', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.uint8Array({ maxLength: SMALL_AEAD_MAX }),
        fc.uint8Array({ maxLength: 200 }),
        (key, nonce, plaintext, aad) => {
          const sealed = sealSmall(key, nonce, plaintext, aad);
          expect(hex(sealed)).toBe(hex(opensslSeal(key, nonce, plaintext, aad)));
          expect(hex(openSmall(key, nonce, sealed, aad)!)).toBe(hex(plaintext));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('seals in place at any offset of a larger buffer, leaving the bytes around it alone', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: SMALL_AEAD_MAX }), fc.uint8Array({ maxLength: 80 }), fc.nat(40), (plaintext, aad, at) => {
        const key = new Uint8Array(32).fill(5);
        const nonce = new Uint8Array(12).fill(6);
        const out = new Uint8Array(at + plaintext.length + 16 + 7).fill(0xee);
        sealSmallInto(key, nonce, plaintext, aad, out, at);
        expect(hex(out.subarray(at, at + plaintext.length + 16))).toBe(hex(opensslSeal(key, nonce, plaintext, aad)));
        expect([...out.subarray(0, at), ...out.subarray(at + plaintext.length + 16)].every((b) => b === 0xee)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses any changed bit of the ciphertext, the tag, the associated data, the key or the nonce', () => {
    const key = fromHex('00'.repeat(31) + '01');
    const nonce = fromHex('00'.repeat(11) + '02');
    const aad = new TextEncoder().encode('chunk key');
    const sealed = sealSmall(key, nonce, new TextEncoder().encode('a small value'), aad);
    for (let bit = 0; bit < sealed.length * 8; bit++) {
      const bad = sealed.slice();
      bad[bit >> 3]! ^= 1 << (bit & 7);
      expect(openSmall(key, nonce, bad, aad)).toBeUndefined();
    }
    for (let bit = 0; bit < aad.length * 8; bit++) {
      const bad = aad.slice();
      bad[bit >> 3]! ^= 1 << (bit & 7);
      expect(openSmall(key, nonce, sealed, bad)).toBeUndefined();
    }
    expect(openSmall(fromHex('00'.repeat(31) + '03'), nonce, sealed, aad)).toBeUndefined();
    expect(openSmall(key, fromHex('00'.repeat(11) + '03'), sealed, aad)).toBeUndefined();
  });

  it('is what aeadSeal/aeadOpen use up to its limit, and node:crypto takes over above it (same bytes as the portable path)', () => {
    const key = new Uint8Array(32).fill(9);
    for (const mode of [2, 3]) {
      const nonce = new Uint8Array(mode === 3 ? 24 : 12).fill(4);
      for (const length of [0, 1, 16, 63, 64, 65, SMALL_AEAD_MAX, SMALL_AEAD_MAX + 1, 4096]) {
        const data = Uint8Array.from({ length }, (_, i) => i & 0xff);
        const sealed = aeadSeal(mode, key, nonce, data, nonce);
        expect(hex(sealed)).toBe(hex(portableAead.seal(mode, key, nonce, data, nonce)));
        expect(hex(aeadOpen(mode, key, nonce, sealed, nonce))).toBe(hex(data));
        const bad = sealed.slice();
        bad[bad.length - 1]! ^= 0x80;
        expect(() => aeadOpen(mode, key, nonce, bad, nonce)).toThrow(expect.objectContaining({ code: 'AEAD_TAG_FAILED' }));
      }
    }
  });
});
