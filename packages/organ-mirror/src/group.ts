/**
 * Fan-out: one publication of a branch for many receivers whose mounts share a group scope (a
 * provider that publishes to groups, e.g. nats, on sealed AEAD mounts). The bundles are sealed
 * and packed once, each part is encoded once under the group's key and published once; every
 * receiver still acknowledges and resumes on its own.
 *
 * - **Delivery per bundle and member.** When a bundle is sealed, each member that has joined the
 *   current group and has been sent everything assigned to it gets the bundle by multicast; any
 *   other member (just joined, resuming, behind) gets it over its own mount (unicast), from the
 *   same frozen parts. So a member falls back to unicast catch-up and comes back to multicast on
 *   its own, and nothing waits for the group to agree.
 * - **Flow.** The group seals when at least one member has fewer than its `max_infl`
 *   unacknowledged: the fastest member sets the pace, a slow one never holds the others. A member
 *   more than `maxInflight` bundles behind is handed to a unicast publication of its own (a new
 *   epoch, a snapshot), so what the group keeps is bounded.
 * - **Keys.** The group key is random, sent to each member over its own sealed mount (`gkey`),
 *   and replaced (with a new group name) whenever a member leaves, so a member that left cannot
 *   read later bundles. A member says `joined` once subscribed; the provider guarantees its
 *   subscription is in place before that message arrives.
 * - **Joining.** A receiver without a token of this epoch joins at a new epoch that the group
 *   starts for everyone (a snapshot, published once): joins arriving together share it.
 *   A receiver with a token of this epoch resumes by unicast catch-up, without a new epoch.
 *
 * Decisions read only the tree, inputs and beats (membership, acks and joins arrive as frames);
 * the key's bytes never reach the tree, so a replay takes the same decisions.
 */
import type { Name, TreeChange } from '@cep/cells';
import { CepError } from '@cep/errors';
import { TOPIC, type Mount } from '@cep/transport';
import { BranchLog } from './delta.ts';
import type { Env } from './env.ts';
import { MirrorEpisode, v, type SliceVerdict } from './episode.ts';
import type { FrozenCell } from './frozen.ts';
import { buildBundlePart, buildMessage, type Message } from './message.ts';
import { SealSchedule } from './seal-schedule.ts';
import { packNext, packParts, type PackedPart, type PackStats, type Packing } from './pack.ts';
import { trySend } from './source.ts';

type Sub = Extract<Message, { kind: 'sub' }>;

/** How many beats' budget of frames may be sent ahead of what a receiver staged. */
const AHEAD_BEATS = 2;
/** After a new epoch, beats the group waits for members to join before sealing its snapshot. */
export const JOIN_WAIT_BEATS = 8;
/**
 * Beats a member may leave bundles unacknowledged before the group repeats them over its own
 * mount. A receiver notices a lost group frame only when a later one arrives; if none does (its
 * group subscription is gone, or the lost frame was the last), this brings it back.
 */
export const ACK_TIMEOUT_BEATS = 200;

interface GroupKey {
  readonly name: string;
  readonly key: Uint8Array;
}

interface GroupBundle {
  readonly seq: number;
  readonly snapshot: boolean;
  readonly firstBeat: number;
  /** The beat it was sealed (the acknowledgement timeout of a member counts from here at the earliest). */
  readonly sealBeat: number;
  readonly parts: FrozenCell[];
  /** Group frame bytes of each part published (for the ahead bound). */
  readonly sizes: number[];
  readonly group: GroupKey;
  /** Members that get this bundle by multicast (decided at seal). */
  readonly multicast: Set<Member>;
  published: number;
  /** The furthest part any multicast member staged. */
  staged: number;
  packing: Packing | undefined;
}

/** One receiver of the group. */
interface Member {
  readonly key: string;
  readonly peer: string;
  readonly mountName: string;
  mount: Mount;
  maxInfl: number;
  acked: number;
  /** The beat of its last acknowledgement (or of its resumption). */
  ackBeat: number;
  connected: boolean;
  /** The group name this member said it joined. */
  joined: string | undefined;
  /** Bundles this member gets over its own mount: seq → parts sent and staged. */
  readonly unicast: Map<number, { next: number; staged: number; sizes: number[] }>;
  cancelRetention: (() => void) | undefined;
}

