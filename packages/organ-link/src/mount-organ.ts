/**
 * The machinery every mount-request organ shares (link, invoke, mirror): a request under
 * `/net/organs/<kind>/requests/<id>/` is read with `readMountRequest`, checked, claimed and
 * handed to the transport manager; the request then shows `state`, `provider` and
 * `error_note` as the mount opens, fails or goes away.
 *
 * - Field problems, conflicts and expired deadlines are validator verdicts: the heartbeat writes
 *   `state=error` and `error_note` and records the CEI fact (topic chosen per case).
 * - Mount-level outcomes (no provider, open, fatal, closed) arrive from the manager and are
 *   written by this organ; the manager has already emitted its own CEI fact for them.
 * - A dialled mount that breaks (open failed, fatal, closed) is redialled with a backoff counted
 *   in beats (`retry`): the request shows `state=error`, the cause in `error_note`, the beat of
 *   the next redial in `retry_beat` and the redials made in `retries`. Beats, not the clock, so a
 *   replay of the inbound log redials at the same beats.
 * - A request whose deadline passes before it was ever active ends in error with the deadline
 *   topic (pending, or waiting for a redial); a redial never revives it.
 */
import { formatPath, name, type Cell, type Name } from '@cep/cells';
import { organStore, type OrganContext, type OrganVerdict, type Runtime } from '@cep/heartbeat';
import {
  REFUSAL_CODES,
  isRequestProblem,
  readMountRequest,
  type Mount,
  type MountEvent,
  type MountRequest,
  type MountSpec,
  type RequestProblem,
  type TransportManager,
} from '@cep/transport';
import { linkError } from './errors.ts';
import { mountKey, ownersOf } from './ownership.ts';
import { clearProvider, clearRetry, publishRetry, publishSession, publishState, type RequestState } from './publish.ts';
import { resolveRetry, retryDelay, type RetryOptions, type RetryPolicy } from './retry.ts';

/** One request that holds a mount. */
export interface MountRequestEntry {
  /** The request's name under `requests/`. */
  readonly id: string;
  /** Its path in the tree. */
  readonly path: readonly Name[];
  /** `peer/mode/mount`. */
  readonly key: string;
  readonly spec: MountSpec;
  /** The beat by which the request must be active, if it named one. */
  readonly deadline: number | undefined;
  readonly mount: Mount;
  /** What the request shows now. */
  readonly state: RequestState;
  /** The beat of the next redial, while one is scheduled (the request is in `error`). */
  readonly retryBeat: number | undefined;
  /** Redials made since the mount was last open (0 once it opens). */
  readonly retries: number;
}

/** CEI topics a mount organ uses for its verdicts. */
export interface MountOrganTopics {
  /** Missing fields, wrong types, names that are not CEP words. */
  readonly schema: string;
  /** A second request for a mount another request owns. */
  readonly conflict: string;
  /** A deadline already past at activation, or passed while pending. */
  readonly deadline: string;
}

/** Options of {@link installMountOrgan}. */
export interface MountOrganOptions {
  /** Organ kind: requests live under `/net/organs/<kind>/requests`. */
  readonly kind: string;
  /** Mode used when a request names none. */
  readonly defaultMode?: string;
  /** The only mode this organ serves (a request naming another is refused). */
  readonly fixedMode?: string;
  readonly topics: MountOrganTopics;
  /** Request fields the organ (or its user) writes besides `state`, `error_note`, `provider`. */
  readonly outputs?: readonly string[];
  /** Organ-specific checks after the shared fields were read; a problem refuses the request. */
  readonly check?: (request: Cell, read: MountRequest) => RequestProblem | undefined;
  /** Adjusts the spec before it reaches the manager (e.g. adds required caps). */
  readonly shape?: (spec: MountSpec) => MountSpec;
  /** The request's mount was (re)configured; `changed` is false when the spec is the same as before. */
  readonly onConfigured?: (entry: MountRequestEntry, changed: boolean, previous: MountRequestEntry | undefined) => void;
  /** The request let go of its mount (destroyed, refused, moved to another mount, deadline). */
  readonly onReleased?: (entry: MountRequestEntry, reason: string) => void;
  /** A manager event about a mount a request of this organ owns (after the request's state was written). */
  readonly onMountEvent?: (entry: MountRequestEntry, event: MountEvent) => void;
  /**
   * Redial a mount that broke (open failed, fatal, closed), waiting `first` beats, doubling up to
   * `max`, at most `limit` times (defaults 8, 512, no limit). `false`: a broken mount stays in
   * `error` until the request changes.
   */
  readonly retry?: RetryOptions | false;
}

