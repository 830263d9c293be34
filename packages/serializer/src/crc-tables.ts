/**
 * Slice-by-8 tables for a reflected CRC-32 polynomial, shared by the JS checksum path
 * (checksum.ts) and the WebAssembly one (blake3-batch.ts copies them into the kernel's memory),
 * so both read the same 8 × 256 words.
 */

/** The reflected Castagnoli polynomial (CRC32C, checksum id 1). */
export const CASTAGNOLI = 0x82f63b78;
/** The reflected IEEE 802.3 polynomial (CRC-32, checksum id 0). */
export const IEEE = 0xedb88320;

/** Table k (k < 8) at words [256k, 256k + 256): table 0 is the byte-at-a-time table, table k advances it k more bytes. */
export function sliceBy8Tables(poly: number): Uint32Array {
  const tables = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    tables[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = tables[n]!;
    for (let t = 1; t < 8; t++) {
      c = tables[c & 0xff]! ^ (c >>> 8);
      tables[t * 256 + n] = c >>> 0;
    }
  }
  return tables;
}
