/** Flat frames byte-compatible with the CEP reference: CRC32C, deflate, AEAD and comparator ceilings. */
export {};
