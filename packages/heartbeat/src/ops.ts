/**
 * OPS dossiers under `/rt/ops/<id>` (ids are numerics 1, 2, …; the counter is `/rt/ops_next`).
 *
 *   verb, [target], issued_beat, [pipeline/…], state, [code], [note]
 *   history/ (list) of {beat, state, [code], [note]}
 *   watchers/<n>/{want, signal (list of tags), target (list), timeout (list), armed, deadline}
 *   watch_next, [close/{status, closed_beat, [summary]}]
 *
 * Everything an operation needs lives in the tree, so a replay sees the same dossiers.
 */
import { bool, i64, name, parsePath, text, u64, type Name, type Tree } from '@cep/cells';
import { hbError } from './errors.ts';
import { writePipeline } from './cei.ts';
import { readInt, readText, segs } from './paths.ts';
import type { OpAwaitOptions, OpOpenState, OpStartOptions, OpState, OpStatus, Ops } from './types.ts';

const OPEN: readonly OpState[] = ['plan', 'run', 'yield', 'await'];
const TERMINAL: readonly OpState[] = ['ok', 'cxl', 'fail'];
const OPS_ROOT = segs('rt', 'ops');
const OPS_NEXT = segs('rt', 'ops_next');
const DEFAULT_TIMEOUT = segs('op/tmo');

export interface OpsDeps {
  readonly tree: Tree;
  readonly beat: () => number;
  readonly enqueue: (signal: Name[], target: Name[]) => void;
  readonly warn: (op: string, note: string) => void;
}

export interface OpsInternal extends Ops {
  /** Commit-time watcher processing for beat `beat`. */
  processWatchers(beat: number): void;
}

export function createOps(deps: OpsDeps): OpsInternal {
  const { tree } = deps;
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

  const opPath = (id: string): Name[] => segs(OPS_ROOT, id);
  const mustExist = (id: string): Name[] => {
    const path = opPath(id);
    if (tree.get(path) === undefined) throw hbError('OP_NOT_FOUND', `there is no operation ${id} under /rt/ops`, { op: id });
    return path;
  };
  const stateOf = (path: readonly Name[]): OpState | undefined => readText(tree, segs(path, 'state')) as OpState | undefined;

  const appendHistory = (path: readonly Name[], state: OpState, code: number | undefined, note: string | undefined): void => {
    const list = segs(path, 'history');
    tree.ensureList(list);
    const entry = tree.append(list, 'dictionary').path();
    tree.set(segs(entry, 'beat'), u64(deps.beat()));
    tree.set(segs(entry, 'state'), text(state));
    if (code !== undefined) tree.set(segs(entry, 'code'), i64(code));
    if (note !== undefined) tree.set(segs(entry, 'note'), text(note));
  };

  const arm = (path: readonly Name[], state: OpState): void => {
    for (const w of tree.get(segs(path, 'watchers'))?.children() ?? []) {
      if (w.isDeleted) continue;
      if (readText(tree, segs(w.path(), 'want')) === state) tree.set(segs(w.path(), 'armed'), bool(true));
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
        tree.ensureDictionary(path);
        tree.set(segs(path, 'verb'), text(options.verb));
        if (options.target !== undefined) tree.set(segs(path, 'target'), text(options.target));
        tree.set(segs(path, 'issued_beat'), u64(deps.beat()));
        if (options.pipeline !== undefined) writePipeline(tree, path, options.pipeline);
        tree.set(segs(path, 'state'), text(initial));
        appendHistory(path, initial, undefined, undefined);
        return id;
      });
    },

    setState(id: string, state: OpOpenState, detail: { code?: number; note?: string } = {}): void {
      if (!OPEN.includes(state)) throw hbError('OP_STATE_INVALID', `setState takes one of ${OPEN.join(', ')}; use close() for ${state}`, { op: id, state });
      const path = mustExist(id);
      if (tree.get(segs(path, 'close')) !== undefined) {
        throw hbError('OP_CLOSED', `operation ${id} is closed (${stateOf(path)}); it cannot move to ${state}`, { op: id, state });
      }
      tree.batch(() => {
        const previous = stateOf(path);
        if (detail.code !== undefined) tree.set(segs(path, 'code'), i64(detail.code));
        if (detail.note !== undefined) tree.set(segs(path, 'note'), text(detail.note));
        const last = tree.get(segs(path, 'history'))?.children().at(-1);
        const duplicate =
          previous === state &&
          last !== undefined &&
          readText(tree, segs(last.path(), 'state')) === state &&
          readInt(tree, segs(last.path(), 'beat')) === BigInt(deps.beat());
        if (duplicate) return;
        tree.set(segs(path, 'state'), text(state));
        appendHistory(path, state, detail.code, detail.note);
        arm(path, state);
      });
    },

    close(id: string, status: OpStatus, summary?: string): boolean {
      if (!TERMINAL.includes(status)) throw hbError('OP_STATE_INVALID', `close takes ok, cxl or fail, not ${String(status)}`, { op: id });
      const path = mustExist(id);
      const closed = readText(tree, segs(path, 'close', 'status'));
      if (closed !== undefined) return closed === status;
      tree.batch(() => {
        tree.set(segs(path, 'close', 'status'), text(status));
        tree.set(segs(path, 'close', 'closed_beat'), u64(deps.beat()));
        if (summary !== undefined) tree.set(segs(path, 'close', 'summary'), text(summary));
        tree.set(segs(path, 'state'), text(status));
        appendHistory(path, status, undefined, summary);
        arm(path, status);
      });
      return true;
    },

    await(id: string, options: OpAwaitOptions): string {
      const path = mustExist(id);
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

/** True for `ok`, `cxl`, `fail`. */
export function isTerminal(state: OpState | undefined): boolean {
  return state !== undefined && TERMINAL.includes(state);
}
