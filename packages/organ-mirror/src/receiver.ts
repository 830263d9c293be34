/**
 * The receiver half: one per request. It dials the source peer, subscribes (with its resume
 * token when it has one), stages bundle parts until a bundle is whole, checks sequence
 * continuity, and applies bundles at a beat boundary — in capture as they arrive (`stream`),
 * at its own window boundaries (`batch`) or when the user commits (`manual`) — then
 * acknowledges them. A bundle whose seq is already applied is acknowledged again and never
 * applied twice. When the channel breaks it keeps its token, redials with a growing delay, and
 * the source continues after the last bundle applied here.
 *
 * A bundle that replaces the whole branch (a snapshot: its first op is a `put` at the branch
 * root) is staged part by part, as each part arrives, into a scratch tree that nothing else
 * sees; at commit the staged branch is adopted into the runtime's tree in one step. So no
 * decoded part outlives its beat, and the commit beat moves a branch instead of writing every
 * cell. Any other bundle keeps its decoded parts until it is applied.
 *
 * In `stream` mode a request applies at most one bundle per beat, and none in a beat whose
 * capture admitted a frame of another mount of the same peer (a call's request or reply) unless
 * it left the beat before to that mount too: bundles that complete meanwhile wait, in order, and
 * are applied at the commit of the next beats (see {@link Subscription.paceHeld}). So a beat of
 * the receiver spends at most one bundle's apply, and a call does not wait behind it.
 */
import { createTree, type text, type Name, type Tree } from '@cep/cells';
import { CepError } from '@cep/errors';
import type { StagedCell } from '@cep/serializer';
import { REFUSAL_CODES, TOPIC, type Mount } from '@cep/transport';
import { ApplyError, applyOps, replacesBranch } from './apply.ts';
import type { Env } from './env.ts';
import { MirrorEpisode, v, type SliceVerdict } from './episode.ts';
import { buildMessage, formatToken, type Message, type ResumeToken } from './message.ts';
import type { MirrorRequest } from './request.ts';

/** Beats a part may wait for the one before it (fan-out: the group path loses frames at most once, never reorders them for long). */
const STALL_BEATS = 16;
/** Parts kept ahead of their turn before giving up and resubscribing. */
const EARLY_LIMIT = 256;

type Phase = 'opening' | 'subscribing' | 'active' | 'broken' | 'error' | 'ended';
type Bundle = Extract<Message, { kind: 'bundle' }>;

/** A bundle being assembled, part by part. */
interface Assembly {
  readonly seq: number;
  got: number;
  /** A snapshot bundle: the branch as staged so far (its cells counted in `cells`). */
  readonly scratch: Tree | undefined;
  cells: number;
  /** Any other bundle: its decoded parts, in order. */
  readonly parts: Array<readonly StagedCell[]>;
}

interface Complete {
  readonly epoch: string;
  readonly seq: number;
  readonly scratch: Tree | undefined;
  readonly cells: number;
  readonly parts: ReadonlyArray<readonly StagedCell[]>;
}

/** One mirror request on the receiving runtime. */
export class Subscription {
  phase: Phase = 'opening';
  /** The last bundle applied here (the resume token). */
  applied: ResumeToken | undefined;
  private mount: Mount | undefined;
  /** After a welcome: the epoch, the next seq due, and the last seq applied *in this epoch*. */
  private expect: { epoch: string; next: number; applied: number } | undefined;
  private partial: Assembly | undefined;
  private held: Complete[] = [];
  private subSent = false;
  /** The source's peer restarted since our last welcome (see {@link onSourceRestarted}). */
  private sourceRestarted = false;
  private everActive = false;
  private backoff: number;
  private retryAt = 0;
  private cancelDeadline: (() => void) | undefined;
  private cancelRetry: (() => void) | undefined;
  private episode: MirrorEpisode | undefined;
  private endNote = 'removed';
  private removeHook: (() => void) | undefined;
  /** Fan-out: the group joined (its frames reach us too), and parts that arrived ahead of their turn. */
  private group: string | undefined;
  private readonly early = new Map<string, { b: Bundle; group: boolean }>();
  private cancelStall: (() => void) | undefined;
  private progress = 0;
  /** `stream`: the beat this request last applied a bundle at (one per beat). */
  private appliedAt = -1;
  /** `stream`: the last beat this request left to another mount of its peer (never two in a row). */
  private yieldedAt = -2;

