/**
 * The source half: one publication per subscribing mount. It logs changes to the branch,
 * seals them into a bundle at each window boundary (the first bundle of an epoch is the whole
 * branch), keeps every bundle until the receiver acknowledges it, and never has more than
 * `max_infl` unacknowledged: past that, changes keep accumulating (they merge into the next
 * bundle) and the mount reports backpressure. A receiver that comes back with a resume token
 * from this epoch gets the unacknowledged bundles again, in order; any other receiver gets a
 * new epoch and a snapshot.
 *
 * Work is bounded per beat: a slice packs and sends at most about `beatBytes` of parts (real
 * frame bytes, counted as each part is encoded; a part goes only if it fits what is left, judged
 * by the size of the part before it, and the first part of a beat always goes), and yields; a
 * beat that admitted frames of another mount of the same peer sends no part (never two beats in
 * a row), so that mount's replies are not held behind the mirror's encoding; a bundle bigger than that is packed lazily, part by part, over
 * the next beats, while the receiver decodes and stages the parts already sent. Each store's
 * children are listed when the walk reaches it and each part is frozen when it is packed, so
 * the parts may see different beats of a branch that keeps changing; the last part therefore
 * carries a delta of everything that changed while the walk ran (the change log, sealed again
 * at the end), and the bundle as a whole brings the branch to its state at the beat of that
 * last part. Part sizes are estimated from the cells and the per-beat budget counts encoded
 * bytes, never a clock, so a replay packs and sends the same parts at the same beats.
 *
 * The serving record also keeps what a restart on a durable tree needs to continue the epoch
 * (see `durable.ts`): the beat each unacknowledged bundle brings the copy to, and the cells
 * removed since.
 */
import { parsePath, type Name, type TreeChange } from '@cep/cells';
import { CepError } from '@cep/errors';
import { TOPIC, type Mount } from '@cep/transport';
import { BranchLog } from './delta.ts';
import { dropGone, dropMarks, markSince, writeGone, writeMark, type GoneEntry } from './durable.ts';
import type { Env } from './env.ts';
import { MirrorEpisode, v, type SliceVerdict } from './episode.ts';
import { buildBundlePart, buildMessage, type Message } from './message.ts';
import { SealSchedule } from './seal-schedule.ts';
import { packNext, packParts, type PackedPart, type PackStats, type Packing } from './pack.ts';
import type { FrozenCell } from './frozen.ts';

interface SealedBundle {
  readonly seq: number;
  readonly snapshot: boolean;
  readonly firstBeat: number;
  /** The messages packed so far, in order, and the bytes of each one's frame as last sent. */
  readonly parts: FrozenCell[];
  readonly sizes: number[];
  /** Parts handed to the current channel, and parts the receiver said it staged from it. */
  next: number;
  staged: number;
  /** Set while the bundle is still being packed: more parts will come. */
  packing: Packing | undefined;
}

type Sub = Extract<Message, { kind: 'sub' }>;

/** Where a publication restored from a durable tree starts: the receiver holds bundle `seq`, the branch as it was at beat `since`. */
export interface Continuation {
  readonly seq: number;
  /** The beat the receiver's copy is at, or `snapshot` when it holds nothing of the epoch yet. */
  readonly since: number | 'snapshot';
  /** Removals kept by the previous process (those at or after `since` are shipped). */
  readonly gone: readonly GoneEntry[];
}

/** How many beats' budget (`beatBytes`) of frames the source may have sent and the receiver not yet staged. */
const AHEAD_BEATS = 2;

/**
 * Beats the source keeps to `busyBeatBytes` after the last beat that admitted a frame of another
 * mount of its peer. Sequential calls on that mount arrive every few beats; 16 keeps a run of them
 * in the small mode without holding a mirror that is alone on its peer back for long.
 */
const BUSY_BEATS = 16;

/** Delta passes of one bundle after which it is packed in full parts again, busy or not (see `sendPending`). */
const BUSY_PASSES = 2;

