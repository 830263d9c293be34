/**
 * OPS dossiers under `/rt/ops/<id>` (ids are numerics 1, 2, …; the counter is `/rt/ops_next`).
 *
 *   verb, [target], issued_beat, [pipeline/…], state, [code], [note]
 *   history/ (list) of {beat, state, [code], [note]}: the newest `historyRetain` entries,
 *   [history_dropped] (how many older ones were removed)
 *   watchers/<n>/{want, signal (list of tags), target (list), timeout (list), armed, deadline}
 *   watch_next, [close/{status, closed_beat, [summary]}]
 *
 * Everything an operation needs lives in the tree, so a replay sees the same dossiers.
 */
import { beatValue, bool, i64, name, numericId, parsePath, text, u64, type Cell, type Name, type Tree, type Value } from '@cep/cells';
import { hbError } from './errors.ts';
import { writePipeline } from './cei.ts';
import { readInt, readText, segs } from './paths.ts';
import type { OpAwaitOptions, OpOpenState, OpStartOptions, OpState, OpStatus, Ops } from './types.ts';

const OPEN: readonly OpState[] = ['plan', 'run', 'yield', 'await'];
const TERMINAL: readonly OpState[] = ['ok', 'cxl', 'fail'];
const OPS_ROOT = segs('rt', 'ops');
const OPS_NEXT = segs('rt', 'ops_next');
const DEFAULT_TIMEOUT = segs('op/tmo');
// Field names, made once: an invoke opens, moves and closes a dossier per call.
const F = {
  verb: name('verb'),
  target: name('target'),
  issuedBeat: name('issued_beat'),
  state: name('state'),
  code: name('code'),
  note: name('note'),
  beat: name('beat'),
  history: name('history'),
  historyDropped: name('history_dropped'),
  watchers: name('watchers'),
  want: name('want'),
  armed: name('armed'),
  close: name('close'),
  status: name('status'),
  closedBeat: name('closed_beat'),
  summary: name('summary'),
} as const;

/**
 * Values written per dossier that repeat: the state names, and the beat (the same for every
 * dossier a beat touches). Shared, frozen value objects — a cell's value is replaced, never edited,
 * so one object can stand in many cells — instead of two or three allocations per field written.
 */
const STATE_TEXT = new Map<string, Value>([...OPEN, ...TERMINAL].map((state) => [state, Object.freeze(text(state))]));
const stateText = (state: string): Value => STATE_TEXT.get(state) ?? text(state);

/** Dossier ids the counter hands out: canonical decimals 1 … 2^53 − 1 (numeric names). */
const COUNTER_ID = /^[1-9][0-9]{0,15}$/;

/**
 * The name of dossier `id`. A counter id is named as a numeric directly, not through `name()`:
 * every call opens a dossier with a new id, and `name()` keeps each text it sees in two bounded
 * memos, which ids used once fill with garbage (and, full, clear for every other name). Same name
 * either way (`name(text)` classifies an all-digit text as this numeric); any other text goes
 * through `name()` and its errors as before.
 */
function opName(id: string): Name {
  if (id === lastOpId) return lastOpName!;
  const made = COUNTER_ID.test(id) && Number.isSafeInteger(Number(id)) ? name(numericId(BigInt(id))) : name(id);
  lastOpId = id;
  lastOpName = made;
  return made;
}
let lastOpId: string | undefined;
let lastOpName: Name | undefined;

/** A live child of `cell` (what `tree.get` of its path would give, soft-deleted counting as absent). */
function live(cell: Cell | undefined, n: Name): Cell | undefined {
  const child = cell?.child(n);
  return child === undefined || child.isDeleted ? undefined : child;
}

/** The text of a live value child, or undefined. */
function textOf(cell: Cell | undefined, n: Name): string | undefined {
  const v = live(cell, n)?.value;
  return v?.type === 'text' ? v.value : undefined;
}

export interface OpsDeps {
  readonly tree: Tree;
  readonly beat: () => number;
  readonly enqueue: (signal: Name[], target: Name[]) => void;
  readonly warn: (op: string, note: string) => void;
  /** History entries kept per dossier (see {@link DEFAULT_OPS_HISTORY_RETAIN}). */
  readonly historyRetain?: number;
}

