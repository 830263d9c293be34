/**
 * One mount: its place in the tree, its channel, and its two send queues.
 *
 * Two queues, because two different things can make a sender wait:
 * - the *beat* queue holds frames sent while the tree says the mount is not ready (`state`
 *   is `opening`, or `bp_flag` is set). Those decisions read only the tree, so they — and the
 *   `upd_latest` coalescing they drive — replay exactly;
 * - the *wire* queue holds frames the channel refused to take right now (a `backpressure`
 *   answer that the tree will only hear about at the next capture). It is flushed on the
 *   channel's own `ready` event and never changes the tree.
 */
import { bool, name, type Cell, type Name } from '@cep/cells';
import type { Runtime } from '@cep/heartbeat';
import { encodeBranch, type SerializerPolicy } from '@cep/serializer';
import type { ChannelV1, GroupSubscriptionV1 } from './provider/v1.ts';
import { transportError } from './errors.ts';
import { Telemetry, mountKey, mountPath, telemetryPath, writeState, type MountState } from './schema.ts';
import { TOPIC } from './topics.ts';

/** What became of a frame handed to {@link Mount.sendFrame}. */
export type SendOutcome =
  /** Handed to the channel. */
  | 'sent'
  /** Waiting for the mount to open or for a `ready` event. */
  | 'queued'
  /** A gauge that replaced the pending, older gauge. */
  | 'replaced'
  /** A gauge refused because the mount opted out of dropping (`tp_upd_den`). */
  | 'denied';

/** Options of a send. */
export interface SendOptions {
  /**
   * A gauge: only the newest value matters. On an unreliable `upd_latest` mount a newer gauge
   * replaces one still waiting; on a reliable mount it is sent like any frame (`tp_upd_mis`).
   */
  readonly gauge?: boolean;
}

/** A mount as its users see it. */
export interface Mount {
  readonly peer: string;
  readonly mode: string;
  readonly mount: string;
  /** `/net/mounts/<peer>/<mode>/<mount>`. */
  readonly path: readonly Name[];
  readonly state: MountState;
  /** The negotiated provider id (undefined while none qualifies). */
  readonly provider: string | undefined;
  /** True when this side dialled; false for a mount a remote peer opened. */
  readonly initiator: boolean;
  /** Frames waiting in the beat queue. */
  readonly queuedFrames: number;
  /** Encodes `cell` with the mount's negotiated serializer policy and sends it. */
  sendBranch(cell: Cell, options?: SendOptions): SendOutcome;
  /**
   * Encodes `cell` exactly as {@link Mount.sendBranch} would, without sending it: for an organ
   * that budgets its sends in real frame bytes (then hands the frame to {@link Mount.sendFrame}).
   * The length is a pure function of the branch and the negotiated policy, so replay counts the same.
   */
  encodeBranch(cell: Cell): Uint8Array;
  /** Sends an already encoded frame. */
  sendFrame(frame: Uint8Array, options?: SendOptions): SendOutcome;
  /** Closes the channel; the schema stays so a reconfigure is cheap. */
  close(reason: string): void;
  /**
   * True, during a beat, when that beat's capture admitted a frame on another mount of the same
   * peer (a call, a link update). An organ that moves bulk data on this mount (a mirror's parts)
   * can leave such a beat to the other mount, so its reply goes out at the end of a short beat
   * instead of behind the bulk work. Decided from admitted frames only (recorded inputs), so a
   * replay reads the same; a frame that arrives during a beat counts for the beat that admits it.
   */
  readonly peerBusy: boolean;
  /**
   * An organ above the mount reports that it holds sends back itself (e.g. mirror's
   * `max_infl` reached). Telemetry `bp_flag` is on while the channel *or* an organ holds
   * back; each rise counts in `bp_count`, sets `last_event` and emits `tp_backpr` (warn,
   * mirrored to the peer). It never queues or blocks this mount's own sends.
   */
  reportBackpressure(on: boolean, note?: string): void;
  /**
   * Where this mount can publish to a group (multicast), or undefined when it cannot: set on an
   * accepted mount whose provider's channel publishes to groups and whose frames are sealed with
   * AEAD (group frames are refused unsealed). Mounts with the same scope reach the same group
   * members, so a frame published on any one of them reaches all. Decided from recorded inputs.
   */
  readonly groupScope: string | undefined;
  /**
   * Encodes `cell` as {@link Mount.encodeBranch} would, but sealed under `key` instead of this
   * mount's key: the bytes every member of a group can open. Throws `GROUP_UNSEALED` when the
   * mount does not seal with AEAD.
   */
  encodeForGroup(cell: Cell, key: Uint8Array): Uint8Array;
  /** Publishes a frame made by {@link Mount.encodeForGroup} once to `group` (at most once). Throws `GROUP_UNSUPPORTED` without a `groupScope`. */
  publish(group: string, frame: Uint8Array): SendOutcome;
  /**
   * On a dialled mount: receives what the remote side publishes to `group`, opened with `key`
   * (frames reach the mode's handlers with `group` set). Frames this mount sends afterwards reach
   * the remote side after the subscription is in place. Replaces an earlier key of that group.
   */
  joinGroup(group: string, key: Uint8Array): void;
  /** Stops receiving `group` and forgets its key (idempotent). */
  leaveGroup(group: string): void;
}