/** Serving one receiver. */
export class Publication {
  readonly log: BranchLog;
  readonly epoch: string;
  private window: number;
  private maxInfl: number;
  private lastSeq = 0;
  private ackedSeq = 0;
  private readonly bundles = new Map<number, SealedBundle>();
  private connected = true;
  private cancelRetention: (() => void) | undefined;
  private readonly sealing: SealSchedule;
  private held = false;
  /** The last beat this source left to another mount of its peer (see `sendPending`). */
  private yieldedAt = -2;
  /** Until this beat the source sends and cuts parts within `busyBeatBytes` (see `sendPending`). */
  private busyUntil = -1;
  /** The serving record's fields as last written (see writeServing). */
  private servingWritten = '';
  private ended: { status: 'ok' | 'cxl'; summary: string } | undefined;
  private readonly episode: MirrorEpisode;
  /** seq → the beat the copy holds after that bundle, from the acknowledged bundle to the newest whole one. */
  private readonly marks = new Map<number, number>();
  /** Removals in the branch since the oldest mark, and those not written into the tree yet. */
  private readonly gone: GoneEntry[] = [];
  private readonly goneUnwritten: GoneEntry[] = [];
  private goneCount = 0;

  constructor(
    private readonly env: Env,
    readonly peer: string,
    readonly mountName: string,
    private mount: Mount,
    readonly src: string,
    root: readonly Name[],
    sub: Sub,
    epoch: string,
    private readonly onEnd: (publication: Publication) => void,
    continuation?: Continuation,
  ) {
    this.window = Math.min(sub.window, env.options.maxBeatWindow);
    this.maxInfl = Math.min(sub.maxInfl, env.options.maxInflight);
    this.packed = sub.packed === true;
    this.epoch = epoch;
    this.log = new BranchLog(root);
    this.sealing = new SealSchedule(
      this.log,
      env,
      () => this.window,
      () => this.episode.wake(),
    );
    this.episode = new MirrorEpisode(
      env.runtime,
      'mir/pub',
      `${env.servingText}/${peer}/${mountName}`,
      {
        role: v.text('source'),
        peer: v.text(peer),
        mount: v.text(mountName),
        src_chan: v.text(src),
        epoch: v.text(epoch),
        beat_window: v.n(this.window),
        max_infl: v.n(this.maxInfl),
      },
      (beat) => this.slice(beat),
    );
    if (continuation !== undefined) this.continueFrom(root, continuation);
    this.writeServing();
  }

  /**
   * A restarted source continues the epoch: the receiver holds bundle `seq`, so the next bundle
   * is `seq + 1` and carries everything that may have changed since the beat it holds (or the
   * whole branch, when it holds nothing yet). Bundles the old process numbered after `seq` are
   * not resent: they are folded into that one.
   */
  private continueFrom(root: readonly Name[], continuation: Continuation): void {
    const { seq, since } = continuation;
    this.lastSeq = seq;
    this.ackedSeq = seq;
    const tree = this.env.runtime.tree;
    tree.remove([...this.servingPath, 'marks']);
    tree.remove([...this.servingPath, 'gone']);
    if (since === 'snapshot') return;
    markSince(this.log, tree, root, since, continuation.gone);
    this.marks.set(seq, since);
    writeMark(tree, this.servingPath, seq, since);
    for (const entry of continuation.gone) if (entry.beat >= since) this.keepGone(entry.beat, entry.rel);
    this.flushGone();
    this.episode.write('mirror', { continued: v.text(`${this.epoch}:${seq}`), since_beat: v.n(since) });
    this.sealing.noticed();
  }

  private get servingPath(): (Name | string)[] {
    return [...this.env.servingRoot, this.peer, this.mountName];
  }

  get inflight(): number {
    return this.lastSeq - this.ackedSeq;
  }

  get dossier(): string {
    return this.episode.id;
  }

  /** Resumes after the receiver reconnected with a token of this epoch (`seq` applied there). */
  resume(mount: Mount, sub: Sub, seq: number): void {
    this.mount = mount;
    // The receiver asks; the local caps decide (a remote never raises what this source holds).
    this.window = Math.min(sub.window, this.env.options.maxBeatWindow);
    this.maxInfl = Math.min(sub.maxInfl, this.env.options.maxInflight);
    this.episode.write('envelope', { beat_window: v.n(this.window), max_infl: v.n(this.maxInfl) });
    this.acknowledged(seq);
    this.reconnected();
  }