/**
 * History entries an OPS dossier keeps by default. Why a bound: a long-lived dossier moves every
 * busy beat — a mirror's gate and episode go run → yield → run for as long as the mirror has
 * work, about an entry a beat each — so an unbounded list grew a peer's tree (its memory, its
 * digest's work and a durable store's image) for as long as it ran. 64 holds every short
 * operation's whole story (an invoke call's, an episode's first slices) many times over.
 */
export const DEFAULT_OPS_HISTORY_RETAIN = 64;

export interface OpsInternal extends Ops {
  /** Commit-time watcher processing for beat `beat`. */
  processWatchers(beat: number): void;
}

export function createOps(deps: OpsDeps): OpsInternal {
  const { tree } = deps;
  const historyRetain = deps.historyRetain ?? DEFAULT_OPS_HISTORY_RETAIN;
  if (!Number.isSafeInteger(historyRetain) || historyRetain < 1) {
    throw hbError('OPTION_INVALID', `opsHistoryRetain must be a whole number ≥ 1, got ${String(deps.historyRetain)}`);
  }
  /** Ops that have watchers (rebuilt from the tree so a runtime on an old tree picks them up). */
  const watched = new Set<string>();
  for (const op of tree.get(OPS_ROOT)?.children() ?? []) {
    if (
      !op.isDeleted &&
      (op
        .child('watchers')
        ?.children()
        .some((w) => !w.isDeleted) ??
        false)
    )
      watched.add(op.name.tag.text);
  }

  const opPath = (id: string): Name[] => [...OPS_ROOT, opName(id)];
  /** The current beat as a u64 value, one shared object per beat (see STATE_TEXT). */
  const currentBeat = (): Value => beatValue(deps.beat());
  /** The verb of the last dossier opened, as a value (an organ opens dossiers of one verb, call after call). */
  let verbCache: { verb: string; value: Value } | undefined;
  /**
   * Dossiers opened here and not closed yet, by id: setState and close find them without making
   * the id's name and walking from the root (an invoke opens, moves and closes one per call). Only
   * a shortcut: an entry is used while its cell is still where `opPath(id)` leads (see below).
   */
  const open = new Map<string, Cell>();
  /** The live dossier of `id` (reads and writes below start from it, not from the root). */
  const mustExist = (id: string): Cell => {
    const known = open.get(id);
    if (known !== undefined) {
      if (liveAt(tree, known, OPS_ROOT.length + 1)) return known;
      open.delete(id); // removed (or deleted) since: the path decides, as for any id
    }
    const op = tree.get(opPath(id));
    if (op === undefined) throw hbError('OP_NOT_FOUND', `there is no operation ${id} under /rt/ops`, { op: id });
    return op;
  };
  const stateOf = (path: readonly Name[]): OpState | undefined => readText(tree, segs(path, 'state')) as OpState | undefined;

  const appendHistory = (op: Cell, state: OpState, code: number | undefined, note: string | undefined): void => {
    // From the cells in hand: the list made (or revived) by its path only when it is not there live.
    const list = live(op, F.history) ?? tree.ensureChild(op, F.history, 'list');
    const entry = tree.appendChild(list, 'dictionary');
    tree.setChild(entry, F.beat, currentBeat());
    tree.setChild(entry, F.state, stateText(state));
    if (code !== undefined) tree.setChild(entry, F.code, i64(code));
    if (note !== undefined) tree.setChild(entry, F.note, text(note));
    // Past the bound the oldest entry goes for good (discard: nothing reads a removed entry), and
    // the dossier counts it, so a reader can tell a trimmed history from a short one.
    const entries = list.children();
    if (entries.length <= historyRetain) return;
    tree.discard([...list.path(), entries[0]!.name]);
    const dropped = live(op, F.historyDropped)?.value;
    tree.setChild(op, F.historyDropped, u64((dropped?.type === 'u64' ? dropped.value : 0n) + 1n));
  };

  const arm = (op: Cell, state: OpState): void => {
    for (const w of live(op, F.watchers)?.children() ?? []) {
      if (w.isDeleted) continue;
      if (textOf(w, F.want) === state) tree.setChild(w, F.armed, bool(true));
    }
  };

  const writeSignal = (at: Name[], signal: readonly Name[]): void => {
    tree.ensureList(at);
    tree.clear(at);
    for (const segment of signal) tree.append(at, text(segment.tag.text));
  };
  const readSignal = (at: Name[]): Name[] => (tree.get(at)?.children() ?? []).map((c) => name(c.value?.type === 'text' ? c.value.value : '?'));

  const ops: OpsInternal = {
    start(options: OpStartOptions): string {
      const initial = options.state ?? 'run';
      if (!OPEN.includes(initial)) throw hbError('OP_STATE_INVALID', `an operation starts in one of ${OPEN.join(', ')}, not ${initial}`);
      if (typeof options.verb !== 'string' || options.verb === '') throw hbError('OP_STATE_INVALID', 'an operation needs a verb');
      return tree.batch(() => {
        const n = Number(readInt(tree, OPS_NEXT) ?? 1n);
        tree.set(OPS_NEXT, u64(n + 1));
        const id = String(n);
        const path = opPath(id);
        const op = tree.ensureDictionary(path);
        open.set(id, op);
        if (verbCache?.verb !== options.verb) verbCache = { verb: options.verb, value: Object.freeze(text(options.verb)) };
        tree.setChild(op, F.verb, verbCache.value);
        if (options.target !== undefined) tree.setChild(op, F.target, text(options.target));
        tree.setChild(op, F.issuedBeat, currentBeat());
        if (options.pipeline !== undefined) writePipeline(tree, path, options.pipeline);
        tree.setChild(op, F.state, stateText(initial));
        appendHistory(op, initial, undefined, undefined);
        return id;
      });
    },

    setState(id: string, state: OpOpenState, detail: { code?: number; note?: string } = {}): void {
      if (!OPEN.includes(state)) throw hbError('OP_STATE_INVALID', `setState takes one of ${OPEN.join(', ')}; use close() for ${state}`, { op: id, state });
      const op = mustExist(id);
      if (live(op, F.close) !== undefined) {
        throw hbError('OP_CLOSED', `operation ${id} is closed (${textOf(op, F.state)}); it cannot move to ${state}`, { op: id, state });
      }
      tree.batch(() => {
        const previous = textOf(op, F.state);
        if (detail.code !== undefined) tree.setChild(op, F.code, i64(detail.code));
        if (detail.note !== undefined) tree.setChild(op, F.note, text(detail.note));
        const last = live(op, F.history)?.children().at(-1);
        const lastBeat = live(last, F.beat)?.value;
        const duplicate =
          previous === state &&
          last !== undefined &&
          textOf(last, F.state) === state &&
          (lastBeat?.type === 'u64' || lastBeat?.type === 'i64') &&
          lastBeat.value === BigInt(deps.beat());
        if (duplicate) return;
        tree.setChild(op, F.state, stateText(state));
        appendHistory(op, state, detail.code, detail.note);
        arm(op, state);
      });
    },

    close(id: string, status: OpStatus, summary?: string): boolean {
      if (!TERMINAL.includes(status)) throw hbError('OP_STATE_INVALID', `close takes ok, cxl or fail, not ${String(status)}`, { op: id });
      const op = mustExist(id);
      open.delete(id);
      const closed = textOf(live(op, F.close), F.status);
      if (closed !== undefined) return closed === status;
      tree.batch(() => {
        const record = tree.ensureChild(op, F.close, 'dictionary');
        tree.setChild(record, F.status, stateText(status));
        tree.setChild(record, F.closedBeat, currentBeat());
        if (summary !== undefined) tree.setChild(record, F.summary, text(summary));
        tree.setChild(op, F.state, stateText(status));
        appendHistory(op, status, undefined, summary);
        arm(op, status);
      });
      return true;
    },

    await(id: string, options: OpAwaitOptions): string {
      const path = mustExist(id).path();
      const ttl = options.ttl ?? 0;
      if (!Number.isSafeInteger(ttl) || ttl < 0) throw hbError('OP_STATE_INVALID', `await ttl must be a whole number of beats ≥ 0, not ${ttl}`);
      if (![...OPEN, ...TERMINAL].includes(options.want)) throw hbError('OP_STATE_INVALID', `cannot wait for state ${String(options.want)}`);
      const signal = parsePath(options.signal);
      if (signal.length === 0) throw hbError('SIGNAL_INVALID', 'an await needs a continuation signal');
      const target = options.target === undefined ? path : parsePath(options.target);
      const timeout = options.timeoutSignal === undefined ? DEFAULT_TIMEOUT : parsePath(options.timeoutSignal);
      return tree.batch(() => {
        const n = Number(readInt(tree, segs(path, 'watch_next')) ?? 1n);
        tree.set(segs(path, 'watch_next'), u64(n + 1));
        const w = segs(path, 'watchers', String(n));
        tree.set(segs(w, 'want'), text(options.want));
        writeSignal(segs(w, 'signal'), signal);
        writeSignal(segs(w, 'target'), target);
        writeSignal(segs(w, 'timeout'), timeout);
        const armed = stateOf(path) === options.want;
        tree.set(segs(w, 'armed'), bool(armed));
        tree.set(segs(w, 'deadline'), u64(armed || ttl === 0 ? 0 : deps.beat() + ttl));
        watched.add(id);
        return String(n);
      });
    },

    prune(beforeBeat: number): number {
      const root = tree.get(OPS_ROOT);
      if (root === undefined) return 0;
      const stale = root.children().filter((op) => {
        const closedBeat = readInt(tree, segs(OPS_ROOT, op.name.tag.text, 'close', 'closed_beat'));
        return closedBeat !== undefined && closedBeat < BigInt(beforeBeat);
      });
      if (stale.length === 0) return 0;
      tree.batch(() => {
        for (const op of stale) {
          watched.delete(op.name.tag.text);
          open.delete(op.name.tag.text);
          tree.remove([...OPS_ROOT, op.name]);
        }
      });
      return stale.length;
    },

    state(id: string): OpState | undefined {
      return stateOf(opPath(id));
    },

    path(id: string): Name[] {
      return opPath(id);
    },

    processWatchers(beat: number): void {
      if (watched.size === 0) return;
      const ids = [...watched].sort((a, b) => Number(a) - Number(b));
      for (const id of ids) {
        const path = opPath(id);
        const watchers = tree.get(segs(path, 'watchers'));
        let left = 0;
        for (const w of [...(watchers?.children() ?? [])]) {
          if (w.isDeleted) continue;
          const wp = w.path();
          const armed = tree.getValue(segs(wp, 'armed'));
          const deadline = Number(readInt(tree, segs(wp, 'deadline')) ?? 0n);
          if (armed?.type === 'bool' && armed.value) {
            deps.enqueue(readSignal(segs(wp, 'signal')), readSignal(segs(wp, 'target')));
            tree.remove(wp);
          } else if (deadline !== 0 && deadline <= beat) {
            deps.warn(id, `watcher ${w.name.tag.text} waiting for ${readText(tree, segs(wp, 'want'))} timed out at beat ${beat}`);
            deps.enqueue(readSignal(segs(wp, 'timeout')), readSignal(segs(wp, 'target')));
            tree.remove(wp);
          } else {
            left++;
          }
        }
        if (left === 0) watched.delete(id);
      }
    },
  };
  return ops;
}

/**
 * `cell` is in `tree`, live, `depth` levels below the root: what a walk of its path from the root
 * would find (cells are never moved, so a cell reached at its depth with no removed or deleted
 * cell on the way up is the one its path names). Walks up, allocates nothing.
 */
function liveAt(tree: Tree, cell: Cell, depth: number): boolean {
  let at: Cell | undefined = cell;
  for (let i = 0; i < depth; i++) {
    if (at === undefined || at.isDeleted) return false;
    at = at.parent;
  }
  return at === tree.root;
}

/** True for `ok`, `cxl`, `fail`. */
export function isTerminal(state: OpState | undefined): boolean {
  return state !== undefined && TERMINAL.includes(state);
}
