/**
 * One frame per strictness rule of FORMAT.md §16, breaking that rule and nothing else (the
 * builder computes every checksum and the Merkle root): strict refuses it with the rule's
 * code, and relaxing that one rule accepts it. Then the checks that are not rules (the
 * reference makes them too): they refuse under either setting.
 */
import { describe, expect, it } from 'vitest';
import { bytes, createTree, digestHex, text, u64, type Tree } from '@cep/cells';
import { isCepError } from '@cep/errors';
import {
  applyBranch,
  blake3,
  CAP,
  decodeBranch,
  decodeFrame,
  encodeBranch,
  NameTableReader,
  readChunk,
  readHistory,
  RECORD_TYPE,
  STRICTNESS_RULES,
  type RawRecord,
  type StrictnessRule,
} from '@cep/serializer';
import { readCellDesc, writeCellDesc, writeChunk, type Chunk } from '../src/records.ts';
import { buildFrame, impliedCaps, record, wrap, type BuildOptions } from './helpers/build-frame.ts';

function sample(): Tree {
  const tree = createTree();
  tree.set('/src/greet', text('hello'));
  tree.set('/src/count', u64(7));
  tree.set('/src/blob', bytes(Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff)));
  return tree;
}

const tree = sample();
const expected = digestHex(tree.get('/src')!);
const base = decodeFrame(encodeBranch(tree.get('/src')!)).records;

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    if (isCepError(error)) return error.code;
    throw error;
  }
}

/** The records of the sample branch with `edit` applied to a copy. */
function edited(edit: (records: RawRecord[]) => void): RawRecord[] {
  const records = base.map((r) => ({ ...r }));
  edit(records);
  return records;
}

const indexOf = (records: readonly RawRecord[], type: number, nth = 0): number => {
  let seen = 0;
  for (let i = 0; i < records.length; i++) if (records[i]!.type === type && seen++ === nth) return i;
  throw new Error(`no record of type ${type}`);
};
const greetDesc = (records: readonly RawRecord[]): number =>
  records.findIndex((r) => r.type === RECORD_TYPE.CELL_DESC && readCellDesc(r.body).inline.length === 6);

function rewriteChunk(records: RawRecord[], nth: number, change: (c: Chunk) => Chunk): void {
  const i = indexOf(records, RECORD_TYPE.PAYLOAD_CHUNK, nth);
  records[i] = { ...records[i]!, body: writeChunk(change(readChunk(records[i]!.body))) };
}

/** A standalone chunk record at path `CEP:/ ‖ name` (two 17-byte names) with the given ordinal. */
function chunkRecord(type: number, ordinal: number, c: Partial<Chunk>, prefix = new Uint8Array(0)): RawRecord {
  const key = new Uint8Array(1 + 34 + prefix.length + 1);
  key[0] = type;
  key.fill(0x11, 1, 35);
  key.set(prefix, 35);
  key[key.length - 1] = ordinal;
  const chunk: Chunk = {
    payloadKind: 0,
    total: 8,
    offset: 0,
    size: 8,
    fingerprint: 1n,
    aeadMode: 0,
    nonce: new Uint8Array(0),
    aadHash: blake3(key),
    data: new Uint8Array(8),
    ...c,
  };
  const body = writeChunk(chunk);
  return record(type, key, type === RECORD_TYPE.PAYLOAD_HISTORY ? Uint8Array.of(5, ...body) : body);
}

interface Case {
  readonly rule: StrictnessRule;
  readonly code: string;
  /** 'frame': checked by decodeFrame; 'branch': by decodeBranch (the frame layer accepts it). */
  readonly layer: 'frame' | 'branch';
  readonly frame: () => Uint8Array;
}

const frameOf = (records: RawRecord[], o: BuildOptions = {}): Uint8Array => buildFrame(records, o);