  /**
   * Whether parts carry their content packed (`vb`, see `compact.ts`): the receiver's `sub` said
   * it reads that form. Fixed for the publication: a resume must read what was already packed.
   */
  readonly packed: boolean;

  /** True when a receiver holding `seq` of this epoch can continue from here. */
  canResume(seq: number): boolean {
    return seq >= this.ackedSeq && seq <= this.lastSeq;
  }

  /** A tree change; true when it concerns this branch. */
  notice(change: TreeChange): boolean {
    if (this.ended !== undefined || !this.log.notice(change)) return false;
    // A removed cell leaves no stamp: keep where it was, for a restart (a whole bundle exists to resume from).
    if (change.type === 'remove' && this.marks.size > 0) this.keepGone(change.beat, change.path.slice(this.log.root.length));
    this.sealing.noticed();
    return true;
  }

  /** Writes the removals noticed since the last commit into the serving record (called at commit, outside tree events). */
  flushGone(): void {
    if (this.goneUnwritten.length === 0 || this.ended !== undefined) return;
    const tree = this.env.runtime.tree;
    for (const entry of this.goneUnwritten.splice(0)) writeGone(tree, this.servingPath, entry);
  }

  private keepGone(beat: number, rel: readonly Name[]): void {
    const entry = { n: ++this.goneCount, beat, rel };
    this.gone.push(entry);
    this.goneUnwritten.push(entry);
  }

  onAck(epoch: string, seq: number): void {
    if (epoch !== this.epoch || seq <= this.ackedSeq || seq > this.lastSeq || this.bundles.get(seq)?.packing !== undefined) return;
    this.acknowledged(seq);
    this.episode.wake();
  }

  /** The receiver staged parts `1..part` of bundle `seq`: the source may run further ahead. */
  onGot(epoch: string, seq: number, part: number): void {
    const bundle = this.bundles.get(seq);
    if (epoch !== this.epoch || bundle === undefined || part <= bundle.staged || part > bundle.next) return;
    bundle.staged = part;
    this.episode.wake();
  }

  /** A new channel for this mount (the receiver reconnected): everything unacknowledged goes again. */
  reconnected(): void {
    this.connected = true;
    this.cancelRetention?.();
    this.cancelRetention = undefined;
    for (const bundle of this.bundles.values()) {
      bundle.next = 0;
      bundle.staged = 0;
    }
    this.writeServing();
    this.episode.wake();
  }

  /** The mount closed or failed: keep everything for `retainBeats`, then give up. */
  lost(beat: number): void {
    if (!this.connected || this.ended !== undefined) return;
    this.connected = false;
    this.writeServing();
    this.cancelRetention = this.env.timers.at(beat + this.env.options.retainBeats, () => {
      if (!this.connected) this.end('cxl', `receiver gone for ${this.env.options.retainBeats} beats`);
    });
  }

  /**
   * The receiver's peer is a new session (it restarted): nothing more goes to it until it
   * subscribes again. Its bundles are kept for `retainBeats`, so a receiver restarted on its saved
   * tree resumes with its token; any other subscription supersedes this one.
   */
  receiverRestarted(beat: number): void {
    if (this.ended !== undefined) return;
    this.episode.write('mirror', { last_break: v.text(`the receiver restarted (new session) at beat ${beat}`) });
    this.lost(beat);
  }

  /** Stops serving; the episode closes with `status` at its next slice. */
  end(status: 'ok' | 'cxl', summary: string): void {
    if (this.ended !== undefined) return;
    this.ended = { status, summary };
    this.onEnd(this);
    this.cancelRetention?.();
    this.sealing.cancel();
    if (this.held) this.setHeld(false);
    this.env.runtime.tree.remove([...this.env.servingRoot, this.peer, this.mountName]);
    const peerRoot = this.env.runtime.tree.get([...this.env.servingRoot, this.peer]);
    if (peerRoot?.children().every((c) => c.isDeleted)) this.env.runtime.tree.remove(peerRoot.path());
    this.episode.wake();
  }

