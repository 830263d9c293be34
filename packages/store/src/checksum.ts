/**
 * CRC32C (Castagnoli) in its standard form (initial value and final xor 0xFFFFFFFF),
 * native through fast-crc32c when its SSE4.2 addon built. The standard form, not the
 * reference's raw one: a raw CRC with initial value 0 does not notice leading zero bytes,
 * and a zero-filled tail is exactly what a crash can leave in a file.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const fastCrc32c = require('fast-crc32c') as { calculate(data: Uint8Array, initial?: number): number };

/** The CRC32C of `data`; pass the CRC of the bytes before it as `previous` to continue one. */
export function crc32c(data: Uint8Array, previous?: number): number {
  return (previous === undefined ? fastCrc32c.calculate(data) : fastCrc32c.calculate(data, previous)) >>> 0;
}
