/**
 * The small-frame fast paths give the verdicts of the paths they stand in for:
 * - name tables kept across frames by their bytes (branch-reader.ts): a frame decodes to the
 *   same result, or the same error, whether its table was kept from an earlier frame or read
 *   afresh, under both strictness settings;
 * - record headers read with a local index (frame-reader.ts): the same record table as a plain
 *   bounds-checked walk, and the same error wherever that walk refuses a header.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bytes, createTree, text, u64, type Cell } from '@cep/cells';
import { decodeBranch, decodeFrame, encodeBranch, encodeFrame, readChunk, RECORD_TYPE, type RawRecord, type Strictness } from '@cep/serializer';
import { ByteReader } from '../src/bytes.ts';
import { readFrame } from '../src/frame-reader.ts';

const POLICY = { crc32c: true };

/** The error code and message of `run`, or its result as JSON (bigints and bytes spelled out). */
function outcome(run: () => unknown): string {
  try {
    return JSON.stringify(run(), (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? Array.from(v) : v));
  } catch (error) {
    const e = error as { code?: string; message?: string };
    if (e.code === undefined) throw error;
    return `${e.code}: ${e.message}`;
  }
}

function branchOf(build: (tree: ReturnType<typeof createTree>) => void): Cell {
  const tree = createTree();
  build(tree);
  return tree.get('/b')!;
}

/** A frame rebuilt from `frame`'s records after `edit` (correct checksums and root, same trailer fields). */
function rebuilt(frame: Uint8Array, edit: (records: RawRecord[]) => RawRecord[]): Uint8Array {
  const { records, trailer } = decodeFrame(frame);
  const copies = records.map((r) => ({ ...r, key: r.key.slice(), body: r.body.slice() }));
  return encodeFrame(edit(copies), { beat: trailer.beat, checksum: trailer.checksum, caps: trailer.caps });
}

