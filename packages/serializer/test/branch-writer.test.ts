/**
 * The branch writer's batched paths (values gathered into one arena, payloads and fingerprints
 * hashed many to a call, bodies written from positional fields) give the bytes of a plain
 * model built record by record from the public record writers and encodeFrame, for branches
 * that reach every case: reference names as data types and as child names (their frame-local
 * ids depend on the order names are asked for), pages of 64 children and more, empty, inline,
 * chunked and longer-than-a-chunk values, tombstones, links and lists; with the SIMD kernel
 * and on the JS fallback. Batched digests equal one-by-one digests across batch boundaries.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js';
import { bool, bytes, createTree, i64, name, referenceId, text, u64, valueToData, type Cell, type Name, type Value } from '@cep/cells';
import { encodeBranch, encodeFrame, RECORD_TYPE, type RawRecord } from '@cep/serializer';
import { loadBatchKernel } from '../src/blake3-batch.ts';
import { blake3, blake3Many } from '../src/hash.ts';
import { NameTableWriter, ROOT_NAME } from '../src/names.ts';
import { CHUNK_BYTES, DATALESS_FINGERPRINT, INLINE_MAX, MAX_CHUNKS_FOR_REFERENCE, payloadFingerprint } from '../src/payload.ts';
import { CAP } from '../src/frame-format.ts';
import { CELL_TYPE, META, STORE, writeCellDesc, writeChunk, writeManifest, writeNamepool, writeOrder } from '../src/records.ts';
import { ValueBatch } from '../src/value-batch.ts';
import { INVALID_WASM as INVALID } from './helpers/fixtures.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

afterEach(() => {
  expect(loadBatchKernel()).toBe(true);
});

/** The branch frame as the reference lays it out, one record object at a time (no aead, no deflate). */
function modelFrame(root: Cell, checksum: 0 | 1, includeDeleted: boolean): Uint8Array {
  const names = new NameTableWriter();
  const records: RawRecord[] = [];
  let caps = 0;
  let newest = 0;
  const fps = new Map<Cell, bigint>();
  const payloads = new Map<Cell, { dataType: Name; data: Uint8Array; hash: Uint8Array | undefined }>();
  const payloadOf = (cell: Cell) => {
    let p = payloads.get(cell);
    if (p === undefined) {
      const { dataType, bytes: data } = valueToData(cell.value!);
      p = { dataType, data, hash: data.length > 0 ? blake3(data) : undefined };
      payloads.set(cell, p);
    }
    return p;
  };
  const fingerprintOf = (cell: Cell): bigint => {
    let fp = fps.get(cell);
    if (fp === undefined) {
      const p = payloadOf(cell);
      fp = payloadFingerprint(p.dataType, p.data, names, p.hash);
      fps.set(cell, fp);
    }
    return fp;
  };
  const key = (type: number, path: readonly Uint8Array[], suffix: Uint8Array, tail: number[] = []): Uint8Array =>
    Uint8Array.from([type, ...path.flatMap((n) => [...n]), ...suffix, ...tail]);
  const varint = (v: number): number[] => {
    const out: number[] = [];
    while (v >= 0x80) {
      out.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    out.push(v);
    return out;
  };
  const record = (type: number, k: Uint8Array, body: Uint8Array): void => {
    records.push({ type, version: 1, flags: 0, key: k, body });
  };
  const visit = (node: Cell, path: Uint8Array[]): void => {
    newest = Math.max(newest, node.modified, node.deleted ?? 0);
    const payload = node.kind === 'value' ? payloadOf(node) : undefined;
    const suffixName =
      node.kind === 'value' ? payload!.dataType : node.kind === 'link' ? name('link') : (node.storeType ?? name(node.kind === 'list' ? 'list' : 'dictionary'));
    const suffix = names.nameBytes(suffixName);
    let linkData: Uint8Array | undefined;
    if (node.kind === 'link') linkData = Uint8Array.from(node.linkTarget!.flatMap((n) => [...names.nameBytes(n)]));
    const data = payload?.data ?? linkData;
    const hash = payload !== undefined ? payload.hash : linkData !== undefined && linkData.length > 0 ? blake3(linkData) : undefined;
    const fp = hash === undefined ? undefined : payload !== undefined ? fingerprintOf(node) : payloadFingerprint(name('link'), data!, names, hash);
    const inline = data !== undefined && data.length > 0 && data.length <= INLINE_MAX;
    if (fp !== undefined) caps |= CAP.PAYLOAD_FP | CAP.PAYLOAD_REF;
    record(
      RECORD_TYPE.CELL_DESC,
      key(RECORD_TYPE.CELL_DESC, path, suffix),
      writeCellDesc({
        cellType: node.kind === 'link' ? CELL_TYPE.link : CELL_TYPE.normal,
        storeDescriptor: node.kind === 'dictionary' ? STORE.dictionary : node.kind === 'list' ? STORE.list : STORE.none,
        created: BigInt(node.created),
        latest: BigInt(node.modified),
        revision: (hash ?? new Uint8Array(32)).subarray(0, 16),
        payloadKind: 0,
        fingerprint: fp,
        inline: inline ? data! : new Uint8Array(0),
        ref: hash !== undefined ? { refKind: 0, hashAlg: 1, codec: 0, aeadMode: 0, size: data!.length, hash } : undefined,
        metaMask: node.isDeleted ? META.tombstone : 0,
      }),
    );
    if (node.kind === 'dictionary' || node.kind === 'list') {
      const children = node.children().filter((c) => includeDeleted || !c.isDeleted);
      if (children.length > 0) caps |= CAP.PAGED_CHILDSET | CAP.PAGED_ORDER;
      for (let page = 0; page * 64 < children.length; page++) {
        const slice = children.slice(page * 64, (page + 1) * 64);
        const entries = slice.map((c) => {
          const revision = c.isDeleted ? 0n : c.kind === 'value' && payloadOf(c).data.length > 0 ? fingerprintOf(c) : DATALESS_FINGERPRINT;
          const r = new Uint8Array(16);
          new DataView(r.buffer).setBigUint64(0, revision, true);
          return { op: c.isDeleted ? 2 : 1, name: c.name, mask: c.isDeleted ? META.tombstone : 0, revision: r };
        });
        const body = writeManifest({ epoch: BigInt(node.modified), rangeKind: 0, min: slice[0]!.name, max: children[(page + 1) * 64]?.name, entries }, names);
        record(RECORD_TYPE.MANIFEST_DELTA, key(RECORD_TYPE.MANIFEST_DELTA, path, suffix, varint(page)), body);
      }
      const projection = node.kind === 'list' ? 1 : 0;
      for (let page = 0; page * 64 < children.length; page++) {
        const slice = children.slice(page * 64, (page + 1) * 64);
        const body = writeOrder(
          {
            projection,
            epoch: BigInt(node.modified),
            rankMin: page * 64,
            entries: slice.map((c, i) => ({ op: c.isDeleted ? 2 : 1, name: c.name, position: page * 64 + i })),
          },
          names,
        );
        record(RECORD_TYPE.ORDER_DELTA, key(RECORD_TYPE.ORDER_DELTA, path, suffix, [...varint(projection), ...varint(page)]), body);
      }
      for (const child of children) visit(child, [...path, names.nameBytes(child.name)]);
    } else if (data !== undefined && data.length > 0 && !inline) {
      const size = Math.max(CHUNK_BYTES, Math.ceil(data.length / MAX_CHUNKS_FOR_REFERENCE));
      for (let offset = 0, ordinal = 0; offset < data.length; offset += size, ordinal++) {
        const k = key(RECORD_TYPE.PAYLOAD_CHUNK, path, suffix, varint(ordinal));
        const piece = data.subarray(offset, Math.min(data.length, offset + size));
        const body = writeChunk({
          payloadKind: 0,
          total: data.length,
          offset,
          size: piece.length,
          fingerprint: fp,
          aeadMode: 0,
          nonce: new Uint8Array(0),
          aadHash: blake3(k),
          data: piece,
        });
        record(RECORD_TYPE.PAYLOAD_CHUNK, k, body);
      }
    }
  };
  visit(root, [names.nameBytes(ROOT_NAME)]);
  for (let i = 0; i < names.size; i++) {
    const k = new Uint8Array(9);
    k[0] = RECORD_TYPE.NAMEPOOL_DELTA;
    new DataView(k.buffer).setBigUint64(1, names.idAt(i), true);
    record(RECORD_TYPE.NAMEPOOL_DELTA, k, writeNamepool(names.textAt(i), false));
  }
  if (names.size > 0) caps |= CAP.NAMEPOOL_MAP;
  return encodeFrame(records, { beat: BigInt(newest), caps, checksum });
}

/** Deterministic bytes of a length. */
const filled = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 7) & 0xff);