/** Counts for the group record and the bench. */
interface Counts {
  published: number;
  unicast: number;
}

/** What a group needs from the organ. */
export interface GroupHost {
  /** A fresh epoch name. */
  epochName(beat: number): string;
  /** A fresh random 32-byte key (the only non-replayed value; it never reaches the tree). */
  newKey(): Uint8Array;
  /** Hands a member that fell too far behind to a unicast publication of its own. */
  toUnicast(mount: Mount, sub: Sub, beat: number): void;
  /** The group ended (no member left). */
  ended(group: GroupPublication): void;
}

/** One branch published to the members of one group scope. */
export class GroupPublication {
  readonly log: BranchLog;
  epoch = '';
  private lastSeq = 0;
  private readonly bundles = new Map<number, GroupBundle>();
  private readonly members = new Map<string, Member>();
  private readonly joiners = new Map<string, { mount: Mount; sub: Sub }>();
  private generation = 0;
  private current: GroupKey;
  private awaitJoinsUntil = 0;
  /** The beat an acknowledgement check is scheduled for. */
  private ackCheck: number | undefined;
  private readonly sealing: SealSchedule;
  private held = false;
  private ended: { status: 'ok' | 'cxl'; summary: string } | undefined;
  private readonly counts: Counts = { published: 0, unicast: 0 };
  private readonly episode: MirrorEpisode;
  private readonly groupPath: Array<Name | string>;

  constructor(
    private readonly env: Env,
    readonly id: string,
    readonly scope: string,
    readonly src: string,
    root: readonly Name[],
    private readonly window: number,
    private readonly host: GroupHost,
  ) {
    this.log = new BranchLog(root);
    this.sealing = new SealSchedule(
      this.log,
      env,
      () => this.window,
      () => this.episode.wake(),
    );
    this.current = this.rotateKey();
    this.groupPath = [...env.servingRoot.slice(0, -1), 'groups', id];
    this.episode = new MirrorEpisode(
      env.runtime,
      'mir/pub',
      `${env.servingText.replace(/\/serving$/, '/groups')}/${id}`,
      {
        role: v.text('source'),
        group: v.text(id),
        src_chan: v.text(src),
        beat_window: v.n(window),
        max_infl: v.n(env.options.maxInflight),
      },
      (beat) => this.slice(beat),
    );
  }

  get dossier(): string {
    return this.episode.id;
  }

  has(mountKey: string): boolean {
    return this.members.has(mountKey) || this.joiners.has(mountKey);
  }

  /**
   * A subscription on a mount of this scope. It continues in this epoch by unicast catch-up when
   * the bundles after its point are still here: its token's seq, or 0 (from the snapshot) for a
   * member welcomed into this epoch whose token is older or absent (its `sub` crossed our
   * welcome, or it lost the snapshot) and for a newcomer while the snapshot is still kept. Any
   * other receiver joins at a new epoch.
   */
  subscribe(mountKey: string, mount: Mount, sub: Sub): void {
    let member = this.members.get(mountKey);
    const token = sub.token;
    const seq =
      token !== undefined && token.epoch === this.epoch ? token.seq : member !== undefined || (this.lastSeq > 0 && this.floor() === 0) ? 0 : undefined;
    if (this.epoch !== '' && seq !== undefined && this.canResume(seq)) {
      member ??= this.addMember(mountKey, mount, sub);
      member.mount = mount;
      member.maxInfl = Math.min(sub.maxInfl, this.env.options.maxInflight);
      member.connected = true;
      member.cancelRetention?.();
      member.cancelRetention = undefined;
      member.acked = seq;
      trySend(mount, buildMessage({ kind: 'welcome', epoch: this.epoch, resumed: true }));
      this.catchUp(member);
      this.dropAcknowledged();
      this.writeServing(member);
      this.episode.wake();
      return;
    }
    if (member !== undefined) this.members.delete(mountKey);
    this.joiners.set(mountKey, { mount, sub });
    this.episode.wake();
  }

