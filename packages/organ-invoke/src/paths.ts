/**
 * Path texts that calls repeat. A burst of calls names one signal (and often one target): each
 * call parsed the text into names and rendered them back, on both sides, several times. The
 * memo keeps, per text, its names (frozen: the same array goes into every impulse of that signal)
 * and its canonical text. Exact: both are pure functions of the text. Bounded: cleared when full.
 */
import { formatPath, parsePath, type Name } from '@cep/cells';

/** A path text read once: its names and its canonical text. */
export interface ReadPath {
  readonly names: readonly Name[];
  readonly text: string;
}

const MEMO_LIMIT = 256;
const memo = new Map<string, ReadPath>();

/** `text` as a path (throws what `parsePath` throws for an invalid one; nothing is kept then). */
export function readPath(text: string): ReadPath {
  let found = memo.get(text);
  if (found === undefined) {
    const names = Object.freeze(parsePath(text));
    found = { names, text: formatPath(names) };
    if (memo.size >= MEMO_LIMIT) memo.clear();
    memo.set(text, found);
  }
  return found;
}