const valueArb: fc.Arbitrary<Value> = fc.oneof(
  fc.string({ maxLength: 40 }).map(text),
  fc.constantFrom('héllo wörld', '✓ done', 'a\u{1F600}b', '\uD800 lone', 'x'.repeat(1023), 'y'.repeat(1024), 'é'.repeat(700), 'z'.repeat(5000)).map(text),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map(u64),
  fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }).map(i64),
  fc.boolean().map(bool),
  fc.constantFrom(0, 1, 63, 64, 65, 1024, 1025, 5000).chain((n) => fc.nat(255).map((seed) => bytes(filled(n, seed)))),
  fc.constantFrom(0, 7, 200, 2000).map((n) => ({ type: 'raw', dataType: name(referenceId(`type-${n}`)), value: filled(n, n) }) as Value),
);

type Shape = { children: number; values: Value[]; nested: number; deleted: number; refNames: boolean; link: boolean; list: boolean };

const shapeArb: fc.Arbitrary<Shape> = fc.record({
  children: fc.constantFrom(0, 1, 5, 63, 64, 65, 130),
  values: fc.array(valueArb, { minLength: 1, maxLength: 12 }),
  nested: fc.nat(3),
  deleted: fc.nat(4),
  refNames: fc.boolean(),
  link: fc.boolean(),
  list: fc.boolean(),
});