  private slice(beat: number): SliceVerdict {
    if (this.ended !== undefined) return { close: this.ended.status, summary: this.ended.summary };
    if (!this.packing && this.log.pending && (this.log.snapshot || beat >= this.sealing.due())) {
      if (this.inflight < this.maxInfl) this.seal(beat);
      else this.setHeld(true);
    }
    let more = false;
    if (this.connected && this.mount.state === 'open') {
      const verdict = this.sendPending(beat);
      if (verdict === 'again') more = true;
      else if (verdict !== undefined) return verdict;
    }
    this.writeServing();
    if (this.log.pending && !this.held) this.sealing.rearm(beat);
    return more ? 'again' : 'idle';
  }

  /** True while a bundle is still being packed (no new one is sealed meanwhile). */
  private get packing(): boolean {
    const newest = this.bundles.get(this.lastSeq);
    return newest?.packing !== undefined;
  }

  /**
   * Sends what the current channel has not had yet, oldest bundle first, packing parts of a
   * bundle still being packed as they are needed, while the next part fits what is left of
   * `beatBytes` (real frame bytes; the next part's size is judged by the last one's, and the
   * first part of a beat goes whatever its size). Each part is encoded here, with the mount's policy, so the budget counts
   * what goes on the wire; the length is a pure function of the part and the policy, so a
   * replay sends the same parts at the same beats. Returns `again` when parts are left for the
   * next beat.
   */
  private sendPending(beat: number): SliceVerdict | undefined {
    // Another mount of this peer in use (a call, a link update, seen in this beat's admitted
    // frames): for the next BUSY_BEATS beats parts are cut and sent within `busyBeatBytes`, so
    // a frame of that mount waits at most for a small part's encode here and its decode there,
    // not a 60 KB one. Counted in beats and bytes from recorded inputs: a replay does the same.
    if (this.mount.peerBusy) this.busyUntil = beat + BUSY_BEATS;
    // Unless the bundle being packed is not catching up with its branch (a writer filling it
    // faster than small parts carry it away: a third pass over what changed meanwhile): then
    // full parts again, or the bundle would grow until the writer stops and be applied, and
    // journaled on a durable receiver, in one beat.
    const passes = this.bundles.get(this.lastSeq)?.packing?.passes ?? 0;
    this.smallParts = beat <= this.busyUntil && passes < BUSY_PASSES;
    const budget = this.budget();
    let spent = 0;
    let last = 0;
    for (const seq of [...this.bundles.keys()].sort((a, b) => a - b)) {
      const bundle = this.bundles.get(seq)!;
      const unsent = bundle.next < bundle.parts.length || bundle.packing !== undefined;
      for (;;) {
        if (bundle.next === bundle.parts.length && bundle.packing === undefined) break;
        // The next part goes only if it fits what is left of the budget, judged by the size of
        // the part sent last (a part's size is known only once it is encoded): parts near the
        // budget go one per beat instead of two, which halved the longest beats on both sides.
        if (spent > 0 && spent + last > budget) return 'again';
        // Never more than `AHEAD_BEATS` beats' budget of frames ahead of what the receiver has
        // staged, so its captures do not decode a burst of parts; its `got` wakes this slice
        // again. Two beats, not four: on a quiet machine four put an invoke on another mount of
        // the same peers behind 137 beats of parts (p99; 7 with two) for no faster mirror.
        if (bundle.next > bundle.staged && this.unstagedBytes(bundle) >= AHEAD_BEATS * budget) return undefined;
        // A beat that admitted frames of another mount of this peer (a call, a link update) is
        // left to them, so their replies leave at the end of a short beat, not behind a part's
        // encoding; never two beats in a row, so the mirror still moves under steady traffic.
        // Read from admitted frames (recorded inputs): a replay yields the same beats.
        if (spent === 0 && this.mount.peerBusy && this.yieldedAt !== beat - 1) {
          this.yieldedAt = beat;
          return 'again';
        }
        if (bundle.next === bundle.parts.length) {
          this.packMore(bundle, beat);
          continue;
        }
        let bytes: number;
        try {
          // After a reconnect the parts go again from the first: the receiver stages whole bundles only.
          const frame = this.mount.encodeBranch(bundle.parts[bundle.next]!);
          this.mount.sendFrame(frame);
          bytes = frame.length;
        } catch (error) {
          const code = error instanceof CepError ? error.code : 'SEND_FAILED';
          this.env.emit(
            TOPIC.sendFailed,
            'error',
            `mirror ${this.mountName}: bundle ${seq} part ${bundle.next + 1} not sent (${code}): ${(error as Error).message}`,
            this.peer,
          );
          if (code === 'FRAME_TOO_LARGE') {
            // It will never fit: tell the receiver, and stop.
            trySend(this.mount, buildMessage({ kind: 'reject', note: `bundle ${seq} does not fit a frame on this mount; lower partBytes on the source` }));
            this.end('cxl', `bundle ${seq} does not fit a frame`);
            return { close: 'fail', summary: `bundle ${seq} does not fit a frame` };
          }
          // A full queue or a mount closing: the next wake tries again.
          this.env.timers.at(beat, () => this.episode.wake());
          return undefined;
        }
        bundle.sizes[bundle.next] = bytes;
        spent += bytes;
        last = bytes;
        bundle.next++;
        this.env.options.onSend?.({ via: 'unicast', peer: this.peer, mount: this.mountName, epoch: this.epoch, seq, part: bundle.next, bytes });
      }
      if (unsent) this.episode.bundle(seq, { sent_beat: v.n(beat) });
    }
    return undefined;
  }

