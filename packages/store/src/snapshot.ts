/**
 * A snapshot: the whole tree, so recovery replays only the journal written since.
 *
 * It is written in slices across beats (see {@link SnapshotEncoder}), so it is fuzzy: each
 * cell's image is its state at some beat between `beat` (when it began) and `complete` (when
 * it ended). Journal entries are cell images (states, not operations) and every cell a beat
 * touched is in its entry together with its ancestors, so replaying the journal's beats after
 * `beat` on top of it lands exactly on the live tree, once the journal reaches `complete`.
 *
 * Version 2 (written):
 *   magic "CEPS" (u32 LE 0x53504543) · crc32c u32 of everything after it ·
 *   version u8 (2) · beat zigzag varint (−1: before any beat) ·
 *   root image · then pre-order, each store followed by its child count and its children,
 *   each child as name · image (codec.ts) · (child count · children when a store) ·
 *   cell count u32 · complete zigzag varint
 * Version 1 (still read): the same with `cell count u32` after `beat` and no trailer; it was
 * written inside one beat, so `complete` = `beat`.
 */
import { createTree, imageOf, restoreTree, type Cell, type Name, type Tree, type TreeOptions, type TreeRestorer } from '@cep/cells';
import { crc32c } from './checksum.ts';
import { ByteReader, ByteWriter, readImageBody, writeImageBody, writeName } from './codec.ts';
import { storeError } from './errors.ts';

export const SNAPSHOT_MAGIC = 0x53504543;
const VERSION = 2;
const HEADER = 8;
const NO_PATH: readonly Name[] = [];

/**
 * Encodes a tree a slice at a time, between beats, while the tree keeps changing. Each store's
 * children are taken (copied) when the walk reaches it, so a later change to the tree never
 * moves the walk; a cell removed after that is still written (the journal removes it again),
 * a cell added before it is written with its newer state (the journal's older images of it are
 * overwritten by newer ones on replay).
 */
export class SnapshotEncoder {
  /** Cells written so far. */
  cells = 0;
  /** Bytes handed out so far (header included). */
  bytes = 0;
  private crc: number | undefined;
  private started = false;
  private readonly pending: Array<{ children: readonly Cell[]; next: number }> = [];

  /** `beat`: the last beat the tree holds now; recovery replays the journal from the one after. */
  constructor(
    private readonly tree: Tree,
    readonly beat: number,
  ) {}

  /** True once every cell is written; then call {@link SnapshotEncoder.finish}. */
  get done(): boolean {
    return this.started && this.pending.length === 0;
  }

  /** Encodes cells until at least `budget` bytes are out (or the walk ends); returns them. */
  next(budget: number): Uint8Array {
    const out = new ByteWriter(Math.min(Math.max(budget, 1024), 1 << 24) + 1024);
    if (!this.started) {
      this.started = true;
      out.u32(SNAPSHOT_MAGIC);
      out.u32(0); // the checksum, patched by finish()
      out.u8(VERSION);
      out.signed(this.beat);
      writeImageBody(out, imageOf(this.tree.root, NO_PATH));
      this.cells++;
      this.open(out, this.tree.root);
    }
    const { pending } = this;
    while (pending.length > 0 && out.length < budget) {
      const top = pending[pending.length - 1]!;
      if (top.next >= top.children.length) {
        pending.pop();
        continue;
      }
      const child = top.children[top.next++]!;
      writeName(out, child.name);
      writeImageBody(out, imageOf(child, NO_PATH));
      this.cells++;
      this.open(out, child);
    }
    while (pending.length > 0 && pending[pending.length - 1]!.next >= pending[pending.length - 1]!.children.length) pending.pop();
    return this.emit(out, this.bytes === 0 ? HEADER : 0);
  }

  /**
   * The last bytes (cell count and `complete`, the beat the journal must reach for the
   * snapshot to be whole) and the header with the checksum, to write over the first 8 bytes.
   */
  finish(complete: number): { trailer: Uint8Array; header: Uint8Array } {
    if (!this.done) throw new Error('SnapshotEncoder.finish before the walk is done');
    const out = new ByteWriter(16);
    out.u32(this.cells);
    out.signed(complete);
    const trailer = this.emit(out, 0);
    const header = new Uint8Array(HEADER);
    const view = new DataView(header.buffer);
    view.setUint32(0, SNAPSHOT_MAGIC, true);
    view.setUint32(4, this.crc ?? crc32c(new Uint8Array(0)), true);
    return { trailer, header };
  }

  private open(out: ByteWriter, cell: Cell): void {
    if (cell.kind !== 'dictionary' && cell.kind !== 'list') return;
    // A copy: a list's order array is changed in place by later beats.
    const children = cell.children().slice();
    out.varint(children.length);
    this.pending.push({ children, next: 0 });
  }

  private emit(out: ByteWriter, checkedFrom: number): Uint8Array {
    const bytes = out.view8().slice();
    this.crc = crc32c(bytes.subarray(checkedFrom), this.crc);
    this.bytes += bytes.length;
    return bytes;
  }
}

/** Encodes `tree` as it is now, labelled with `beat` (the last beat it contains), in one piece. */
export function encodeSnapshot(tree: Tree, beat: number): Uint8Array {
  const encoder = new SnapshotEncoder(tree, beat);
  const chunks: Uint8Array[] = [];
  do chunks.push(encoder.next(Number.POSITIVE_INFINITY));
  while (!encoder.done);
  const { trailer, header } = encoder.finish(beat);
  chunks.push(trailer);
  const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  bytes.set(header, 0);
  return bytes;
}

/** A decoded snapshot. */
export interface DecodedSnapshot {
  /** The beat it began at: the journal is replayed from the next one. −1: before any beat. */
  readonly beat: number;
  /** The beat it ended at: the journal must reach it for the tree to be a committed beat. */
  readonly complete: number;
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
  if (version !== 1 && version !== VERSION) throw storeError('STORE_CORRUPT', `snapshot version ${version} is not known (this library writes ${VERSION})`);
  const beat = input.signed();
  if (beat < -1) throw storeError('STORE_CORRUPT', `snapshot beat ${beat} is not a beat`);
  const announced = version === 1 ? input.u32() : undefined;
  const tree = createTree(treeOptions);
  const read = readCells(input, announced, restoreTree(tree));
  const count = announced ?? input.u32();
  if (read !== count) throw storeError('STORE_CORRUPT', `snapshot announces ${count} cells but holds ${read}`);
  const complete = version === 1 ? beat : input.signed();
  if (complete < beat) throw storeError('STORE_CORRUPT', `snapshot completed at beat ${complete}, before it began (${beat})`);
  if (!input.done) throw storeError('STORE_CORRUPT', 'snapshot has trailing bytes');
  tree.setBeat(beat + 1);
  return { beat, complete, tree, cells: count };
}

/** Reads the cells (at most `limit` when known up front); returns how many it read. */
function readCells(input: ByteReader, limit: number | undefined, restore: TreeRestorer): number {
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
    if (limit !== undefined && read > limit) throw storeError('STORE_CORRUPT', `snapshot announces ${limit} cells but holds more`);
    let cell: Cell;
    try {
      cell = restore.child(top.cell, childName, image);
    } catch (error) {
      throw storeError('STORE_CORRUPT', `snapshot structure is wrong: ${(error as Error).message}`);
    }
    if (image.kind === 'dictionary' || image.kind === 'list') pending.push({ cell, left: input.varint() });
  }
  restore.finish();
  return read;
}
