import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CAP, RECORD_TYPE, decodeFrame, encodeFrame } from '../src/frame.ts';
import { crc32, crc32cRaw } from '../src/checksum.ts';
import { blake3 } from '../src/hash.ts';
import { ByteReader, toHex } from '../src/bytes.ts';

const fixture = (file: string) => new Uint8Array(readFileSync(new URL(`./fixtures/${file}`, import.meta.url)));

/** Record CRC fields straight from the bytes (records then trailer), to compare with the README's values. */
function recordCrcs(frame: Uint8Array): number[] {
  // An inflated frame says compression 1 outside its container: read it with that one rule relaxed.
  const { frame: raw } = decodeFrame(frame, { strictness: { 'compression-flag': 'lenient' } });
  const r = new ByteReader(raw);
  const crcs: number[] = [];
  while (r.remaining > 0) {
    r.bytes(4);
    const keyLen = r.varint();
    const bodyLen = r.varint();
    r.bytes(keyLen + bodyLen);
    crcs.push(r.u32());
  }
  return crcs;
}

describe('reference fixtures at the frame level', () => {
  const cases: Array<[string, number, number, string, number[]]> = [
    // file, records, caps, root, CRCs (records then trailer)
    ['payload_ref_inline.frame', 1, 0x300, '29034274bfb60c145813e8a843da8c9a62aeee54a933066173e6a630f58c5ade', [0x174538be, 0x71c6376a]],
    ['payload_ref_cas_plain.frame', 1, 0x300, 'd2149180e6e7dcf632913058ee2ab2bcffacabb2af8b7853192d93e4aa3dcfe5', [0x89a3337d, 0xa7f5b8b3]],
    ['payload_ref_cas_deflate.frame', 1, 0x300, '6ad8f79799a52e992791254bc4120c70d2538e8f653cdb9fd9dccf6511fe6e1b', [0x2a2863f2, 0x7bd96b14]],
    ['value_inline.bin', 1, 0x304, '667004d753a8c41fa5fb48acd572e56b5bb2bf985c3f23dae5de0ce0057c566c', [0x6188782a, 0xa99afbb6]],
    ['dictionary.bin', 4, 0x21a, '4732904db983e205ba488316faa045ae855ccde53c5913b1ed0465ae8fb09cb0', []],
    ['nested_dict.bin', 3, 0x218, 'b8695c9f7d5f77d214967333b92051a9225ccd2e88a28a2817f4d169e1a8de2e', []],
    [
      'chunks_plain.bin',
      4,
      0x304,
      'e8041336c4d5f95768e17f9917688f1d77143c716b46f467cec21f1a7d7c1e8c',
      [0x4ecf71ea, 0xa991ce5b, 0x1e5705f2, 0xb518153e, 0x357e4da2],
    ],
    ['chunks_xchacha.bin', 4, 0x304, '5d896edca396518e221643ad3e406bc3576cb9c3bb5b2d7a218ab4c56b8ba4c2', []],
    ['crc32c.bin', 4, 0x304, 'e8041336c4d5f95768e17f9917688f1d77143c716b46f467cec21f1a7d7c1e8c', [0xb3b3c4eb, 0x68283d7d, 0x892afb04, 0x5bcd5668, 0x9f1e5f4c]],
    [
      'deflate_container.bin',
      4,
      0x324,
      'e8041336c4d5f95768e17f9917688f1d77143c716b46f467cec21f1a7d7c1e8c',
      [0x4ecf71ea, 0xa991ce5b, 0x1e5705f2, 0xb518153e, 0x2879910f],
    ],
    [
      'crc32c_deflate.bin',
      4,
      0x324,
      'e8041336c4d5f95768e17f9917688f1d77143c716b46f467cec21f1a7d7c1e8c',
      [0xb3b3c4eb, 0x68283d7d, 0x892afb04, 0x5bcd5668, 0x411864e4],
    ],
    ['empty.bin', 0, 0, '0'.repeat(64), [0xf1929e3b]],
  ];
  it.each(cases)('%s verifies: records, caps, CRCs, TOC, Merkle root', (file, count, caps, root, crcs) => {
    const { records, trailer, frame } = decodeFrame(fixture(file));
    expect(records.length).toBe(count);
    expect(trailer.recordCount).toBe(count);
    expect(trailer.caps).toBe(caps);
    expect(toHex(trailer.root)).toBe(root);
    expect(trailer.toc.length).toBe(count);
    if (crcs.length > 0) expect(recordCrcs(frame)).toEqual(crcs);
    if (file.includes('deflate_container') || file.includes('crc32c_deflate')) expect(frame.length).toBe(1125);
    if (file.startsWith('crc32c')) expect(trailer.checksum).toBe(1);
  });

  it('reproduces the byte-stable fixtures byte for byte from their records', () => {
    for (const file of ['payload_ref_inline.frame', 'payload_ref_cas_plain.frame', 'payload_ref_cas_deflate.frame', 'empty.bin']) {
      const original = fixture(file);
      const { records, trailer } = decodeFrame(original);
      const rebuilt = encodeFrame(records, {
        beat: trailer.beat,
        caps: trailer.caps & ~CAP.FRAME_TOC,
        checksum: trailer.checksum,
        applyMode: trailer.applyMode,
      });
      expect([file, toHex(rebuilt)]).toEqual([file, toHex(original)]);
    }
  });

  it('writes the 61-byte empty frame of the reference exactly', () => {
    expect(toHex(encodeFrame([]))).toBe(
      'ff01000000334650454301000000010000200000000000000000000000000000000000000000000000000000000000000000000000000000003b9e92f1',
    );
  });

  it('CAS blobs match their payload-ref hashes', () => {
    expect(toHex(blake3(fixture('payload_ref_cas_plain.blob')))).toBe('667ec40c8a910ab3493fd85b7ce3a9fcb5a75c8e8b8e18bc0d4f2c70a4e7a027');
  });
});

describe('checksums', () => {
  const ascii = (s: string) => new TextEncoder().encode(s);
  it('id 0 is CRC-32 IEEE, id 1 is the reference raw Castagnoli', () => {
    expect(crc32(ascii('123456789'))).toBe(0xcbf43926);
    expect(crc32cRaw(ascii('123456789'))).toBe(0x58e3fa20);
    expect(crc32cRaw(ascii('hello, world!'))).toBe(0x72d49987);
  });

  it('compressOnlyIfSmaller keeps the plain frame when the container would not shrink it, and wraps when it does', () => {
    const key = new Uint8Array(18).fill(1);
    const record = (body: Uint8Array) => ({ type: RECORD_TYPE.CELL_DESC, version: 1, flags: 0, key, body }) as never;
    // Random bytes do not deflate: the container only adds its header, so the plain frame stays.
    let x = 0x9e3779b9;
    const noise = record(new Uint8Array(4096).map(() => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), x & 0xff)));
    expect(encodeFrame([noise], { compress: true }).length).toBeGreaterThan(encodeFrame([noise]).length);
    expect(toHex(encodeFrame([noise], { compress: true, compressOnlyIfSmaller: true }))).toBe(toHex(encodeFrame([noise])));
    // Zeros do: the container is kept.
    const zeros = record(new Uint8Array(4096));
    const packed = encodeFrame([zeros], { compress: true, compressOnlyIfSmaller: true });
    expect(packed.length).toBeLessThan(encodeFrame([zeros]).length);
    expect(toHex(packed)).toBe(toHex(encodeFrame([zeros], { compress: true })));
    expect(decodeFrame(packed).records).toHaveLength(1);
  });
});