  constructor(
    private readonly env: Env,
    readonly id: string,
    private readonly requestPath: readonly Name[],
    readonly req: MirrorRequest,
    token: ResumeToken | undefined,
  ) {
    this.applied = token;
    this.backoff = env.options.retry.first;
  }

  /** The mount key this request uses (`peer/mode/mount`). */
  get key(): string {
    return `${this.req.spec.peer}/${this.req.spec.mode}/${this.req.spec.mount}`;
  }

  /** Bundles waiting for a commit. */
  get heldCount(): number {
    return this.held.length;
  }

  get dossier(): string | undefined {
    return this.episode?.id;
  }

  /** Configures the mount and starts the episode (validator, at the start of compute). */
  start(beat: number): void {
    const { req } = this;
    this.closeStale();
    this.write({ state: v.text('pending'), bundle_seq: v.n(this.applied?.seq ?? 0), pend_resum: v.text(formatToken(this.applied)), held: v.n(0) });
    if (this.env.runtime.tree.get([...this.requestPath, 'commit_beat']) === undefined) this.write({ commit_beat: v.n(0) });
    this.clearNote();
    if (req.deadline !== undefined && req.deadline <= beat) {
      this.fail(`deadline: beat ${req.deadline} had passed when the request arrived (beat ${beat})`, TOPIC.mountTimeout, false);
      return;
    }
    this.episode = new MirrorEpisode(
      this.env.runtime,
      'mir/sub',
      '/' + this.requestPath.map((n) => n.tag.text).join('/'),
      {
        role: v.text('receiver'),
        request: v.text(this.id),
        peer: v.text(req.spec.peer),
        mount: v.text(req.spec.mount),
        src_chan: v.text(req.srcChan),
        dst_chan: v.text(req.dstChan),
        beat_window: v.n(req.window),
        max_infl: v.n(req.maxInfl),
        commit_mode: v.text(req.commitMode),
      },
      (b) => this.slice(b),
    );
    this.write({ op: v.text(this.episode.id) });
    if (req.deadline !== undefined) {
      this.cancelDeadline = this.env.timers.at(req.deadline, () => {
        if (!this.everActive && this.phase !== 'error' && this.phase !== 'ended') {
          this.fail(`deadline: not active by beat ${req.deadline}`, TOPIC.mountTimeout, true);
        }
      });
    }
    if (req.commitMode === 'batch') {
      // Its own commit hook, so a bundle that fails to apply undoes only this request's writes.
      this.removeHook = this.env.runtime.onCommit((b) => {
        if ((b + 1) % req.window === 0) this.commitHeld(b);
      });
    } else if (req.commitMode === 'stream') {
      // Bundles paced to the next beats (one a beat, busy beats left to other mounts) are applied here.
      this.removeHook = this.env.runtime.onCommit((b) => this.paceHeld(b));
    }
    this.connect();
  }

  /**
   * A request that already names a dossier whose episode does not run here was left by a
   * runtime that stopped (a peer restarted on its saved tree): close it and its gate, so the
   * record says how it ended.
   */
  private closeStale(): void {
    const { ops, episodes, tree } = this.env.runtime;
    const old = tree.getValue([...this.requestPath, 'op']);
    if (old?.type !== 'text' || episodes.isActive(old.value)) return;
    const gate = tree.getValue([...ops.path(old.value), 'envelope', 'gate']);
    for (const id of [old.value, gate?.type === 'text' ? gate.value : undefined]) {
      const state = id === undefined ? undefined : ops.state(id);
      if (id === undefined || state === undefined || state === 'ok' || state === 'cxl' || state === 'fail') continue;
      if (state !== 'run') ops.setState(id, 'run'); // a waiting watcher fires and goes, instead of lingering
      ops.close(id, 'cxl', 'the runtime that ran this mirror stopped');
    }
  }