  /** Frame bytes this source may send in the current beat (see `busyUntil`; set by `sendPending`). */
  private budget(): number {
    const { beatBytes, busyBeatBytes } = this.env.options;
    return this.smallParts ? Math.min(beatBytes, busyBeatBytes) : beatBytes;
  }

  /**
   * Estimated bytes of the next part, read when it is cut: `partBytes`, or within `busyBeatBytes`
   * while the peer is busy (parts are cut only in `sendPending`, which sets `smallParts`).
   */
  private readonly partBudget = (): number =>
    this.smallParts ? Math.min(this.env.options.partBytes, this.env.options.busyBeatBytes) : this.env.options.partBytes;
  private smallParts = false;

  /** Frame bytes sent on this channel and not yet staged by the receiver. */
  private unstagedBytes(bundle: SealedBundle): number {
    let bytes = 0;
    for (let i = bundle.staged; i < bundle.next; i++) bytes += bundle.sizes[i]!;
    return bytes;
  }

  /** Starts bundle `seq` from what the log holds; its parts are packed as they are sent. */
  private seal(beat: number): void {
    const firstBeat = this.log.firstChange ?? beat;
    const snapshot = this.log.snapshot;
    // From here on the log collects what changes while the bundle is packed: its last part ships that.
    const ops = this.log.seal(this.env.runtime.tree);
    this.sealing.cancel();
    const seq = ++this.lastSeq;
    const stats: PackStats = { ops: 0, cells: 0, estimatedBytes: 0 };
    this.bundles.set(seq, {
      seq,
      snapshot,
      firstBeat,
      parts: [],
      sizes: [],
      next: 0,
      staged: 0,
      packing: { parts: packParts(ops, this.partBudget, stats, this.packed), ahead: undefined, stats, packed: this.packed },
    });
    this.episode.bundle(seq, { epoch: v.text(this.epoch), first_beat: v.n(firstBeat), started_beat: v.n(beat), snapshot: v.flag(snapshot) });
  }

  /**
   * Packs the next part of `bundle` (one part is kept back until the next one exists, so the
   * last part can be marked as such). When the walk is over, the changes made meanwhile follow
   * as a delta and the bundle is whole.
   */
  private packMore(bundle: SealedBundle, beat: number): void {
    const packing = bundle.packing!;
    const head = { epoch: this.epoch, seq: bundle.seq, firstBeat: bundle.firstBeat, lastBeat: beat };
    const add = (part: PackedPart, last: boolean): void => {
      const index = bundle.parts.length + 1;
      // `parts` is known only on the last part; earlier ones say 0 ("more follow").
      bundle.parts.push(buildBundlePart({ ...head, part: index, parts: last ? index : 0 }, part.ops));
      bundle.sizes.push(0);
    };
    const stats = packNext(packing, this.log, this.env.runtime.tree, this.partBudget, add);
    if (stats === undefined) return;
    bundle.packing = undefined;
    // Written in the beat the last part is packed, so it is durable before any part of it leaves.
    this.marks.set(bundle.seq, beat);
    writeMark(this.env.runtime.tree, this.servingPath, bundle.seq, beat);
    this.episode.bundle(bundle.seq, {
      last_beat: v.n(beat),
      sealed_beat: v.n(beat),
      ops: v.n(stats.ops),
      cells: v.n(stats.cells),
      parts: v.n(bundle.parts.length),
    });
    this.env.options.onSeal?.({
      peer: this.peer,
      mount: this.mountName,
      epoch: this.epoch,
      seq: bundle.seq,
      beat,
      parts: bundle.parts,
      ops: stats.ops,
      cells: stats.cells,
    });
  }

