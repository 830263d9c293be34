import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { applyImages, createTree, imageOf, u64, type Tree } from '@cep/cells';
import { declarePolicy, policyVersion, readPolicy, specHash, writePipelineSpec, type PolicyConfig } from '@cep/security';

const POLICY: PolicyConfig = {
  enclaves: { earth: { tier: 0 }, saturn: { tier: 1 } },
  edges: [{ from: 'earth', to: 'saturn', budgets: { beats: 8, hops: 3 } }],
  defaults: { beats: 64 },
  pipelines: [
    {
      id: 'p',
      stages: [
        { id: 'A', enclave: 'earth' },
        { id: 'B', enclave: 'saturn' },
      ],
    },
  ],
};

type Edit =
  | { kind: 'set'; field: 'beats' | 'hops' | 'io_bytes'; value: number }
  | { kind: 'delete'; field: 'beats' | 'hops' | 'io_bytes' }
  | { kind: 'tier'; value: number }
  | { kind: 'image'; value: number }
  | { kind: 'spec'; gateway: string };

const EDGE = ['sys', 'security', 'edges', 'earth', 'saturn'];

function apply(tree: Tree, edit: Edit): void {
  if (edit.kind === 'set') tree.set([...EDGE, edit.field], u64(edit.value));
  else if (edit.kind === 'delete') tree.delete([...EDGE, edit.field]);
  else if (edit.kind === 'tier') tree.set(['sys', 'security', 'enclaves', 'saturn', 'tier'], u64(edit.value));
  else if (edit.kind === 'spec')
    writePipelineSpec(tree, {
      id: 'p',
      stages: [
        { id: 'A', enclave: 'earth' },
        { id: 'B', enclave: 'saturn', gateway: edit.gateway },
      ],
    });
  else {
    // Images rebuild state without telling subscribers (as a replay does): the memo must see them too.
    const other = createTree();
    const cell = other.set(['sys', 'security', 'defaults', 'beats'], u64(edit.value));
    applyImages(tree, [imageOf(cell)]);
  }
}

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), field: fc.constantFrom('beats' as const, 'hops' as const, 'io_bytes' as const), value: fc.nat(5) }),
  fc.record({ kind: fc.constant('delete' as const), field: fc.constantFrom('beats' as const, 'hops' as const, 'io_bytes' as const) }),
  fc.record({ kind: fc.constant('tier' as const), value: fc.nat(3) }),
  fc.record({ kind: fc.constant('image' as const), value: fc.nat(3) }),
  fc.record({ kind: fc.constant('spec' as const), gateway: fc.constantFrom('g1', 'g2') }),
);

function fresh(edits: readonly Edit[]): Tree {
  const tree = createTree();
  declarePolicy(tree, POLICY);
  for (const e of edits) apply(tree, e);
  return tree;
}

describe('the policy and spec memos', () => {
  it('always give what a tree that never read its policy gives, whatever changed in between (all in one beat)', () => {
    fc.assert(
      fc.property(fc.array(edit, { maxLength: 12 }), (edits) => {
        const tree = fresh([]);
        readPolicy(tree);
        specHash(tree, 'p');
        for (let i = 0; i < edits.length; i++) {
          apply(tree, edits[i]!);
          const oracle = fresh(edits.slice(0, i + 1)); // same content, no memo
          expect(policyVersion(tree)).toBe(policyVersion(oracle));
          expect(specHash(tree, 'p')).toBe(specHash(oracle, 'p'));
          const ours = readPolicy(tree);
          const theirs = readPolicy(oracle);
          expect(ours.version).toBe(theirs.version);
          expect([...ours.enclaves]).toEqual([...theirs.enclaves]);
          expect(ours.edges.get('earth')?.get('saturn')).toEqual(theirs.edges.get('earth')?.get('saturn'));
          expect(ours.defaults).toEqual(theirs.defaults);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('a budget edited inside one beat moves the version at once', () => {
    const tree = fresh([]);
    const before = policyVersion(tree);
    tree.set([...EDGE, 'hops'], u64(4));
    expect(policyVersion(tree)).not.toBe(before);
    expect(readPolicy(tree).edges.get('earth')?.get('saturn')?.hops).toBe(4);
    tree.set([...EDGE, 'hops'], u64(3));
    expect(policyVersion(tree)).toBe(before);
  });

  it('an unchanged policy is not read again (the same snapshot comes back)', () => {
    const tree = fresh([]);
    const first = readPolicy(tree);
    expect(readPolicy(tree)).toBe(first);
    tree.set(['rt', 'other'], u64(1)); // outside the policy
    expect(readPolicy(tree)).toBe(first);
  });
});