  /** The request was removed: unsubscribe, close the mount, end the episode. */
  stop(note: string, keepMount: boolean): void {
    if (this.phase === 'ended') return;
    const wasError = this.phase === 'error';
    this.phase = 'ended';
    this.endNote = note;
    this.cancelDeadline?.();
    this.cancelRetry?.();
    this.removeHook?.();
    if (!wasError && !keepMount) {
      if (this.mount?.state === 'open') this.trySend(buildMessage({ kind: 'unsub' }));
      this.env.manager.remove(this.req.spec.peer, this.req.spec.mode, this.req.spec.mount, 'mirror-request-destroy');
    }
    this.episode?.write('mirror', { state: v.text(note === 'removed' ? 'removed' : 'ended'), end_note: v.text(note) });
    this.episode?.wake();
  }

  // ---- mount events and frames (capture) ------------------------------------------------

  onMountEvent(type: 'open' | 'accepted' | 'closed' | 'error' | 'fatal', mount: Mount, beat: number, note: string | undefined, code?: string): void {
    if (this.phase === 'ended' || this.phase === 'error' || !mount.initiator) return;
    if (type === 'open') {
      if (this.phase === 'opening' || this.phase === 'broken') this.subscribeSoon(mount);
      return;
    }
    if (type === 'closed' || type === 'error' || type === 'fatal') {
      if (this.phase === 'broken') return;
      this.phase = 'broken';
      this.partial = undefined;
      // The channel is gone and its group subscription with it: the source sends a key again.
      this.group = undefined;
      this.clearEarly();
      this.dropHeld();
      this.expect = undefined;
      this.write({ state: v.text('pending') });
      this.retryAt = beat + this.backoff;
      // A refusal (the source does not accept our key or name) is not cured by a quick redial.
      const refused = code !== undefined && REFUSAL_CODES.includes(code);
      this.backoff = Math.min(this.backoff * 2, refused ? this.env.options.retry.authMax : this.env.options.retry.max);
      this.episode?.write('mirror', { last_break: v.text(`${type} at beat ${beat}${note === undefined ? '' : `: ${note}`}`) });
      this.cancelRetry?.();
      this.cancelRetry = this.env.timers.at(this.retryAt - 1, () => this.episode?.wake());
    }
  }

  /**
   * The source's peer is a new session (it restarted): subscribe again at once, with the token
   * marked `restarted`. A source that kept its publication (a durable tree) continues the epoch
   * with the bundles we miss; any other answers with a new epoch and a snapshot. Bundles staged
   * or held from the old session are dropped (never applied, never acknowledged); `pend_resum`
   * keeps the old token until what follows replaces it.
   */
  onSourceRestarted(mount: Mount, beat: number): void {
    if (this.phase === 'ended' || this.phase === 'error' || this.phase === 'opening' || !mount.initiator) return;
    this.partial = undefined;
    this.dropHeld();
    this.expect = undefined;
    this.group = undefined;
    this.sourceRestarted = true;
    this.write({ state: v.text('pending') });
    this.episode?.write('mirror', { last_break: v.text(`the source restarted (new session) at beat ${beat}`) });
    if (mount.state === 'open') return this.subscribeSoon(mount);
    // Not open (yet): the break already scheduled a redial, which subscribes when the mount opens.
  }

  /** A frame that came through the fan-out group this request joined. */
  onGroupMessage(message: Message, beat: number): void {
    if (this.phase !== 'active' || message.kind !== 'bundle') return;
    this.onBundle(message, beat, true);
  }

  /**
   * The source serves us from a fan-out group: join it with the key it sent over our own sealed
   * mount (a previous group of ours is left: the key changed because a member left), and say so.
   * From now on parts may come by either path, so duplicates are ignored and early ones wait.
   */
  private onGroupKey(group: string, key: Uint8Array, mount: Mount): void {
    if (this.phase !== 'active' && this.phase !== 'subscribing') return;
    if (this.group !== undefined && this.group !== group) mount.leaveGroup(this.group);
    try {
      mount.joinGroup(group, key);
    } catch (error) {
      this.env.emit(TOPIC.sendFailed, 'warn', `${this.label()}: cannot join group ${group}: ${(error as Error).message}`, this.req.spec.peer);
      return;
    }
    this.group = group;
    this.trySend(buildMessage({ kind: 'joined', group }));
  }