function branchOf(s: Shape): Cell {
  const tree = createTree();
  const childName = (i: number) => (s.refNames && i % 3 === 0 ? name(referenceId(`kid ${i}`)) : name(`k${i}`));
  for (let i = 0; i < s.children; i++) tree.set(['b', childName(i)], s.values[i % s.values.length]!);
  for (let d = 0; d < s.nested; d++) for (let i = 0; i < 3; i++) tree.set(['b', `n${d}`, childName(i)], s.values[(i + d) % s.values.length]!);
  if (s.list) {
    tree.ensureList(['b', 'l']);
    s.values.forEach((v, i) => tree.insert(['b', 'l'], i, v, name(`e${i}`)));
  }
  if (s.link && s.children > 0) tree.link(['b', 'lnk'], ['b', childName(0)]);
  for (let i = 0; i < Math.min(s.deleted, s.children); i++) tree.delete(['b', childName(i * 2)]);
  if (s.children === 0 && s.nested === 0 && !s.list) tree.set(['b', 'only'], s.values[0]!);
  return tree.get('/b')!;
}

describe('the branch writer', () => {
  it('writes the bytes of the record-by-record model, with the SIMD kernel and on the JS fallback (property)', () => {
    fc.assert(
      fc.property(shapeArb, fc.constantFrom<0 | 1>(0, 1), fc.boolean(), fc.boolean(), (shape, checksum, includeDeleted, kernel) => {
        if (!kernel) expect(loadBatchKernel(INVALID)).toBe(false);
        try {
          const branch = branchOf(shape);
          const ours = encodeBranch(branch, { crc32c: checksum === 1 }, { includeDeleted });
          expect(hex(ours)).toBe(hex(modelFrame(branch, checksum, includeDeleted)));
        } finally {
          loadBatchKernel();
        }
      }),
      { numRuns: 120 },
    );
  });

  it('a value as the branch root, and a store whose values straddle the arena growth', () => {
    const tree = createTree();
    tree.set(['v'], text('root value'));
    expect(hex(encodeBranch(tree.get('/v')!))).toBe(hex(modelFrame(tree.get('/v')!, 0, false)));
    // 600 values of 1024 bytes: the arena grows several times while one store is gathered.
    for (let i = 0; i < 600; i++) tree.set(['big', `x${i}`], bytes(filled(1024, i)));
    expect(hex(encodeBranch(tree.get('/big')!))).toBe(hex(modelFrame(tree.get('/big')!, 0, false)));
  });
});

