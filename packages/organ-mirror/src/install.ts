/**
 * `installMirror`: the organ over `/net/organs/<kind>/requests` (receiver side), the frame and
 * mount-event handlers of the `mirror` mode (both sides), the commit hook that fires beat
 * timers and batch boundaries, and the tree subscription that feeds source change logs.
 */
import { explainNotWord, formatName, nameEquals, parsePath, text, type Cell, type Name } from '@cep/cells';
import { organStore, type OrganContext, type Runtime } from '@cep/heartbeat';
import { TOPIC, type InboundFrame, type Mount, type MountEvent, type RequestProblem, type TransportManager } from '@cep/transport';
import type { ApplyEvent, Env, ResolvedOptions, SealEvent, SendEvent } from './env.ts';
import { Timers } from './episode.ts';
import { mirrorError } from './errors.ts';
import { buildMessage, parseToken, readMessage, type Message, type ResumeToken } from './message.ts';
import { Subscription } from './receiver.ts';
import { readMirrorRequest, type MirrorRequest } from './request.ts';
import { Publication, sourcePath, trySend, welcome, type Continuation } from './source.ts';
import { readKept, resumePoint, type KeptPublication } from './durable.ts';
import { GroupPublication } from './group.ts';

/** Options of {@link installMirror}. */
export interface MirrorOptions {
  /** Organ kind (default `mirror`): requests live under `/net/organs/<kind>/requests`. */
  readonly kind?: string;
  /** Mount mode the mirror protocol runs on (default `mirror`). */
  readonly mode?: string;
  /** This runtime's node name: the default `local_node` of requests (otherwise requests must carry one). */
  readonly localNode?: string;
  /** Estimated bytes per bundle frame before a bundle is split into parts (default 64 KiB). */
  readonly partBytes?: number;
  /**
   * As a receiver, ask sources for op content in the packed form (default true): one `bytes`
   * value per op instead of a serializer record per cell, several times fewer bytes and much
   * less CPU on both sides (README, *Packed content*). A source uses it only when asked.
   */
  readonly packedContent?: boolean;
  /**
   * Whether the mounts peers open to this runtime's mirror (where it is the source and sends the
   * parts) try deflate on each frame (default false; the transport's `acceptPolicy` for the
   * mode). Packed parts are ~1.04× msgpackr's bytes already: deflate saves about two thirds of
   * them without AEAD (a tenth with it, where sealed bytes do not compress) for 12–30 ms of
   * source CPU and some inflate on the receiver per 100,000 cells, which pays only on links
   * below a few hundred Mbit/s. Set true for such links. The dialling side (the receiver)
   * chooses its own mount's policy in its request (`serializer/deflate_ok`).
   */
  readonly deflate?: boolean;
  /**
   * Estimated frame bytes one mirror may encode and send per beat (default 64 KiB; at least
   * one part always goes). Bytes, not time, so a replay sends the same parts at the same beats.
   */
  readonly beatBytes?: number;
  /**
   * The same budget, and the most a part may carry, while another mount of the receiver's peer is
   * in use (a call, a link update admitted in the last 16 beats; default 32 KiB). A frame on that
   * mount then waits for a smaller part's encode on the source and its decode on the receiver:
   * the mirror gets slower while the other mount is busy, and only then. A bundle whose branch is
   * written faster than that (a third pass over what changed while it was packed) goes back to
   * full parts, so it does not grow until the writer stops. 32 KiB, not 16: a sealed frame carries
   * ~5.5 KB of fixed records, and 16 KiB parts carried fewer cells a beat than the demo's `sky`
   * writes. Counted in bytes, beats and passes of admitted frames, never time.
   */
  readonly busyBeatBytes?: number;
  /**
   * Most unacknowledged bundles this runtime, as a source, runs ahead of one receiver (default
   * `DEFAULT_MAX_INFLIGHT`). A receiver's `max_infl` may lower it, never raise it.
   */
  readonly maxInflight?: number;
  /**
   * Most beats one bundle may gather as a source (default `DEFAULT_MAX_BEAT_WINDOW`). A
   * receiver's `beat_window` may lower it, never raise it.
   */
  readonly maxBeatWindow?: number;
  /** Beats a source keeps a disconnected subscriber's unacknowledged bundles (default 1000). */
  readonly retainBeats?: number;
  /**
   * Beats before the receiver redials after a break: first, doubling up to max (default 1 and
   * 32); after the source refused us (`AUTH_FAILED`, `PEER_MISMATCH`) doubling on up to
   * `authMax` (default 6000, a minute at cep-node's 10 ms beat), since no quick redial cures a key.
   */
  readonly retry?: { readonly first?: number; readonly max?: number; readonly authMax?: number };
  /** Whether this runtime serves `path` to `peer` (default: every branch to every authenticated peer). */
  readonly canPublish?: (peer: string, path: string) => boolean;
  /**
   * Whether a mirror on this runtime may write into `path`, its destination (default: every
   * branch). A request whose destination is refused goes to `state: error` (CEI `tp_schema`).
   */
  readonly canReceive?: (path: string) => boolean;
  /** Hears every bundle applied on this runtime (exactly once per epoch and seq). */
  readonly onApply?: (event: ApplyEvent) => void;
  /**
   * A clock in seconds (e.g. `() => performance.now() / 1000`) read only to time what `onApply`
   * reports (`ApplyEvent.seconds`). Nothing the organ decides reads it, so replay is unchanged;
   * without it no clock is read at all.
   */
  readonly observeClock?: () => number;
  /** Hears every bundle sealed on this runtime. */
  readonly onSeal?: (event: SealEvent) => void;
  /** Observer (metrics, tests): a bundle part left this source, by multicast or over one receiver's mount. */
  readonly onSend?: (event: SendEvent) => void;
  /**
   * Serve receivers whose mounts can publish to groups (a `multicast` provider such as nats, on
   * AEAD mounts) from one fan-out publication per branch: each bundle encoded and published once.
   * Default true; false keeps one publication per receiver.
   */
  readonly fanout?: boolean;
}