  onMessage(message: Message, mount: Mount, beat: number): void {
    if (this.phase === 'ended' || this.phase === 'error') return;
    switch (message.kind) {
      case 'welcome': {
        // A fan-out group starts a new epoch for every member when a receiver joins: a welcome
        // that is not an answer to our `sub` (only a group sends one) starts over from its snapshot.
        if (this.phase !== 'subscribing' && !(this.phase === 'active' && !message.resumed)) return;
        this.clearEarly();
        this.sourceRestarted = false;
        const resumed = message.resumed && this.applied?.epoch === message.epoch;
        // A new epoch starts from nothing, even if its name happens to equal an old one.
        const applied = resumed ? this.applied!.seq : 0;
        this.expect = { epoch: message.epoch, next: applied + 1, applied };
        this.partial = undefined;
        this.dropHeld();
        this.phase = 'active';
        this.everActive = true;
        this.backoff = this.env.options.retry.first;
        this.cancelDeadline?.();
        this.write({ state: v.text('active'), provider: mount.provider === undefined ? undefined : v.text(mount.provider) });
        this.clearNote();
        if (!resumed) this.episode?.clearBundles();
        this.episode?.write('mirror', { epoch: v.text(message.epoch), resumed: v.flag(resumed), active_beat: v.n(beat) });
        return;
      }
      case 'bundle':
        return this.onBundle(message, beat, false);
      case 'gkey':
        return this.onGroupKey(message.group, message.key, mount);
      case 'reject':
        return this.fail(`the source refused: ${message.note}`, TOPIC.schema, true);
      default:
        return; // sub/ack/got/unsub are for the source half
    }
  }

  /**
   * `stream`: may a bundle be applied in this beat? Not when one was already (a capture that
   * admitted several bundles spreads their applies over as many beats), and not in a beat whose
   * capture admitted a frame of another mount of this peer — unless the beat before was left to
   * that mount too, so steady traffic there slows the mirror by half at most. Decided from
   * admitted frames and beat numbers only (recorded inputs), so a replay applies at the same beats.
   */
  private mayApply(beat: number): boolean {
    if (this.appliedAt === beat) return false;
    if (this.mount?.peerBusy === true && this.yieldedAt !== beat - 1) {
      this.yieldedAt = beat;
      return false;
    }
    return true;
  }

  /**
   * `stream`, in this request's commit hook: applies the oldest bundle waiting for a beat of its
   * own, if this beat may (see {@link mayApply}). The commit hook is wrapped like a frame's input,
   * so a bundle that fails to apply undoes only this request's writes here too.
   */
  private paceHeld(beat: number): void {
    if (this.phase !== 'active' || this.held.length === 0 || !this.mayApply(beat)) return;
    const next = this.held.shift()!;
    this.appliedAt = beat;
    this.apply([next], beat);
  }

  /** Applies every held bundle now (batch boundary or manual commit). */
  commitHeld(beat: number): void {
    if (this.phase !== 'active' || this.held.length === 0) return;
    const bundles = this.held;
    this.held = [];
    this.apply(bundles, beat);
  }

  // ---- internals ------------------------------------------------------------------------

  private connect(): void {
    try {
      this.mount = this.env.manager.configure(this.req.spec);
    } catch (error) {
      this.fail(`mount: ${(error as Error).message}`, TOPIC.schema, false);
      return;
    }
    this.phase = 'opening';
    if (this.mount.state === 'open') this.subscribeSoon(this.mount);
    else if (this.mount.state === 'error') {
      const note = this.env.runtime.tree.getValue([...this.mount.path, 'error_note']);
      this.write({ state: v.text('error'), error_note: v.text(`mount: ${note?.type === 'text' ? note.value : 'error'}`) });
    }
  }