interface Queued {
  frame: Uint8Array;
  gauge: boolean;
}

/** Internal mount state; the manager drives it. */
export class MountImpl implements Mount {
  readonly path: Name[];
  readonly telemetry: Telemetry;
  state: MountState = 'opening';
  provider: string | undefined;
  providerCaps: readonly string[] = [];
  initiator = true;
  policy: SerializerPolicy = {};
  allowUpd = true;
  /** The channel id whose events drive the state (`d<n>` dialled, `a<n>` accepted), and the channel. */
  channelId: string | undefined;
  channel: ChannelV1 | undefined;
  /** The address dialled (a reconfigure to the same provider and address keeps the channel). */
  address: string | undefined;
  /** Channels the peer opened to the same mount while ours is up: they only bring frames in. */
  inboundOnly: string[] = [];
  /** The id of a dial in flight. */
  pendingOpen: string | undefined;
  bpFlag = false;
  /** An organ's own backpressure ({@link Mount.reportBackpressure}); shown in `bp_flag`, never gates sends. */
  organHold = false;
  readonly flatnegWarned = new Set<string>();
  updMisWarned = false;
  /** Refusals (`AUTH_FAILED`, `PEER_MISMATCH`) in a row since the mount last opened. */
  refusals = 0;
  private readonly beatQueue: Queued[] = [];
  private readonly wireQueue: Queued[] = [];
  private edgeBlocked = false;
  /** Sends not yet in the telemetry record: written once per beat ({@link flushTelemetry}), not per frame. */
  private unsampledFrames = 0n;
  private unsampledMode: string | undefined;
  /** Set at accept from the recorded event (see {@link Mount.groupScope}). */
  groupScope: string | undefined;
  /** Keys of the groups this mount joined, by group. */
  readonly groupKeys = new Map<string, Uint8Array>();
  private readonly groupSubs = new Map<string, GroupSubscriptionV1>();
  /** The beat whose capture last admitted a frame of this mount (-1: none yet); see {@link Mount.peerBusy}. */
  admittedBeat = -1;
  /** The beat in which this mount last sent (or queued) a frame, inside a beat (-1: none yet). */
  sentBeat = -1;
  /** Set by the manager: the other mounts of this mount's peer. */
  siblings: () => Iterable<MountImpl> = () => [];
  /** Set by the manager: pumps a group subscription's frames into this mount's inputs. */
  pumpGroup: ((mount: MountImpl, subscription: GroupSubscriptionV1) => void) | undefined;

