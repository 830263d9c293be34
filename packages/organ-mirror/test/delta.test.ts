/**
 * The change log of a source branch (`BranchLog`): a path under one already logged as changed is
 * not logged again, and the seal's ops still bring a copy of the last shipped state to the
 * current one.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createTree, digestHex, parsePath, text, u64, type Tree } from '@cep/cells';
import { decodeBranch, encodeBranch } from '@cep/serializer';
import { applyOps } from '../src/apply.ts';
import { BranchLog, type MirrorOp } from '../src/delta.ts';
import { buildBundlePart, readMessage } from '../src/message.ts';
import { packOps } from '../src/pack.ts';

const ROOT = parsePath('/data/sky');

/** A source tree with a log on /data/sky, its first (snapshot) seal done. */
function source(): { tree: Tree; log: BranchLog } {
  const tree = createTree();
  tree.ensureDictionary('/data/sky');
  tree.set('/data/sky/0/0', text('star 0'));
  const log = new BranchLog(ROOT);
  tree.subscribe((change) => void log.notice(change));
  log.seal(tree);
  return { tree, log };
}

describe('BranchLog', () => {
  it('logs a new store once, not once per cell written under it', () => {
    const { tree, log } = source();
    tree.batch(() => {
      const group = tree.ensureDictionary('/data/sky/1');
      for (let i = 0; i < 100; i++) tree.setChild(group, String(i), u64(BigInt(i)));
    });
    expect(log.marked).toBe(1);
    const ops = log.seal(tree);
    expect(ops.map((o) => o.op)).toEqual(['add']);
    expect((ops[0] as Extract<MirrorOp, { op: 'add' }>).cells.map((c) => c.name.tag.text)).toEqual(['1']);
  });

  it('still logs each changed cell of a store that was already shipped', () => {
    const { tree, log } = source();
    tree.set('/data/sky/0/1', u64(1n));
    tree.set('/data/sky/0/2', u64(2n));
    expect(log.marked).toBe(2);
  });

  it('seals ops that bring a copy to the source, whatever the order of writes (property)', () => {
    const write = fc.tuple(fc.nat(3), fc.nat(5), fc.nat(50));
    fc.assert(
      fc.property(fc.array(fc.array(write, { maxLength: 12 }), { minLength: 1, maxLength: 5 }), (bundles) => {
        const { tree, log } = source();
        const copy = createTree();
        copy.ensureDictionary('/data/sky');
        copy.set('/data/sky/0/0', text('star 0'));
        for (const writes of bundles) {
          tree.batch(() => {
            for (const [g, c, x] of writes) {
              if (x % 9 === 0) tree.remove(`/data/sky/${g}`);
              else tree.set(`/data/sky/${g}/${c}`, x % 2 === 0 ? u64(BigInt(x)) : text(`s${x}`));
            }
          });
          // Through the wire form, as a receiver gets them (one part each, ops in order).
          for (const part of packOps(log.seal(tree), 1 << 20).parts) {
            const frame = buildBundlePart({ epoch: 'e', seq: 1, part: 1, parts: 1, firstBeat: 0, lastBeat: 0 }, part.ops);
            const message = readMessage(decodeBranch(encodeBranch(frame)).root);
            if (typeof message === 'string' || message.kind !== 'bundle') throw new Error(String(message));
            copy.batch(() => applyOps(copy, ROOT, message.ops));
          }
          expect(digestHex(copy.get('/data/sky')!)).toBe(digestHex(tree.get('/data/sky')!));
        }
      }),
      { numRuns: 60 },
    );
  });
});