  private subscribeSoon(mount: Mount): void {
    this.mount = mount;
    this.clearEarly();
    this.phase = 'subscribing';
    this.subSent = false;
    this.episode?.wake();
  }

  private slice(beat: number): SliceVerdict {
    if (this.phase === 'ended') return { close: 'cxl', summary: this.endNote };
    if (this.phase === 'error') return { close: 'fail', summary: this.endNote };
    if (this.phase === 'broken' && beat >= this.retryAt) this.connect();
    if (this.phase === 'subscribing' && !this.subSent && this.mount?.state === 'open') {
      this.subSent = true;
      // After the source restarted the token goes with `restarted`: a source that kept its
      // publication in a durable tree continues the epoch; any other answers with a new one (it
      // never matches the token against an epoch it made since, which could share the name).
      const token = this.applied;
      this.trySend(
        buildMessage({
          kind: 'sub',
          src: this.req.srcChan,
          window: this.req.window,
          maxInfl: this.req.maxInfl,
          token,
          restarted: this.sourceRestarted,
          packed: this.env.options.packedContent,
        }),
      );
      this.episode?.write('mirror', { sub_beat: v.n(beat), token: v.text(formatToken(token)) });
    }
    return 'idle';
  }

  private onBundle(b: Bundle, beat: number, viaGroup: boolean): void {
    const expect = this.expect;
    if (this.phase !== 'active' || expect === undefined || b.epoch !== expect.epoch) return;
    const appliedSeq = expect.applied;
    if (this.group !== undefined && b.seq > appliedSeq && b.seq >= expect.next) {
      // Two paths (group and own mount): a part we have is a duplicate, one ahead of its turn waits.
      if (this.partial?.seq === b.seq && b.part <= this.partial.got) return;
      const due = b.seq === expect.next && b.part === (this.partial?.got ?? 0) + 1;
      if (!due) return this.hold(b, viaGroup, beat);
    }
    if (b.seq <= appliedSeq) {
      // Applied already (a resend after a lost ack): acknowledge again, apply nothing. At its
      // first part already: the source sends the rest only as fast as this side stages parts.
      if (b.part === 1 || b.part === b.parts) this.ack(expect.epoch, appliedSeq);
      return;
    }
    if (b.seq < expect.next) return; // held, waiting for a commit
    // A bundle sent again from its first part (a new channel under the same mount) starts over.
    if (b.part === 1 && this.partial?.seq === b.seq && this.group === undefined) this.partial = undefined;
    if (b.seq > expect.next || (this.partial !== undefined && b.part !== this.partial.got + 1) || (this.partial === undefined && b.part !== 1)) {
      this.env.emit(
        TOPIC.schema,
        'warn',
        `${this.label()}: bundle ${b.seq} part ${b.part} arrived while ${expect.next} part ${(this.partial?.got ?? 0) + 1} was due; resubscribing from ${formatToken(this.applied) || 'scratch'}`,
        this.req.spec.peer,
      );
      this.partial = undefined;
      if (this.mount !== undefined) this.subscribeSoon(this.mount);
      return;
    }
    const partial = (this.partial ??= { seq: b.seq, got: 0, scratch: replacesBranch(b.ops) ? createTree({ beat }) : undefined, cells: 0, parts: [] });
    if (partial.scratch !== undefined) {
      try {
        partial.scratch.setBeat(beat);
        partial.cells += applyOps(partial.scratch, this.req.dst, b.ops);
      } catch (error) {
        if (!(error instanceof ApplyError) && !(error instanceof CepError)) throw error;
        this.partial = undefined;
        return this.fail(`bundle ${b.seq} could not be applied (nothing was): part ${b.part}: ${error.message}`, TOPIC.schema, true);
      }
    } else {
      partial.parts.push(b.ops);
    }
    partial.got++;
    this.progress++;
    if (b.parts === 0) {
      // More parts follow; the source sends them as this side keeps up (it stays a little ahead).
      this.trySend(buildMessage({ kind: 'got', epoch: b.epoch, seq: b.seq, part: b.part }));
      this.drainEarly(beat);
      return;
    }
    this.partial = undefined;
    expect.next = b.seq + 1;
    const complete: Complete = { epoch: b.epoch, seq: b.seq, scratch: partial.scratch, cells: partial.cells, parts: partial.parts };
    this.episode?.bundle(b.seq, {
      epoch: v.text(b.epoch),
      first_beat: v.n(b.firstBeat),
      last_beat: v.n(b.lastBeat),
      received_beat: v.n(beat),
      parts: v.n(b.parts),
      staged: v.flag(partial.scratch !== undefined),
    });
    if (this.req.commitMode === 'stream' && this.held.length === 0 && this.mayApply(beat)) {
      this.appliedAt = beat;
      this.apply([complete], beat);
    } else {
      // batch and manual hold until their commit; stream waits for a beat of its own (paceHeld).
      this.held.push(complete);
      this.write({ held: v.n(this.held.length) });
    }
    this.drainEarly(beat);
  }