  constructor(
    private readonly runtime: Runtime,
    readonly peer: string,
    readonly mode: string,
    readonly mount: string,
    private readonly limits: { readonly maxQueuedFrames: number; readonly maxFrameBytes: number },
    private readonly onClose: (mount: MountImpl, reason: string) => void,
    private readonly onSend: (mount: MountImpl) => void = () => undefined,
  ) {
    this.path = mountPath(peer, mode, mount);
    this.telemetry = new Telemetry(runtime.tree, telemetryPath(peer, mount));
  }

  get key(): string {
    return mountKey(this.peer, this.mode, this.mount);
  }

  get peerBusy(): boolean {
    const beat = this.runtime.beat;
    for (const other of this.siblings()) if (other !== this && other.admittedBeat === beat) return true;
    return false;
  }

  get queuedFrames(): number {
    return this.beatQueue.length;
  }

  get unreliable(): boolean {
    return this.providerCaps.includes('unreliable');
  }

  /**
   * The mount's peer sends plaintext payloads while we expected AEAD. Followed (AEAD turned off
   * for this mount, told at warn, recorded as `serializer/aead_down`) only when the peer is
   * `aead: optional` and we did not dial; otherwise the frame is refused (no silent downgrade).
   */
  adoptPlaintext(aeadOptional: boolean): boolean {
    if (!aeadOptional || this.initiator || this.policy.aead === undefined) return false;
    const { aead: _dropped, ...rest } = this.policy;
    this.policy = rest;
    this.runtime.tree.set([...this.path, name('serializer'), name('aead_ok')], bool(false));
    this.runtime.tree.set([...this.path, name('serializer'), name('aead_down')], bool(true));
    this.emit(
      TOPIC.flatNegotiation,
      'warn',
      `the peer sends plaintext payloads on this mount (its aead_ok is off); following it because peer ${this.peer} is aead: optional`,
    );
    return true;
  }

  /** Whether a plaintext refusal was told already (one CEI per mount; every refusal is counted). */
  plainRefusalTold = false;

  setState(state: MountState, note?: string): void {
    this.state = state;
    writeState(this.runtime.tree, this.path, state, note);
  }

  emit(topic: string, severity: 'info' | 'warn' | 'error', note: string): void {
    this.runtime.cei.emit({ topic, severity, note: `${this.key}: ${note}`, origin: 'tp/mgr', peer: this.peer });
  }

  sendBranch(cell: Cell, options?: SendOptions): SendOutcome {
    this.assertSendable();
    return this.sendFrame(this.encodeBranch(cell), options);
  }

  encodeBranch(cell: Cell): Uint8Array {
    return encodeBranch(cell, this.policy, { beat: this.runtime.beat });
  }

  sendFrame(frame: Uint8Array, options?: SendOptions): SendOutcome {
    this.assertSendable();
    if (frame.length > this.limits.maxFrameBytes) {
      this.emit(TOPIC.sendFailed, 'error', `a ${frame.length}-byte frame is over the ${this.limits.maxFrameBytes}-byte limit`);
      throw transportError('FRAME_TOO_LARGE', `a ${frame.length}-byte frame is over mount ${this.key}'s limit of ${this.limits.maxFrameBytes} bytes`, {
        mount: this.key,
        bytes: frame.length,
      });
    }
    const gauge = options?.gauge === true;
    if (gauge && !this.allowUpd) {
      this.emit(TOPIC.updDenied, 'warn', 'a droppable gauge was refused: this mount opted out of upd_latest');
      this.noteSend(0n, 'denied');
      return 'denied';
    }
    if (gauge && !this.unreliable && !this.updMisWarned) {
      this.updMisWarned = true;
      this.emit(TOPIC.updMismatch, 'warn', `a droppable gauge on reliable provider ${this.provider ?? '?'}: it is delivered, never dropped`);
    }
    const coalesce = gauge && this.unreliable;
    if (this.state === 'opening' || this.bpFlag) {
      if (coalesce) {
        const pending = this.beatQueue.findIndex((q) => q.gauge);
        if (pending >= 0) {
          this.beatQueue[pending] = { frame, gauge };
          this.noteSend(0n, 'replaced');
          return 'replaced';
        }
      }
      if (this.beatQueue.length >= this.limits.maxQueuedFrames) {
        this.emit(TOPIC.sendFailed, 'error', `queue full (${this.limits.maxQueuedFrames} frames) while ${this.bpFlag ? 'backpressured' : 'opening'}`);
        throw transportError('QUEUE_FULL', `mount ${this.key} has ${this.limits.maxQueuedFrames} frames queued; wait for it to open or drain`, {
          mount: this.key,
        });
      }
      this.beatQueue.push({ frame, gauge });
      this.noteSend(1n, 'queued');
      return 'queued';
    }
    this.noteSend(1n, coalesce ? 'upd_latest' : 'direct');
    this.toWire(frame, coalesce);
    return 'sent';
  }

