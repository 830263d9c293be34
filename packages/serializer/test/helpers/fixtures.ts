/**
 * Inputs shared by tests and bench scripts, so a bench measures exactly what a test checks.
 */
import { bytes, createTree, type Cell } from '@cep/cells';
import type { SerializerPolicy } from '@cep/serializer';

/** The AEAD key of the policy table below (an example key, never a real one). */
const POLICY_KEY = new Uint8Array(32).fill(7);

/** One policy per writer feature: none, CRC32C, AEAD (with CRC32C), deflate (with CRC32C). */
export const FEATURE_POLICIES: ReadonlyArray<readonly [string, SerializerPolicy]> = [
  ['none', {}],
  ['crc32c', { crc32c: true }],
  ['aead', { crc32c: true, aead: { mode: 'xchacha20poly1305', key: POLICY_KEY } }],
  ['deflate', { crc32c: true, deflate: true }],
];

/**
 * A mirror-like part: `count` values of `size` bytes, structured so their plaintext would
 * compress, six segments deep (returns the branch at `/p`).
 */
export function mirrorLikePart(count: number, size: number): Cell {
  const tree = createTree();
  for (let i = 0; i < count; i++) {
    const v = new Uint8Array(size);
    for (let j = 0; j < size; j++) v[j] = (j * 7 + i) & 63;
    tree.set(['p', 'mirror', 'src', 'docs', `d${i % 3}`, `c${i}`], bytes(v));
  }
  return tree.get('/p')!;
}

/** A WebAssembly header followed by a byte that is no section: fails WebAssembly.validate (forces the JS paths). */
export const INVALID_WASM = Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x63);

/** Random bytes from a seed (deterministic, no Math.random): xorshift32. */
export function bytesFrom(seed: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x;
  }
  return out;
}

/** Inputs of `lengths` laid out one after another (with a gap, so none is aligned by luck). */
export function layout(lengths: readonly number[], seed: number): { data: Uint8Array; starts: number[]; ends: number[] } {
  const starts: number[] = [];
  const ends: number[] = [];
  let at = 3;
  for (const n of lengths) {
    starts.push(at);
    ends.push(at + n);
    at += n + 5;
  }
  return { data: bytesFrom(seed, at), starts, ends };
}
