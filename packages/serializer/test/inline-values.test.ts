/**
 * Inline payloads are read where they lie in the frame (no view per value): ASCII texts and u64s
 * in place, every other value and a link's target through a view made only for it. What a decode
 * returns owns its bytes: overwriting the frame afterwards changes none of it.
 */
import { describe, expect, it } from 'vitest';
import { bool, bytes, createTree, digestHex, i64, text, u64, type Value } from '@cep/cells';
import { applyBranch, decodeBranch, encodeBranch, type StagedCell } from '@cep/serializer';

/** The staged child `name` of the root. */
function child(root: StagedCell, name: string): StagedCell {
  const found = root.children.find((c) => c.name.tag.text === name);
  if (found === undefined) throw new Error(`no child ${name}`);
  return found;
}

describe('inline values read in place', () => {
  const values: Record<string, Value> = {
    ascii: text('plain ascii'),
    utf8: text('grüße, 世界'),
    long: text('x'.repeat(64)), // 64 bytes plus its NUL: the longest inline text is 63 characters, this one goes in a chunk
    num: u64(0xfedcba9876543210n),
    neg: i64(-5n),
    flag: bool(true),
    blob: bytes(Uint8Array.from({ length: 64 }, (_, i) => 255 - i)),
    empty: bytes(new Uint8Array(0)),
  };
  const tree = createTree();
  for (const [key, value] of Object.entries(values)) tree.set(['b', key], value);
  tree.link(['b', 'lnk'], ['b', 'num']);

  it('decodes every kind of inline value and a link the same as the source, under both strictness settings', () => {
    for (const strictness of ['strict', 'lenient'] as const) {
      const frame = encodeBranch(tree.get('/b')!, { crc32c: true });
      const staged = decodeBranch(frame, {}, { strictness });
      for (const [key, value] of Object.entries(values)) expect(child(staged.root, key).value).toEqual(value);
      expect(child(staged.root, 'lnk').linkTarget!.map((n) => n.tag.text)).toEqual(['b', 'num']);
      const target = createTree();
      applyBranch(target, '/copy', staged);
      expect(digestHex(target.get('/copy')!)).toBe(digestHex(tree.get('/b')!));
    }
  });

  it('returns values that do not share the frame’s bytes: zeroing the frame after the decode changes nothing', () => {
    const frame = encodeBranch(tree.get('/b')!, { crc32c: true });
    const staged = decodeBranch(frame);
    frame.fill(0);
    for (const [key, value] of Object.entries(values)) expect(child(staged.root, key).value).toEqual(value);
    expect(child(staged.root, 'lnk').linkTarget!.map((n) => n.tag.text)).toEqual(['b', 'num']);
    const blob = child(staged.root, 'blob').value!;
    expect(blob.type === 'bytes' && blob.value.buffer !== frame.buffer).toBe(true);
  });
});
