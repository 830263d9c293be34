import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { id, name } from '@cep/cells';
import {
  decodeFrame,
  NameTableReader,
  readCellDesc,
  readChunk,
  readManifest,
  readNamepool,
  readOrder,
  RECORD_TYPE,
  NATIVE_CRC32C,
  crc32cRaw,
} from '@cep/serializer';
import { aeadOpen, aeadSeal, chunkNonce, portableAead } from '../src/aead.ts';
import { crc32cRawFast, crc32cRawJs } from '../src/checksum.ts';
import { portableZlib, zlibDeflate, zlibInflate } from '../src/container.ts';
import { blake3, blake3Keyed, blake3Portable, h64 } from '../src/hash.ts';
import { ByteReader, toHex } from '../src/bytes.ts';
import { NameTableWriter } from '../src/names.ts';
import { payloadFingerprint } from '../src/payload.ts';
import fc from 'fast-check';

const fixture = (file: string) => new Uint8Array(readFileSync(new URL(`./fixtures/${file}`, import.meta.url)));
const KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
const seq = (n: number, f: (i: number) => number) => Uint8Array.from({ length: n }, (_, i) => f(i));

function namesOf(records: ReturnType<typeof decodeFrame>['records']): NameTableReader {
  const table = new NameTableReader();
  for (const r of records)
    if (r.type === RECORD_TYPE.NAMEPOOL_DELTA) table.add(new DataView(r.key.buffer, r.key.byteOffset + 1, 8).getBigUint64(0, true), readNamepool(r.body).text);
  return table;
}
function keyPath(key: Uint8Array, names: NameTableReader): string[] {
  const r = new ByteReader(key, 1);
  const out: string[] = [];
  while (r.remaining >= 17) out.push(names.readName(r).tag.text);
  return out;
}

describe('reference fixtures at the cell level', () => {
  it('value_inline.bin: /data/probe/greet text "hello\\0", fingerprint and hash', () => {
    const { records } = decodeFrame(fixture('value_inline.bin'));
    const names = namesOf(records);
    expect(keyPath(records[0]!.key, names)).toEqual(['/', 'data', 'probe', 'greet', 'text']);
    const desc = readCellDesc(records[0]!.body);
    expect(toHex(desc.inline)).toBe('68656c6c6f00');
    expect(desc.fingerprint).toBe(0x25643200fde2d061n);
    expect(toHex(desc.ref!.hash)).toBe('60e9ea2b1ae460e421cdec8bf2be3d0a2c2bc3bb5a33233c906ad75e1524ace1');
    expect(payloadFingerprint(name('text'), desc.inline, new NameTableWriter())).toBe(0x25643200fde2d061n);
  });

  it('dictionary.bin: three children in wire order, one an interned reference resolved after use', () => {
    const { records } = decodeFrame(fixture('dictionary.bin'));
    const names = namesOf(records);
    const manifest = readManifest(records[1]!.body, names);
    expect(manifest.entries.map((e) => e.name.tag.text)).toEqual(['greet', 'count', 'long/ref-name']);
    expect(manifest.entries.map((e) => toHex(e.revision.subarray(0, 8)))).toEqual(['61d0e2fd00326425', '94053d875aa7a2a3', '814e40878bb88f1d']);
    const order = readOrder(records[2]!.body, names);
    expect(order.entries.map((e) => e.position)).toEqual([0, 1, 2]);
    expect(readCellDesc(records[0]!.body).storeDescriptor).toBe(0x0202);
  });

  it('nested_dict.bin: one data-less child with the constant fingerprint', () => {
    const { records } = decodeFrame(fixture('nested_dict.bin'));
    const manifest = readManifest(records[1]!.body, namesOf(records));
    expect(manifest.entries.map((e) => e.name.tag.text)).toEqual(['inner']);
    expect(toHex(manifest.entries[0]!.revision)).toBe('2ada83c1819a53720000000000000000');
    expect(h64(new Uint8Array(32))).toBe(0x72539a81c183da2an);
  });

  it.each(['chunks_plain.bin', 'crc32c.bin', 'deflate_container.bin', 'crc32c_deflate.bin'])('%s: three 32-byte chunks reassemble to 00..5f', (file) => {
    const { records } = decodeFrame(fixture(file));
    const chunks = records.filter((r) => r.type === RECORD_TYPE.PAYLOAD_CHUNK).map((r) => readChunk(r.body));
    expect(chunks.map((c) => [c.offset, c.size, c.total])).toEqual([
      [0, 32, 96],
      [32, 32, 96],
      [64, 32, 96],
    ]);
    const whole = Buffer.concat(chunks.map((c) => c.data));
    expect(toHex(whole)).toBe(toHex(seq(96, (i) => i)));
    expect(toHex(blake3(whole))).toBe('fd3748482969397a57dc96fa5646af44bb4928dcbebb795be6d61975c3766bd6');
  });

  it('chunks_xchacha.bin: nonces recompute, every chunk decrypts with both AEAD paths', () => {
    const { records } = decodeFrame(fixture('chunks_xchacha.bin'));
    const expected = [
      'b11746c5b01c75c5b64a40551a5929a53b9d2c7eab892a6d',
      '3203288278105d6f96b4dc7deacfff6ebbe07b2adc0baf1f',
      'a05e1d23ed984baade198182af0b65be36c3ec5dbf7b2484',
    ];
    const plain: Uint8Array[] = [];
    records
      .filter((r) => r.type === RECORD_TYPE.PAYLOAD_CHUNK)
      .forEach((r, i) => {
        const c = readChunk(r.body);
        expect(c.aeadMode).toBe(3);
        expect(toHex(chunkNonce(KEY, 3, r.key, c.fingerprint!, c.offset, c.size, c.total))).toBe(expected[i]);
        const fast = aeadOpen(3, KEY, c.nonce, c.data, r.key);
        expect(toHex(portableAead.open(3, KEY, c.nonce, c.data, r.key))).toBe(toHex(fast));
        plain.push(fast);
      });
    expect(toHex(Buffer.concat(plain))).toBe(toHex(seq(96, (i) => i)));
  });

  it('the CAS deflate blob inflates to its declared size and hash', () => {
    const blob = fixture('payload_ref_cas_deflate.blob');
    const inflated = zlibInflate(blob, 96);
    expect(inflated.length).toBe(96);
    expect(toHex(blake3(inflated))).toBe('9c1d18e434f35a592b28259c65bfd13747390ccfe54c02a66ebe57a9e551d658');
    expect(toHex(portableZlib.inflate(blob, 96))).toBe(toHex(inflated));
  });
});