const CASES: Case[] = [
  {
    rule: 'record-version',
    code: 'FRAME_BAD_RECORD',
    layer: 'frame',
    frame: () =>
      frameOf(
        edited((r) => {
          r[1] = { ...r[1]!, version: 2 };
        }),
      ),
  },
  {
    rule: 'record-flags',
    code: 'FRAME_BAD_RECORD',
    layer: 'frame',
    frame: () =>
      frameOf(
        edited((r) => {
          r[1] = { ...r[1]!, flags: 4 };
        }),
      ),
  },
  {
    rule: 'record-type',
    code: 'FRAME_UNKNOWN_RECORD',
    layer: 'frame',
    frame: () => frameOf([...base.slice(0, 0), record(0x09, Uint8Array.of(9), Uint8Array.of(1))]),
  },
  { rule: 'trailer-envelope', code: 'FRAME_BAD_TRAILER', layer: 'frame', frame: () => frameOf(base, { trailer: { key: Uint8Array.of(1) } }) },
  { rule: 'caps-known', code: 'FRAME_UNKNOWN_CAPS', layer: 'frame', frame: () => frameOf(base, { caps: impliedCaps(base) | 0x1000 }) },
  { rule: 'caps-match', code: 'FRAME_BAD_TRAILER', layer: 'frame', frame: () => frameOf(base, { caps: impliedCaps(base) & ~CAP.NAMEPOOL_MAP }) },
  { rule: 'toc-complete', code: 'FRAME_BAD_TOC', layer: 'frame', frame: () => frameOf(base, { toc: 'empty', caps: impliedCaps(base) & ~CAP.FRAME_TOC }) },
  {
    rule: 'toc-match',
    code: 'FRAME_BAD_TOC',
    layer: 'frame',
    frame: () => frameOf(base, { toc: base.map((r, i) => ({ type: r.type, key: r.key, offset: i })) }),
  },
  { rule: 'compression-flag', code: 'FRAME_BAD_CONTAINER', layer: 'frame', frame: () => frameOf(base, { compression: 1 }) },
  { rule: 'container-checksum', code: 'FRAME_BAD_CONTAINER', layer: 'frame', frame: () => wrap(frameOf(base, { compression: 1 }), { checksum: 1 }) },
  { rule: 'container-reserved', code: 'FRAME_BAD_CONTAINER', layer: 'frame', frame: () => wrap(frameOf(base, { compression: 1 }), { reserved: 7 }) },
  {
    rule: 'container-trailing',
    code: 'FRAME_TRAILING_BYTES',
    layer: 'frame',
    frame: () => wrap(frameOf(base, { compression: 1 }), { trailing: Uint8Array.of(0, 0, 0) }),
  },
  {
    rule: 'chunk-aead-mode',
    code: 'FRAME_BAD_RECORD',
    layer: 'frame',
    frame: () => frameOf([chunkRecord(RECORD_TYPE.PAYLOAD_CHUNK, 0, { aeadMode: 1, nonce: new Uint8Array(12), data: new Uint8Array(24) })]),
  },
  {
    rule: 'chunk-aad',
    code: 'FRAME_BAD_RECORD',
    layer: 'frame',
    frame: () => frameOf(edited((r) => rewriteChunk(r, 0, (c) => ({ ...c, aadHash: new Uint8Array(32) })))),
  },
  {
    rule: 'history-body',
    code: 'FRAME_BAD_RECORD',
    layer: 'frame',
    frame: () => frameOf([chunkRecord(RECORD_TYPE.PAYLOAD_HISTORY, 0, { nonce: new Uint8Array(12) }, new Uint8Array(16))]),
  },
  {
    rule: 'history-series',
    code: 'CHUNK_OUT_OF_ORDER',
    layer: 'frame',
    frame: () =>
      frameOf([
        chunkRecord(RECORD_TYPE.PAYLOAD_HISTORY, 1, { offset: 4, size: 4, data: new Uint8Array(4) }, new Uint8Array(16)),
        chunkRecord(RECORD_TYPE.PAYLOAD_HISTORY, 0, { size: 4, data: new Uint8Array(4) }, new Uint8Array(16)),
      ]),
  },
  {
    rule: 'body-values',
    code: 'FRAME_BAD_RECORD',
    layer: 'branch',
    frame: () =>
      frameOf(
        edited((r) => {
          r[0] = { ...r[0]!, body: writeCellDesc({ ...readCellDesc(r[0]!.body), metaMask: 0x10 }) };
        }),
      ),
  },
  { rule: 'page-size', code: 'FRAME_BAD_RECORD', layer: 'branch', frame: () => bigPageFrame() },
  {
    rule: 'inline-without-ref',
    code: 'FRAME_BAD_RECORD',
    layer: 'branch',
    frame: () =>
      frameOf(
        edited((r) => {
          const i = greetDesc(r);
          r[i] = { ...r[i]!, body: writeCellDesc({ ...readCellDesc(r[i]!.body), ref: undefined }) };
        }),
      ),
  },
  {
    rule: 'ref-aead-mode',
    code: 'FRAME_BAD_RECORD',
    layer: 'branch',
    frame: () =>
      frameOf(
        edited((r) => {
          const i = greetDesc(r);
          const d = readCellDesc(r[i]!.body);
          r[i] = { ...r[i]!, body: writeCellDesc({ ...d, ref: { ...d.ref!, aeadMode: 3 } }) };
        }),
      ),
  },
  {
    rule: 'chunk-fingerprint',
    code: 'CHUNK_CONFLICT',
    layer: 'branch',
    frame: () => frameOf(edited((r) => rewriteChunk(r, 1, (c) => ({ ...c, fingerprint: c.fingerprint! + 1n })))),
  },
];

