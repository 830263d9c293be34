import { describe, expect, it } from 'vitest';
import { bytes, createTree, text, type Cell } from '@cep/cells';
import { decodeBranch, decodeFrame, encodeBranch, type SerializerPolicy } from '@cep/serializer';
import { deflateCanPay } from '../src/branch.ts';
import { BranchWriter } from '../src/branch-writer.ts';
import { wrapContainer } from '../src/container.ts';
import { resolvePolicy } from '../src/policy.ts';
import { mirrorLikePart as part } from './helpers/fixtures.ts';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i * 3);
const SEALED: SerializerPolicy = { crc32c: true, deflate: true, aead: { mode: 'xchacha20poly1305', key: KEY } };
const TLFC = (frame: Uint8Array): boolean => Buffer.from(frame.subarray(0, 4)).toString('latin1') === 'TLFC';
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

/** The incompressible bytes the writer counted for `cell` under `policy`. */
function counted(cell: Cell, policy: SerializerPolicy): { sealed: number; frame: number } {
  const writer = new BranchWriter(resolvePolicy(policy), false);
  try {
    writer.writeBranch(cell);
    const frame = writer.frame.finish({ beat: 1n, caps: writer.caps, checksum: 1 });
    return { sealed: writer.sealedBytes, frame: frame.length };
  } finally {
    writer.dispose();
  }
}

describe('deflate on sealed frames', () => {
  it.each([
    [64, 1024],
    [32, 2048],
    [16, 4096],
    [4, 16384],
    [1, 65536],
  ])('a part of %i sealed chunks of %i bytes goes out plain, byte for byte, though deflate would shrink it a little', (count, size) => {
    const cell = part(count, size);
    const plain = encodeBranch(cell, { ...SEALED, deflate: false });
    const sent = encodeBranch(cell, SEALED);
    expect(TLFC(sent)).toBe(false);
    expect(same(sent, plain)).toBe(true);
    // The skip is the sealed-bytes rule, not "only when smaller": the structure around the
    // chunks (deep keys repeated per record) would deflate, at the price of reading every sealed byte.
    const { sealed, frame } = counted(cell, SEALED);
    expect(frame).toBe(plain.length);
    expect(frame - sealed).toBeLessThanOrEqual(sealed);
    expect(wrapContainer(plain, 1).length).toBeLessThan(plain.length);
    expect(decodeBranch(sent, SEALED).cellCount).toBe(4 + Math.min(count, 3) + count);
  });

  it('a mostly-plaintext frame under AEAD is still deflated, and reads back', () => {
    const tree = createTree();
    for (let i = 0; i < 2000; i++) tree.set(['p', `r${i % 50}`, `f${i}`], text(`value ${i}`));
    tree.set(['p', 'blob'], bytes(new Uint8Array(4096).fill(3)));
    const cell = tree.get('/p')!;
    const sent = encodeBranch(cell, SEALED);
    expect(TLFC(sent)).toBe(true);
    const plain = encodeBranch(cell, { ...SEALED, deflate: false });
    expect(sent.length).toBeLessThan(plain.length);
    // Same records as the plain frame; the container holds a frame of the same size.
    expect(decodeFrame(sent).frame.length).toBe(plain.length);
    expect(decodeBranch(sent, SEALED).cellCount).toBe(decodeBranch(plain, SEALED).cellCount);
  });

  it('counts each sealed chunk exactly: nonce with its length byte, AAD hash, ciphertext and tag', () => {
    const tree = createTree();
    tree.set(['p', 'one'], bytes(new Uint8Array(1000).fill(1)));
    const xchacha = counted(tree.get('/p')!, SEALED);
    expect(xchacha.sealed).toBe(1 + 24 + 32 + 1000 + 16);
    const chacha = counted(tree.get('/p')!, { aead: { mode: 'chacha20poly1305', key: KEY } });
    expect(chacha.sealed).toBe(1 + 12 + 32 + 1000 + 16);
    // 9,000 bytes: three chunks of at most 4 KiB, each with its own nonce, hash and tag.
    tree.set(['p', 'two'], bytes(new Uint8Array(9000).fill(2)));
    expect(counted(tree.get('/p')!, SEALED).sealed).toBe(3 * (1 + 24 + 32 + 16) + 9000 + (1 + 24 + 32 + 1000 + 16));
    // Without AEAD nothing is sealed: the plaintext chunks may compress.
    expect(counted(tree.get('/p')!, { crc32c: true }).sealed).toBe(0);
  });

  it('the rule: the unsealed rest must reach minBytes and outweigh the sealed bytes', () => {
    expect(deflateCanPay(100_000, 0, 16_384)).toBe(true);
    expect(deflateCanPay(16_383, 0, 16_384)).toBe(false);
    expect(deflateCanPay(16_384, 0, 16_384)).toBe(true);
    // Half sealed: not tried; one byte less sealed: tried.
    expect(deflateCanPay(80_000, 40_000, 16_384)).toBe(false);
    expect(deflateCanPay(80_000, 39_999, 16_384)).toBe(true);
    // A frame over minBytes whose unsealed rest is under it: not tried.
    expect(deflateCanPay(40_000, 24_000, 16_384)).toBe(false);
    expect(deflateCanPay(40_000, 24_000, 0)).toBe(false);
    expect(deflateCanPay(40_000, 19_000, 0)).toBe(true);
  });
});
