/**
 * Branches of a @cep/cells tree as flat frames. One frame carries a whole branch: one
 * cell_desc per cell (keyed by its path from the branch root), manifest and order pages
 * for every store, payload chunks for large or encrypted values, and the name table.
 * Decoding verifies everything and stages the result; `applyBranch` then writes it into
 * a tree all or nothing.
 */
import type { Cell, Name, PathLike, Tree, Value } from '@cep/cells';
import { readBranch } from './branch-reader.ts';
import { BranchWriter } from './branch-writer.ts';
import { serializerError } from './errors.ts';
import { DEFAULT_MAX_RECORDS, readFrameWith } from './frame-reader.ts';
import { checkComparator, resolvePolicy, type SerializerPolicy } from './policy.ts';
import { resolveStrictness, type Strictness } from './strictness.ts';

/** A decoded cell, staged: nothing is in any tree until {@link applyBranch}. */
export interface StagedCell {
  readonly name: Name;
  readonly kind: 'value' | 'dictionary' | 'list' | 'link';
  readonly value?: Value;
  readonly storeType?: Name;
  readonly linkTarget?: readonly Name[];
  readonly deleted: boolean;
  readonly children: readonly StagedCell[];
}

/** A verified branch frame. */
export interface DecodedBranch {
  readonly root: StagedCell;
  readonly beat: number;
  readonly cellCount: number;
}

/** Options of {@link encodeBranch}. */
export interface EncodeBranchOptions {
  /** Beat written in the trailer (default: the newest beat in the branch). */
  readonly beat?: number;
  /** Ship soft-deleted cells as tombstones (default false: the live view). */
  readonly includeDeleted?: boolean;
}

/**
 * Encodes `cell` and everything below it into one flat frame. A frame of up to 4 KiB is a view
 * into a shared block (its `buffer` is shared; see the README, "Encoded frames").
 */
export function encodeBranch(cell: Cell, policy: SerializerPolicy = {}, options: EncodeBranchOptions = {}): Uint8Array {
  const resolved = resolvePolicy(policy);
  checkComparator(resolved, 'write');
  const writer = BranchWriter.take(resolved, options.includeDeleted === true);
  let out: Uint8Array;
  try {
    writer.writeBranch(cell);
    const frameOptions = { beat: options.beat ?? writer.newest, caps: writer.caps, checksum: resolved.checksum };
    out = writer.frame.finish(frameOptions);
    if (resolved.deflate && deflateCanPay(out.length, writer.sealedBytes, resolved.deflateMinBytes)) {
      // Same records and Merkle root; only the trailer (compression flag and cap) differs.
      const packed = writer.frame.finish({ ...frameOptions, compress: true });
      if (packed.length < out.length) out = packed;
    }
  } finally {
    writer.dispose();
  }
  if (out.length > resolved.maxFrameBytes) {
    throw serializerError('FRAME_TOO_LARGE', `the branch encodes to ${out.length} bytes; the policy allows ${resolved.maxFrameBytes}`, {
      size: out.length,
      limit: resolved.maxFrameBytes,
    });
  }
  return out;
}

/** Options of {@link decodeBranch}. */
export interface DecodeBranchOptions {
  /**
   * Which checks beyond the reference's apply (default `'strict'`): `'lenient'` accepts what
   * the reference accepts, a per-rule object relaxes only the rules it names (FORMAT.md §16).
   */
  readonly strictness?: Strictness;
}

/**
 * Whether deflating a frame of `frameBytes`, `sealedBytes` of which no compressor can shrink
 * (nonces, AAD hashes, ciphertext and tags of sealed chunks, counted as written), can pay
 * (FORMAT.md §9, "When to compress"). Deflate can only shrink the rest, the frame's own
 * structure, but zlib still reads every sealed byte, and slower than structure (measured about
 * 3× per byte: a sealed chunk has no matches to find). So it is tried only when that rest alone
 * is at least `minBytes` (below it zlib's fixed setup outweighs what it saves, as for a small
 * plain frame) and outweighs the sealed bytes (past that, most of zlib's time goes to bytes it
 * cannot shrink). Either way the frame goes out plain, byte for byte what a policy without
 * deflate writes.
 */
export function deflateCanPay(frameBytes: number, sealedBytes: number, minBytes = 0): boolean {
  const rest = frameBytes - sealedBytes;
  return rest >= minBytes && rest > sealedBytes;
}

/** Reads and verifies a branch frame; nothing is applied anywhere. */
export function decodeBranch(bytes: Uint8Array, policy: SerializerPolicy = {}, options: DecodeBranchOptions = {}): DecodedBranch {
  const resolved = resolvePolicy(policy);
  checkComparator(resolved, 'read');
  const lenient = resolveStrictness(options.strictness);
  const frame = readFrameWith(bytes, resolved.maxFrameBytes, DEFAULT_MAX_RECORDS, lenient, false);
  const { root, cellCount } = readBranch(frame, resolved, lenient);
  return { root, beat: Number(frame.trailer.beat), cellCount };
}

/**
 * Writes a decoded branch at `path`, replacing what is there, all or nothing (one tree
 * batch: if anything fails, the tree is left as it was).
 */
export function applyBranch(tree: Tree, path: PathLike, branch: DecodedBranch): void {
  const at = typeof path === 'string' ? path.split('/').filter(Boolean) : [...path];
  if (at.length === 0) throw serializerError('BRANCH_INCONSISTENT', 'a branch is applied under a named cell, not at the root');
  tree.batch(() => {
    tree.remove(at);
    const write = (cell: StagedCell, where: (Name | string)[]): void => {
      switch (cell.kind) {
        case 'value':
          tree.set(where, cell.value!);
          break;
        case 'link':
          tree.link(where, [...cell.linkTarget!]);
          break;
        case 'dictionary':
          tree.ensureDictionary(where, cell.storeType);
          for (const child of cell.children) write(child, [...where, child.name]);
          break;
        case 'list':
          tree.ensureList(where, cell.storeType);
          cell.children.forEach((child, index) => {
            // The list API inserts by position; `write` then fills the child (store type, children, tombstone).
            if (child.kind === 'link') throw serializerError('BRANCH_INCONSISTENT', 'links inside lists are not supported');
            tree.insert(where, index, child.kind === 'value' ? child.value! : child.kind, child.name);
            write(child, [...where, child.name]);
          });
          break;
      }
      if (cell.deleted) tree.delete(where);
    };
    write(branch.root, at);
  });
}