describe('batched digests', () => {
  /** Inputs of these lengths laid out with gaps; digests by blake3Many and by @noble/hashes. */
  function compare(lengths: readonly number[], seed: number): void {
    const starts = new Int32Array(lengths.length);
    const ends = new Int32Array(lengths.length);
    let at = 1;
    lengths.forEach((n, i) => {
      starts[i] = at;
      ends[i] = at + n;
      at += n + 3;
    });
    const data = filled(at, seed);
    const out = new Uint8Array(lengths.length * 32 + 64);
    blake3Many(data, starts, ends, lengths.length, out, 32);
    lengths.forEach((n, i) =>
      expect(hex(out.subarray(32 + i * 32, 64 + i * 32)), `input ${i} (${n} B)`).toBe(hex(nobleBlake3(data.subarray(starts[i], ends[i])))),
    );
    expect(hex(out.subarray(0, 32))).toBe(hex(new Uint8Array(32))); // nothing written before outAt
  }

  it('equal one-by-one digests for counts around the four-lane groups, mixed lengths, with and without the kernel (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1024 }), { minLength: 1, maxLength: 70 }), fc.nat(1000), fc.boolean(), (lengths, seed, kernel) => {
        if (!kernel) expect(loadBatchKernel(INVALID)).toBe(false);
        try {
          compare(lengths, seed);
        } finally {
          loadBatchKernel();
        }
      }),
      { numRuns: 150 },
    );
  });

  it('a value batch hashes and fingerprints what valueToData and payloadFingerprint give', () => {
    const values: Value[] = [
      text('abc'),
      text('é✓'),
      text(''),
      text('t'.repeat(1023)),
      text('l'.repeat(1024)),
      text('ü'.repeat(2000)),
      u64(5n),
      i64(-3n),
      bool(true),
      bytes(filled(1024, 2)),
      bytes(filled(1500, 3)),
      bytes(filled(33, 1)),
    ];
    const batch = new ValueBatch();
    const names = new NameTableWriter();
    const first = batch.begin(values.length + 1); // one entry left ungathered
    values.forEach((v, i) => batch.gather(first + i, v));
    batch.hash(first, values.length + 1);
    values.forEach((v, i) => {
      const { dataType, bytes: data } = valueToData(v);
      expect(
        hex(
          batch
            .source(first + i)
            .subarray(
              batch.external[first + i] ? 0 : batch.starts[first + i]!,
              (batch.external[first + i] ? 0 : batch.starts[first + i]!) + batch.size(first + i),
            ),
        ),
      ).toBe(hex(data));
      if (data.length === 0) return;
      expect(hex(batch.digests.subarray((first + i) * 32, (first + i) * 32 + 32))).toBe(hex(blake3(data)));
      batch.fingerprintInput(first + i, names.nameBytes(dataType));
    });
    batch.fingerprint(first, values.length);
    values.forEach((v, i) => {
      const { dataType, bytes: data } = valueToData(v);
      if (data.length === 0) return;
      const fp = new DataView(batch.fingerprints.buffer, (first + i) * 32, 8).getBigUint64(0, true);
      expect(fp).toBe(payloadFingerprint(dataType, data, names));
    });
  });
});
