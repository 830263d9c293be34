/**
 * BLAKE3 (the reference's hash algorithm 1), the 64-bit fingerprint, and the Merkle root.
 *
 * Two paths with identical output: hash-wasm's WebAssembly BLAKE3 (about 10× faster than
 * pure JS here, and per-call overhead under half a microsecond) for unkeyed 32-byte
 * digests, which is what Merkle leaves and payload hashes need; @noble/hashes for keyed
 * and extended output, and as the portable path tests compare against.
 */
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js';
import { createBLAKE3 } from 'hash-wasm';
import { latin1 } from './bytes.ts';

// WebAssembly instantiation is asynchronous once, at load; hashing is synchronous after that.
const wasmHasher = await createBLAKE3(256);

/** BLAKE3-256 (or `outLen` bytes of extended output). */
export function blake3(data: Uint8Array, outLen = 32): Uint8Array {
  if (outLen !== 32) return nobleBlake3(data, { dkLen: outLen });
  wasmHasher.init();
  wasmHasher.update(data);
  return wasmHasher.digest('binary');
}

/** BLAKE3 through @noble/hashes only (the portable path). */
export function blake3Portable(data: Uint8Array, outLen = 32): Uint8Array {
  return nobleBlake3(data, { dkLen: outLen });
}

/** Keyed BLAKE3 (32-byte key). */
export function blake3Keyed(key: Uint8Array, data: Uint8Array, outLen = 32): Uint8Array {
  return nobleBlake3(data, { key, dkLen: outLen });
}

/** The reference's H64: the first 8 bytes of BLAKE3 as a little-endian u64; 0 for empty input. */
export function h64(data: Uint8Array): bigint {
  if (data.length === 0) return 0n;
  return h64OfDigest(blake3(data));
}

/** H64 from a BLAKE3-256 digest already computed. */
export function h64OfDigest(digest: Uint8Array): bigint {
  return new DataView(digest.buffer, digest.byteOffset, 8).getBigUint64(0, true);
}

/**
 * Merkle root over records: leaves are BLAKE3 of each record's covered bytes, sorted by
 * key (stable: ties keep emission order), combined pairwise with BLAKE3(L ‖ R), an odd
 * last node paired with itself; no records → 32 zero bytes.
 */
export function merkleRoot(leaves: readonly { key: Uint8Array; covered: Uint8Array }[]): Uint8Array {
  const order = leafOrder(leaves.map((leaf) => latin1(leaf.key)));
  return merkleCombine(order.map((i) => blake3(leaves[i]!.covered)));
}

/**
 * Leaf indices sorted by key, ties in emission order. Keys are latin1 strings of the key
 * bytes ({@link latin1}): native string comparison orders them like the bytes, several
 * times faster than comparing byte arrays in JS.
 */
export function leafOrder(keys: readonly string[]): number[] {
  const order = Array.from(keys, (_, i) => i);
  return order.sort((a, b) => {
    const ka = keys[a]!;
    const kb = keys[b]!;
    return ka < kb ? -1 : ka > kb ? 1 : a - b;
  });
}

/** Combines leaf hashes (already in key order) into the root. */
export function merkleCombine(leafHashes: Uint8Array[]): Uint8Array {
  if (leafHashes.length === 0) return new Uint8Array(32);
  let level = leafHashes;
  const pair = new Uint8Array(64);
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i]!;
      const right = level[i + 1] ?? left;
      pair.set(left, 0);
      pair.set(right, 32);
      next.push(blake3(pair));
    }
    level = next;
  }
  return level[0]!;
}