/** An installed mirror organ. */
export interface MirrorOrgan {
  readonly kind: string;
  /**
   * Applies every bundle request `id` holds (`commit_mode` manual or batch) at the next beat's
   * capture. It enters as a runtime input, so a replay commits at the same beat.
   */
  commit(id: string): void;
  /** Stops serving and receiving; requests and mounts stay in the tree as they are. */
  uninstall(): void;
}

/** The default of {@link MirrorOptions.maxInflight}: bundles a source keeps unacknowledged per receiver. */
export const DEFAULT_MAX_INFLIGHT = 16;

/** The default of {@link MirrorOptions.maxBeatWindow}: beats one bundle may gather on the source. */
export const DEFAULT_MAX_BEAT_WINDOW = 1024;

/** Input kind of `commit(id)`. */
export const COMMIT_INPUT = 'mirror.commit';

/** Per runtime: the install that handles `commit` inputs (the input kind can be defined only once). */
const commitHandlers = new WeakMap<Runtime, ((id: string, beat: number) => void) | undefined>();

const OUTPUTS = ['state', 'error_note', 'provider', 'bundle_seq', 'commit_beat', 'pend_resum', 'held', 'op'];

function positive(label: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1)
    throw mirrorError('MIRROR_OPTION_INVALID', `${label} must be a whole number ≥ 1, got ${String(value)}`, { option: label });
  return value;
}

/**
 * Installs the mirror organ on `runtime`, speaking through `manager`. Both sides install it:
 * the receiver files requests, the source serves them. Throws `MIRROR_OPTION_INVALID`,
 * `MIRROR_ROOT_INVALID`, and the heartbeat's `ORGAN_DUPLICATE` when the kind is installed.
 */
