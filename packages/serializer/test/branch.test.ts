import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bool, bytes, createTree, digestHex, i64, name, referenceId, text, u64, type Tree, type Value } from '@cep/cells';
import { isCepError } from '@cep/errors';
import { applyBranch, decodeBranch, DEFLATE_MIN_BYTES, encodeBranch, type SerializerPolicy } from '@cep/serializer';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
const seg = fc.constantFrom('a', 'b', 'mounts', 'peer', 'ABC', '7', 'long/ref', 'val/u64', 'x:y');
const value: fc.Arbitrary<Value> = fc.oneof(
  fc.string({ maxLength: 20 }).map(text),
  fc.string({ minLength: 60, maxLength: 200 }).map(text),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map(u64),
  fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }).map(i64),
  fc.boolean().map(bool),
  fc.uint8Array({ maxLength: 9000 }).map(bytes),
);
type Op =
  | { kind: 'set'; path: string[]; value: Value }
  | { kind: 'list'; path: string[]; values: Value[] }
  | { kind: 'del'; path: string[] }
  | { kind: 'link'; path: string[] };
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('set' as const), path: fc.array(seg, { minLength: 1, maxLength: 4 }), value }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('list' as const),
      path: fc.array(seg, { minLength: 1, maxLength: 2 }),
      values: fc.array(value, { minLength: 1, maxLength: 4 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('del' as const), path: fc.array(seg, { minLength: 1, maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('link' as const), path: fc.array(seg, { minLength: 1, maxLength: 2 }) }) },
);
const policy: fc.Arbitrary<SerializerPolicy> = fc.record({
  crc32c: fc.boolean(),
  deflate: fc.boolean(),
  deflateMinBytes: fc.constantFrom(0, undefined),
  aead: fc.option(
    fc.constantFrom('xchacha20poly1305', 'chacha20poly1305').map((mode) => ({ mode: mode as 'xchacha20poly1305', key: KEY })),
    { nil: undefined },
  ),
});

function build(ops: Op[]): Tree {
  const tree = createTree();
  tree.ensureDictionary('/src');
  ops.forEach((o, i) => {
    tree.setBeat(i);
    try {
      if (o.kind === 'set') tree.set(['src', ...o.path], o.value);
      else if (o.kind === 'list') {
        tree.ensureList(['src', ...o.path, 'items']);
        for (const v of o.values) tree.append(['src', ...o.path, 'items'], v);
      } else if (o.kind === 'del') tree.delete(['src', ...o.path]);
      else tree.link(['src', ...o.path, 'lnk'], ['src', 'a']);
    } catch {
      // clashes between random paths are refused and change nothing
    }
  });
  return tree;
}

function roundTrip(tree: Tree, p: SerializerPolicy, strictness: 'strict' | 'lenient' = 'strict'): Tree {
  const frame = encodeBranch(tree.get('/src')!, p);
  const out = createTree();
  applyBranch(out, '/copy', decodeBranch(frame, p, { strictness }));
  return out;
}