/** An installed mount organ. */
export interface MountOrgan {
  readonly kind: string;
  /** `/net/organs/<kind>/requests`. */
  readonly root: readonly Name[];
  /** The request named `id` while it holds a mount. */
  request(id: string): MountRequestEntry | undefined;
  /** Every request that holds a mount, in name order. */
  requests(): MountRequestEntry[];
  /** Unregisters the organ and its hooks. Mounts and the tree are left as they are. */
  uninstall(): void;
}

interface Entry extends MountRequestEntry {
  state: RequestState;
  mount: Mount;
  retryBeat: number | undefined;
  retries: number;
  /** Active once (on this key): the deadline was met, later breaks are redialled regardless of it. */
  deadlineMet: boolean;
  readonly specText: string;
}

/** The organ root of `kind`. */
export function requestsRoot(kind: string): Name[] {
  return [name('net'), name('organs'), name(kind), name('requests')];
}

/**
 * Installs a mount-request organ of `options.kind` on `runtime`, configuring mounts through
 * `manager`. Throws `ORGAN_OPTION_INVALID` for a bad kind or mode, `ORGAN_ROOT_INVALID` when
 * the root cannot be used, and the heartbeat's `ORGAN_DUPLICATE` when the kind is taken.
 */
export function installMountOrgan(runtime: Runtime, manager: TransportManager, options: MountOrganOptions): MountOrgan {
  const { kind, topics } = options;
  let root: Name[];
  let store: Name;
  try {
    root = requestsRoot(kind);
    store = organStore(kind);
    if (options.defaultMode !== undefined) name(options.defaultMode);
    if (options.fixedMode !== undefined) name(options.fixedMode);
  } catch (error) {
    throw linkError(
      'ORGAN_OPTION_INVALID',
      `kind ${JSON.stringify(kind)} or its mode is not a valid name: ${(error as Error).message}; use a short lower-case word`,
      { kind },
    );
  }
  const tree = runtime.tree;
  const existing = tree.find(root);
  if (existing !== undefined && existing.kind !== 'dictionary') {
    throw linkError('ORGAN_ROOT_INVALID', `${formatPath(root)} is a ${existing.kind}, not a dictionary; remove it before installing the ${kind} organ`, {
      kind,
    });
  }
  if (existing?.storeType !== undefined && existing.storeType.key !== store.key) {
    throw linkError('ORGAN_ROOT_INVALID', `${formatPath(root)} already serves another organ (${existing.storeType.tag.text})`, { kind });
  }

  const retry: RetryPolicy | undefined = resolveRetry(options.retry);
  const owners = ownersOf(manager);
  const entries = new Map<Cell, Entry>();
  const byKey = new Map<string, Entry>();
  const byId = new Map<string, Entry>();
  const defaultMode = options.fixedMode ?? options.defaultMode;

  const live = (path: readonly Name[]): boolean => tree.get(path) !== undefined;

  const release = (entry: Entry, reason: string): void => {
    entries.forEach((e, cell) => e === entry && entries.delete(cell));
    if (byKey.get(entry.key) === entry) byKey.delete(entry.key);
    if (byId.get(entry.id) === entry) byId.delete(entry.id);
    if (owners.get(entry.key) === formatPath(entry.path)) owners.delete(entry.key);
    options.onReleased?.(entry, reason);
    manager.remove(entry.mount.peer, entry.mount.mode, entry.mount.mount, reason);
  };

  const show = (entry: Entry, state: RequestState, note?: string): void => {
    entry.state = state;
    if (!live(entry.path)) return;
    tree.batch(() => {
      publishState(tree, entry.path, state, { provider: entry.mount.provider, ...(note !== undefined ? { note } : {}) });
      publishRetry(tree, entry.path, entry.retryBeat, entry.retries);
    });
  };

  const opened = (entry: Entry): void => {
    entry.retryBeat = undefined;
    entry.retries = 0;
    entry.deadlineMet = true;
    show(entry, 'active');
  };

  /** The dialled mount broke at `beat`: schedule the next redial (or say why there is none). */
  const broke = (entry: Entry, cause: string, beat: number, refused = false): void => {
    if (retry === undefined) return show(entry, 'error', `${cause}; change the request to reopen it`);
    if (entry.retryBeat !== undefined) return show(entry, 'error', `${cause}; redial ${entry.retries + 1} at beat ${entry.retryBeat}`);
    if (retry.limit !== undefined && entry.retries >= retry.limit) {
      return show(entry, 'error', `${cause}; gave up after ${entry.retries} redial(s) (retry.limit); change the request to reopen it`);
    }
    entry.retryBeat = beat + retryDelay(retry, entry.retries + 1, refused);
    show(entry, 'error', `${cause}; redial ${entry.retries + 1} at beat ${entry.retryBeat}`);
  };

  /** Commit of `beat` ≥ the entry's `retry_beat`: configure the same spec again. */
  const redial = (entry: Entry): void => {
    entry.retryBeat = undefined;
    entry.retries += 1;
    let mount: Mount;
    try {
      mount = manager.configure(entry.spec);
    } catch (error) {
      return show(entry, 'error', `redial ${entry.retries}: ${(error as Error).message}; change the request to reopen it`);
    }
    entry.mount = mount;
    if (mount.state === 'open') return opened(entry);
    if (mount.state === 'opening') return show(entry, 'pending');
    // The configuration itself failed (no provider, no address, no key): a redial cannot fix it.
    const note = tree.getValue([...mount.path, name('error_note')]);
    show(
      entry,
      'error',
      `redial ${entry.retries}: ${note?.type === 'text' ? note.value : `mount ${entry.key} is ${mount.state}`}; change the request to reopen it`,
    );
  };

  const validator = (ctx: OrganContext): OrganVerdict => {
    const request = ctx.request;
    const requestText = formatPath(ctx.requestPath);
    const previous = entries.get(request);
    const refuse = (note: string, topic: string): OrganVerdict => {
      if (previous !== undefined) release(previous, `${kind}-request-invalid`);
      clearProvider(tree, ctx.requestPath);
      clearRetry(tree, ctx.requestPath);
      return { error: note, topic };
    };
    if (request.kind !== 'dictionary') return refuse(`a ${kind} request must be a dictionary, found a ${request.kind}`, topics.schema);
    const read = readMountRequest(request, defaultMode === undefined ? {} : { mode: defaultMode });
    if (isRequestProblem(read)) return refuse(read.note, topics.schema);
    if (options.fixedMode !== undefined && read.spec.mode !== options.fixedMode) {
      return refuse(`mode: ${kind} requests use mode "${options.fixedMode}", not "${read.spec.mode}"`, topics.schema);
    }
    const extra = options.check?.(request, read);
    if (extra !== undefined) return refuse(extra.note, topics.schema);
    const spec = options.shape?.(read.spec) ?? read.spec;
    const key = mountKey(spec.peer, spec.mode, spec.mount);
    const owner = owners.get(key);
    if (owner !== undefined && owner !== requestText) {
      return refuse(
        `mount ${key} is already owned by request ${owner}; a second request for the same mount is refused (delete that request, or name another peer, mode or mount)`,
        topics.conflict,
      );
    }
    const deadline = read.deadline;
    const alreadyActive = previous !== undefined && previous.key === key && previous.state === 'active';
    if (deadline !== undefined && deadline <= ctx.beat && !alreadyActive) {
      return refuse(`deadline: expired before activation (deadline beat ${deadline}, now beat ${ctx.beat})`, topics.deadline);
    }
    if (previous !== undefined && previous.key !== key) release(previous, `${kind}-reconfigure`);
    let mount: Mount;
    try {
      mount = manager.configure(spec);
    } catch (error) {
      return refuse(`${(error as Error).message}`, topics.schema);
    }
    const specText = JSON.stringify(spec);
    // A change of the request starts over: the next break waits `first` beats again.
    const entry: Entry = {
      id: request.name.tag.text,
      path: ctx.requestPath,
      key,
      spec,
      deadline,
      mount,
      state: 'pending',
      retryBeat: undefined,
      retries: 0,
      deadlineMet: alreadyActive || (previous?.key === key && previous.deadlineMet),
      specText,
    };
    entries.set(request, entry);
    byKey.set(key, entry);
    byId.set(entry.id, entry);
    owners.set(key, requestText);
    const changed = previous === undefined || previous.key !== key || previous.specText !== specText;
    options.onConfigured?.(entry, changed, previous?.key === key ? previous : undefined);
    if (mount.state === 'open') opened(entry);
    else if (mount.state === 'opening') show(entry, 'pending');
    else {
      const note = tree.getValue([...mount.path, name('error_note')]);
      show(entry, 'error', note?.type === 'text' ? note.value : `mount ${key} is ${mount.state}`);
    }
    return undefined;
  };

  const destructor = (ctx: OrganContext): void => {
    const entry = entries.get(ctx.request);
    if (entry !== undefined) release(entry, `${kind}-request-destroy`);
    // A soft-deleted request is still in the tree: it keeps a tombstone that says `removed`
    // (its other fields stay deleted, with their history). A hard-removed one has no parent.
    const parent = ctx.request.parent;
    if (parent !== undefined && !parent.isDeleted && parent === tree.find(ctx.requestPath.slice(0, -1))) {
      publishState(tree, ctx.requestPath, 'removed');
    }
  };

  const onMountEvent = (event: MountEvent): void => {
    const entry = byKey.get(mountKey(event.mount.peer, event.mount.mode, event.mount.mount));
    if (entry === undefined || entry.mount !== event.mount) return;
    switch (event.type) {
      case 'open':
        opened(entry);
        break;
      case 'error':
      case 'fatal':
        broke(entry, event.note ?? `mount ${entry.key} failed`, event.beat, event.code !== undefined && REFUSAL_CODES.includes(event.code));
        break;
      case 'closed':
        broke(entry, `mount ${entry.key} closed (${event.note ?? 'no reason given'})`, event.beat);
        break;
      case 'accepted':
        // Our own dial failed but the peer's channel to this very mount is up: the manager
        // carries on over it, and so does the request.
        opened(entry);
        return;
      case 'session':
        // The request shows which session of the peer it talks to; a new one (the peer
        // restarted) re-opens the request: it is active on the new session, redials reset.
        if (event.session !== undefined && live(entry.path)) publishSession(tree, entry.path, event.session.seq);
        if (event.session !== undefined && event.session.seq > 1n && event.mount.state === 'open') opened(entry);
        break;
    }
    options.onMountEvent?.(entry, event);
  };

  const onCommit = (beat: number): void => {
    // Key order, so a replay redials (and numbers its dials) in the same order.
    for (const key of [...byKey.keys()].sort()) {
      const entry = byKey.get(key);
      if (entry === undefined) continue;
      const waiting = entry.state === 'pending' || entry.retryBeat !== undefined;
      if (waiting && !entry.deadlineMet && entry.deadline !== undefined && beat >= entry.deadline) {
        const note = `deadline: mount ${entry.key} was not active by deadline beat ${entry.deadline}`;
        entry.retryBeat = undefined;
        show(entry, 'error', note);
        runtime.cei.emit({
          topic: topics.deadline,
          severity: 'error',
          note: `${formatPath(entry.path)}: ${note}`,
          origin: `org:${kind}:dl`,
          peer: entry.spec.peer,
        });
        release(entry, `${kind}-deadline`);
        continue;
      }
      if (entry.retryBeat !== undefined && beat >= entry.retryBeat) redial(entry);
    }
  };

  const unregisterOrgan = runtime.registerOrgan({
    kind,
    validator,
    destructor,
    outputs: ['state', 'error_note', 'provider', 'retry_beat', 'retries', 'session_seq', ...(options.outputs ?? [])],
    errorTopic: topics.schema,
  });
  const offEvents = manager.onMountEvent(onMountEvent);
  const offCommit = runtime.onCommit(onCommit);
  tree.ensureDictionary(root, store);
  return {
    kind,
    root: Object.freeze([...root]),
    request: (id) => byId.get(id),
    requests: () => [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    uninstall() {
      offCommit();
      offEvents();
      unregisterOrgan();
    },
  };
}
