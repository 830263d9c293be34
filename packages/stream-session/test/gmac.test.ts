import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { afterAll } from 'vitest';
import { assembleGhash } from '../scripts/wasm.mjs';
import { GHASH_WASM_BASE64 } from '../src/ghash-wasm.ts';
import { ghashKernel, setGhashKernelForTests } from '../src/ghash-kernel.ts';
import { JS_GHASH_MAX_BYTES, WASM_GHASH_MAX_BYTES, Gmac } from '../src/gmac.ts';
import { gcmTag as reference } from './fixtures.ts';

const int = (n: number): number => Math.floor(Math.random() * n);

afterAll(() => setGhashKernelForTests(true));

// Both GHASH paths: the WebAssembly kernel, and the JavaScript tables used without WebAssembly.
describe.each([
  ['the WebAssembly kernel', true],
  ['JavaScript', false],
])('Gmac with %s (table GHASH + one AES-ECB object per key)', (_, kernel) => {
  const setKernel = (): void => setGhashKernelForTests(kernel);
  it('runs on the path it names', () => {
    setKernel();
    expect(ghashKernel() !== undefined).toBe(kernel);
  });

  it('gives the tag node:crypto AES-GCM gives, over random keys, sequence numbers, header and payload lengths', () => {
    // Lengths on both sides of every block edge and of the JavaScript/OpenSSL threshold.
    setKernel();
    const lengths = [0, 1, 2, 3, 4, 15, 16, 17, 19, 31, 32, 33, 100, 1000, 5000];
    for (const max of [JS_GHASH_MAX_BYTES, WASM_GHASH_MAX_BYTES]) lengths.push(max - 14, max - 13, max - 12);
    for (let k = 0; k < 20; k++) {
      const key = randomBytes(32);
      const gmac = new Gmac(key);
      // In order (the window of precomputed J0 blocks), then jumps (a refill), including past 2³².
      const seqs = [...Array.from({ length: 70 }, (_, i) => i), int(2 ** 32), 2 ** 32 + int(1000), int(2 ** 52), 3];
      for (const seq of seqs) {
        const header = randomBytes(int(16));
        const payload = randomBytes(Math.random() < 0.5 ? lengths[int(lengths.length)]! : int(600));
        // Views at odd offsets too: frames are views into socket chunks.
        const padded = randomBytes(payload.length + 7);
        payload.copy(padded, 3);
        const view = padded.subarray(3, 3 + payload.length);
        const want = reference(key, seq, header, payload);
        expect(gmac.tag(seq, header, view).equals(want), `key ${k} seq ${seq} header ${header.length} payload ${payload.length}`).toBe(true);
        const out = Buffer.alloc(40);
        gmac.tagInto(seq, header, payload, out, 9);
        expect(out.subarray(9, 25).equals(want)).toBe(true);
        expect(gmac.verify(seq, header, view, want)).toBe(true);
      }
    }
  });

  it('refuses a tag over a flipped bit anywhere, another sequence number, another key, or a short tag', () => {
    setKernel();
    const key = randomBytes(32);
    const gmac = new Gmac(key);
    for (const length of [0, 5, 40, 1500, 3000, 4000]) {
      const header = randomBytes(13);
      const payload = randomBytes(length);
      const good = reference(key, 7, header, payload);
      expect(gmac.verify(7, header, payload, good)).toBe(true);
      const bits = (header.length + payload.length + good.length) * 8;
      for (let t = 0; t < 40; t++) {
        const bit = int(bits);
        const [h, p, g] = [Buffer.from(header), Buffer.from(payload), Buffer.from(good)];
        const byte = bit >>> 3;
        const target = byte < h.length ? h : byte < h.length + p.length ? p : g;
        const at = byte < h.length ? byte : byte < h.length + p.length ? byte - h.length : byte - h.length - p.length;
        target[at]! ^= 1 << (bit & 7);
        expect(gmac.verify(7, h, p, g)).toBe(false);
      }
      expect(gmac.verify(8, header, payload, good)).toBe(false);
      expect(new Gmac(randomBytes(32)).verify(7, header, payload, good)).toBe(false);
      expect(gmac.verify(7, header, payload, good.subarray(0, 15))).toBe(false);
    }
  });
});

describe('the GHASH kernel', () => {
  it('is what wasm/ghash.wat assembles to', async () => {
    expect(Buffer.from(await assembleGhash()).toString('base64')).toBe(GHASH_WASM_BASE64);
  });

  it("gives a disposed key's table slot to the next key, whose tags stay right", () => {
    setGhashKernelForTests(true);
    const first = new Gmac(randomBytes(32));
    first.dispose();
    first.dispose(); // twice: no double free
    const key = randomBytes(32);
    const next = new Gmac(key);
    const other = new Gmac(randomBytes(32));
    const header = randomBytes(13);
    const payload = randomBytes(700);
    expect(next.tag(5, header, payload).equals(reference(key, 5, header, payload))).toBe(true);
    expect(other.tag(5, header, payload).equals(reference(key, 5, header, payload))).toBe(false);
    expect(() => first.tag(0, header, payload)).toThrow();
  });
});