  private acknowledged(seq: number): void {
    for (const key of [...this.bundles.keys()]) if (key <= seq) this.bundles.delete(key);
    if (seq > this.ackedSeq) {
      this.ackedSeq = seq;
      this.episode.bundle(seq, { acked_beat: v.n(this.env.runtime.beat) });
      // No receiver resumes from before the acknowledged bundle: its mark is the oldest needed.
      const tree = this.env.runtime.tree;
      dropMarks(tree, this.servingPath, this.marks, seq);
      const oldest = this.marks.get(seq);
      if (oldest !== undefined) {
        this.goneUnwritten.splice(0, this.goneUnwritten.length, ...this.goneUnwritten.filter((e) => e.beat >= oldest));
        dropGone(tree, this.servingPath, this.gone, oldest);
      }
    }
    if (this.held && this.inflight < this.maxInfl) this.setHeld(false);
    this.writeServing();
  }

  private setHeld(on: boolean): void {
    this.held = on;
    try {
      this.mount.reportBackpressure(on, `mirror ${this.mountName}: ${this.inflight} bundle(s) unacknowledged (max_infl ${this.maxInfl}); changes accumulate`);
    } catch {
      // A mount from another manager version without the hook: the serving record still shows it.
    }
  }

  private writeServing(): void {
    if (this.ended !== undefined) return;
    // Called at every slice; rewriting nine unchanged cells each beat of a long mirror cost the
    // source ~4% of its CPU (and a journal record each beat on a durable tree). Only a change is written.
    const written = `${this.epoch}\0${this.lastSeq}\0${this.ackedSeq}\0${this.inflight}\0${this.maxInfl}\0${this.held}\0${this.connected}`;
    const tree = this.env.runtime.tree;
    const at = [...this.env.servingRoot, this.peer, this.mountName];
    if (written === this.servingWritten && tree.get([...at, 'op']) !== undefined) return;
    tree.batch(() => {
      tree.set([...at, 'src_chan'], v.text(this.src));
      tree.set([...at, 'epoch'], v.text(this.epoch));
      tree.set([...at, 'seq'], v.n(this.lastSeq));
      tree.set([...at, 'acked'], v.n(this.ackedSeq));
      tree.set([...at, 'inflight'], v.n(this.inflight));
      tree.set([...at, 'max_infl'], v.n(this.maxInfl));
      tree.set([...at, 'held'], v.flag(this.held));
      tree.set([...at, 'state'], v.text(this.connected ? 'live' : 'lost'));
      tree.set([...at, 'op'], v.text(this.episode.id));
    });
    this.servingWritten = written;
  }
}

/** The branch path a subscription names, or why it cannot be served. */
export function sourcePath(src: string): Name[] | string {
  if (!src.startsWith('/')) return `src_chan ${JSON.stringify(src)} is not an absolute path`;
  try {
    const names = parsePath(src);
    return names.length === 0 ? 'the root cannot be mirrored' : names;
  } catch (error) {
    return `src_chan ${JSON.stringify(src)}: ${(error as Error).message}`;
  }
}

/** Sends the welcome that opens (or resumes) a subscription. */
export function welcome(mount: Mount, epoch: string, resumed: boolean): void {
  trySend(mount, buildMessage({ kind: 'welcome', epoch, resumed }));
}

/** Sends a control message; a mount that cannot take it is left to the resume protocol. */
export function trySend(mount: Mount, message: FrozenCell): boolean {
  try {
    mount.sendBranch(message);
    return true;
  } catch {
    return false;
  }
}
