/**
 * Organs: validator / constructor / destructor bound to the store type `organ/<kind>`.
 *
 * The tree tells us (subscribe) about every change. A change at or below a request (a child
 * of an organ root) marks that request. Marks made before compute of beat N (between beats,
 * or in capture of N — inputs admitted) are processed at the start of compute of N; marks
 * made in compute or commit of N wait for compute of N+1. Organ kinds in name order,
 * requests in name order: destructor for a request that is gone, else validator, then the
 * constructor after the first successful validation. Writes a handler makes to its own
 * request, and changes to the organ's `outputs` fields, do not mark it again.
 */
import { compareNames, name, text, type Cell, type Name, type Tree, type TreeChange } from '@cep/cells';
import { hbError } from './errors.ts';
import { segs } from './paths.ts';
import type { Fact, OrganContext, OrganDefinition, OrganReason, Runtime } from './types.ts';

interface Organ {
  readonly def: OrganDefinition;
  readonly store: Name;
  readonly outputs: ReadonlySet<string>;
  /** Requests we have seen, and whether they were constructed. */
  readonly known: Map<Cell, { constructed: boolean }>;
}

export interface OrgansDeps {
  readonly tree: Tree;
  readonly runtime: () => Runtime;
  readonly emit: (fact: Fact) => void;
}

export class Organs {
  private readonly byStore = new Map<string, Organ>();
  private dirty = new Map<Cell, Organ>();
  private rescan = false;
  private quiet: Cell | undefined;

  constructor(private readonly deps: OrgansDeps) {
    // notice() works from the changed cell and its parent, never from a path or the beat: it takes a
    // change's parts, and the tree makes no change object for it (it hears every write of every call).
    deps.tree.watch((type, cell, parent) => this.notice(type, cell, parent));
  }

  register(def: OrganDefinition): () => void {
    if (typeof def?.kind !== 'string' || def.kind === '') throw hbError('ORGAN_INVALID', 'an organ needs a non-empty kind');
    if (typeof def.validator !== 'function') throw hbError('ORGAN_INVALID', `organ ${def.kind} needs a validator`, { kind: def.kind });
    let store: Name;
    try {
      store = name(`organ/${def.kind}`);
    } catch (error) {
      throw hbError('ORGAN_INVALID', `organ kind ${def.kind} does not make a valid store name (${(error as Error).message})`, { kind: def.kind });
    }
    if (this.byStore.has(store.key)) throw hbError('ORGAN_DUPLICATE', `organ ${def.kind} is registered already`, { kind: def.kind });
    const organ: Organ = { def, store, outputs: new Set(def.outputs ?? ['state', 'error_note']), known: new Map() };
    this.byStore.set(store.key, organ);
    // Requests already in the tree count as created.
    const walk = (cell: Cell): void => {
      if (cell.isDeleted) return;
      if (cell.storeType?.key === store.key) {
        for (const request of cell.children()) if (!request.isDeleted) this.dirty.set(request, organ);
        return;
      }
      for (const child of cell.children()) walk(child);
    };
    walk(this.deps.tree.root);
    return () => {
      this.byStore.delete(store.key);
      for (const [cell, o] of this.dirty) if (o === organ) this.dirty.delete(cell);
    };
  }

  private notice(type: TreeChange['type'], changed: Cell, changedParent: Cell | undefined): void {
    if (this.byStore.size === 0) return;
    // A removed cell has no parent any more: known requests are checked for liveness later, and
    // the walk starts at the parent it was removed from, so a hard-removed *field* still marks
    // its request.
    const removed = type === 'remove';
    if (removed) {
      this.rescan = true;
      if (changedParent === undefined) return;
    }
    let child: Cell | undefined = removed ? changed : undefined;
    let below: Cell | undefined;
    for (let cell: Cell | undefined = removed ? changedParent : changed; cell !== undefined; below = child, child = cell, cell = cell.parent) {
      const organ = cell.storeType === undefined ? undefined : this.byStore.get(cell.storeType.key);
      if (organ === undefined) continue;
      if (child === undefined) {
        // The organ root itself: new root → its requests are new; deleted root → requests are gone.
        if (type === 'delete') this.rescan = true;
        else for (const request of cell.children()) if (!request.isDeleted && !organ.known.has(request)) this.dirty.set(request, organ);
        return;
      }
      if (this.quiet === child) return;
      const field = child === changed ? undefined : (below ?? changed);
      const fieldParent = field === changed && removed ? changedParent : field?.parent;
      if (field !== undefined && fieldParent === child && organ.outputs.has(field.name.tag.text)) return;
      this.dirty.set(child, organ);
      return;
    }
  }

