/**
 * The enzyme registry: which enzymes match a signal, and in which order they run.
 *
 * Order (SPEC §4, reference §3.7): a stable topological sort over the matching enzymes
 * where `before`/`after` edges win, and otherwise more specific queries (longer paths)
 * run first, then smaller names, then earlier registrations. Unlike the reference, a
 * before/after cycle is refused when it is registered (`ENZYME_CYCLE`), so resolution
 * never has to drop enzymes silently.
 */
import { formatPath, parsePath, type Name } from '@cep/cells';
import { hbError } from './errors.ts';
import type { EnzymeDefinition } from './types.ts';

/** A registered enzyme, as the registry keeps it. */
export interface Entry {
  readonly def: EnzymeDefinition;
  readonly name: string;
  readonly query: readonly Name[];
  readonly prefix: boolean;
  readonly order: number;
}

export class Registry {
  private readonly active = new Map<string, Entry>();
  private nextOrder = 1;
  private cache = new Map<string, readonly Entry[]>();

  get size(): number {
    return this.active.size;
  }

  has(name: string): boolean {
    return this.active.has(name);
  }

  /** Checks a definition against the registry (including `pending` ones not active yet). */
  validate(def: EnzymeDefinition, pending: readonly EnzymeDefinition[]): Entry {
    if (typeof def.name !== 'string' || def.name === '') throw hbError('ENZYME_INVALID', 'an enzyme needs a non-empty name');
    if (typeof def.run !== 'function') throw hbError('ENZYME_INVALID', `enzyme ${def.name} has no run() function`, { enzyme: def.name });
    if (def.match !== undefined && def.match !== 'exact' && def.match !== 'prefix') {
      throw hbError('ENZYME_INVALID', `enzyme ${def.name}: match must be 'exact' or 'prefix', not ${String(def.match)}`, { enzyme: def.name });
    }
    let query: Name[];
    try {
      query = parsePath(def.signal);
    } catch (error) {
      throw hbError('ENZYME_INVALID', `enzyme ${def.name}: its signal path is not valid (${(error as Error).message})`, { enzyme: def.name });
    }
    if (query.length === 0) throw hbError('ENZYME_INVALID', `enzyme ${def.name}: the signal path is empty; give at least one segment`, { enzyme: def.name });
    if (this.active.has(def.name) || pending.some((p) => p.name === def.name)) {
      throw hbError('ENZYME_DUPLICATE', `an enzyme named ${def.name} is registered already; names are unique per runtime`, { enzyme: def.name });
    }
    const all = [...this.active.values()].map((e) => e.def).concat(pending, [def]);
    const cycle = findCycle(all);
    if (cycle !== undefined) {
      throw hbError('ENZYME_CYCLE', `registering ${def.name} would make a before/after cycle: ${cycle.join(' → ')}; remove one of those constraints`, {
        enzyme: def.name,
        cycle,
      });
    }
    return { def, name: def.name, query, prefix: def.match === 'prefix', order: 0 };
  }

  add(entry: Entry): void {
    this.active.set(entry.name, { ...entry, order: this.nextOrder++ });
    this.cache.clear();
  }

  remove(name: string, def: EnzymeDefinition): boolean {
    const found = this.active.get(name);
    if (found === undefined || found.def !== def) return false;
    this.active.delete(name);
    this.cache.clear();
    return true;
  }

  /** The enzymes that match `signal`, in run order (cached until the registry changes). */
  resolve(signal: readonly Name[]): readonly Entry[] {
    let key = '';
    for (const segment of signal) key += segment.key + '\u0001';
    let found = this.cache.get(key);
    if (found === undefined) {
      found = order([...this.active.values()].filter((e) => matches(e, signal)));
      this.cache.set(key, found);
    }
    return found;
  }
}

function matches(entry: Entry, signal: readonly Name[]): boolean {
  const query = entry.query;
  if (entry.prefix ? query.length > signal.length : query.length !== signal.length) return false;
  for (let i = 0; i < query.length; i++) if (query[i]!.key !== signal[i]!.key) return false;
  return true;
}

/** Priority when nothing else decides: more specific first, then name, then registration order. */
function priority(a: Entry, b: Entry): number {
  if (a.query.length !== b.query.length) return b.query.length - a.query.length;
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return a.order - b.order;
}

/** Kahn's algorithm with a priority pick: before/after edges first, `priority` among the ready. */
function order(candidates: Entry[]): Entry[] {
  if (candidates.length <= 1) return candidates;
  const byName = new Map(candidates.map((e) => [e.name, e]));
  const successors = new Map<string, string[]>();
  const indegree = new Map<string, number>(candidates.map((e) => [e.name, 0]));
  const edge = (from: string, to: string): void => {
    if (!byName.has(from) || !byName.has(to) || from === to) return;
    const list = successors.get(from) ?? [];
    if (list.includes(to)) return;
    list.push(to);
    successors.set(from, list);
    indegree.set(to, indegree.get(to)! + 1);
  };
  for (const e of candidates) {
    for (const other of e.def.before ?? []) edge(e.name, other);
    for (const other of e.def.after ?? []) edge(other, e.name);
  }
  const ready = candidates.filter((e) => indegree.get(e.name) === 0);
  const result: Entry[] = [];
  while (ready.length > 0) {
    ready.sort(priority);
    const next = ready.shift()!;
    result.push(next);
    for (const to of successors.get(next.name) ?? []) {
      const left = indegree.get(to)! - 1;
      indegree.set(to, left);
      if (left === 0) ready.push(byName.get(to)!);
    }
  }
  // Cycles are refused at registration, so every candidate is placed.
  return result;
}

/** A before/after cycle among `defs` (as names, first repeated at the end), or undefined. */
export function findCycle(defs: readonly EnzymeDefinition[]): string[] | undefined {
  const next = new Map<string, Set<string>>();
  const add = (from: string, to: string): void => {
    let set = next.get(from);
    if (set === undefined) next.set(from, (set = new Set()));
    set.add(to);
  };
  for (const d of defs) {
    for (const other of d.before ?? []) add(d.name, other);
    for (const other of d.after ?? []) add(other, d.name);
  }
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, 1);
    stack.push(node);
    for (const to of [...(next.get(node) ?? [])].sort()) {
      const s = state.get(to);
      if (s === 1) return [...stack.slice(stack.indexOf(to)), to];
      if (s === undefined) {
        const found = visit(to);
        if (found !== undefined) return found;
      }
    }
    stack.pop();
    state.set(node, 2);
    return undefined;
  };
  for (const node of [...next.keys()].sort()) {
    if (state.get(node) === undefined) {
      const found = visit(node);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** `/a/b` text of a signal path, for reports. */
export function pathText(path: readonly Name[]): string {
  return formatPath(path);
}