  /** Everything after the member's acknowledgement goes again over its own mount; it rejoins the group after. */
  private catchUp(member: Member): void {
    member.ackBeat = this.env.runtime.beat;
    member.joined = undefined;
    member.unicast.clear();
    for (const bundle of this.sortedBundles()) if (bundle.seq > member.acked) member.unicast.set(bundle.seq, { next: 0, staged: 0, sizes: [] });
    trySend(member.mount, buildMessage({ kind: 'gkey', group: this.current.name, key: this.current.key }));
  }

  private addMember(key: string, mount: Mount, sub: Sub): Member {
    const member: Member = {
      key,
      peer: mount.peer,
      mountName: mount.mount,
      mount,
      maxInfl: Math.min(sub.maxInfl, this.env.options.maxInflight),
      acked: 0,
      ackBeat: this.env.runtime.beat,
      connected: true,
      joined: undefined,
      unicast: new Map(),
      cancelRetention: undefined,
    };
    this.members.set(key, member);
    return member;
  }

  /** True when a receiver at `seq` of this epoch can continue from the bundles kept here. */
  canResume(seq: number): boolean {
    return seq >= this.floor() && seq <= this.lastSeq;
  }

  notice(change: TreeChange): boolean {
    if (this.ended !== undefined || !this.log.notice(change)) return false;
    this.sealing.noticed();
    return true;
  }

  onJoined(mountKey: string, group: string): void {
    const member = this.members.get(mountKey);
    if (member === undefined || group !== this.current.name) return;
    member.joined = group;
    this.writeServing(member);
    this.episode.wake();
  }

  onAck(mountKey: string, epoch: string, seq: number): void {
    const member = this.members.get(mountKey);
    if (member === undefined || epoch !== this.epoch || seq <= member.acked || seq > this.lastSeq || this.bundles.get(seq)?.packing !== undefined) return;
    member.acked = seq;
    member.ackBeat = this.env.runtime.beat;
    for (const key of [...member.unicast.keys()]) if (key <= seq) member.unicast.delete(key);
    this.dropAcknowledged();
    this.writeProgress(member);
    this.episode.wake();
  }

  onGot(mountKey: string, epoch: string, seq: number, part: number): void {
    const member = this.members.get(mountKey);
    const bundle = this.bundles.get(seq);
    if (member === undefined || bundle === undefined || epoch !== this.epoch) return;
    const cursor = member.unicast.get(seq);
    if (cursor !== undefined) {
      if (part > cursor.staged && part <= cursor.next) cursor.staged = part;
    } else if (bundle.multicast.has(member) && part > bundle.staged && part <= bundle.published) {
      bundle.staged = part;
    }
    this.episode.wake();
  }

  /** The member unsubscribed or was superseded: it goes, and the key changes. */
  leave(mountKey: string, why: string): void {
    this.joiners.delete(mountKey);
    const member = this.members.get(mountKey);
    if (member === undefined) return;
    member.cancelRetention?.();
    this.members.delete(mountKey);
    this.env.runtime.tree.remove([...this.env.servingRoot, member.peer, member.mountName]);
    const peerRoot = this.env.runtime.tree.get([...this.env.servingRoot, member.peer]);
    if (peerRoot?.children().every((c) => c.isDeleted)) this.env.runtime.tree.remove(peerRoot.path());
    this.episode.write('mirror', { last_leave: v.text(`${member.peer}/${member.mountName}: ${why}`) });
    this.dropAcknowledged();
    if (this.members.size === 0 && this.joiners.size === 0) return this.end('ok', 'no member left');
    this.rekey();
    this.episode.wake();
  }

  /** The member's mount broke: keep its place for `retainBeats`. */
  lost(mountKey: string, beat: number): void {
    const member = this.members.get(mountKey);
    this.joiners.delete(mountKey);
    if (member === undefined || !member.connected) return;
    member.connected = false;
    member.joined = undefined;
    this.writeServing(member);
    member.cancelRetention = this.env.timers.at(beat + this.env.options.retainBeats, () => {
      if (!member.connected && this.members.get(mountKey) === member) this.leave(mountKey, `gone for ${this.env.options.retainBeats} beats`);
    });
  }

