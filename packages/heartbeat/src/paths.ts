/** Path helpers: every segment goes through `name()` whole, so texts with `/` stay one segment. */
import { name, type Name, type Tree, type Value } from '@cep/cells';

/** Names for literal segments (each string is one segment, even if it contains `/`). */
export function segs(...parts: readonly (string | Name | readonly Name[])[]): Name[] {
  const out: Name[] = [];
  for (const part of parts) {
    if (typeof part === 'string') out.push(name(part));
    else if (Array.isArray(part)) out.push(...(part as readonly Name[]));
    else out.push(part as Name);
  }
  return out;
}

/** The value at `path` as text, or undefined. */
export function readText(tree: Tree, path: readonly Name[]): string | undefined {
  const v = tree.getValue(path);
  return v?.type === 'text' ? v.value : undefined;
}

/** The value at `path` as a bigint (u64/i64), or undefined. */
export function readInt(tree: Tree, path: readonly Name[]): bigint | undefined {
  const v: Value | undefined = tree.getValue(path);
  return v?.type === 'u64' || v?.type === 'i64' ? v.value : undefined;
}
