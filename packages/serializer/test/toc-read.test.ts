/**
 * The trailer's TOC is read two ways: the branch decoder's common entries with a local index
 * (a one-byte key length, an offset of at most four varint bytes), anything else by the byte
 * reader, which `decodeFrame` uses for every entry. Both must accept and refuse the same
 * frames with the same error.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createTree, text, u64 } from '@cep/cells';
import { encodeBranch, RECORD_TYPE } from '@cep/serializer';
import { readFrame } from '../src/frame-reader.ts';
import { buildFrame, record } from './helpers/build-frame.ts';

/** The error code and message a read throws, or 'ok'. */
function outcome(read: () => unknown): string {
  try {
    read();
    return 'ok';
  } catch (error) {
    const e = error as { code?: string; message?: string };
    return `${e.code}: ${e.message}`;
  }
}

/** Both TOC readers on `bytes`: the branch decoder's (no TOC kept) and decodeFrame's. */
function bothReads(bytes: Uint8Array): [string, string] {
  return [outcome(() => readFrame(bytes, {}, false)), outcome(() => readFrame(bytes, {}, true))];
}

/** Where the TOC count of a frame's trailer starts: after the magic, version, beat, record count, four bytes of ids, root length and root. */
function tocStart(frame: Uint8Array): number {
  for (let at = frame.length - 4; at >= 0; at--) {
    if (frame[at] === 0x46 && frame[at + 1] === 0x50 && frame[at + 2] === 0x45 && frame[at + 3] === 0x43) {
      let p = at + 5;
      while (frame[p]! >= 0x80) p++; // beat
      p++;
      while (frame[p]! >= 0x80) p++; // record count
      p++;
      return p + 4 + 1 + 32;
    }
  }
  throw new Error('no trailer magic');
}

describe('the TOC read with a local index and by the reader', () => {
  const tree = createTree();
  for (let i = 0; i < 20; i++) tree.set(['d', `k${i}`], i % 2 === 0 ? text(`v${i}`) : u64(i));
  const branchFrame = encodeBranch(tree.get('/d')!, { crc32c: true });

  it('gives the same table for a branch frame', () => {
    const fast = readFrame(branchFrame, {}, false);
    const exact = readFrame(branchFrame, {}, true);
    expect(fast.types).toEqual(exact.types);
    expect(fast.keyStarts).toEqual(exact.keyStarts);
    expect(exact.trailer.toc).toHaveLength(exact.types.length);
  });

  it('reads entries with two-byte key lengths (keys of 128 bytes and more) by the reader', () => {
    const records = [
      record(RECORD_TYPE.CELL_DESC, new Uint8Array(20).fill(6), new Uint8Array(3)),
      record(RECORD_TYPE.CELL_DESC, new Uint8Array(130).fill(7), new Uint8Array(3)),
      record(RECORD_TYPE.CELL_DESC, new Uint8Array(200).fill(8), new Uint8Array(3)),
    ];
    expect(bothReads(buildFrame(records))).toEqual(['ok', 'ok']);
    // A long key that differs from its record's, and an offset that does: refused by both, naming the entry.
    const wrongKey = buildFrame(records, {
      toc: [
        { type: records[0]!.type, key: records[0]!.key, offset: 0 },
        { type: RECORD_TYPE.CELL_DESC, key: new Uint8Array(130).fill(9), offset: 0 },
        { type: RECORD_TYPE.CELL_DESC, key: records[2]!.key, offset: 0 },
      ],
    });
    const [a, b] = bothReads(wrongKey);
    expect(a).toBe(b);
    expect(a).toMatch(/^FRAME_BAD_TOC: TOC entry 1 /);
  });

  it('refuses a short-key entry that differs from its record in type, key or offset', () => {
    const records = [record(0x01, Uint8Array.of(1, 2, 3), new Uint8Array(2)), record(0x01, Uint8Array.of(1, 2, 4), new Uint8Array(2))];
    const full = buildFrame(records);
    const offsets = [0, 4 + 1 + 1 + 3 + 2 + 4];
    expect(bothReads(full)).toEqual(['ok', 'ok']);
    for (const entry of [
      { type: 0x02, key: records[1]!.key, offset: offsets[1]! },
      { type: 0x01, key: Uint8Array.of(1, 2, 5), offset: offsets[1]! },
      { type: 0x01, key: records[1]!.key, offset: offsets[1]! + 1 },
    ]) {
      const frame = buildFrame(records, { toc: [{ type: 0x01, key: records[0]!.key, offset: 0 }, entry] });
      const [fast, exact] = bothReads(frame);
      expect(fast).toBe(exact);
      expect(fast).toMatch(/^FRAME_BAD_TOC: TOC entry 1 /);
    }
  });

  it('refuses every mutated TOC the same way on both paths', () => {
    // A mutation in the TOC is met while the trailer is parsed, before its checksum is checked,
    // so truncations, runaway varints, oversized lengths and mismatches all reach the TOC readers.
    const start = tocStart(branchFrame);
    const end = branchFrame.length - 4; // the rest of the trailer body, up to its checksum
    fc.assert(
      fc.property(fc.integer({ min: start, max: end - 1 }), fc.nat(255), fc.boolean(), (at, byte, setHigh) => {
        const mutated = branchFrame.slice();
        mutated[at] = setHigh ? mutated[at]! | 0x80 : byte;
        if (mutated[at] === branchFrame[at]) return;
        const [fast, exact] = bothReads(mutated);
        expect(fast).toBe(exact);
        expect(fast).not.toBe('ok');
      }),
      { numRuns: 2000, seed: 12 },
    );
  });
});
