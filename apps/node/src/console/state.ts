/**
 * What the web console polls: `GET /ui/api/state?since=<beat>` answers only what changed in
 * the tree after beat `since` (cells carry the beat they last changed in, so finding the
 * changes walks record roots, never the whole tree). A first poll (`since=0`) gets everything.
 *
 * Sections (each present only when something under its root changed since `since`):
 *
 *   mounts     /net/mounts/<peer>/<mode>/<mount>      `keys` (all live records) + changed records
 *   telemetry  /net/telemetry/<peer>/<mount>          same, plus the recent history of the counters
 *   mirrors    /net/organs/mirror/requests/<id>       same, plus the local digest of `dst_chan`
 *   serving    /net/organs/mirror/serving/<peer>/<mount>  same, plus the local digest of `src_chan`
 *   invokes    /net/organs/invoke/requests/<id>/invokes/<invoke-id>  same
 *   cei        /data/mailbox/diag/msgs/msg-<n>        the facts issued after `since` (newest {@link MAX_CEI_PER_ANSWER})
 *
 * A record is the branch as JSON (tree-json.ts). The client keeps what it has, replaces the
 * changed records, and drops the records missing from `keys`.
 */
import { digestHex, formatName, parsePath, type Cell, type Tree } from '@cep/cells';
import { branchToJson, type BranchJson } from '../tree-json.ts';

/** CEI facts in one answer at most (the mailbox keeps 1,024; the console shows the newest). */
export const MAX_CEI_PER_ANSWER = 200;

/** Invoke records in one answer at most (each request keeps its newest 64 finished ones). */
export const MAX_INVOKES_PER_ANSWER = 256;

/** One record of a section: its key (the path below the section root) and its branch. */
export interface ConsoleRecord {
  readonly key: string;
  /** The beat it last changed in. */
  readonly beat: number;
  readonly value: BranchJson;
  /** Extra facts the console shows beside the record (series, digests). */
  readonly extra?: Readonly<Record<string, BranchJson | number | readonly (readonly [number, string])[]>>;
}

/** A section's changes: every live key (to drop removed records) and the changed records. */
export interface ConsoleSection {
  readonly keys: readonly string[];
  readonly changed: readonly ConsoleRecord[];
}

/** The answer of `GET /ui/api/state`. */
export interface ConsoleState {
  readonly peer: string;
  readonly enclave: string;
  /** The runtime's beat when this was read. */
  readonly beat: number;
  /** The newest closed beat anything in the tree changed in: pass it as `since` next time. */
  readonly cursor: number;
  readonly since: number;
  readonly mounts?: ConsoleSection;
  readonly telemetry?: ConsoleSection;
  readonly mirrors?: ConsoleSection;
  readonly serving?: ConsoleSection;
  readonly invokes?: ConsoleSection;
  readonly cei?: readonly ConsoleRecord[];
}

/** What the state reader needs from the peer. */
export interface ConsoleStateSource {
  readonly tree: Tree;
  readonly beat: () => number;
  readonly peer: string;
  readonly enclave: string;
}

const live = (cell: Cell): readonly Cell[] => cell.children().filter((c) => !c.isDeleted);

function find(tree: Tree, path: string): Cell | undefined {
  return tree.get(parsePath(path));
}

/** The live records `depth` levels below `root`, with their keys (`saturn/link/main`). */
function recordsAt(root: Cell, depth: number, prefix = ''): { key: string; cell: Cell }[] {
  if (root.kind !== 'dictionary' && root.kind !== 'list') return [];
  const out: { key: string; cell: Cell }[] = [];
  for (const child of live(root)) {
    const key = prefix === '' ? formatName(child.name) : `${prefix}/${formatName(child.name)}`;
    if (depth <= 1) out.push({ key, cell: child });
    else out.push(...recordsAt(child, depth - 1, key));
  }
  return out;
}

/** The values a counter had over its bounded history, oldest first, as `[beat, decimal]`. */
function series(cell: Cell | undefined): (readonly [number, string])[] {
  if (cell === undefined) return [];
  const points: (readonly [number, string])[] = [];
  if (cell.value !== undefined && cell.value.type === 'u64') points.push([cell.modified, cell.value.value.toString()]);
  for (const past of cell.history()) if (past.value?.type === 'u64') points.push([past.beat, past.value.value.toString()]);
  return points.reverse();
}

/**
 * Digests of branches, recomputed only when the branch changed: a mirror's copy is digested
 * once per change, not once per poll.
 */
function createDigestCache(): (cell: Cell | undefined) => string | null {
  const cache = new WeakMap<Cell, { beat: number; hex: string }>();
  return (cell) => {
    if (cell === undefined) return null;
    const hit = cache.get(cell);
    if (hit !== undefined && hit.beat === cell.subtreeModified) return hit.hex;
    const hex = digestHex(cell);
    cache.set(cell, { beat: cell.subtreeModified, hex });
    return hex;
  };
}