describe('name tables kept across frames', () => {
  // Reference names: cell names that no word or acronym code holds, and the bytes type.
  const one = encodeBranch(
    branchOf((t) => t.set(['b', 'Ref One'], bytes(Uint8Array.of(1, 2, 3)))),
    POLICY,
  );
  const two = encodeBranch(
    branchOf((t) => t.set(['b', 'Ref Two'], bytes(Uint8Array.of(1, 2, 3)))),
    POLICY,
  );
  const many = encodeBranch(
    branchOf((t) => {
      t.set(['b', 'First Ref', 'x'], text('a'));
      t.set(['b', 'Second Ref'], u64(7));
      t.set(['b', 'plain'], bytes(new Uint8Array(40).fill(9)));
    }),
    POLICY,
  );
  const namepoolOf = (records: RawRecord[]): number => records.findIndex((r) => r.type === RECORD_TYPE.NAMEPOOL_DELTA);
  const variants: Uint8Array[] = [
    one,
    two,
    many,
    // The same text length, another text: a table of the same size and other bytes.
    rebuilt(one, (rs) => {
      const i = namepoolOf(rs);
      const body = rs[i]!.body;
      if (body[body.length - 1] === 0x65) body[body.length - 1] = 0x66;
      else body[body.length - 1] = 0x65;
      return rs;
    }),
    // The flags byte outside its value set: refused strict (rule 'body-values'), accepted lenient.
    rebuilt(one, (rs) => {
      rs[namepoolOf(rs)]!.body[1] = 2;
      return rs;
    }),
    // An id that is not a reference id.
    rebuilt(one, (rs) => {
      rs[namepoolOf(rs)]!.key[8] = 0x01;
      return rs;
    }),
    // The table's records repeated (a repeated id), and moved before the cells (not one run at the end).
    rebuilt(many, (rs) => [...rs, ...rs.filter((r) => r.type === RECORD_TYPE.NAMEPOOL_DELTA)]),
    rebuilt(many, (rs) => [
      rs[0]!,
      ...rs.filter((r) => r.type === RECORD_TYPE.NAMEPOOL_DELTA),
      ...rs.slice(1).filter((r) => r.type !== RECORD_TYPE.NAMEPOOL_DELTA),
    ]),
    // Its records split in two runs (only one run of bytes is kept).
    rebuilt(many, (rs) => {
      const i = namepoolOf(rs);
      return [rs[0]!, rs[i]!, ...rs.slice(1).filter((_, k) => k + 1 !== i)];
    }),
    // The table missing: its names cannot resolve.
    rebuilt(one, (rs) => rs.filter((r) => r.type !== RECORD_TYPE.NAMEPOOL_DELTA)),
  ];
  const decodeAll = (strictness: Strictness, order: readonly number[]): string[] => {
    const out: string[] = [];
    for (const i of order) out[i] = outcome(() => decodeBranch(variants[i]!, POLICY, { strictness }));
    return out;
  };

  it('decode every frame the same whether its table is new, kept, or kept under the other strictness', () => {
    const forward = variants.map((_, i) => i);
    const backward = [...forward].reverse();
    // This file's module state is its own: the first pass meets every table for the first time.
    const first = decodeAll('strict', forward);
    const firstLenient = decodeAll('lenient', forward);
    expect(decodeAll('strict', backward)).toEqual(first);
    expect(decodeAll('lenient', backward)).toEqual(firstLenient);
    expect(decodeAll('strict', forward)).toEqual(first);
    // The cases are what they say: valid frames decode, each broken one fails, the flags byte only when strict.
    expect(first.slice(0, 4).every((o) => o.startsWith('{'))).toBe(true);
    expect(first[4]).toMatch(/^FRAME_BAD_RECORD: .*'body-values'/);
    expect(firstLenient[4]).toBe(first[0]);
    expect(first[5]).toMatch(/^NAME_INVALID/);
    expect(first[6]).toMatch(/^FRAME_DUPLICATE_RECORD|^BRANCH_INCONSISTENT/);
    expect(first[7]).toBe(first[2]);
    expect(first[8]).toBe(first[2]);
    expect(first[9]).toMatch(/^NAME_UNRESOLVED/);
    // Two tables of one size differ in a byte: each frame keeps its own names.
    expect(first[0]).toContain('Ref One');
    expect(first[1]).toContain('Ref Two');
    expect(first[3]).not.toBe(first[0]);
  });
});

describe('inline bytes values read in place', () => {
  it('are plain Uint8Arrays of their own, from a Uint8Array frame and from a Buffer', () => {
    const data = Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff);
    const frame = encodeBranch(
      branchOf((t) => t.set(['b', 'v'], bytes(data))),
      POLICY,
    );
    for (const input of [frame.slice(), Buffer.from(frame)]) {
      const value = decodeBranch(input, POLICY).root.children[0]!.value!;
      expect(value.type).toBe('bytes');
      const got = value.value as Uint8Array;
      expect(got.constructor).toBe(Uint8Array);
      expect(Array.from(got)).toEqual(Array.from(data));
      // A copy: the frame's memory can be reused without changing the value.
      input.fill(0);
      expect(Array.from(got)).toEqual(Array.from(data));
    }
  });
});

/**
 * The record scan as a plain walk with the bounds-checked reader (what the frame reader did for
 * every header before the local-index path), with the checks the reader makes during its scan
 * (the trailer's envelope, record types, versions and flags; a trailer, nothing after it): the
 * columns, or the error (those checks throw their code alone, with an empty message).
 */