  close(reason: string): void {
    this.onClose(this, reason);
  }

  /** The policy that opens (and makes) frames of a group: this mount's, under the group's key. */
  groupPolicy(key: Uint8Array): SerializerPolicy {
    if (this.policy.aead === undefined) {
      throw transportError(
        'GROUP_UNSEALED',
        `mount ${this.key} does not seal frames with AEAD, so it cannot carry group frames (configure a key for peer ${this.peer})`,
        { mount: this.key },
      );
    }
    return { ...this.policy, aead: { ...this.policy.aead, key } };
  }

  encodeForGroup(cell: Cell, key: Uint8Array): Uint8Array {
    return encodeBranch(cell, this.groupPolicy(key), { beat: this.runtime.beat });
  }

  publish(group: string, frame: Uint8Array): SendOutcome {
    this.assertSendable();
    if (this.groupScope === undefined) {
      throw transportError('GROUP_UNSUPPORTED', `mount ${this.key} cannot publish to groups (its provider has no group publish, or the mount is not sealed)`, {
        mount: this.key,
      });
    }
    if (frame.length > this.limits.maxFrameBytes) {
      throw transportError('FRAME_TOO_LARGE', `a ${frame.length}-byte frame is over mount ${this.key}'s limit of ${this.limits.maxFrameBytes} bytes`, {
        mount: this.key,
        bytes: frame.length,
      });
    }
    this.noteSend(1n, 'multicast');
    // Edge only: a channel gone (or absent in a replay) loses the frame, as multicast may.
    try {
      this.channel?.publish?.(group, frame);
    } catch (error) {
      this.lastWireError = error;
    }
    return 'sent';
  }

  joinGroup(group: string, key: Uint8Array): void {
    this.assertSendable();
    this.groupKeys.set(group, key);
    if (this.groupSubs.has(group)) return;
    const channel = this.channel;
    if (channel?.join === undefined) return; // an offline replay, or a provider without groups: frames come as recorded
    try {
      const subscription = channel.join(group);
      this.groupSubs.set(group, subscription);
      this.pumpGroup?.(this, subscription);
    } catch (error) {
      this.lastWireError = error;
    }
  }

  leaveGroup(group: string): void {
    this.groupKeys.delete(group);
    const subscription = this.groupSubs.get(group);
    this.groupSubs.delete(group);
    subscription?.leave();
  }

  /** Leaves every group (the channel changed or went): a new channel joins again when told. */
  leaveAllGroups(): void {
    for (const group of [...this.groupSubs.keys()]) this.leaveGroup(group);
    this.groupKeys.clear();
  }

  /**
   * Writes this beat's sends into telemetry (`frame_count`, `last_mode`, `last_sample`) in one
   * sample. The manager calls it at commit: sends made inside beats are sampled at the same point
   * of the same beat live and in a replay; a send made between beats is sampled at the next commit.
   */
  flushTelemetry(beat: number): void {
    if (this.unsampledFrames === 0n && this.unsampledMode === undefined) return;
    this.telemetry.sends(this.unsampledFrames, this.unsampledMode, beat);
    this.unsampledFrames = 0n;
    this.unsampledMode = undefined;
  }