describe('branch frames', () => {
  it('round-trips any branch under any capability set and either strictness: equal digests', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), policy, fc.constantFrom('strict' as const, 'lenient' as const), (ops, p, strictness) => {
        const tree = build(ops);
        const out = roundTrip(tree, p, strictness);
        expect(digestHex(out.get('/copy')!)).toBe(digestHex(tree.get('/src')!));
      }),
      { numRuns: 150 },
    );
  });

  it('keeps store types, list order and names of every kind', () => {
    const tree = createTree();
    tree.ensureDictionary('/src/organ', name('organ/link'));
    tree.set(['src', 'organ', 'req', 'peer'], text('saturn'));
    tree.ensureList('/src/l');
    for (const v of ['z', 'a', 'm']) tree.append('/src/l', text(v));
    tree.move('/src/l', 2, 0);
    tree.set(['src', 'Hello World, a reference'], u64(5));
    const out = roundTrip(tree, {});
    expect(out.get('/copy/organ')!.storeType?.tag.text).toBe('organ/link');
    expect(
      out
        .get('/copy/l')!
        .children()
        .map((c) => (c.value as { value: string }).value),
    ).toEqual(['m', 'z', 'a']);
    expect(digestHex(out.get('/copy')!)).toBe(digestHex(tree.get('/src')!));
  });

  it('ships tombstones when asked', () => {
    const tree = createTree();
    tree.set('/src/a', text('x'));
    tree.set('/src/b', text('y'));
    tree.setBeat(2);
    tree.delete('/src/b');
    const out = createTree();
    applyBranch(out, '/copy', decodeBranch(encodeBranch(tree.get('/src')!, {}, { includeDeleted: true })));
    expect(out.find('/copy/b')!.isDeleted).toBe(true);
    expect(out.get('/copy/a')).toBeDefined();
  });

  it('a 3 MiB value travels in chunks, at most 128 of them, and comes back exact', () => {
    const tree = createTree();
    const big = Uint8Array.from({ length: 3 * 1024 * 1024 }, (_, i) => (i * 31) & 0xff);
    tree.set('/src/blob', bytes(big));
    for (const p of [{}, { aead: { mode: 'xchacha20poly1305' as const, key: KEY } }]) {
      const out = roundTrip(tree, p);
      expect(Buffer.compare(Buffer.from((out.getValue('/copy/blob') as { value: Uint8Array }).value), Buffer.from(big))).toBe(0);
    }
  });

  it('fails closed: an AEAD mount never sends plaintext payloads and refuses them', () => {
    const tree = createTree();
    tree.set('/src/secret', text('short secret'));
    const sealed = encodeBranch(tree.get('/src')!, { aead: { mode: 'xchacha20poly1305', key: KEY } });
    expect(Buffer.from(sealed).includes(Buffer.from('short secret'))).toBe(false);
    const plain = encodeBranch(tree.get('/src')!, {});
    expect(() => decodeBranch(plain, { aead: { mode: 'xchacha20poly1305', key: KEY } })).toThrow(expect.objectContaining({ code: 'AEAD_REQUIRED' }));
    const wrongKey = new Uint8Array(32).fill(9);
    expect(() => decodeBranch(sealed, { aead: { mode: 'xchacha20poly1305', key: wrongKey } })).toThrow(expect.objectContaining({ code: 'AEAD_TAG_FAILED' }));
    expect(() => decodeBranch(sealed, {})).toThrow(expect.objectContaining({ code: 'AEAD_KEY_MISSING' }));
  });

  it('the writer refuses to emit above the reader ceiling; the reader refuses above its own', () => {
    const tree = createTree();
    tree.set('/src/a', text('x'));
    for (const fn of [() => encodeBranch(tree.get('/src')!, { cmpMaxVer: 0 }), () => decodeBranch(encodeBranch(tree.get('/src')!), { cmpMaxVer: 0 })]) {
      let error: unknown;
      try {
        fn();
      } catch (e) {
        error = e;
      }
      expect(isCepError(error, 'CMP_VERSION_TOO_HIGH')).toBe(true);
    }
  });

  it('refuses frames over the configured maximum, on both sides', () => {
    const tree = createTree();
    tree.set('/src/blob', bytes(new Uint8Array(10_000)));
    expect(() => encodeBranch(tree.get('/src')!, { maxFrameBytes: 1000 })).toThrow(expect.objectContaining({ code: 'FRAME_TOO_LARGE' }));
    const frame = encodeBranch(tree.get('/src')!);
    expect(() => decodeBranch(frame, { maxFrameBytes: 1000 })).toThrow(expect.objectContaining({ code: 'FRAME_TOO_LARGE' }));
  });

  it('deflates only frames of at least deflateMinBytes (16 KiB by default); smaller ones go out exactly as without deflate', () => {
    const tree = createTree();
    for (let i = 0; i < 4; i++) tree.set(['src', `k${i}`], text(`a small value ${i}`));
    const branch = tree.get('/src')!;
    const plain = encodeBranch(branch, { crc32c: true });
    expect(plain.length).toBeLessThan(DEFLATE_MIN_BYTES);
    expect(Buffer.from(encodeBranch(branch, { crc32c: true, deflate: true })).equals(Buffer.from(plain))).toBe(true);
    const packed = encodeBranch(branch, { crc32c: true, deflate: true, deflateMinBytes: 0 });
    expect(Buffer.from(packed.subarray(0, 4)).toString('latin1')).toBe('TLFC');
    expect(packed.length).toBeLessThan(plain.length);
    // The threshold is inclusive: a frame of exactly deflateMinBytes is tried.
    expect(Buffer.from(encodeBranch(branch, { crc32c: true, deflate: true, deflateMinBytes: plain.length })).equals(Buffer.from(packed))).toBe(true);
    expect(Buffer.from(encodeBranch(branch, { crc32c: true, deflate: true, deflateMinBytes: plain.length + 1 })).equals(Buffer.from(plain))).toBe(true);
    // A large frame is still deflated under the default.
    for (let i = 0; i < 200; i++) tree.set(['src', `many${i}`], text(`value ${i}`));
    expect(Buffer.from(encodeBranch(tree.get('/src')!, { deflate: true }).subarray(0, 4)).toString('latin1')).toBe('TLFC');
    for (const bad of [-1, 1.5, Number.NaN]) {
      expect(() => encodeBranch(branch, { deflate: true, deflateMinBytes: bad })).toThrow(expect.objectContaining({ code: 'POLICY_INVALID' }));
    }
  });

  it('applying is all or nothing', () => {
    const target = createTree();
    target.set('/copy/old', text('kept'));
    target.set('/copy2', text('a value where the branch wants a store'));
    const before = digestHex(target.root);
    const tree = createTree();
    tree.set('/src/a', text('x'));
    const decoded = decodeBranch(encodeBranch(tree.get('/src')!));
    expect(() => applyBranch(target, '/copy2/deeper', decoded)).toThrow();
    expect(digestHex(target.root)).toBe(before);
  });
});

describe('cell index of the decoder', () => {
  it('keeps apart two paths whose name texts would read the same if joined with a separator', () => {
    const tree = createTree();
    const x = name('x');
    // /x/<ref "p">/q  and  /x/<ref "p\u0001wq">: joined with U+0001 both would read "wx\u0001rp\u0001wq".
    tree.set([name('d'), x, name(referenceId('p')), name('q')], text('deep'));
    tree.set([name('d'), x, name(referenceId('p\u0001wq'))], text('flat'));
    const cell = tree.get('/d')!;
    const decoded = decodeBranch(encodeBranch(cell));
    const copy = createTree();
    applyBranch(copy, '/d', decoded);
    expect(digestHex(copy.get('/d')!)).toBe(digestHex(cell));
  });
});