  /** Runs the marked work (start of compute). Returns how many handlers ran. */
  process(beat: number): number {
    const work = this.dirty;
    this.dirty = new Map();
    if (this.rescan) {
      this.rescan = false;
      for (const organ of this.byStore.values()) {
        for (const [request, state] of organ.known) if (state.constructed && !this.isLive(request)) work.set(request, organ);
      }
    }
    if (work.size === 0) return 0;
    const organs = [...new Set(work.values())].sort((a, b) => (a.def.kind < b.def.kind ? -1 : a.def.kind > b.def.kind ? 1 : 0));
    let runs = 0;
    for (const organ of organs) {
      const requests = [...work]
        .filter(([, o]) => o === organ)
        .map(([cell]) => cell)
        .sort((a, b) => compareNames(a.name, b.name));
      for (const request of requests) runs += this.handle(organ, request, beat);
    }
    return runs;
  }

  private handle(organ: Organ, request: Cell, beat: number): number {
    const state = organ.known.get(request);
    const root = request.parent;
    if (!this.isLive(request) || root === undefined) {
      if (state === undefined) return 0;
      organ.known.delete(request);
      if (!state.constructed || organ.def.destructor === undefined) return 0;
      this.run(organ, request, root ?? request, 'remove', organ.def.destructor, beat, 'destructor');
      return 1;
    }
    const reason: OrganReason = state?.constructed === true ? 'change' : 'create';
    if (state === undefined) organ.known.set(request, { constructed: false });
    let error: { note: string; topic?: string } | undefined;
    const verdict = this.run(organ, request, root, reason, organ.def.validator, beat, 'validator', (note) => (error = { note }));
    if (error === undefined && verdict !== undefined && typeof verdict === 'object' && 'error' in verdict) {
      error = verdict.topic === undefined ? { note: verdict.error } : { note: verdict.error, topic: verdict.topic };
    }
    if (error !== undefined) {
      this.fail(request, error.note, error.topic ?? organ.def.errorTopic ?? `organ/${organ.def.kind}`, `org:${organ.def.kind}:vl`);
      return 1;
    }
    // `construct`, or an own `constructor` method (the sketch's name; Object.prototype's does not count).
    const own = Object.hasOwn(organ.def, 'constructor') ? (organ.def as { constructor?: unknown }).constructor : undefined;
    const ctor = organ.def.construct ?? (typeof own === 'function' ? (own as (ctx: OrganContext) => void) : undefined);
    if (reason === 'create' && typeof ctor === 'function') {
      let failed: string | undefined;
      this.run(organ, request, root, 'create', ctor, beat, 'constructor', (note) => (failed = note));
      if (failed !== undefined) {
        this.fail(request, failed, organ.def.errorTopic ?? `organ/${organ.def.kind}`, `org:${organ.def.kind}:ct`);
        return 2;
      }
      organ.known.set(request, { constructed: true });
      return 2;
    }
    organ.known.set(request, { constructed: true });
    return 1;
  }

  private run<T>(
    organ: Organ,
    request: Cell,
    root: Cell,
    reason: OrganReason,
    fn: (ctx: OrganContext) => T,
    beat: number,
    label: string,
    onThrow?: (note: string) => void,
  ): T | undefined {
    const ctx: OrganContext = { runtime: this.deps.runtime(), beat, kind: organ.def.kind, root, request, requestPath: request.path(), reason };
    this.quiet = request;
    try {
      return this.deps.tree.batch(() => fn.call(organ.def, ctx));
    } catch (error) {
      const note = `${organ.def.kind} ${label} threw: ${(error as Error)?.message ?? String(error)}`;
      if (onThrow !== undefined) onThrow(note);
      else this.deps.emit({ topic: `organ/${organ.def.kind}`, severity: 'error', note, origin: `org:${organ.def.kind}:dt` });
      return undefined;
    } finally {
      this.quiet = undefined;
    }
  }

  /** A failed request: `state=error`, `error_note`, and a CEI fact. Never throws. */
  private fail(request: Cell, note: string, topic: string, origin: string): void {
    const tree = this.deps.tree;
    this.quiet = request;
    try {
      if (request.kind === 'dictionary') {
        const path = request.path();
        tree.set(segs(path, 'state'), text('error'));
        tree.set(segs(path, 'error_note'), text(note));
      }
    } finally {
      this.quiet = undefined;
    }
    this.deps.emit({ topic, severity: 'error', note: `${formatRequest(request)}: ${note}`, origin });
  }

  private isLive(cell: Cell): boolean {
    let c: Cell | undefined = cell;
    for (; c !== undefined; c = c.parent) {
      if (c.isDeleted) return false;
      if (c === this.deps.tree.root) return true;
    }
    return false;
  }
}

function formatRequest(request: Cell): string {
  return (
    '/' +
    request
      .path()
      .map((n) => n.tag.text)
      .join('/')
  );
}

/** The store type organ roots of `kind` carry: `organ/<kind>` (use with `tree.ensureDictionary(path, organStore(kind))`). */
export function organStore(kind: string): Name {
  return name(`organ/${kind}`);
}