  private noteSend(frames: bigint, mode: string): void {
    // Only sends inside a beat: they follow from recorded inputs, so a replay marks the same beats.
    if (this.runtime.phase !== 'idle') this.sentBeat = this.runtime.beat;
    if (this.unsampledFrames === 0n && this.unsampledMode === undefined) this.onSend(this);
    this.unsampledFrames += frames;
    this.unsampledMode = mode;
  }

  reportBackpressure(on: boolean, note?: string): void {
    if (on === this.organHold) return;
    this.organHold = on;
    const beat = this.runtime.beat;
    if (on) {
      this.telemetry.count('bp_count', beat);
      this.telemetry.event('backpressure', beat);
      this.emit(TOPIC.backpressure, 'warn', note ?? 'an organ holds sends back');
    }
    this.telemetry.backpressured(this.bpFlag || this.organHold, beat);
  }

  /** The tree says the mount may send again (opened, or `ready`): the beat queue goes to the wire. */
  flushBeatQueue(): void {
    while (this.beatQueue.length > 0 && this.state === 'open' && !this.bpFlag) {
      const next = this.beatQueue.shift()!;
      this.toWire(next.frame, next.gauge && this.unreliable);
    }
  }

  /**
   * Drops everything queued (close, reconfigure to another provider). Returns how many frames each
   * queue held: `queued` (the beat queue, which the tree decides, so a replay has the same) and
   * `unsent` (the wire queue, which exists at the live edge only and must never reach the tree).
   */
  dropQueues(): { queued: number; unsent: number } {
    const dropped = { queued: this.beatQueue.length, unsent: this.wireQueue.length };
    this.beatQueue.length = 0;
    this.wireQueue.length = 0;
    this.edgeBlocked = false;
    return dropped;
  }

  /**
   * A channel (new, or the peer's promoted one) carries the mount from now on. What waited for the
   * old channel's `ready` goes with the old channel (its provider dropped its own unsent buffer
   * too), and a block the old channel set must not hold the new one. Edge only; touches no cell.
   */
  attach(id: string, channel: ChannelV1 | undefined): void {
    // By channel id (recorded), not by the channel object (absent in a replay): live and replay forget keys alike.
    if (this.channelId !== id) this.leaveAllGroups();
    this.channelId = id;
    this.channel = channel;
    this.edgeBlocked = false;
    this.wireQueue.length = 0;
  }

  /** The channel said `ready`: push what the wire queue holds. Edge only; touches no cell. */
  onWireReady(): void {
    this.edgeBlocked = false;
    while (this.wireQueue.length > 0 && !this.edgeBlocked && this.channel !== undefined) {
      this.edgeBlocked = this.write(this.wireQueue.shift()!.frame) === 'backpressure';
    }
  }

  private toWire(frame: Uint8Array, coalesce: boolean): void {
    if (this.channel === undefined || this.edgeBlocked) {
      // Unreliable gauges keep only the newest on the wire queue too: a newer gauge takes the
      // place of a pending gauge, never of another frame (which must still be delivered).
      const pending = coalesce ? this.wireQueue.findIndex((q) => q.gauge) : -1;
      if (pending >= 0) this.wireQueue[pending] = { frame, gauge: true };
      else this.wireQueue.push({ frame, gauge: coalesce });
      return;
    }
    this.edgeBlocked = this.write(frame) === 'backpressure';
  }

  private write(frame: Uint8Array): 'ready' | 'backpressure' {
    try {
      return this.channel!.send(frame);
    } catch (error) {
      // The channel is gone or refused the frame; its own fatal/closed event tells the tree.
      this.lastWireError = error;
      return 'backpressure';
    }
  }

  /** The last error a channel threw on send (for logs and tests; the tree hears via events). */
  lastWireError: unknown;

  private assertSendable(): void {
    if (this.state === 'closed' || this.state === 'error') {
      throw transportError('MOUNT_CLOSED', `mount ${this.key} is ${this.state}; reconfigure it before sending`, { mount: this.key, state: this.state });
    }
  }
}
