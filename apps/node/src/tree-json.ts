/**
 * A cell branch as JSON for the HTTP endpoint and `inspect`: the live view
 * (soft-deleted cells left out), dictionaries as objects keyed by name, lists as
 * arrays, 64-bit integers as decimal strings (JSON numbers lose precision past
 * 2^53), bytes as hex, links as their target path (not followed: they may loop).
 */
import { formatName, formatPath, type Cell, type Value } from '@cep/cells';

/** The JSON form of a branch. */
export type BranchJson = string | boolean | null | BranchJson[] | { [key: string]: BranchJson };

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** The JSON form of one value. */
export function valueToJson(value: Value): BranchJson {
  switch (value.type) {
    case 'text':
      return value.value;
    case 'u64':
    case 'i64':
      return value.value.toString();
    case 'bool':
      return value.value;
    case 'bytes':
      return { $bytes: hex(value.value) };
    case 'raw':
      return { $raw: hex(value.value), $type: formatName(value.dataType) };
  }
}

/** The JSON form of `cell` and everything live below it, down to `maxDepth` levels (deeper stores become `{ "$more": n }`). */
export function branchToJson(cell: Cell, maxDepth = Infinity): BranchJson {
  switch (cell.kind) {
    case 'value':
      return cell.value === undefined ? null : valueToJson(cell.value);
    case 'link':
      return { $link: formatPath(cell.linkTarget ?? []) };
    case 'list':
    case 'dictionary': {
      const live = cell.children().filter((c) => !c.isDeleted);
      if (maxDepth <= 0) return { $more: String(live.length) };
      if (cell.kind === 'list') return live.map((c) => branchToJson(c, maxDepth - 1));
      const out: { [key: string]: BranchJson } = {};
      for (const child of live) out[formatName(child.name)] = branchToJson(child, maxDepth - 1);
      return out;
    }
  }
}
