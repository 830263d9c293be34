/**
 * The branches the serializer's benches time, built in one place so every script measures the
 * same data: the 10,000-value branch (1,000 dictionaries of 10 fields: 5 texts, 5 u64s, names of
 * letters only, so the name table holds `val/u64` alone) and the 2-cell frame (a dictionary
 * holding one bytes value), each with the same data as plain objects for msgpackr and cbor-x.
 */
import { bytes, createTree, text, u64, type Cell } from '@cep/cells';

/** A bench branch (the cell at `/b` of its own tree) and the same data as plain objects. */
export interface BenchBranch {
  readonly branch: Cell;
  readonly plain: unknown;
}

/** 10,000 small values: 1,000 dictionaries of 10 fields (5 texts, 5 u64s). */
export function tenThousandValues(): BenchBranch {
  const tree = createTree();
  const plain: Record<string, Record<string, string | number>> = {};
  for (let i = 0; i < 1000; i++) {
    const key = 'r' + i.toString(26).replace(/[0-9]/g, (d) => 'qrstuvwxyz'[Number(d)]!);
    const row: Record<string, string | number> = {};
    for (let f = 0; f < 10; f++) {
      const field = 'f' + 'abcdefghij'[f];
      if (f % 2 === 0) {
        tree.set(['b', key, field], text(`value ${i}.${f}`));
        row[field] = `value ${i}.${f}`;
      } else {
        tree.set(['b', key, field], u64(i * 10 + f));
        row[field] = i * 10 + f;
      }
    }
    plain[key] = row;
  }
  return { branch: tree.get('/b')!, plain };
}

/** A 2-cell frame's branch: a dictionary holding one value of `size` bytes (64 by default). */
export function twoCell(size = 64): BenchBranch {
  const tree = createTree();
  const data = Uint8Array.from({ length: size }, (_, i) => (i * 37 + 11) & 0xff);
  tree.set('/b/v', bytes(data));
  return { branch: tree.get('/b')!, plain: { v: data } };
}
