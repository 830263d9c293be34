/**
 * The packed layout (what this runtime sends): calls and replies round-trip through a real
 * encoded frame with every value type, a packed item's fields are typed and checked like a cell
 * frame's (a field of the wrong type is refused, nothing runs), and no byte string makes the
 * reader throw or read past the value.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { acronymId, bool, bytes, createTree, i64, name, raw, text, u64, type Cell, type Value } from '@cep/cells';
import { packedBranch, parseFrame, type CallFrame, type ReplyFrame } from '@cep/organ-invoke';
import { decodeBranch, encodeBranch } from '@cep/serializer';
import { newInvokeId } from '@cep/security';
import { FIELDS, readPacked, writePacked, type FieldName, type PackedFields } from '../src/packed.ts';
import { beat, closeAll, pair, until } from './helpers.ts';

afterEach(closeAll);

const policy = { crc32c: true, deflate: true } as const;
const roundTrip = (cell: Cell) => parseFrame(decodeBranch(encodeBranch(cell, policy), policy).root);

/** A packed frame holding `items` written field by field (so a test can put any type in any field). */
function forged(items: PackedFields[]): Cell {
  const tree = createTree();
  tree.set('/inv/packed', { type: 'bytes', value: writePacked(items) });
  return tree.get('/inv')!;
}

const goodCall = (id: string): Array<readonly [FieldName, Value]> => [
  ['kind', text('call')],
  ['id', text(id)],
  ['signal', text('/sig/add')],
  ['payload', u64(1n)],
  ['timeout', u64(20n)],
];