export function installMirror(runtime: Runtime, manager: TransportManager, options: MirrorOptions = {}): MirrorOrgan {
  const kind = options.kind ?? 'mirror';
  const mode = options.mode ?? 'mirror';
  for (const [option, value] of [
    ['kind', kind],
    ['mode', mode],
  ] as const) {
    const problem = typeof value === 'string' ? explainNotWord(value) : 'not a string';
    if (problem !== undefined)
      throw mirrorError('MIRROR_OPTION_INVALID', `${option} ${JSON.stringify(value)} is not a CEP word (${problem}); use a short lower-case word`, { option });
  }
  let store: Name;
  let root: Name[];
  let servingRoot: Name[];
  try {
    store = organStore(kind);
    root = parsePath(`/net/organs/${kind}/requests`);
    servingRoot = parsePath(`/net/organs/${kind}/serving`);
  } catch (error) {
    throw mirrorError(
      'MIRROR_OPTION_INVALID',
      `kind ${JSON.stringify(kind)} does not make valid names: ${(error as Error).message}; use a short lower-case word`,
      { kind },
    );
  }
  if (options.packedContent !== undefined && typeof options.packedContent !== 'boolean')
    throw mirrorError('MIRROR_OPTION_INVALID', `packedContent must be true or false, got ${String(options.packedContent)}`, {
      packedContent: options.packedContent,
    });
  const resolved: ResolvedOptions = {
    kind,
    mode,
    localNode: options.localNode,
    partBytes: positive('partBytes', options.partBytes, 64 << 10),
    packedContent: options.packedContent ?? true,
    beatBytes: positive('beatBytes', options.beatBytes, 64 << 10),
    busyBeatBytes: positive('busyBeatBytes', options.busyBeatBytes, 32 << 10),
    maxInflight: positive('maxInflight', options.maxInflight, DEFAULT_MAX_INFLIGHT),
    maxBeatWindow: positive('maxBeatWindow', options.maxBeatWindow, DEFAULT_MAX_BEAT_WINDOW),
    retainBeats: positive('retainBeats', options.retainBeats, 1000),
    retry: {
      first: positive('retry.first', options.retry?.first, 1),
      max: positive('retry.max', options.retry?.max, 32),
      authMax: Math.max(positive('retry.authMax', options.retry?.authMax, 6000), positive('retry.max', options.retry?.max, 32)),
    },
    canPublish: options.canPublish ?? (() => true),
    canReceive: options.canReceive ?? (() => true),
    onApply: options.onApply,
    observeClock: options.observeClock,
    onSeal: options.onSeal,
    onSend: options.onSend,
    fanout: options.fanout ?? true,
  };
  const tree = runtime.tree;
  const existing = tree.find(root);
  if (existing !== undefined && (existing.kind !== 'dictionary' || (existing.storeType !== undefined && !nameEquals(existing.storeType, store)))) {
    throw mirrorError(
      'MIRROR_ROOT_INVALID',
      `/net/organs/${kind}/requests is ${existing.kind === 'dictionary' ? `the root of ${formatName(existing.storeType!)}` : `a ${existing.kind}`}; remove it before installing the mirror organ`,
      { kind },
    );
  }

  const timers = new Timers();
  const env: Env = {
    runtime,
    manager,
    options: resolved,
    timers,
    servingRoot,
    servingText: `/net/organs/${kind}/serving`,
    emit: (topic, severity, note, peer) => void runtime.cei.emit({ topic, severity, note, origin: `org:${kind}`, ...(peer !== undefined ? { peer } : {}) }),
  };
  const byCell = new Map<Cell, Subscription>();
  const byId = new Map<string, Subscription>();
  const pubs = new Map<string, Publication>();
  /** Fan-out publications by `<scope>|<src_chan>`, and the group each member mount is in. */
  const groups = new Map<string, GroupPublication>();
  const memberOf = new Map<string, GroupPublication>();
  /**
   * Publications a previous process left in this tree (a runtime restarted on its store), by
   * mount key: a receiver that comes back with a token of their epoch continues it. Each is kept
   * `retainBeats` beats from install, like a disconnected receiver's bundles.
   */
  const kept = new Map<string, { record: KeptPublication; cancel: () => void }>();
  let groupIds = 0;
  let epochs = 0;
  let commits = 0;
  let installed = true;

  // ---- receiver: requests ------------------------------------------------------------

  const report = (request: Cell, problem: RequestProblem, topic: string): void => {
    const path = request.path();
    tree.set([...path, 'state'], text('error'));
    tree.set([...path, 'error_note'], text(problem.note));
    const peer = request.child('peer')?.value;
    env.emit(
      topic,
      'error',
      `mirror request ${request.name.tag.text}: ${problem.note}`,
      peer?.type === 'text' && explainNotWord(peer.value) === undefined ? peer.value : undefined,
    );
  };

  const conflict = (req: MirrorRequest, self: Subscription | undefined): string | undefined => {
    for (const other of byId.values()) {
      if (other === self || other.phase === 'error' || other.phase === 'ended') continue;
      if (other.req.spec.peer === req.spec.peer && other.req.spec.mount === req.spec.mount) {
        return `mount: ${req.spec.peer}/${req.spec.mount} is already mirrored by request ${other.id}`;
      }
      const a = other.req.dst.map((n) => n.key);
      const b = req.dst.map((n) => n.key);
      const n = Math.min(a.length, b.length);
      if (a.slice(0, n).every((key, i) => key === b[i]))
        return `${req.dstChan === req.srcChan ? 'src_chan' : 'dst_chan'}: ${req.dstChan} overlaps ${other.req.dstChan}, the destination of request ${other.id}`;
    }
    const mount = manager.get(req.spec.peer, req.spec.mode, req.spec.mount);
    const ours = self !== undefined && self.key === `${req.spec.peer}/${req.spec.mode}/${req.spec.mount}`;
    if (mount?.initiator && !ours && mount.state !== 'closed' && mount.state !== 'error') {
      return `mount: ${req.spec.peer}/${req.spec.mode}/${req.spec.mount} is already configured by someone else`;
    }
    return undefined;
  };

  const sameConfig = (a: MirrorRequest, b: MirrorRequest): boolean => JSON.stringify(a, replacer) === JSON.stringify(b, replacer);

  const validator = (ctx: OrganContext): void => {
    const request = ctx.request;
    const id = request.name.tag.text;
    const current = byCell.get(request);
    const parsed = readMirrorRequest(request, mode, resolved.localNode);
    if ('field' in parsed) {
      current?.fail(parsed.note, TOPIC.schema, true);
      if (current === undefined) report(request, parsed, TOPIC.schema);
      return;
    }
    if (!resolved.canReceive(parsed.dstChan)) {
      const field = parsed.dstChan === parsed.srcChan && request.child('dst_chan') === undefined ? 'src_chan' : 'dst_chan';
      const problem = { field, note: `${field}: ${parsed.dstChan} may not be a mirror destination on this peer` };
      current?.fail(problem.note, TOPIC.schema, true);
      if (current === undefined) report(request, problem, TOPIC.schema);
      return;
    }
    if (current !== undefined && current.phase !== 'error' && sameConfig(current.req, parsed)) return;
    const clash = conflict(parsed, current);
    if (clash !== undefined) {
      current?.stop('reconfigured into a conflict', false);
      if (current !== undefined) forget(current, request);
      report(request, { field: clash.split(':')[0]!, note: clash }, TOPIC.mountConflict);
      return;
    }
    // A change keeps the resume token when it still mirrors the same branch to the same place.
    const same =
      current !== undefined &&
      current.key === `${parsed.spec.peer}/${parsed.spec.mode}/${parsed.spec.mount}` &&
      current.req.srcChan === parsed.srcChan &&
      current.req.dstChan === parsed.dstChan;
    let token = parsed.resumeTok;
    if (token === undefined) {
      if (same) token = current!.applied;
      else if (current === undefined) token = storedToken(request);
    }
    if (current !== undefined) {
      current.stop('reconfigured', same && current.phase !== 'error');
      forget(current, request);
    }
    const sub = new Subscription(env, id, request.path(), parsed, token);
    byCell.set(request, sub);
    byId.set(id, sub);
    sub.start(ctx.beat);
  };

  /** The token this tree's copy was at (`pend_resum`, written with every apply), for a runtime restarted on its tree. */
  const storedToken = (request: Cell): ResumeToken | undefined => {
    const value = request.child('pend_resum');
    if (value === undefined || value.isDeleted || value.value?.type !== 'text') return undefined;
    const token = parseToken(value.value.value);
    return typeof token === 'string' ? undefined : token;
  };

  const forget = (sub: Subscription, request: Cell): void => {
    byCell.delete(request);
    if (byId.get(sub.id) === sub) byId.delete(sub.id);
  };

  const unregisterOrgan = runtime.registerOrgan({
    kind,
    outputs: OUTPUTS,
    validator: (ctx) => validator(ctx),
    destructor: (ctx) => {
      const sub = byCell.get(ctx.request);
      if (sub === undefined) return;
      sub.stop('removed', false);
      forget(sub, ctx.request);
    },
  });

  // ---- both sides: frames and mount events ---------------------------------------------

  const onFrame = (frame: InboundFrame): void => {
    if (!installed) return;
    const { mount, beat } = frame;
    const message = readMessage(frame.branch.root);
    if (typeof message === 'string') {
      env.emit(TOPIC.schema, 'warn', `mirror frame on ${mount.peer}/${mount.mount} refused: ${message}`, mount.peer);
      return;
    }
    const key = keyOf(mount);
    const group = memberOf.get(key);
    switch (message.kind) {
      case 'sub':
        return serve(mount, message, beat);
      case 'ack':
        if (group !== undefined) return group.onAck(key, message.epoch, message.seq);
        return pubs.get(key)?.onAck(message.epoch, message.seq);
      case 'got':
        if (group !== undefined) return group.onGot(key, message.epoch, message.seq, message.part);
        return pubs.get(key)?.onGot(message.epoch, message.seq, message.part);
      case 'joined':
        return group?.onJoined(key, message.group);
      case 'unsub':
        if (group !== undefined) {
          memberOf.delete(key);
          return group.leave(key, 'unsubscribed');
        }
        return pubs.get(key)?.end('ok', 'unsubscribed');
      default:
        for (const sub of byId.values()) {
          if (sub.key !== key) continue;
          if (frame.group !== undefined) sub.onGroupMessage(message, beat);
          else sub.onMessage(message, mount, beat);
        }
    }
  };

  const serve = (mount: Mount, sub: Extract<Message, { kind: 'sub' }>, beat: number): void => {
    const key = keyOf(mount);
    const path = sourcePath(sub.src);
    const refuse = (note: string): void => {
      env.emit(TOPIC.schema, 'warn', `mirror subscription from ${mount.peer} refused: ${note}`, mount.peer);
      trySend(mount, buildMessage({ kind: 'reject', note }));
    };
    if (typeof path === 'string') return refuse(path);
    if (sub.window < 1 || sub.maxInfl < 1) return refuse('beat_window and max_infl must be at least 1');
    if (!resolved.canPublish(mount.peer, sub.src)) return refuse(`${sub.src} is not published to ${mount.peer}`);
    const current = pubs.get(key);
    // A token marked `restarted` was issued by a process before this one: only a kept publication can match it.
    if (
      current !== undefined &&
      !sub.restarted &&
      current.src === sub.src &&
      sub.token !== undefined &&
      sub.token.epoch === current.epoch &&
      current.canResume(sub.token.seq) &&
      // Bundles already packed for a receiver that reads the packed form cannot go to one that does not.
      (sub.packed === true || !current.packed)
    ) {
      welcome(mount, current.epoch, true);
      current.resume(mount, sub, sub.token.seq);
      return;
    }
    current?.end('cxl', 'superseded by a new subscription');
    const continuation = takeKept(mount, sub);
    if (continuation !== undefined) return serveAlone(mount, sub, path, beat, continuation);
    const fresh = sub.restarted ? { ...sub, token: undefined } : sub;
    if (resolved.fanout && mount.groupScope !== undefined) return joinGroup(mount, fresh, path);
    serveAlone(mount, fresh, path, beat);
  };

  /**
   * The kept publication of this mount, if the subscription's token continues it; otherwise it
   * is dropped (any new subscription supersedes it), and a token that named its epoch or came
   * from before a restart is told, as CEI, that a new epoch and snapshot follow.
   */
  const takeKept = (mount: Mount, sub: Extract<Message, { kind: 'sub' }>): (Continuation & { epoch: string }) | undefined => {
    const key = keyOf(mount);
    const entry = kept.get(key);
    if (entry !== undefined) {
      kept.delete(key);
      entry.cancel();
    }
    const record = entry?.record;
    const token = sub.token;
    const point =
      record !== undefined && token !== undefined && token.epoch === record.epoch && record.src === sub.src ? resumePoint(record, token.seq) : undefined;
    if (record !== undefined && point !== undefined) return { epoch: record.epoch, seq: token!.seq, since: point, gone: record.gone };
    if (record !== undefined) tree.remove([...servingRoot, mount.peer, mount.mount]);
    if (token !== undefined && (sub.restarted || record?.epoch === token.epoch)) {
      const why =
        record === undefined
          ? 'this source kept no publication for it (it restarted without a durable tree, or let it go after retainBeats)'
          : record.epoch !== token.epoch || record.src !== sub.src
            ? `this source kept epoch ${record.epoch} of ${record.src} for that mount`
            : `bundle ${token.seq} is older than the acknowledged ${record.acked} or its state was not kept`;
      env.emit(
        RESYNC_TOPIC,
        'warn',
        `mirror ${mount.mount} from ${mount.peer}: token ${token.epoch}:${token.seq} cannot continue (${why}); a new epoch and snapshot follow`,
        mount.peer,
      );
    }
    return undefined;
  };

  /** A subscription served by the fan-out group of its scope and branch (made on first use). */
  const joinGroup = (mount: Mount, sub: Extract<Message, { kind: 'sub' }>, path: Name[]): void => {
    const key = keyOf(mount);
    const groupKey = `${mount.groupScope}|${sub.src}`;
    const previous = memberOf.get(key);
    let group = groups.get(groupKey);
    if (previous !== undefined && previous !== group) {
      memberOf.delete(key);
      previous.leave(key, 'superseded by a new subscription');
    }
    if (group === undefined) {
      group = new GroupPublication(env, `g${++groupIds}`, mount.groupScope!, sub.src, path, Math.min(sub.window, resolved.maxBeatWindow), {
        epochName: (b) => `${b}.${++epochs}`,
        newKey: () => globalThis.crypto.getRandomValues(new Uint8Array(32)),
        toUnicast: (m, s, b) => {
          memberOf.delete(keyOf(m));
          serveAlone(m, s, path, b);
        },
        ended: (g) => {
          for (const [k, of] of [...memberOf]) if (of === g) memberOf.delete(k);
          if (groups.get(groupKey) === g) groups.delete(groupKey);
        },
      });
      groups.set(groupKey, group);
    }
    memberOf.set(key, group);
    group.subscribe(key, mount, sub);
  };

  /** A subscription served by a publication of its own (a new epoch). */
  const serveAlone = (
    mount: Mount,
    sub: Extract<Message, { kind: 'sub' }>,
    path: Name[],
    beat: number,
    continuation?: Continuation & { epoch: string },
  ): void => {
    const key = keyOf(mount);
    // A durable source's beats only grow across restarts, so `<beat>.<n>` never repeats an epoch it kept.
    const epoch = continuation?.epoch ?? `${beat}.${++epochs}`;
    welcome(mount, epoch, continuation !== undefined);
    pubs.set(
      key,
      new Publication(
        env,
        mount.peer,
        mount.mount,
        mount,
        sub.src,
        path,
        sub,
        epoch,
        (ended) => {
          if (pubs.get(key) === ended) pubs.delete(key);
        },
        continuation,
      ),
    );
  };

  const onMountEvent = (event: MountEvent): void => {
    if (!installed || event.mount.mode !== mode) return;
    const key = keyOf(event.mount);
    const pub = pubs.get(key);
    if (event.type === 'session') {
      // The peer came back as a new process: a receiver there lost its staging (it resubscribes,
      // with its token when its tree kept one), a source there lost its publication.
      if (event.session === undefined || event.session.seq <= 1n) return;
      pub?.receiverRestarted(event.beat);
      memberOf.get(key)?.lost(key, event.beat);
      for (const sub of [...byId.values()]) if (sub.key === key) sub.onSourceRestarted(event.mount, event.beat);
      return;
    }
    if (pub !== undefined) {
      if (event.type === 'accepted') pub.reconnected();
      else if (event.type === 'closed' || event.type === 'error' || event.type === 'fatal') pub.lost(event.beat);
    }
    if (event.type === 'closed' || event.type === 'error' || event.type === 'fatal') memberOf.get(key)?.lost(key, event.beat);
    for (const sub of [...byId.values()]) if (sub.key === key) sub.onMountEvent(event.type, event.mount, event.beat, event.note, event.code);
  };

  const removeFrame = manager.onFrame(mode, onFrame);
  const removeEvents = manager.onMountEvent(onMountEvent);
  // The parts go out on accepted mounts, whose policy is the transport's default unless the mode
  // says otherwise: deflate off unless asked for (see MirrorOptions.deflate). A manager without
  // the hook (another version) keeps its default.
  const removeAcceptPolicy =
    options.deflate !== true && typeof manager.acceptPolicy === 'function' ? manager.acceptPolicy(mode, { deflate: false }) : () => undefined;

  // ---- commit hook, inputs, tree changes ---------------------------------------------

  const removeCommit = runtime.onCommit((beat) => {
    timers.fire(beat);
    // Removals seen during the beat go into the serving records now, outside tree events, in the same journal entry.
    for (const pub of pubs.values()) pub.flushGone();
  });
  // Input kinds are defined once per runtime; a later install on the same runtime takes over.
  if (!commitHandlers.has(runtime)) {
    runtime.defineInput(COMMIT_INPUT, (input, ctx) => commitHandlers.get(runtime)?.(input.stream, ctx.beat));
  }
  const onCommitInput = (id: string, beat: number): void => byId.get(id)?.commitHeld(beat);
  commitHandlers.set(runtime, onCommitInput);
  const unsubscribe = tree.subscribe((change) => {
    if (pubs.size === 0 && groups.size === 0) return;
    for (const pub of pubs.values()) pub.notice(change);
    for (const group of groups.values()) group.notice(change);
  });

  tree.ensureDictionary(root, store);
  tree.ensureDictionary(servingRoot);
  keepPublications(env, kept, keyOf, mode);

  return {
    kind,
    commit(id: string): void {
      if (!byId.has(id))
        throw mirrorError('MIRROR_NOT_FOUND', `no mirror request ${JSON.stringify(id)} under /net/organs/${kind}/requests; commit takes a request's name`, {
          id,
        });
      runtime.pushInput(COMMIT_INPUT, { stream: id, seq: ++commits, data: new Uint8Array(0) });
    },
    uninstall(): void {
      installed = false;
      unsubscribe();
      removeCommit();
      removeFrame();
      removeEvents();
      removeAcceptPolicy();
      unregisterOrgan();
      timers.clear();
      if (commitHandlers.get(runtime) === onCommitInput) commitHandlers.set(runtime, undefined);
    },
  };
}