  end(status: 'ok' | 'cxl', summary: string): void {
    if (this.ended !== undefined) return;
    this.ended = { status, summary };
    this.sealing.cancel();
    for (const member of this.members.values()) {
      member.cancelRetention?.();
      this.env.runtime.tree.remove([...this.env.servingRoot, member.peer, member.mountName]);
    }
    this.members.clear();
    this.env.runtime.tree.remove(this.groupPath);
    this.host.ended(this);
    this.episode.wake();
  }

  // ---- the slice ----------------------------------------------------------------------------

  private slice(beat: number): SliceVerdict {
    if (this.ended !== undefined) return { close: this.ended.status, summary: this.ended.summary };
    if (this.joiners.size > 0 && !this.packing) this.newEpoch(beat);
    const waiting = beat < this.awaitJoinsUntil && [...this.members.values()].some((m) => m.connected && m.joined !== this.current.name);
    if (!this.packing && !waiting && this.log.pending && (this.log.snapshot || beat >= this.sealing.due())) {
      if ([...this.members.values()].some((m) => m.connected && this.lastSeq - m.acked < m.maxInfl)) {
        this.setHeld(false);
        this.seal(beat);
      } else {
        this.setHeld(this.members.size > 0);
      }
    }
    this.repeatUnacknowledged(beat);
    const more = this.send(beat);
    this.writeGroup();
    if (waiting) this.env.timers.at(beat + 1, () => this.episode.wake());
    if (this.log.pending && !this.held) this.sealing.rearm(beat);
    return more ? 'again' : 'idle';
  }

  /** Members silent for {@link ACK_TIMEOUT_BEATS} with bundles out get them again over their own mounts. */
  private repeatUnacknowledged(beat: number): void {
    let next: number | undefined;
    for (const member of this.members.values()) {
      const oldest = this.bundles.get(member.acked + 1);
      if (!member.connected || oldest === undefined || oldest.packing !== undefined) continue;
      const due = Math.max(member.ackBeat, oldest.sealBeat) + ACK_TIMEOUT_BEATS;
      if (beat >= due) {
        this.env.emit(
          TOPIC.schema,
          'warn',
          `mirror group ${this.id}: ${member.peer}/${member.mountName} acknowledged nothing for ${ACK_TIMEOUT_BEATS} beats with ${this.lastSeq - member.acked} bundle(s) out; repeating them over its own mount`,
          member.peer,
        );
        this.catchUp(member);
        this.writeServing(member);
      } else {
        next = Math.min(next ?? due, due);
      }
    }
    if (next !== undefined && (this.ackCheck === undefined || next < this.ackCheck)) {
      this.ackCheck = next;
      this.env.timers.at(next, () => {
        if (this.ackCheck === next) this.ackCheck = undefined;
        this.episode.wake();
      });
    }
  }

  /** Starts a new epoch for every member and the joiners: a new key, and a snapshot next. */
  private newEpoch(beat: number): void {
    for (const [key, joiner] of this.joiners) this.addMember(key, joiner.mount, joiner.sub);
    this.joiners.clear();
    this.epoch = this.host.epochName(beat);
    this.log.reset();
    this.bundles.clear();
    this.lastSeq = 0;
    this.current = this.rotateKey();
    this.awaitJoinsUntil = beat + JOIN_WAIT_BEATS;
    this.episode.clearBundles();
    this.episode.write('mirror', { epoch: v.text(this.epoch), members: v.n(this.members.size), epoch_beat: v.n(beat) });
    for (const member of this.members.values()) {
      member.acked = 0;
      member.joined = undefined;
      member.unicast.clear();
      if (member.connected) {
        trySend(member.mount, buildMessage({ kind: 'welcome', epoch: this.epoch, resumed: false }));
        trySend(member.mount, buildMessage({ kind: 'gkey', group: this.current.name, key: this.current.key }));
      }
      this.writeServing(member);
    }
  }

  /** A member left: later bundles go under a new key and name that only the others receive. */
  private rekey(): void {
    this.current = this.rotateKey();
    for (const member of this.members.values()) {
      member.joined = undefined;
      if (member.connected) trySend(member.mount, buildMessage({ kind: 'gkey', group: this.current.name, key: this.current.key }));
      this.writeServing(member);
    }
  }

