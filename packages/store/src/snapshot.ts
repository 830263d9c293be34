/**
 * A snapshot: the whole tree at the end of one beat, so recovery replays only the journal
 * written since.
 *
 *   magic "CEPS" (u32 LE 0x53504543) · crc32c u32 of everything after it ·
 *   version u8 (1) · beat zigzag varint (−1: before any beat) · cell count u32 ·
 *   root image · then pre-order, each store followed by its child count and its children,
 *   each child as name · image (codec.ts) · (child count · children when a store)
 */
import { createTree, imageOf, restoreTree, type Cell, type Name, type Tree, type TreeOptions, type TreeRestorer } from '@cep/cells';
import { crc32c } from './checksum.ts';
import { ByteReader, ByteWriter, readImageBody, writeImageBody, writeName } from './codec.ts';
import { storeError } from './errors.ts';

export const SNAPSHOT_MAGIC = 0x53504543;
const VERSION = 1;
const HEADER = 8;
const NO_PATH: readonly Name[] = [];

/** Encodes `tree` as it is now, labelled with `beat` (the last beat it contains). */
export function encodeSnapshot(tree: Tree, beat: number): Uint8Array {
  const out = new ByteWriter(1 << 16);
  out.u32(SNAPSHOT_MAGIC);
  out.u32(0);
  out.u8(VERSION);
  out.signed(beat); // −1: taken before any beat was committed
  const countAt = out.length;
  out.u32(0);
  let count = 0;
  writeImageBody(out, imageOf(tree.root, NO_PATH));
  count++;
  // Iterative pre-order: after a store's image, its child count, then each child in turn.
  const pending: Array<{ children: readonly Cell[]; next: number }> = [];
  const open = (cell: Cell): void => {
    if (cell.kind !== 'dictionary' && cell.kind !== 'list') return;
    const children = cell.children();
    out.varint(children.length);
    pending.push({ children, next: 0 });
  };
  open(tree.root);
  while (pending.length > 0) {
    const top = pending[pending.length - 1]!;
    if (top.next >= top.children.length) {
      pending.pop();
      continue;
    }
    const child = top.children[top.next++]!;
    writeName(out, child.name);
    writeImageBody(out, imageOf(child, NO_PATH));
    count++;
    open(child);
  }
  out.patchU32(countAt, count);
  const bytes = out.view8().slice();
  new DataView(bytes.buffer).setUint32(4, crc32c(bytes.subarray(HEADER)), true);
  return bytes;
}

/** A decoded snapshot. */
export interface DecodedSnapshot {
  /** The last beat it contains; −1 when taken before any beat was committed. */
  readonly beat: number;
  readonly tree: Tree;
  readonly cells: number;
}

/** Rebuilds the tree of a snapshot; `STORE_CORRUPT` when its checksum or structure is wrong. */
export function decodeSnapshot(bytes: Uint8Array, treeOptions: TreeOptions = {}): DecodedSnapshot {
  if (bytes.length < HEADER + 2) throw storeError('STORE_CORRUPT', `snapshot of ${bytes.length} bytes is too short`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== SNAPSHOT_MAGIC) throw storeError('STORE_CORRUPT', 'snapshot does not start with the CEPS magic');
  const stored = view.getUint32(4, true);
  if (stored !== crc32c(bytes.subarray(HEADER))) throw storeError('STORE_CORRUPT', 'snapshot checksum mismatch: the file is damaged');
  const input = new ByteReader(bytes.subarray(HEADER));
  const version = input.u8();
  if (version !== VERSION) throw storeError('STORE_CORRUPT', `snapshot version ${version} is not known (this library writes ${VERSION})`);
  const beat = input.signed();
  if (beat < -1) throw storeError('STORE_CORRUPT', `snapshot beat ${beat} is not a beat`);
  const count = input.u32();
  const tree = createTree(treeOptions);
  readCells(input, count, restoreTree(tree));
  if (!input.done) throw storeError('STORE_CORRUPT', 'snapshot has trailing bytes');
  tree.setBeat(beat + 1);
  return { beat, tree, cells: count };
}

function readCells(input: ByteReader, count: number, restore: TreeRestorer): void {
  const root = readImageBody(input, NO_PATH);
  let read = 1;
  const pending: Array<{ cell: Cell; left: number }> = [];
  const rootCell = restore.root(root);
  if (root.kind === 'dictionary' || root.kind === 'list') pending.push({ cell: rootCell, left: input.varint() });
  while (pending.length > 0) {
    const top = pending[pending.length - 1]!;
    if (top.left === 0) {
      pending.pop();
      continue;
    }
    top.left--;
    const childName = input.name();
    const image = readImageBody(input, NO_PATH);
    read++;
    if (read > count) throw storeError('STORE_CORRUPT', `snapshot announces ${count} cells but holds more`);
    let cell: Cell;
    try {
      cell = restore.child(top.cell, childName, image);
    } catch (error) {
      throw storeError('STORE_CORRUPT', `snapshot structure is wrong: ${(error as Error).message}`);
    }
    if (image.kind === 'dictionary' || image.kind === 'list') pending.push({ cell, left: input.varint() });
  }
  restore.finish();
  if (read !== count) throw storeError('STORE_CORRUPT', `snapshot announces ${count} cells but holds ${read}`);
}