  /** Keeps a part that came ahead of its turn (bounded); a stall of {@link STALL_BEATS} beats or an overflow resubscribes from the token. */
  private hold(b: Bundle, viaGroup: boolean, beat: number): void {
    const key = `${b.seq}:${b.part}`;
    if (!this.early.has(key)) this.early.set(key, { b, group: viaGroup });
    if (this.early.size > EARLY_LIMIT) return this.gap(beat, `more than ${EARLY_LIMIT} parts arrived ahead of bundle ${this.expect?.next}`);
    if (this.cancelStall !== undefined) return;
    const progress = this.progress;
    this.cancelStall = this.env.timers.at(beat + STALL_BEATS, () => {
      this.cancelStall = undefined;
      if (this.phase !== 'active' || this.early.size === 0) return;
      if (this.progress === progress)
        this.gap(
          this.env.runtime.beat,
          `bundle ${this.expect?.next} part ${(this.partial?.got ?? 0) + 1} did not come in ${STALL_BEATS} beats (a group frame was lost)`,
        );
      else this.hold(this.early.values().next().value!.b, false, this.env.runtime.beat);
    });
  }

  /** Feeds waiting parts whose turn has come. */
  private drainEarly(beat: number): void {
    while (this.early.size > 0 && this.phase === 'active' && this.expect !== undefined) {
      const key = `${this.expect.next}:${(this.partial?.got ?? 0) + 1}`;
      const next = this.early.get(key);
      if (next === undefined) {
        // Parts of bundles applied meanwhile are of no use any more.
        for (const [k, e] of this.early) if (e.b.seq < this.expect.next) this.early.delete(k);
        return;
      }
      this.early.delete(key);
      this.onBundle(next.b, beat, next.group);
    }
  }

  private gap(beat: number, why: string): void {
    this.env.emit(
      TOPIC.schema,
      'warn',
      `${this.label()}: ${why}; resubscribing from ${formatToken(this.applied) || 'scratch'} (beat ${beat})`,
      this.req.spec.peer,
    );
    this.partial = undefined;
    if (this.mount !== undefined) this.subscribeSoon(this.mount);
  }

  private clearEarly(): void {
    this.early.clear();
    this.cancelStall?.();
    this.cancelStall = undefined;
  }