  private rotateKey(): GroupKey {
    this.generation++;
    return { name: `${this.id}.k${this.generation}`, key: this.host.newKey() };
  }

  private get packing(): boolean {
    return this.bundles.get(this.lastSeq)?.packing !== undefined;
  }

  /** True when everything assigned to `member` over its own mount has gone out: it can take multicast. */
  private caughtUp(member: Member): boolean {
    for (const [seq, cursor] of member.unicast) {
      const bundle = this.bundles.get(seq);
      if (bundle !== undefined && (bundle.packing !== undefined || cursor.next < bundle.parts.length)) return false;
    }
    return true;
  }

  private seal(beat: number): void {
    const firstBeat = this.log.firstChange ?? beat;
    const snapshot = this.log.snapshot;
    const ops = this.log.seal(this.env.runtime.tree);
    this.sealing.cancel();
    const seq = ++this.lastSeq;
    const stats: PackStats = { ops: 0, cells: 0, estimatedBytes: 0 };
    const multicast = new Set<Member>();
    for (const member of this.members.values()) {
      if (member.connected && member.joined === this.current.name && this.caughtUp(member)) multicast.add(member);
      else member.unicast.set(seq, { next: 0, staged: 0, sizes: [] });
    }
    this.bundles.set(seq, {
      seq,
      snapshot,
      firstBeat,
      sealBeat: beat,
      parts: [],
      sizes: [],
      group: this.current,
      multicast,
      published: 0,
      staged: 0,
      packing: { parts: packParts(ops, this.env.options.partBytes, stats), ahead: undefined, stats },
    });
    this.episode.bundle(seq, {
      epoch: v.text(this.epoch),
      first_beat: v.n(firstBeat),
      started_beat: v.n(beat),
      snapshot: v.flag(snapshot),
      multicast: v.n(multicast.size),
    });
    // A member this far behind would make the group keep everything: it resyncs on its own.
    for (const member of [...this.members.values()]) {
      if (this.lastSeq - member.acked > this.env.options.maxInflight) this.demote(member, beat);
    }
  }

  private demote(member: Member, beat: number): void {
    this.env.emit(
      TOPIC.backpressure,
      'warn',
      `mirror group ${this.id}: ${member.peer}/${member.mountName} is ${this.lastSeq - member.acked} bundles behind (more than ${this.env.options.maxInflight}); it continues on its own publication`,
      member.peer,
    );
    const connected = member.connected;
    const mount = member.mount;
    this.leave(member.key, 'too far behind');
    if (connected) this.host.toUnicast(mount, { kind: 'sub', src: this.src, window: this.window, maxInfl: member.maxInfl, token: undefined }, beat);
  }

  /** Sends what is due, oldest bundle first, within `beatBytes`; true when more is left for the next beat. */
  private send(beat: number): boolean {
    const budget = this.env.options.beatBytes;
    let spent = 0;
    for (const bundle of this.sortedBundles()) {
      for (;;) {
        if (spent >= budget) return true;
        let progressed = false;
        // Multicast: one encode and one publish per part, whoever receives it.
        if (
          bundle.multicast.size > 0 &&
          this.more(bundle, bundle.published) &&
          (bundle.published <= bundle.staged || this.ahead(bundle.sizes, bundle.staged, bundle.published) < AHEAD_BEATS * budget)
        ) {
          const bytes = this.publish(bundle, beat);
          if (bytes === undefined) return false;
          if (bytes > 0) {
            spent += bytes;
            progressed = true;
          }
        }
        for (const member of this.members.values()) {
          const cursor = member.unicast.get(bundle.seq);
          if (cursor === undefined || !member.connected || member.mount.state !== 'open' || !this.more(bundle, cursor.next)) continue;
          if (cursor.next > cursor.staged && this.ahead(cursor.sizes, cursor.staged, cursor.next) >= AHEAD_BEATS * budget) continue;
          const bytes = this.unicast(member, bundle, cursor, beat);
          if (bytes === undefined) continue;
          spent += bytes;
          progressed = true;
          if (spent >= budget) return true;
        }
        if (!progressed) break;
      }
    }
    return false;
  }

