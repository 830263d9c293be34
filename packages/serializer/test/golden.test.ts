/**
 * Same bytes as before: a fixed branch (values of every kind, a 70 KB payload in chunks, a deep
 * path, a reference name, a list, a link, a tombstone) encodes under each policy to frames whose
 * BLAKE3 was recorded from the encoder before the floor work. Deflate policies compare the
 * inflated frame (the compressed bytes belong to the zlib build). A change of these values is a
 * change of the wire format and must come with a FORMAT.md entry saying why.
 */
import { describe, expect, it } from 'vitest';
import { bool, bytes, createTree, i64, text, u64 } from '@cep/cells';
import { blake3, decodeFrame, encodeBranch, type SerializerPolicy } from '@cep/serializer';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
const tree = createTree();
for (let i = 0; i < 150; i++) {
  tree.setBeat(i);
  tree.set(['b', 'r' + i, 'x'], i % 3 ? text('v' + i) : u64(i));
}
tree.set('/b/blob', bytes(Uint8Array.from({ length: 70000 }, (_, i) => (i * 13) & 0xff)));
tree.set(['b', 'deep', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'], i64(-5n));
tree.set(['b', 'long/ref name'], bool(true));
tree.ensureList('/b/l');
tree.append('/b/l', text('q'));
tree.link('/b/lnk', ['b', 'l']);
tree.set('/b/gone', text('x'));
tree.delete('/b/gone');

const CASES: Array<[string, SerializerPolicy, boolean, number, string]> = [
  ['none', {}, false, 205839, '238515f19ab10e5dda7d18d05b40102af944899a6b4cd64c2a1af307aa73a960'],
  ['none, tombstones', {}, true, 206093, '0efb13ddb8ae1f807498bd4be8517da20c19cc31ad7f1f73ab32fc4449763681'],
  ['crc32c', { crc32c: true }, false, 205839, '68614abdc468899473e2b47b9636dae9296efae42bf13936a57389993ed6a17c'],
  ['crc32c, tombstones', { crc32c: true }, true, 206093, '7342e0943a4ab9797d3865d0bbe43ef5e478f42bfa950520f86de0da74e883a1'],
  ['deflate', { deflate: true }, false, 0, 'c7e09aaab0623db11b98e3e6bf1496aa1e9cc02ed108480f1812b5b3ae79ffa8'],
  ['deflate, tombstones', { deflate: true }, true, 0, '1020a5bf21ebd7ccf64710052746a3b2f6e23966c1392892889e960afa3cea5f'],
  ['xchacha', { aead: { mode: 'xchacha20poly1305', key: KEY } }, false, 244067, '3b96319e6a804b9fab2d2ce0c26cbb1bad355ba3612bfcf06b2b113121c7de68'],
  ['xchacha, tombstones', { aead: { mode: 'xchacha20poly1305', key: KEY } }, true, 244529, '7310fe8d5a80db5f45409cd6c9455c79a9987250f88ba70ccf53817acfc4c09e'],
  [
    'all',
    { crc32c: true, deflate: true, aead: { mode: 'chacha20poly1305', key: KEY } },
    false,
    0,
    '0e5c84b80ba797eac39328094b7adb37066b41d24d375920c539feabdc80aa8f',
  ],
  [
    'all, tombstones',
    { crc32c: true, deflate: true, aead: { mode: 'chacha20poly1305', key: KEY } },
    true,
    0,
    '30a84dd68e62d6fd683f477f014d93b62c5e9e52f9c8c75cd1bba001623bea30',
  ],
];

describe('the wire bytes are those of the recorded encoder', () => {
  it.each(CASES)('%s', (_, policy, includeDeleted, length, hash) => {
    const frame = encodeBranch(tree.get('/b')!, policy, { includeDeleted });
    const raw = policy.deflate ? decodeFrame(frame).frame : frame;
    if (length > 0) expect(frame.length).toBe(length);
    expect(Buffer.from(blake3(raw)).toString('hex')).toBe(hash);
  });
});