/** A dictionary of 65 children whose first manifest and order pages were merged into one page of 65. */
function bigPageFrame(): Uint8Array {
  const t = createTree();
  for (let i = 0; i < 65; i++) t.set(['src', `k${String(i).padStart(2, '0')}`], u64(i));
  const records = decodeFrame(encodeBranch(t.get('/src')!)).records.map((r) => ({ ...r }));
  const merge = (type: number, head: (body: Uint8Array) => { headLen: number; countAt: number }, rebuild: (h: Uint8Array) => Uint8Array): void => {
    const a = indexOf(records, type, 0);
    const b = indexOf(records, type, 1);
    const pa = head(records[a]!.body);
    const pb = head(records[b]!.body);
    const body = Uint8Array.from([
      ...rebuild(records[a]!.body.subarray(0, pa.headLen)),
      65,
      ...records[a]!.body.subarray(pa.countAt + 1),
      ...records[b]!.body.subarray(pb.countAt + 1),
    ]);
    records[a] = { ...records[a]!, body };
    records.splice(b, 1);
  };
  // Manifest: epoch (1 byte here), range kind, min bound (18), max bound (18 on page 0, 1 on page 1), count.
  merge(
    RECORD_TYPE.MANIFEST_DELTA,
    (body) => {
      const maxAt = 1 + 1 + 18;
      const countAt = maxAt + (body[maxAt] === 17 ? 18 : 1);
      return { headLen: maxAt, countAt };
    },
    (h) => Uint8Array.from([...h, 0]),
  );
  // Order: projection, epoch (1 byte), rank min (1 byte), count.
  merge(
    RECORD_TYPE.ORDER_DELTA,
    () => ({ headLen: 2, countAt: 3 }),
    (h) => Uint8Array.from([...h, 0]),
  );
  return frameOf(records);
}

describe('strictness rules: one frame per rule, breaking only that rule', () => {
  it('the cases cover every rule', () => {
    expect(CASES.map((c) => c.rule).sort()).toEqual([...STRICTNESS_RULES].sort());
  });

  it.each(CASES.map((c) => [c.rule, c] as const))('%s: strict refuses, relaxing the rule accepts', (rule, c) => {
    const frame = c.frame();
    const decode = (strictness: 'strict' | 'lenient' | { [R in StrictnessRule]?: 'lenient' }) =>
      c.layer === 'frame' ? () => decodeFrame(frame, { strictness }) : () => decodeBranch(frame, {}, { strictness });
    expect(codeOf(decode('strict'))).toBe(c.code);
    expect(codeOf(decode({ [rule]: 'lenient' }))).toBeUndefined();
    expect(codeOf(decode('lenient'))).toBeUndefined();
    if (c.layer === 'branch') expect(codeOf(() => decodeFrame(frame))).toBeUndefined();
  });

  it('a FRAME_TOC capability with an empty TOC while records exist is refused', () => {
    expect(codeOf(() => decodeFrame(frameOf(base, { toc: 'empty' })))).toBe('FRAME_BAD_TOC');
  });

  it('the unchanged sample passes every setting and decodes to the same branch', () => {
    const frame = frameOf(base);
    for (const strictness of ['strict', 'lenient'] as const) {
      const out = createTree();
      applyBranch(out, '/copy', decodeBranch(frame, {}, { strictness }));
      expect(digestHex(out.get('/copy')!)).toBe(expected);
    }
  });

  it("records in another order than the writer's decode to the same branch (the indexed walk)", () => {
    const namepool = base.filter((r) => r.type === RECORD_TYPE.NAMEPOOL_DELTA);
    const rest = base.filter((r) => r.type !== RECORD_TYPE.NAMEPOOL_DELTA);
    // Name table right after the root, then the root's pages, the children's cell_descs in reverse
    // order, and last the chunks (in their own order: the frame layer requires it).
    const pages = rest.slice(1).filter((r) => r.type === RECORD_TYPE.MANIFEST_DELTA || r.type === RECORD_TYPE.ORDER_DELTA);
    const cells = rest
      .slice(1)
      .filter((r) => r.type === RECORD_TYPE.CELL_DESC)
      .reverse();
    const chunks = rest.filter((r) => r.type === RECORD_TYPE.PAYLOAD_CHUNK);
    const frame = frameOf([rest[0]!, ...namepool, ...pages, ...cells, ...chunks]);
    const out = createTree();
    applyBranch(out, '/copy', decodeBranch(frame));
    expect(digestHex(out.get('/copy')!)).toBe(expected);
  });

  it('unknown rules and verdicts are refused', () => {
    expect(codeOf(() => decodeFrame(frameOf(base), { strictness: { nope: 'lenient' } as never }))).toBe('POLICY_INVALID');
    expect(codeOf(() => decodeFrame(frameOf(base), { strictness: { 'toc-match': 'maybe' } as never }))).toBe('POLICY_INVALID');
  });
});