  /** True when part `index` (0-based) exists or can still be packed. */
  private more(bundle: GroupBundle, index: number): boolean {
    return index < bundle.parts.length || bundle.packing !== undefined;
  }

  private ahead(sizes: readonly number[], staged: number, next: number): number {
    let bytes = 0;
    for (let i = staged; i < next; i++) bytes += sizes[i] ?? 0;
    return bytes;
  }

  /** Makes sure part `index` is packed; false when the bundle has no such part. */
  private ensurePart(bundle: GroupBundle, index: number, beat: number): boolean {
    while (index >= bundle.parts.length && bundle.packing !== undefined) this.packMore(bundle, beat);
    return index < bundle.parts.length;
  }

  /** Publishes the bundle's next part to its group; undefined when no member mount can publish now. */
  private publish(bundle: GroupBundle, beat: number): number | undefined {
    const via = [...this.members.values()].find((m) => m.connected && m.mount.state === 'open' && m.mount.groupScope === this.scope);
    if (via === undefined) return undefined;
    if (!this.ensurePart(bundle, bundle.published, beat)) return 0;
    const index = bundle.published;
    let frame: Uint8Array;
    try {
      frame = via.mount.encodeForGroup(bundle.parts[index]!, bundle.group.key);
      via.mount.publish(bundle.group.name, frame);
    } catch (error) {
      const code = error instanceof CepError ? error.code : 'SEND_FAILED';
      this.env.emit(
        TOPIC.sendFailed,
        'error',
        `mirror group ${this.id}: bundle ${bundle.seq} part ${index + 1} not published (${code}): ${(error as Error).message}`,
        via.peer,
      );
      return undefined;
    }
    bundle.sizes[index] = frame.length;
    bundle.published++;
    this.counts.published++;
    this.env.options.onSend?.({ via: 'multicast', group: this.id, epoch: this.epoch, seq: bundle.seq, part: index + 1, bytes: frame.length });
    if (!this.more(bundle, bundle.published)) this.episode.bundle(bundle.seq, { published_beat: v.n(beat) });
    return frame.length;
  }

  /** Sends the member's next part of `bundle` over its own mount; undefined when it could not. */
  private unicast(member: Member, bundle: GroupBundle, cursor: { next: number; staged: number; sizes: number[] }, beat: number): number | undefined {
    if (!this.ensurePart(bundle, cursor.next, beat)) return undefined;
    const index = cursor.next;
    let frame: Uint8Array;
    try {
      frame = member.mount.encodeBranch(bundle.parts[index]!);
      member.mount.sendFrame(frame);
    } catch (error) {
      const code = error instanceof CepError ? error.code : 'SEND_FAILED';
      this.env.emit(
        TOPIC.sendFailed,
        'error',
        `mirror group ${this.id}: bundle ${bundle.seq} part ${index + 1} to ${member.peer} not sent (${code}): ${(error as Error).message}`,
        member.peer,
      );
      this.env.timers.at(beat, () => this.episode.wake());
      return undefined;
    }
    cursor.sizes[index] = frame.length;
    cursor.next++;
    this.counts.unicast++;
    this.env.options.onSend?.({
      via: 'unicast',
      group: this.id,
      peer: member.peer,
      mount: member.mountName,
      epoch: this.epoch,
      seq: bundle.seq,
      part: index + 1,
      bytes: frame.length,
    });
    return frame.length;
  }

  /** Packs the next part (one is kept back so the last can be marked); finishes the bundle at the end of the walk. */
  private packMore(bundle: GroupBundle, beat: number): void {
    const packing = bundle.packing!;
    const head = { epoch: this.epoch, seq: bundle.seq, firstBeat: bundle.firstBeat, lastBeat: beat };
    const add = (part: PackedPart, last: boolean): void => {
      const index = bundle.parts.length + 1;
      bundle.parts.push(buildBundlePart({ ...head, part: index, parts: last ? index : 0 }, part.ops));
    };
    const stats = packNext(packing, this.log, this.env.runtime.tree, this.env.options.partBytes, add);
    if (stats === undefined) return;
    bundle.packing = undefined;
    this.episode.bundle(bundle.seq, {
      last_beat: v.n(beat),
      sealed_beat: v.n(beat),
      ops: v.n(stats.ops),
      cells: v.n(stats.cells),
      parts: v.n(bundle.parts.length),
    });
    this.env.options.onSeal?.({
      peer: '',
      mount: this.id,
      epoch: this.epoch,
      seq: bundle.seq,
      beat,
      parts: bundle.parts,
      ops: stats.ops,
      cells: stats.cells,
    });
  }