  /**
   * Applies bundles: all of them or none. This always runs inside a handler the runtime wraps
   * in its own tree batch (a frame's input, a commit input, this request's commit hook), and
   * nested batches do not undo on their own; so a failure is thrown out of that handler, which
   * makes the runtime undo every write of it, and the error is recorded in the next commit.
   */
  private apply(bundles: readonly Complete[], beat: number): void {
    const tree = this.env.runtime.tree;
    const last = bundles[bundles.length - 1]!;
    const counts: number[] = [];
    // Observation only (metrics): never read for a decision, absent unless the host gave one.
    const clock = this.env.options.observeClock;
    const seconds: number[] = [];
    try {
      for (const bundle of bundles) {
        const started = clock?.();
        if (bundle.scratch !== undefined) {
          // The staged branch replaces the copy in one step (its cells were written while staging).
          tree.remove(this.req.dst);
          if (bundle.scratch.find(this.req.dst) !== undefined) tree.adopt(bundle.scratch, this.req.dst);
          counts.push(bundle.cells);
        } else {
          let cells = 0;
          for (const part of bundle.parts) cells += applyOps(tree, this.req.dst, part);
          counts.push(cells);
        }
        if (clock !== undefined && started !== undefined) seconds.push(Math.max(0, clock() - started));
      }
    } catch (error) {
      if (!(error instanceof ApplyError) && !(error instanceof CepError)) throw error;
      const note = `bundle ${last.seq} could not be applied (nothing was): ${error.message}`;
      this.phase = 'error'; // no later frame may build on a bundle that is not there
      this.endNote = note;
      this.env.timers.at(beat, () => this.fail(note, TOPIC.schema, true));
      throw new ApplyError(`mirror request ${this.id}: ${note}`);
    }
    this.write({ bundle_seq: v.n(last.seq), commit_beat: v.n(beat), pend_resum: v.text(formatToken(last)), held: v.n(this.held.length) });
    this.applied = { epoch: last.epoch, seq: last.seq };
    if (this.expect?.epoch === last.epoch) this.expect.applied = last.seq;
    bundles.forEach((bundle, i) => {
      this.episode?.bundle(bundle.seq, { applied_beat: v.n(beat), cells: v.n(counts[i]!) });
      this.env.options.onApply?.({ id: this.id, epoch: bundle.epoch, seq: bundle.seq, beat, cells: counts[i]!, seconds: seconds[i] });
    });
    this.ack(last.epoch, last.seq);
  }

  private ack(epoch: string, seq: number): void {
    this.trySend(buildMessage({ kind: 'ack', epoch, seq }));
  }

  private trySend(message: ReturnType<typeof buildMessage>): void {
    const mount = this.mount;
    if (mount === undefined || mount.state === 'closed' || mount.state === 'error') return;
    try {
      mount.sendBranch(message);
    } catch (error) {
      // A full queue or a closed mount: the resume protocol recovers what was not said.
      this.env.emit(TOPIC.sendFailed, 'warn', `${this.label()}: ${(error as Error).message}`, this.req.spec.peer);
    }
  }

  private dropHeld(): void {
    if (this.held.length === 0) return;
    this.held = [];
    this.write({ held: v.n(0) });
  }

  /** Ends the request in error: `state=error`, `error_note`, a CEI fact; the mount goes. */
  fail(note: string, topic: string, removeMount: boolean): void {
    if (this.phase === 'ended') return;
    this.phase = 'error';
    this.removeHook?.();
    this.endNote = note;
    this.cancelDeadline?.();
    this.cancelRetry?.();
    this.held = [];
    this.partial = undefined;
    this.write({ state: v.text('error'), error_note: v.text(note), held: v.n(0) });
    this.env.emit(topic, 'error', `${this.label()}: ${note}`, this.req.spec.peer);
    if (removeMount) this.env.manager.remove(this.req.spec.peer, this.req.spec.mode, this.req.spec.mount, 'mirror-error');
    this.episode?.write('mirror', { state: v.text('error') });
    this.episode?.wake();
  }

  private label(): string {
    return `mirror request ${this.id}`;
  }

  private write(fields: Record<string, ReturnType<typeof text> | undefined>): void {
    const tree = this.env.runtime.tree;
    // Writing into a deleted request would revive it: it is gone, its destructor is on the way.
    if (this.phase === 'ended' || tree.get(this.requestPath) === undefined) return;
    tree.batch(() => {
      for (const [key, value] of Object.entries(fields)) if (value !== undefined) tree.set([...this.requestPath, key], value);
    });
  }

  private clearNote(): void {
    const tree = this.env.runtime.tree;
    if (this.phase !== 'ended' && tree.get(this.requestPath) !== undefined && tree.get([...this.requestPath, 'error_note']) !== undefined)
      tree.remove([...this.requestPath, 'error_note']);
  }
}