describe('packed frames', () => {
  it('texts of any length and script read back as written (short ASCII is written without Buffer.write)', () => {
    // ASCII, 2-, 3- and 4-byte UTF-8 (a surrogate pair), at every position of texts on both sides of the short-text bound.
    const unit = fc.constantFrom('a', 'Z', '/', '~', '\u0000', '\u007f', 'é', '✓', '😀');
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 140 }), (units) => {
        const value = units.join('');
        const read = readPacked(writePacked([[['note', text(value)]]]), 1);
        expect(read).toEqual({ items: [{ fields: new Map([['note', text(value)]]), pipeline: undefined }] });
        expect(Buffer.from(value, 'utf8').length).toBe(writePacked([[['note', text(value)]]]).length - 15);
      }),
      { numRuns: 400 },
    );
  });

  it('calls and replies round-trip with every value type, pipeline metadata, expiry and codes', () => {
    const values: Value[] = [
      text('héllo ✓'),
      u64((1n << 64n) - 1n),
      i64(-(1n << 63n)),
      bool(true),
      bool(false),
      bytes(new Uint8Array([0, 1, 255])),
      raw(name('thing', acronymId('ACME')), new Uint8Array([9, 8])),
      text(''),
    ];
    const calls: CallFrame[] = values.map((payload, i) => ({
      kind: 'call',
      id: newInvokeId(),
      signal: '/sig/add',
      ...(i % 2 === 0 ? { target: '/data/y' } : {}),
      payload,
      timeout: 1 + i,
      ...(i === 3 ? { expiresAt: 1_700_000_000_000 } : {}),
      ...(i === 4 ? { pipeline: { pipelineId: 'demo/ingest', stageId: 'StageB', dagRunId: 7n, hopIndex: 1 } } : {}),
    }));
    const replies: ReplyFrame[] = [
      ...values.map((result): ReplyFrame => ({ kind: 'reply', id: newInvokeId(), status: 'ok', result })),
      { kind: 'reply', id: newInvokeId(), status: 'reject', note: 'no', code: 'INVOKE_EXPIRED' },
      { kind: 'reply', id: newInvokeId(), status: 'ok' },
    ];
    expect(roundTrip(packedBranch([...calls, ...replies]))).toEqual({ kind: 'batch', items: [...calls, ...replies] });
    // One item reads as a lone call, as a lone cell frame does.
    expect(roundTrip(packedBranch([calls[4]!]))).toEqual(calls[4]);
  });

  it('a frame of many calls is two cells: its size grows by the bytes of the calls, not by cells', () => {
    const calls = (n: number): CallFrame[] =>
      Array.from({ length: n }, () => ({ kind: 'call', id: newInvokeId(), signal: '/sig/add', payload: u64(1n), timeout: 8 }));
    const one = encodeBranch(packedBranch(calls(1)), { crc32c: true }).length;
    const hundred = encodeBranch(packedBranch(calls(101)), { crc32c: true }).length;
    // Each further call adds its fields' bytes (an id of 36, a signal, a u64, a timeout and their codes): under 100 bytes.
    expect((hundred - one) / 100).toBeLessThan(100);
  });

  it("each field's type is checked as in a cell frame: a wrong type or an unknown field refuses the item, never throws", () => {
    const id = newInvokeId();
    const cases: Array<[PackedFields, RegExp]> = [
      [goodCall(id).map(([f, v]) => (f === 'timeout' ? [f, text('20')] : [f, v])), /^timeout: expected a u64/],
      [goodCall(id).map(([f, v]) => (f === 'signal' ? [f, u64(1n)] : [f, v])), /^signal: missing, not text/],
      [goodCall(id).map(([f, v]) => (f === 'id' ? [f, bytes(new Uint8Array(4))] : [f, v])), /^id: missing/],
      [[...goodCall(id), ['expires_at', i64(5n)]], /^expires_at: expected a u64/],
      [[...goodCall(id), ['pipeline_id', text('p')], ['hop_index', text('1')]], /^pipeline: /],
      [
        [
          ['kind', text('reply')],
          ['id', text(id)],
          ['status', text('maybe')],
        ],
        /^status: expected "ok" or "reject"/,
      ],
      [
        [
          ['kind', text('reply')],
          ['id', text(id)],
          ['status', text('reject')],
          ['code', u64(3n)],
        ],
        /^code: expected text/,
      ],
    ];
    for (const [fields, note] of cases) {
      const read = roundTrip(forged([fields]));
      expect(read).toMatchObject({ kind: 'problem', note: expect.stringMatching(note) });
    }
  });

  it('hostile lengths and layouts are refused with a note, whole or per item, and nothing is read past the value', () => {
    const good = writePacked([goodCall(newInvokeId())]);
    const at = (mutate: (b: Uint8Array, v: DataView) => void, from = good): ReturnType<typeof readPacked> => {
      const b = new Uint8Array(from);
      mutate(b, new DataView(b.buffer));
      return readPacked(b, 1024);
    };
    expect(at((b) => (b[0] = 2))).toEqual({ problem: expect.stringMatching(/version 2 is not 1/) });
    expect(at((_, v) => v.setUint32(1, 0, true))).toEqual({ problem: expect.stringMatching(/1\.\.1024 items, found 0/) });
    expect(at((_, v) => v.setUint32(1, 0xffffffff, true))).toEqual({ problem: expect.stringMatching(/found 4294967295/) });
    expect(at((_, v) => v.setUint32(1, 2, true))).toEqual({ problem: expect.stringMatching(/item 1 of 2 is missing/) });
    expect(at((_, v) => v.setUint32(5, 0x40000000, true))).toEqual({ problem: expect.stringMatching(/declares 1073741824 bytes/) });
    expect(readPacked(new Uint8Array([...good, 0]), 1024)).toEqual({ problem: expect.stringMatching(/1 bytes follow the last/) });
    // Inside an item: an unknown field code, a field twice, a bad bool, bad UTF-8, a length past the item.
    const item = (fields: number[]): Uint8Array => {
      const body = new Uint8Array(fields);
      const out = new Uint8Array(9 + body.length);
      const v = new DataView(out.buffer);
      out[0] = 1;
      v.setUint32(1, 1, true);
      v.setUint32(5, body.length, true);
      out.set(body, 9);
      return out;
    };
    const problemOf = (b: Uint8Array): string => {
      const read = readPacked(b, 8);
      if ('problem' in read) throw new Error(`whole value refused: ${read.problem}`);
      const first = read.items[0]!;
      return 'problem' in first ? first.problem : 'read';
    };
    expect(problemOf(item([99, 1, 0, 0, 0, 0]))).toMatch(/field code 99/);
    expect(problemOf(item([1, 4, 1, 1, 4, 0]))).toMatch(/kind: given twice/);
    expect(problemOf(item([1, 4, 2]))).toMatch(/a bool is one byte, 0 or 1, found 2/);
    expect(problemOf(item([3, 1, 2, 0, 0, 0, 0xc3, 0x28]))).toMatch(/signal: text is not valid UTF-8/);
    expect(problemOf(item([3, 1, 200, 0, 0, 0, 65]))).toMatch(/signal: needs 200 bytes, 1 left/);
    expect(problemOf(item([3, 9, 0]))).toMatch(/value type 9/);
  });

  it('no byte string makes the reader throw; whatever it accepts is items it could read', () => {
    const base = writePacked([goodCall(newInvokeId()), goodCall(newInvokeId()).concat([['target', text('/t')]])]);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.nat(255)), { minLength: 1, maxLength: 6 }), fc.nat(base.length), (edits, cut) => {
        const b = new Uint8Array(base.subarray(0, Math.max(1, cut === 0 ? base.length : cut)));
        for (const [at, v] of edits) if (at < b.length) b[at] = v;
        const read = readPacked(b, 16);
        if ('items' in read) expect(read.items.length).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
    expect(FIELDS).toHaveLength(15);
  });

  for (const transport of ['memory', 'tcp'] as const) {
    it(`over ${transport}: the same packed frame sent twice runs each call once; the second copy is refused as a replay`, async () => {
      const p = await pair(transport);
      const saturn = p.serve();
      const ran: string[] = [];
      saturn.expose('/sig/add', (c) => void ran.push(c.invokeId));
      const ids = [newInvokeId(), newInvokeId(), newInvokeId()];
      const bytes = encodeBranch(
        packedBranch(ids.map((id): CallFrame => ({ kind: 'call', id, signal: '/sig/add', payload: u64(1n), timeout: 20 }))),
        p.policy(),
      );
      await p.forgeBytes(bytes);
      await until([p.earth, p.saturn], () => ran.length === 3);
      await p.forgeBytes(bytes);
      for (let i = 0; i < 4; i++) await beat(p.earth, p.saturn);
      expect(ran).toEqual(ids);
      const replays = p.saturn.facts.filter((f) => f.topic === 'tp_inv_reject' && f.note.includes('seen before'));
      expect(replays.map((f) => ids.find((id) => f.note.includes(id)))).toEqual(ids);
    });

    it(`over ${transport}: a packed call with a wrong-typed field is refused and does not run; the good one beside it runs`, async () => {
      const p = await pair(transport);
      const saturn = p.serve();
      const ran: string[] = [];
      saturn.expose('/sig/add', (c) => void ran.push(c.invokeId));
      const good = newInvokeId();
      const bad = newInvokeId();
      const badCall = goodCall(bad).map(([f, v]): readonly [FieldName, Value] => (f === 'timeout' ? [f, text('many')] : [f, v]));
      await p.forge(forged([badCall, goodCall(good)]));
      await until([p.earth, p.saturn], () => ran.length === 1);
      for (let i = 0; i < 3; i++) await beat(p.earth, p.saturn);
      expect(ran).toEqual([good]);
      expect(
        p.saturn.facts.some((f) => f.topic === 'tp_inv_reject' && f.note.includes(`call ${bad} from earth refused`) && /timeout: expected a u64/.test(f.note)),
      ).toBe(true);
    });
  }
});