function section(
  root: Cell | undefined,
  depth: number,
  since: number,
  extra?: (cell: Cell) => ConsoleRecord['extra'],
  limit = Infinity,
): ConsoleSection | undefined {
  if (root === undefined || root.subtreeModified <= since) return undefined;
  const records = recordsAt(root, depth);
  let changed = records.filter((r) => r.cell.subtreeModified > since);
  if (changed.length > limit) changed = changed.sort((a, b) => a.cell.subtreeModified - b.cell.subtreeModified).slice(-limit);
  return {
    keys: records.map((r) => r.key),
    changed: changed.map(({ key, cell }) => {
      const more = extra?.(cell);
      return { key, beat: cell.subtreeModified, value: branchToJson(cell), ...(more !== undefined ? { extra: more } : {}) };
    }),
  };
}

/** Builds the reader of {@link ConsoleState}s for one peer. */
export function createConsoleState(source: ConsoleStateSource): (since: number) => ConsoleState {
  const digestOf = createDigestCache();
  const digestAt = (path: BranchJson | undefined): string | null => {
    if (typeof path !== 'string' || !path.startsWith('/')) return null;
    try {
      return digestOf(find(source.tree, path));
    } catch {
      return null;
    }
  };
  return (since) => {
    const { tree } = source;
    const net = find(tree, '/net');
    const at = (path: string): Cell | undefined => (net === undefined ? undefined : find(tree, path));
    const mounts = section(at('/net/mounts'), 3, since);
    const telemetry = section(at('/net/telemetry'), 2, since, (cell) => ({
      frames: series(cell.child('frame_count')),
      bp: series(cell.child('bp_count')),
    }));
    const mirrors = section(at('/net/organs/mirror/requests'), 1, since, (cell) => {
      const dst = cell.child('dst_chan')?.value ?? cell.child('src_chan')?.value;
      return { digest: digestAt(dst?.type === 'text' ? dst.value : undefined) };
    });
    const serving = section(at('/net/organs/mirror/serving'), 2, since, (cell) => {
      const src = cell.child('src_chan')?.value;
      return { digest: digestAt(src?.type === 'text' ? src.value : undefined) };
    });
    const invokes = invokeSection(at('/net/organs/invoke/requests'), since);
    const cei = ceiSince(find(tree, '/data/mailbox/diag/msgs'), since);
    return {
      peer: source.peer,
      enclave: source.enclave,
      beat: source.beat(),
      // The beat the runtime runs next is still open: requests served before it (POST /invoke)
      // write at that beat too. The cursor stays below it, so those writes are sent again
      // rather than missed (the page replaces records by key and skips facts it has).
      cursor: Math.min(tree.root.subtreeModified, source.beat() - 1),
      since,
      ...(mounts !== undefined ? { mounts } : {}),
      ...(telemetry !== undefined ? { telemetry } : {}),
      ...(mirrors !== undefined ? { mirrors } : {}),
      ...(serving !== undefined ? { serving } : {}),
      ...(invokes !== undefined ? { invokes } : {}),
      ...(cei.length > 0 ? { cei } : {}),
    };
  };
}

/** Invoke records of every request (`<request>/<invoke-id>`), the changed ones newest last. */
function invokeSection(requests: Cell | undefined, since: number): ConsoleSection | undefined {
  if (requests === undefined || requests.subtreeModified <= since) return undefined;
  const records: { key: string; cell: Cell }[] = [];
  for (const request of live(requests)) {
    const invokes = request.child('invokes');
    if (invokes === undefined || invokes.isDeleted) continue;
    for (const record of live(invokes)) records.push({ key: `${formatName(request.name)}/${formatName(record.name)}`, cell: record });
  }
  const changed = records
    .filter((r) => r.cell.subtreeModified > since)
    .sort((a, b) => a.cell.subtreeModified - b.cell.subtreeModified)
    .slice(-MAX_INVOKES_PER_ANSWER);
  return {
    keys: records.map((r) => r.key),
    changed: changed.map(({ key, cell }) => ({ key, beat: cell.subtreeModified, value: branchToJson(cell) })),
  };
}

/** The CEI facts issued after `since`, oldest first (the newest {@link MAX_CEI_PER_ANSWER}). */
function ceiSince(msgs: Cell | undefined, since: number): ConsoleRecord[] {
  if (msgs === undefined || msgs.subtreeModified <= since) return [];
  const out: ConsoleRecord[] = [];
  for (const msg of live(msgs)) {
    if (msg.created <= since) continue;
    out.push({ key: formatName(msg.name), beat: msg.created, value: branchToJson(msg) });
  }
  // msg-<n> names sort as text; the number is the order the facts were issued in.
  const n = (key: string): number => Number(key.slice(key.lastIndexOf('-') + 1));
  return out.sort((a, b) => n(a.key) - n(b.key)).slice(-MAX_CEI_PER_ANSWER);
}