describe('checks the reference makes too: refused under every setting', () => {
  const both = (frame: Uint8Array, code: string, branch = false): void => {
    for (const strictness of ['strict', 'lenient'] as const) {
      expect(codeOf(() => decodeFrame(frame, { strictness }))).toBe(code);
      if (branch) expect(codeOf(() => decodeBranch(frame, {}, { strictness }))).toBe(code);
    }
  };

  it('chunks out of order (SPEC §5: in order), at the frame layer and in a branch', () => {
    both(
      frameOf(
        edited((r) => {
          const a = indexOf(r, RECORD_TYPE.PAYLOAD_CHUNK, 0);
          const b = indexOf(r, RECORD_TYPE.PAYLOAD_CHUNK, 1);
          [r[a], r[b]] = [r[b]!, r[a]!];
        }),
      ),
      'CHUNK_OUT_OF_ORDER',
      true,
    );
  });

  it('a chunk series that never completes', () => {
    both(
      frameOf(
        edited((r) => {
          r.splice(indexOf(r, RECORD_TYPE.PAYLOAD_CHUNK, 1), 1);
        }),
      ),
      'CHUNK_INCOMPLETE',
      true,
    );
    both(frameOf([chunkRecord(RECORD_TYPE.PAYLOAD_CHUNK, 0, { total: 9 })]), 'CHUNK_INCOMPLETE');
  });

  it('a nonce whose length does not match its AEAD mode', () => {
    both(frameOf([chunkRecord(RECORD_TYPE.PAYLOAD_CHUNK, 0, { aeadMode: 3, nonce: new Uint8Array(12), data: new Uint8Array(24) })]), 'FRAME_BAD_RECORD');
    both(frameOf([chunkRecord(RECORD_TYPE.PAYLOAD_CHUNK, 0, { aeadMode: 0, nonce: new Uint8Array(24) })]), 'FRAME_BAD_RECORD');
  });

  it('a chunk whose data length does not match its size', () => {
    both(frameOf([chunkRecord(RECORD_TYPE.PAYLOAD_CHUNK, 0, { data: new Uint8Array(7) })]), 'CHUNK_CONFLICT');
  });

  it('a frame inside a container whose trailer says compression 0', () => {
    both(wrap(frameOf(base)), 'FRAME_BAD_CONTAINER');
  });
});

describe('readHistory', () => {
  it('parses a payload_history body and a manifest_history body', () => {
    const h = chunkRecord(RECORD_TYPE.PAYLOAD_HISTORY, 0, {}, new Uint8Array(16));
    const parsed = readHistory(h, new NameTableReader());
    expect(parsed.kind).toBe('payload');
    if (parsed.kind === 'payload') {
      expect(parsed.history.revisionStamp).toBe(5n);
      expect(parsed.history.chunk.size).toBe(8);
    }
    const manifest = base[indexOf(base, RECORD_TYPE.MANIFEST_DELTA)]!;
    const names = new NameTableReader();
    for (const r of base.filter((x) => x.type === RECORD_TYPE.NAMEPOOL_DELTA)) {
      names.add(new DataView(r.key.buffer, r.key.byteOffset + 1, 8).getBigUint64(0, true), new TextDecoder().decode(r.body.subarray(2)));
    }
    const m = readHistory({ type: RECORD_TYPE.MANIFEST_HISTORY, body: manifest.body }, names);
    expect(m.kind === 'manifest' && m.manifest.entries.length).toBe(3);
    expect(codeOf(() => readHistory({ type: RECORD_TYPE.PAYLOAD_HISTORY, body: Uint8Array.of(5, 0, 8, 0, 8, 0, 0, 0) }, names))).toBe('FRAME_TRUNCATED');
  });
});
