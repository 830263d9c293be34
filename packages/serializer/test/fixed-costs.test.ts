/**
 * The shortcuts that take a small frame's fixed costs out (process-wide name tables, leaves
 * sorted in place, the Merkle root checked in a reused level, the trailer written in place,
 * ASCII name texts without an encoder, small frames copied out into a shared block) give
 * exactly what the general paths give.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createTree, formatName, name, referenceId, text, u64 } from '@cep/cells';
import { isCepError } from '@cep/errors';
import { decodeBranch, decodeFrame, encodeBranch, encodeFrame, readNamepool, RECORD_TYPE } from '@cep/serializer';
import { latin1 } from '../src/bytes.ts';
import { leafOrder, leafOrderInPlace, merkleOfRanges, merkleOfRangesIs } from '../src/hash.ts';
import { writeNamepool } from '../src/records.ts';
import { blake3Portable } from '../src/hash.ts';

/** Keys as one byte array with their ranges, and the same keys as latin1 strings. */
function layout(keys: readonly Uint8Array[]): { data: Uint8Array; starts: number[]; ends: number[]; strings: string[] } {
  const data = new Uint8Array(keys.reduce((n, k) => n + k.length, 0));
  const starts: number[] = [];
  const ends: number[] = [];
  let at = 0;
  for (const key of keys) {
    data.set(key, at);
    starts.push(at);
    at += key.length;
    ends.push(at);
  }
  return { data, starts, ends, strings: keys.map(latin1) };
}

/** The Merkle root as FORMAT.md states it, with the portable BLAKE3 only (leaves already in order). */
function portableMerkle(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return new Uint8Array(32);
  let level = leaves.map((leaf) => blake3Portable(leaf));
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(blake3Portable(Uint8Array.of(...level[i]!, ...(level[i + 1] ?? level[i]!))));
    level = next;
  }
  return level[0]!;
}