describe('fast and portable paths agree', () => {
  it('the native CRC32C path loaded (sse4_crc32 built) and matches the JS table on any input', () => {
    expect(NATIVE_CRC32C).toBe(true);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), (data) => {
        expect(crc32cRawFast(data)).toBe(crc32cRawJs(data));
        expect(crc32cRaw(data)).toBe(crc32cRawJs(data));
      }),
      { numRuns: 300 },
    );
  });

  it('node:crypto and @noble/ciphers give identical AEAD bytes in both modes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.uint8Array({ maxLength: 100 }), fc.constantFrom(2, 3), (data, aad, mode) => {
        const nonce = blake3Keyed(KEY, aad, 24).subarray(0, mode === 3 ? 24 : 12);
        const fast = aeadSeal(mode, KEY, nonce, data, aad);
        expect(toHex(portableAead.seal(mode, KEY, nonce, data, aad))).toBe(toHex(fast));
        expect(toHex(aeadOpen(mode, KEY, nonce, fast, aad))).toBe(toHex(data));
      }),
      { numRuns: 200 },
    );
  });

  it("node:zlib and pako read each other's zlib streams", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20000 }), (data) => {
        expect(toHex(portableZlib.inflate(zlibDeflate(data), data.length))).toBe(toHex(data));
        expect(toHex(zlibInflate(portableZlib.deflate(data), data.length))).toBe(toHex(data));
      }),
      { numRuns: 100 },
    );
  });

  it('the WebAssembly and the pure-JS BLAKE3 agree on any input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), (data) => {
        expect(toHex(blake3(data))).toBe(toHex(blake3Portable(data)));
      }),
      { numRuns: 300 },
    );
    const big = seq(3 * 1024 * 1024 + 7, (i) => (i * 13) & 0xff);
    expect(toHex(blake3(big))).toBe(toHex(blake3Portable(big)));
  });

  it('BLAKE3 matches the reference self-test vectors, plain and keyed', () => {
    const input = (n: number) => seq(n, (i) => i % 251);
    expect(toHex(blake3(input(1024)))).toBe('42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7');
    expect(toHex(blake3(input(1025), 40))).toBe('d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444f4c4a22b4b399155');
    expect(toHex(blake3Keyed(KEY, input(1024), 40))).toBe('f45a9249a627fdf1fcf13c0e6376f6a9a9b2056d6e1b5693a4b119a3453665f9e13557756a2bdd89');
    expect(id('CEP').code).toBe(0x0123970000000000n);
  });
});