function plainScan(frame: Uint8Array): { types: number[]; starts: number[]; keyStarts: number[]; bodyStarts: number[]; ends: number[] } {
  const r = new ByteReader(frame, 0, frame.length, 'frame', 0);
  const out = { types: [] as number[], starts: [] as number[], keyStarts: [] as number[], bodyStarts: [] as number[], ends: [] as number[] };
  const refuse = (code: string): never => {
    throw Object.assign(new Error(''), { code });
  };
  let trailer = false;
  while (r.remaining > 0) {
    const start = r.offset;
    const type = r.u8();
    const version = r.u8();
    const flags = r.u16();
    const keyLen = r.varint(r.remaining, 'record key length');
    const bodyLen = r.varint(r.remaining, 'record body length');
    const keyStart = r.offset;
    r.skip(keyLen);
    const bodyStart = r.offset;
    r.skip(bodyLen);
    const end = r.offset;
    r.u32();
    if (type === RECORD_TYPE.TRAILER) {
      if (version !== 1 || flags !== 0 || keyLen !== 0) refuse('FRAME_BAD_TRAILER');
      trailer = true;
      break;
    }
    if (type < RECORD_TYPE.CELL_DESC || type > RECORD_TYPE.MANIFEST_HISTORY) refuse('FRAME_UNKNOWN_RECORD');
    if (version !== 1 || flags !== 0) refuse('FRAME_BAD_RECORD');
    out.types.push(type);
    out.starts.push(start);
    out.keyStarts.push(keyStart);
    out.bodyStarts.push(bodyStart);
    out.ends.push(end);
  }
  if (!trailer) refuse('FRAME_NO_TRAILER');
  if (r.remaining !== 0) refuse('FRAME_TRAILING_BYTES');
  return out;
}

describe('record headers read with a local index', () => {
  /** Records with key and body lengths on every varint width the local path takes and one it does not. */
  const records: RawRecord[] = [0, 1, 127, 128, 300, 16_383, 16_384, 20_000].map((n, i) => ({
    type: RECORD_TYPE.CELL_DESC,
    version: 1,
    flags: 0,
    key: Uint8Array.from({ length: (i % 3) * 70 + 1 }, (_, k) => (k * 7 + i) & 0xff),
    body: new Uint8Array(n).fill(i),
  }));
  const frame = encodeFrame(records, { checksum: 1 });
  const small = encodeBranch(
    branchOf((t) => t.set(['b', 'v'], bytes(new Uint8Array(64).fill(3)))),
    POLICY,
  );

  it('gives the table a plain walk gives, at every length width', () => {
    for (const f of [frame, small]) {
      const table = readFrame(f);
      const plain = plainScan(f);
      expect({ types: table.types, starts: table.starts, keyStarts: table.keyStarts, bodyStarts: table.bodyStarts, ends: table.ends }).toEqual(plain);
    }
    expect(decodeFrame(frame).records.map((r) => r.body.length)).toEqual(records.map((r) => r.body.length));
  });

  it('refuses a damaged header as the plain walk does, and takes what it takes (property)', () => {
    // Mutations land in the first records' headers and lengths, and truncations anywhere: where the
    // plain walk throws, the frame reader throws the same code (and, for a truncation or a bad
    // varint, the same words); where it passes, the reader's table matches it, or the frame fails
    // a check made after the scan (checksums, root, TOC, trailer fields).
    const headerBytes = [0, 1, 2, 3, 4, 5, 6, 7, small.indexOf(RECORD_TYPE.MANIFEST_DELTA, 30)].filter((i) => i >= 0);
    const scanCodes = /^(FRAME_TRUNCATED|FRAME_BAD_VARINT|FRAME_NO_TRAILER|FRAME_TRAILING_BYTES|FRAME_UNKNOWN_RECORD)/;
    fc.assert(
      fc.property(
        fc.constantFrom(...headerBytes),
        fc.oneof(fc.nat(255), fc.constant(0x80), fc.constant(0xff)),
        fc.option(fc.nat(small.length - 1), { nil: undefined }),
        (at, byte, cut) => {
          const mutated = small.slice(0, cut ?? small.length);
          if (at < mutated.length) mutated[at] = byte;
          let expected: { code: string; message: string } | undefined;
          try {
            plainScan(mutated);
          } catch (error) {
            expected = error as { code: string; message: string };
          }
          const got = outcome(() => readFrame(mutated));
          if (expected !== undefined) {
            expect(got.startsWith(`${expected.code}: `)).toBe(true);
            if (expected.message !== '') expect(got).toBe(`${expected.code}: ${expected.message}`);
          } else if (got.startsWith('{')) {
            const table = readFrame(mutated);
            const plain = plainScan(mutated);
            expect({ types: table.types, starts: table.starts, keyStarts: table.keyStarts, bodyStarts: table.bodyStarts, ends: table.ends }).toEqual(plain);
          } else expect(got).not.toMatch(scanCodes);
        },
      ),
      { numRuns: 3000, seed: 19 },
    );
  });
});

