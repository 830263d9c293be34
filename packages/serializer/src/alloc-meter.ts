/**
 * Bytes a decode reserves in proportion to what a frame declares (records table, Merkle
 * level, inflated frame, payloads). Every such allocation goes through {@link reserveBytes},
 * so a test can add them up and check that no frame makes the reader reserve more than a
 * small multiple of its own size, whatever its length fields say (FORMAT.md §13).
 */

let reserved = 0;

/** A zero-filled array of `n` bytes, counted. */
export function reserveBytes(n: number): Uint8Array {
  reserved += n;
  return new Uint8Array(n);
}

/** Counts `n` bytes reserved by an allocation made elsewhere (a typed array of another kind, a zlib output). */
export function countReserved(n: number): void {
  reserved += n;
}

/** The bytes counted since the last {@link resetReserved} (internal: tests and benches). */
export function reservedBytes(): number {
  return reserved;
}

export function resetReserved(): void {
  reserved = 0;
}
