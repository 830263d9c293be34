import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bytes, createTree, digestHex, text, u64, type Tree } from '@cep/cells';
import { isCepError } from '@cep/errors';
import { applyBranch, decodeBranch, decodeFrame, encodeBranch, SERIALIZER_ERROR_CODES, type SerializerPolicy } from '@cep/serializer';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
const POLICIES: SerializerPolicy[] = [
  {},
  { crc32c: true },
  // deflateMinBytes 0: the sample frames are small, and the container must be mutated too.
  { deflate: true, deflateMinBytes: 0 },
  { aead: { mode: 'xchacha20poly1305', key: KEY } },
  { crc32c: true, deflate: true, deflateMinBytes: 0, aead: { mode: 'chacha20poly1305', key: KEY } },
];
const OURS = new Set<string>(SERIALIZER_ERROR_CODES);

function sample(): Tree {
  const tree = createTree();
  tree.set('/src/peer', text('saturn'));
  tree.set('/src/count', u64(42));
  tree.set(['src', 'long/reference/name', 'x'], text('with a reference name'));
  tree.set('/src/blob', bytes(Uint8Array.from({ length: 5000 }, (_, i) => i & 0xff)));
  tree.ensureList('/src/l');
  tree.append('/src/l', text('one'));
  tree.append('/src/l', 'dictionary');
  return tree;
}

/** Decodes; returns the digest, or the error code if refused. Anything else is a bug. */
function attempt(frame: Uint8Array, policy: SerializerPolicy, strictness: 'strict' | 'lenient' = 'strict'): { ok: string } | { refused: string } {
  try {
    const out = createTree();
    applyBranch(out, '/copy', decodeBranch(frame, policy, { strictness }));
    return { ok: digestHex(out.get('/copy')!) };
  } catch (error) {
    if (isCepError(error) && OURS.has(error.code)) return { refused: error.code };
    throw error;
  }
}

describe('hostile input', () => {
  const tree = sample();
  const expected = digestHex(tree.get('/src')!);

  it.each(POLICIES.map((p, i) => [i, p] as const))('policy %i: flipping any bit is refused, never a wrong branch', (_, policy) => {
    const frame = encodeBranch(tree.get('/src')!, policy);
    fc.assert(
      fc.property(fc.nat(frame.length * 8 - 1), (bit) => {
        const bad = frame.slice();
        bad[bit >> 3]! ^= 1 << (bit & 7);
        const result = attempt(bad, policy);
        // A flip may only be harmless if it lands somewhere that cannot change meaning; then the branch must be identical.
        if ('ok' in result) expect(result.ok).toBe(expected);
      }),
      { numRuns: 400 },
    );
  });

  it('every reference fixture, truncated at every length, is refused with a typed error', () => {
    const dir = new URL('./fixtures/', import.meta.url);
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.bin') || f.endsWith('.frame'))) {
      const frame = new Uint8Array(readFileSync(new URL(file, dir)));
      for (let n = 0; n < frame.length; n++) {
        let error: unknown;
        try {
          decodeFrame(frame.subarray(0, n));
        } catch (e) {
          error = e;
        }
        expect([file, n, isCepError(error) && OURS.has(error.code)]).toEqual([file, n, true]);
      }
    }
  });

  it('fuzz: 100,000 mutated frames end in success or a typed error, in bounded time', () => {
    const frames = POLICIES.map((policy) => ({ policy, frame: encodeBranch(tree.get('/src')!, policy) }));
    let refused = 0;
    let accepted = 0;
    const seed = 20261124;
    const rng = fc.sample(fc.tuple(fc.nat(4), fc.nat(), fc.nat(), fc.nat(255), fc.nat(6)), { numRuns: 100_000, seed });
    let n = 0;
    for (const [which, a, b, byte, how] of rng) {
      n++;
      const { policy, frame } = frames[which]!;
      let bad: Uint8Array;
      const at = a % frame.length;
      switch (how) {
        case 0:
          bad = frame.slice();
          bad[at] = byte;
          break; // overwrite a byte
        case 1:
          bad = frame.subarray(0, at);
          break; // truncate
        case 2:
          bad = Buffer.concat([frame.subarray(0, at), Uint8Array.of(byte), frame.subarray(at)]);
          break; // insert
        case 3:
          bad = Buffer.concat([frame.subarray(0, at), frame.subarray(Math.min(frame.length, at + 1 + (b % 16)))]);
          break; // delete a run
        case 4:
          bad = Buffer.concat([frame, frame.subarray(0, b % 64)]);
          break; // bytes after the trailer
        case 5:
          bad = frame.slice();
          bad[at] = 0xff;
          bad[(at + 1) % frame.length] = 0xff;
          bad[(at + 2) % frame.length] = 0x7f;
          break; // huge varints
        default:
          bad = frame.slice();
          bad[at]! ^= 1 << (b & 7);
          break; // bit flip
      }
      // Half the mutations are read leniently: relaxing the rules never lets a wrong branch through.
      let result: ReturnType<typeof attempt>;
      try {
        result = attempt(new Uint8Array(bad), policy, (b & 8) === 0 ? 'strict' : 'lenient');
      } catch (error) {
        throw new Error(`mutation ${n} of seed ${seed} (${how}, policy ${which}) threw an untyped error: ${String(error)}`);
      }
      if ('ok' in result) {
        accepted++;
        expect(result.ok, `mutation ${n} of seed ${seed} (${how}, policy ${which})`).toBe(expected);
      } else refused++;
    }
    expect(refused + accepted).toBe(100_000);
    expect(refused).toBeGreaterThan(90_000);
    // A hang guard, not a speed target: ~10 s on a quiet 2-core machine, 60+ s when CI shares it.
  }, 300_000);
});