/**
 * The chunk series rules as first written: every series indexed by its key (less the ordinal)
 * as a string, in a map. Returns the error the frame reader must give for `records` (correct
 * checksums, root and AAD hashes assumed), or undefined.
 */
function seriesVerdict(records: readonly RawRecord[]): string | undefined {
  const series = new Map<string, { next: number; offset: number; total: number; mode: number }>();
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    if (r.type !== RECORD_TYPE.PAYLOAD_CHUNK) continue;
    const c = readChunk(r.body);
    // The ordinal: the varint that ends the key (our writer's ordinals are below 128: one byte).
    const ordinal = r.key[r.key.length - 1]!;
    const id = Buffer.from(r.key.subarray(0, r.key.length - 1)).toString('latin1');
    const known = series.get(id);
    if (known === undefined) {
      if (ordinal !== 0 || c.offset !== 0)
        return `CHUNK_OUT_OF_ORDER: record ${i}: a payload's first chunk in the frame has ordinal ${ordinal} at offset ${c.offset} (0 and 0 expected)`;
      series.set(id, { next: 1, offset: c.size, total: c.total, mode: c.aeadMode });
      continue;
    }
    if (ordinal !== known.next) return `CHUNK_OUT_OF_ORDER: record ${i}: chunk ordinal ${ordinal} where ${known.next} was expected`;
    if (c.total !== known.total) return `CHUNK_CONFLICT: record ${i}: a chunk says its payload is ${c.total} bytes, an earlier one ${known.total}`;
    if (c.offset !== known.offset) return `CHUNK_OUT_OF_ORDER: record ${i}: chunk at offset ${c.offset} where ${known.offset} was expected`;
    known.next++;
    known.offset += c.size;
  }
  for (const s of series.values()) if (s.offset !== s.total) return `CHUNK_INCOMPLETE: a payload_chunk series covers ${s.offset} of its ${s.total} bytes`;
  return undefined;
}

describe('chunk series found by key bytes while a frame has one', () => {
  // Three payloads of several chunks each (values over the chunk size), and a sealed small one.
  const frame = encodeBranch(
    branchOf((t) => {
      t.set(['b', 'one'], bytes(new Uint8Array(9000).fill(1)));
      t.set(['b', 'two'], bytes(new Uint8Array(5000).fill(2)));
      t.set(['b', 'three'], bytes(new Uint8Array(13000).fill(3)));
    }),
    POLICY,
  );
  const { records, trailer } = decodeFrame(frame);
  const chunks = records.filter((r) => r.type === RECORD_TYPE.PAYLOAD_CHUNK);
  const rebuild = (rs: readonly RawRecord[]): Uint8Array => encodeFrame(rs, { beat: trailer.beat, checksum: trailer.checksum, caps: trailer.caps });

  it('give the verdict of a map of every series, whatever order, repeats or gaps the chunks come in (property)', () => {
    expect(chunks.length).toBeGreaterThanOrEqual(6);
    fc.assert(
      fc.property(fc.array(fc.nat(chunks.length - 1), { minLength: 1, maxLength: 12 }), (picks) => {
        const rs = picks.map((k) => chunks[k]!);
        const expected = seriesVerdict(rs) ?? 'ok';
        const got = outcome(() => readFrame(rebuild(rs)));
        expect(got === 'ok' || got.startsWith('{') ? 'ok' : got).toBe(expected);
      }),
      { numRuns: 600, seed: 19 },
    );
    // The frame as written: every series whole and in order.
    expect(seriesVerdict(chunks)).toBeUndefined();
    expect(outcome(() => readFrame(rebuild(chunks)))).toMatch(/^\{/);
  });
});