function keyOf(mount: Pick<Mount, 'peer' | 'mode' | 'mount'>): string {
  return `${mount.peer}/${mount.mode}/${mount.mount}`;
}

/** CEI topic: a receiver's token could not continue its epoch here; a new epoch and snapshot follow. */
export const RESYNC_TOPIC = 'mir_resync';

/**
 * Picks up the serving records a previous process left in the tree (a restart on a durable
 * store): their dossiers are closed `cxl`, and each waits `retainBeats` beats for its receiver
 * to come back with a token of its epoch; then it is removed.
 */
function keepPublications(
  env: Env,
  kept: Map<string, { record: KeptPublication; cancel: () => void }>,
  keyOf: (mount: Pick<Mount, 'peer' | 'mode' | 'mount'>) => string,
  mode: string,
): void {
  const { runtime } = env;
  for (const record of readKept(runtime.tree, env.servingRoot)) {
    closeStaleDossier(runtime, record.op);
    const key = keyOf({ peer: record.peer, mode, mount: record.mount });
    const at = [...env.servingRoot, record.peer, record.mount];
    runtime.tree.set([...at, 'state'], text('kept'));
    const cancel = env.timers.at(runtime.beat + env.options.retainBeats, () => {
      if (kept.get(key)?.record !== record) return;
      kept.delete(key);
      runtime.tree.remove(at);
      env.emit(
        RESYNC_TOPIC,
        'info',
        `mirror ${record.mount} to ${record.peer}: epoch ${record.epoch} kept ${env.options.retainBeats} beats after the restart and let go`,
        record.peer,
      );
    });
    kept.set(key, { record, cancel });
  }
}

/** Closes the dossier (and its gate) of an episode that ran in a process before this one. */
function closeStaleDossier(runtime: Runtime, id: string | undefined): void {
  if (id === undefined || runtime.episodes.isActive(id)) return;
  const { ops, tree } = runtime;
  const gate = tree.getValue([...ops.path(id), 'envelope', 'gate']);
  for (const op of [id, gate?.type === 'text' ? gate.value : undefined]) {
    const state = op === undefined ? undefined : ops.state(op);
    if (op === undefined || state === undefined || state === 'ok' || state === 'cxl' || state === 'fail') continue;
    if (state !== 'run') ops.setState(op, 'run'); // a waiting watcher fires and goes, instead of lingering
    ops.close(op, 'cxl', 'the runtime that ran this mirror stopped');
  }
}

function replacer(key: string, value: unknown): unknown {
  if (key === 'dst') return undefined;
  return value;
}