  private sortedBundles(): GroupBundle[] {
    return [...this.bundles.values()].sort((a, b) => a.seq - b.seq);
  }

  /** The lowest seq any member still needs (bundles at or below it can go). */
  private floor(): number {
    let floor = this.lastSeq;
    for (const member of this.members.values()) floor = Math.min(floor, member.acked);
    return floor;
  }

  private dropAcknowledged(): void {
    const floor = this.floor();
    for (const seq of [...this.bundles.keys()]) if (seq <= floor) this.bundles.delete(seq);
    if (this.held && [...this.members.values()].some((m) => m.connected && this.lastSeq - m.acked < m.maxInfl)) this.setHeld(false);
  }

  private setHeld(on: boolean): void {
    if (this.held === on) return;
    this.held = on;
    for (const member of this.members.values()) {
      try {
        member.mount.reportBackpressure(on, `mirror group ${this.id}: every member has max_infl bundles unacknowledged; changes accumulate`);
      } catch {
        // A mount from another manager version without the hook: the serving record shows it.
      }
    }
  }

  /**
   * What an acknowledgement changes in the member's record (its other fields change only on the
   * member's own events). Kept this small because every member acknowledges every bundle: the
   * source's work per bundle must not grow with the members more than it has to.
   */
  private writeProgress(member: Member): void {
    if (this.ended !== undefined) return;
    const tree = this.env.runtime.tree;
    const at = [...this.env.servingRoot, member.peer, member.mountName];
    const via = member.connected && member.joined === this.current.name && this.caughtUp(member) ? 'multicast' : 'unicast';
    tree.batch(() => {
      tree.set([...at, 'seq'], v.n(this.lastSeq));
      tree.set([...at, 'acked'], v.n(member.acked));
      tree.set([...at, 'inflight'], v.n(this.lastSeq - member.acked));
      tree.set([...at, 'via'], v.text(via));
    });
  }

  private writeServing(member: Member): void {
    if (this.ended !== undefined) return;
    const tree = this.env.runtime.tree;
    const at = [...this.env.servingRoot, member.peer, member.mountName];
    const via = member.connected && member.joined === this.current.name && this.caughtUp(member) ? 'multicast' : 'unicast';
    tree.batch(() => {
      tree.set([...at, 'src_chan'], v.text(this.src));
      tree.set([...at, 'epoch'], v.text(this.epoch));
      tree.set([...at, 'seq'], v.n(this.lastSeq));
      tree.set([...at, 'acked'], v.n(member.acked));
      tree.set([...at, 'inflight'], v.n(this.lastSeq - member.acked));
      tree.set([...at, 'max_infl'], v.n(member.maxInfl));
      tree.set([...at, 'held'], v.flag(this.held));
      tree.set([...at, 'state'], v.text(member.connected ? 'live' : 'lost'));
      tree.set([...at, 'op'], v.text(this.episode.id));
      tree.set([...at, 'group'], v.text(this.id));
      tree.set([...at, 'via'], v.text(via));
    });
  }

  private writeGroup(): void {
    if (this.ended !== undefined) return;
    const tree = this.env.runtime.tree;
    tree.batch(() => {
      tree.set([...this.groupPath, 'src_chan'], v.text(this.src));
      tree.set([...this.groupPath, 'epoch'], v.text(this.epoch));
      tree.set([...this.groupPath, 'seq'], v.n(this.lastSeq));
      tree.set([...this.groupPath, 'members'], v.n(this.members.size));
      tree.set([...this.groupPath, 'key_gen'], v.n(this.generation));
      tree.set([...this.groupPath, 'published'], v.n(this.counts.published));
      tree.set([...this.groupPath, 'unicast'], v.n(this.counts.unicast));
      tree.set([...this.groupPath, 'op'], v.text(this.episode.id));
    });
  }
}