describe('fixed-cost shortcuts', () => {
  it('sorting leaves in place orders them as the string sort does, ties in emission order (property)', () => {
    // Few distinct bytes and short keys, so prefixes and duplicates are common.
    const key = fc.uint8Array({ minLength: 0, maxLength: 4 }).map((k) => k.map((b) => b % 3));
    fc.assert(
      fc.property(fc.array(key, { maxLength: 20 }), (keys) => {
        const { data, starts, ends, strings } = layout(keys);
        expect(leafOrderInPlace(data, starts, ends, keys.length)).toEqual(leafOrder(strings));
      }),
      { numRuns: 500 },
    );
  });

  it('sorting leaves in place orders long keys with shared prefixes as the string sort does, at any offset (property)', () => {
    // Keys as frames have them: a shared prefix (type byte, path names), then a short tail, so
    // the word-wise comparison meets equal words, a first difference inside a word, and tails of
    // 0 to 3 bytes; a leading gap moves every key off word alignment.
    const prefix = fc.uint8Array({ minLength: 0, maxLength: 40 }).map((k) => k.map((b) => (b % 2) * 0xff));
    // Bytes on both sides of 0x80, so a word's sign bit decides some comparisons.
    const tail = fc.uint8Array({ minLength: 0, maxLength: 9 }).map((k) => k.map((b) => [0, 0x7f, 0x80, 0xff][b % 4]!));
    fc.assert(
      fc.property(prefix, fc.array(fc.tuple(fc.nat(40), tail), { maxLength: 20 }), fc.nat(3), (shared, parts, gap) => {
        const keys = parts.map(([cut, t]) => Uint8Array.of(...shared.subarray(0, cut), ...t));
        const { data, starts, ends, strings } = layout(keys);
        const shifted = new Uint8Array(data.length + gap);
        shifted.set(data, gap);
        expect(
          leafOrderInPlace(
            shifted,
            starts.map((s) => s + gap),
            ends.map((e) => e + gap),
            keys.length,
          ),
        ).toEqual(leafOrder(strings));
      }),
      { numRuns: 500 },
    );
  });

  it('the Merkle root, computed or checked in place (node words, reused level), matches the portable BLAKE3 tree (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 0, max: 2 ** 31 }), (count, seed) => {
        const frame = Uint8Array.from({ length: count * 40 + 8 }, (_, i) => (i * 31 + seed) & 0xff);
        const starts = Array.from({ length: count }, (_, i) => i * 40);
        const ends = starts.map((s, i) => s + 1 + ((i * 7 + seed) % 40));
        const order = Array.from({ length: count }, (_, i) => (i * 5 + seed) % Math.max(count, 1));
        const root = merkleOfRanges(frame, starts, ends, order);
        expect([...root]).toEqual([...portableMerkle(order.map((i) => frame.subarray(starts[i]!, ends[i]!)))]);
        expect(merkleOfRangesIs(frame, starts, ends, order, root)).toBe(true);
        const wrong = root.slice();
        wrong[seed % 32]! ^= 1;
        expect(merkleOfRangesIs(frame, starts, ends, order, wrong)).toBe(false);
        expect(merkleOfRangesIs(frame, starts, ends, order, root.subarray(0, 31))).toBe(false);
      }),
      { numRuns: 150 },
    );
  });

  it('names kept across frames never carry a frame-local reference number into another frame', () => {
    // Both frames number their first reference 0x1001, for different texts; words repeat.
    const decoded: string[][] = [];
    for (const ref of ['first reference', 'second, another one', 'first reference']) {
      const tree = createTree();
      tree.set(['d', name(referenceId(ref)), 'count'], u64(1));
      tree.set(['d', 'plain'], text('x'));
      const branch = decodeBranch(encodeBranch(tree.get('/d')!));
      decoded.push(branch.root.children.map((c) => formatName(c.name)));
    }
    expect(decoded[0]).toContain('first reference');
    expect(decoded[1]).toContain('second, another one');
    expect(decoded[1]).not.toContain('first reference');
    expect(decoded[2]).toEqual(decoded[0]);
  });

  it('name texts: ASCII and other UTF-8 read back as written; invalid UTF-8 is refused', () => {
    for (const t of ['val/u64', 'x', 'a'.repeat(64), 'a'.repeat(65), 'ünïcödé', '名前', 'mixed ascii → arrow', '\u0000nul']) {
      expect(readNamepool(writeNamepool(t, false))).toEqual({ text: t, glob: false });
      expect(readNamepool(writeNamepool(t, true))).toEqual({ text: t, glob: true });
    }
    // Length 2, flags 0, then a lone continuation byte and an ASCII byte.
    expect(() => readNamepool(Uint8Array.of(2, 0, 0x80, 0x41))).toThrowError(expect.objectContaining({ code: 'NAME_INVALID' }));
    try {
      readNamepool(Uint8Array.of(1, 0, 0xff));
      expect.unreachable();
    } catch (error) {
      expect(isCepError(error) && error.code).toBe('NAME_INVALID');
    }
  });

  it('a trailer written in place round-trips beats of any size, the branch block and many records', () => {
    const records = Array.from({ length: 40 }, (_, i) => ({
      type: RECORD_TYPE.CELL_DESC,
      version: 1,
      flags: 0,
      key: Uint8Array.of(RECORD_TYPE.CELL_DESC, i, ...new Array<number>(i * 4).fill(i)),
      body: new Uint8Array(i * 9),
    }));
    for (const beat of [0n, 127n, 128n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n]) {
      const branch = { glob: 1, domain: 2n ** 63n, tag: 5n, frameId: beat };
      const frame = encodeFrame(records, { beat, checksum: 1, branch, historyWindows: { payload: 300, manifest: 2 ** 31 } });
      // Only the frame layer: these bodies are not cell_descs, and decodeFrame checks no body of that type.
      const { trailer, records: read } = decodeFrame(frame);
      expect(trailer.beat).toBe(beat);
      expect(trailer.branch).toEqual(branch);
      expect(trailer.historyWindows).toEqual({ payload: 300, manifest: 2 ** 31 });
      expect(read.map((r) => [...r.key])).toEqual(records.map((r) => [...r.key]));
    }
  });

  it('small frames copied into the shared block are their own bytes; large ones get their own buffer', () => {
    const tree = createTree();
    tree.set('/b/x', text('hello'));
    tree.set('/b/n', u64(7));
    const branch = tree.get('/b')!;
    // Many small frames in a row cross into a new block more than once.
    const frames = Array.from({ length: 200 }, () => encodeBranch(branch, { crc32c: true }));
    const first = frames[0]!;
    expect(first.length).toBeLessThanOrEqual(4096);
    const copy = Uint8Array.from(first);
    const buffers = new Set(frames.map((f) => f.buffer));
    expect(buffers.size).toBeGreaterThan(1);
    expect(buffers.size).toBeLessThan(frames.length);
    for (const frame of frames) {
      expect(frame.byteOffset % 8).toBe(0);
      expect(frame).toEqual(copy);
    }
    // Writing into one frame leaves every other frame of its block as it was, and each decodes.
    first.fill(0);
    for (const frame of frames.slice(1)) {
      expect(frame).toEqual(copy);
      expect(decodeBranch(frame).cellCount).toBe(3);
    }
    // A frame over the block's limit is cut out alone, at its size.
    const big = createTree();
    for (let i = 0; i < 40; i++) big.set(['b', `k${i}`], text('v'.repeat(40)));
    const large = encodeBranch(big.get('/b')!);
    expect(large.length).toBeGreaterThan(4096);
    expect(large.byteOffset).toBe(0);
    expect(large.buffer.byteLength).toBe(large.length);
  });
});
