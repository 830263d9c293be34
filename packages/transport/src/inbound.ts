/**
 * Inbound frames: pumped from each channel into runtime inputs with a per-mount window (so a
 * runtime that falls behind makes the provider stop reading its socket), then decoded with the
 * mount's policy and handed to the handlers of the mount's mode at capture.
 */
import type { Runtime } from '@cep/heartbeat';
import { decodeBranch, type DecodedBranch } from '@cep/serializer';
import { CepError } from '@cep/errors';
import type { ChannelV1, GroupSubscriptionV1 } from './provider/v1.ts';
import type { Mount, MountImpl } from './mount.ts';
import { FRAME_INPUT, GROUP_FRAME_INPUT, encodeGroupFrame } from './events.ts';
import { TOPIC } from './topics.ts';

/** A decoded inbound frame, as a mode's handler gets it. */
export interface InboundFrame {
  /** The mount it arrived on (reply with `mount.sendBranch`). */
  readonly mount: Mount;
  /** The verified, staged branch (nothing applied anywhere yet). */
  readonly branch: DecodedBranch;
  /** The frame's bytes as received. */
  readonly bytes: Uint8Array;
  /** The beat whose capture admitted it, or whose commit handed it over when it was deferred (see `inboundBusyBytes`). */
  readonly beat: number;
  /** Set when the frame came through a group the mount joined (opened with that group's key), not from the peer's channel. */
  readonly group?: string;
}

/** A handler of one mode's inbound frames; runs at capture (or, for a deferred frame, in a commit hook), inside the beat's batch. */
export type FrameHandler = (frame: InboundFrame) => void;

export class Inbound {
  private readonly handlers = new Map<string, FrameHandler[]>();
  /** Some stream held an event since the last {@link releaseAll} (so it has something to look at). */
  private anyHeld = false;
  /**
   * Per-stream and per-peer counters, one record each, so a frame costs one lookup of its stream
   * at push and at admission, not one Map read and write per counter (these run for every frame).
   */
  private readonly streams = new Map<string, StreamState>();
  private readonly peers = new Map<string, PeerState>();
  private released = false;

  constructor(
    private readonly runtime: Runtime,
    private readonly window: number,
    private readonly budget: number,
    private readonly peerCap: number,
    private readonly busyBytes: number,
    private readonly mountOf: (key: string) => MountImpl | undefined,
    private readonly aeadOptional: (peer: string) => boolean = () => false,
  ) {}

  /**
   * Adds a handler of `mode`. The lists are replaced, never changed in place, so a delivery walks
   * the list it started with (a handler added or removed by a handler counts from the next frame)
   * without copying it for every frame.
   */
  on(mode: string, handler: FrameHandler): () => void {
    this.handlers.set(mode, [...(this.handlers.get(mode) ?? []), handler]);
    return () => {
      const list = this.handlers.get(mode);
      const at = list === undefined ? -1 : list.indexOf(handler);
      if (at >= 0) this.handlers.set(mode, [...list!.slice(0, at), ...list!.slice(at + 1)]);
    };
  }

  /** The next arrival number of `stream`: frames and channel events take theirs from this one sequence. */
  nextSeq(stream: string): number {
    return ++this.stateOf(stream).seq;
  }

  /** The counters of `stream`, made at its first use (a replay admits frames no pump pushed). */
  private stateOf(stream: string): StreamState {
    let state = this.streams.get(stream);
    if (state === undefined) {
      const peer = peerOf(stream);
      let peerState = this.peers.get(peer);
      if (peerState === undefined) {
        peerState = { bytes: 0, wakers: [] };
        this.peers.set(peer, peerState);
      }
      state = {
        peer: peerState,
        seq: 0,
        admittedSeq: undefined,
        waiting: 0,
        waitingBytes: 0,
        held: undefined,
        deferred: undefined,
        heldBeat: -1,
        capturedBeat: -1,
        capturedBytes: 0,
        decidedBeat: -1,
        deliverNow: false,
      };
      this.streams.set(stream, state);
    }
    return state;
  }

  /**
   * Admits a channel event in arrival order. The heartbeat admits a capture's inputs by kind, and
   * events sort before frames; so an event that arrived after frames of its stream still waiting
   * in this capture is held, and runs right after the last of them (a close never overtakes the
   * reply it followed), or after them at a later commit when they were deferred. The decision
   * reads only logged arrival numbers, so replay holds the same.
   */
  event(stream: string, seq: number, beat: number, run: (beat: number) => void): void {
    const state = this.stateOf(stream);
    const last = state.admittedSeq;
    if (state.held === undefined && (last === undefined || seq <= last + 1)) {
      state.admittedSeq = Math.max(seq, last ?? 0);
      this.runOrDefer(stream, state, seq, run, beat);
      return;
    }
    if (state.held === undefined) {
      state.held = [{ seq, run }];
      this.anyHeld = true;
    } else state.held.push({ seq, run });
  }

  /** Runs the held events whose earlier frames are all admitted (in arrival order). */
  private releaseHeld(stream: string, state: StreamState, beat: number): void {
    const held = state.held;
    if (held === undefined) return;
    while (held.length > 0 && held[0]!.seq <= (state.admittedSeq ?? 0) + 1) {
      const next = held.shift()!;
      state.admittedSeq = Math.max(next.seq, state.admittedSeq ?? 0);
      this.runOrDefer(stream, state, next.seq, next.run, beat);
    }
    if (held.length === 0 && state.held === held) state.held = undefined;
  }

  /** Runs an event now, or after its stream's deferred frames when it has any (arrival order). */
  private runOrDefer(stream: string, state: StreamState, seq: number, run: (beat: number) => void, beat: number): void {
    if (state.deferred === undefined) run(beat);
    else this.defer(stream, state, { seq, run });
  }

  /**
   * End of a capture's admissions: whatever is still held (only a log with gaps leaves any) runs
   * now, in arrival order, so no event is ever lost.
   */
  releaseAll(beat: number): void {
    // Every commit calls this; only a capture that held an event has anything to release.
    if (!this.anyHeld) return;
    this.anyHeld = false;
    for (const [stream, state] of [...this.streams]) {
      const held = state.held;
      if (held === undefined) continue;
      state.held = undefined;
      for (const { seq, run } of held) {
        state.admittedSeq = Math.max(seq, state.admittedSeq ?? 0);
        this.runOrDefer(stream, state, seq, run, beat);
      }
    }
  }

  /**
   * Reads `channel` until it ends, never more than `window` frames ahead of admission. Settles
   * once every frame the channel yielded has been pushed (the channel's end goes in after them).
   */
  pump(stream: string, channel: ChannelV1): Promise<void> {
    return this.pumpFrames(stream, () => channel.frames(), FRAME_INPUT, undefined, channel.info.ownedFrames === true);
  }

  /** Like {@link pump}, for a group subscription: its frames share the mount's window and arrival sequence. */
  pumpGroup(stream: string, subscription: GroupSubscriptionV1): Promise<void> {
    return this.pumpFrames(stream, () => subscription.frames(), GROUP_FRAME_INPUT, subscription.group, false);
  }

  /**
   * `owned`: the provider never writes a yielded frame again (`ChannelInfoV1.ownedFrames`), so the
   * inbound log keeps it as it is; otherwise the heartbeat copies it. A group frame is always
   * packed into a buffer of its own here, which the log keeps.
   */
  private pumpFrames(stream: string, frames: () => AsyncIterable<Uint8Array>, kind: string, group: string | undefined, owned: boolean): Promise<void> {
    const options = { owned: owned || group !== undefined };
    return (async () => {
      try {
        for await (const frame of frames()) {
          // Looked up per frame, not once per pump: a removed mount's counters may be made anew.
          const state = this.stateOf(stream);
          while (!this.released && this.mustWait(state, frame.length)) {
            await new Promise<void>((wake) => {
              state.peer.wakers.push(wake);
            });
          }
          if (this.released) return;
          const seq = ++state.seq;
          state.waiting++;
          state.waitingBytes += frame.length;
          state.peer.bytes += frame.length;
          this.runtime.pushInput(kind, { stream, seq, data: group === undefined ? frame : encodeGroupFrame(group, frame) }, options);
        }
      } catch {
        // A broken iteration is reported by the channel's own fatal/closed event.
      }
    })();
  }

  /**
   * Admits one frame (arrival number `seq`) at capture, then the events that arrived right after
   * it; or defers it (see {@link mustDefer}) with everything of its stream that follows.
   */
  admit(stream: string, seq: number, bytes: Uint8Array, beat: number, group?: string): void {
    const state = this.stateOf(stream);
    if (state.deferred !== undefined || this.mustDefer(stream, state, bytes.length, beat)) {
      this.defer(stream, state, { seq, bytes, group });
      state.admittedSeq = Math.max(seq, state.admittedSeq ?? 0);
      this.releaseHeld(stream, state, beat);
      return;
    }
    try {
      state.capturedBytes += bytes.length;
      this.credit(state, bytes.length);
      if (group === undefined) this.deliver(stream, bytes, beat, true);
      else this.deliverGroup(stream, group, bytes, beat, true);
    } finally {
      state.admittedSeq = Math.max(seq, state.admittedSeq ?? 0);
      this.releaseHeld(stream, state, beat);
    }
  }

  /**
   * A frame is deferred when its mount has sibling mounts (same peer) and it would take the
   * bytes this mount handed to its handlers at this capture past `busyBytes`: a bulk mount's
   * frames (a mirror's parts) wait for the end of the beat, and for a beat in which the other
   * mounts neither admitted nor sent a frame, so a call's request, reply or outcome on a sibling
   * leaves at the end of a short beat instead of behind their decode. Counted in bytes from
   * logged frames and recorded mounts only, so a replay defers the same frames.
   */
  private mustDefer(stream: string, state: StreamState, size: number, beat: number): boolean {
    if (state.capturedBeat !== beat) {
      state.capturedBeat = beat;
      state.capturedBytes = 0;
    }
    if (state.capturedBytes + size <= this.busyBytes) return false;
    const mount = this.mountOf(stream);
    if (mount === undefined) return false;
    for (const other of mount.siblings()) if (other !== mount) return true;
    return false;
  }

  /**
   * Queues an entry behind its stream's deferred ones, with a commit hook of its own: hooks run in
   * the order they were added, after those of the organs (so this beat's sends are known), and
   * each one's writes are undone alone when its handler throws, as an input's are at capture.
   */
  private defer(stream: string, state: StreamState, entry: Deferred): void {
    (state.deferred ??= []).push(entry);
    const remove = this.runtime.onCommit((at) => {
      if (state.deferred === undefined) return remove(); // released (manager closed)
      if (!this.mayDeliver(stream, state, at)) return;
      remove();
      const next = state.deferred.shift()!;
      if (state.deferred.length === 0) state.deferred = undefined;
      if ('run' in next) return next.run(at);
      this.credit(state, next.bytes.length);
      if (next.group === undefined) this.deliver(stream, next.bytes, at, false);
      else this.deliverGroup(stream, next.group, next.bytes, at, false);
    });
  }

  /**
   * Whether `stream`'s deferred entries go in this commit: decided once per beat (the first of its
   * hooks), true when no sibling mount admitted or sent a frame in the beat, or the stream held
   * them through the beat before already. So a stream is never held through two busy beats in a
   * row: a call's two busy beats (its request, its reply) go by without a decode, and steady calls
   * on another mount slow a bulk mount by half at most, never stop it. Reads beats of admitted
   * frames and of sends made inside beats, both results of recorded inputs.
   */
  private mayDeliver(stream: string, state: StreamState, beat: number): boolean {
    if (state.decidedBeat === beat) return state.deliverNow;
    state.decidedBeat = beat;
    state.deliverNow = state.heldBeat === beat - 1 || !this.siblingBusy(stream, beat);
    if (!state.deliverNow) state.heldBeat = beat;
    return state.deliverNow;
  }

  private siblingBusy(stream: string, beat: number): boolean {
    const mount = this.mountOf(stream);
    if (mount === undefined) return false;
    for (const other of mount.siblings()) if (other !== mount && (other.admittedBeat === beat || other.sentBeat === beat)) return true;
    return false;
  }

  /** Decodes one frame with the mount's policy, then hands it to the mode's handlers. */
  private deliver(stream: string, bytes: Uint8Array, beat: number, atCapture: boolean): void {
    const mount = this.mountOf(stream);
    if (mount === undefined) return; // the mount was removed; its frames go with it
    if (atCapture) mount.admittedBeat = beat;
    let branch: DecodedBranch;
    try {
      try {
        branch = decodeBranch(bytes, mount.policy);
      } catch (error) {
        const plaintext = error instanceof CepError && error.code === 'AEAD_REQUIRED';
        if (!(plaintext && mount.adoptPlaintext(this.aeadOptional(mount.peer)))) {
          if (plaintext) this.refusePlaintext(mount, beat);
          throw error;
        }
        branch = decodeBranch(bytes, mount.policy);
      }
    } catch (error) {
      const code = error instanceof CepError ? error.code : 'DECODE_FAILED';
      mount.telemetry.event('frame_refused', beat);
      mount.emit(TOPIC.schema, 'warn', `inbound frame refused (${code}): ${(error as Error).message}`);
      return;
    }
    const handlers = this.handlers.get(mount.mode);
    if (handlers === undefined || handlers.length === 0) {
      mount.emit(TOPIC.schema, 'warn', `no handler for mode ${mount.mode}; frame dropped`);
      return;
    }
    const frame: InboundFrame = { mount, branch, bytes, beat };
    for (const handler of handlers) handler(frame);
  }

  /**
   * A group frame: opened with the group's key (AEAD required: a plaintext or forged frame is
   * refused, told as a `frame_refused` event); a group the mount left (or never joined) drops it.
   */
  private deliverGroup(stream: string, group: string, bytes: Uint8Array, beat: number, atCapture: boolean): void {
    const mount = this.mountOf(stream);
    const key = mount?.groupKeys.get(group);
    if (mount === undefined || key === undefined) return;
    if (atCapture) mount.admittedBeat = beat;
    let branch: DecodedBranch;
    try {
      branch = decodeBranch(bytes, mount.groupPolicy(key));
    } catch (error) {
      const code = error instanceof CepError ? error.code : 'DECODE_FAILED';
      mount.telemetry.event('frame_refused', beat);
      mount.emit(TOPIC.schema, 'warn', `group ${group} frame refused (${code}): ${(error as Error).message}`);
      return;
    }
    const handlers = this.handlers.get(mount.mode);
    if (handlers === undefined) return;
    const frame: InboundFrame = { mount, branch, bytes, beat, group };
    for (const handler of handlers) handler(frame);
  }

  /** A plaintext frame on a mount that requires AEAD: counted every time, told once per mount (`tp_aead_req`). */
  private refusePlaintext(mount: MountImpl, beat: number): void {
    mount.telemetry.count('plain_refused', beat);
    if (mount.plainRefusalTold) return;
    mount.plainRefusalTold = true;
    mount.emit(TOPIC.aeadRequired, 'error', `a plaintext frame was refused: this mount requires AEAD (peer ${mount.peer} is not aead: optional)`);
  }

  /** Lets every pump finish (manager closed). */
  release(): void {
    this.released = true;
    // Deferred entries go with the manager (their hooks find nothing and remove themselves).
    for (const state of this.streams.values()) state.deferred = undefined;
    for (const peer of this.peers.values()) {
      const wakers = peer.wakers;
      peer.wakers = [];
      for (const wake of wakers) wake();
    }
  }

  /**
   * Over the frame window, or the frame would take this beat's bytes past the mount's budget or
   * the peer's queued bytes past its cap (a first frame of the mount, or of the peer, always goes).
   */
  private mustWait(state: StreamState, size: number): boolean {
    if (state.waiting >= this.window) return true;
    const bytes = state.waitingBytes;
    if (bytes > 0 && bytes + size > this.budget) return true;
    const peer = state.peer.bytes;
    return peer > 0 && peer + size > this.peerCap;
  }

  private credit(state: StreamState, size: number): void {
    state.waiting = Math.max(0, state.waiting - 1);
    state.waitingBytes = Math.max(0, state.waitingBytes - size);
    const peer = state.peer;
    peer.bytes = Math.max(0, peer.bytes - size);
    // Woken pumps run after this capture and look again; what they push goes to a later beat.
    if (peer.wakers.length > 0) {
      const wakers = peer.wakers;
      peer.wakers = [];
      for (const wake of wakers) wake();
    }
  }
}

/** What one peer has waiting for admission, over all its mounts. */
interface PeerState {
  /** Bytes pushed and not yet admitted. */
  bytes: number;
  /** Pumps waiting for room (a credit on one mount may make room for another). */
  wakers: Array<() => void>;
}

/** One stream's (mount's) counters. */
interface StreamState {
  readonly peer: PeerState;
  /** The last arrival number handed out: frames and channel events share one sequence, so admission can follow arrival. */
  seq: number;
  /** The arrival number admitted last (frames and events alike); undefined before the first. */
  admittedSeq: number | undefined;
  /** Frames pushed and not yet admitted. */
  waiting: number;
  /** Bytes pushed and not yet admitted (all of them are admitted at the next capture). */
  waitingBytes: number;
  /** Channel events waiting for frames that arrived before them (admitted later in the same capture). */
  held: Array<{ seq: number; run: (beat: number) => void }> | undefined;
  /** Frames (and the events after them) admitted at a capture and handed over at a later commit, in arrival order. */
  deferred: Deferred[] | undefined;
  /** The last beat in which this stream held its deferred entries (-1: none). */
  heldBeat: number;
  /** Bytes handed to handlers at the capture of `capturedBeat`. */
  capturedBeat: number;
  capturedBytes: number;
  /** The beat whose commit decided `deliverNow` (see `mayDeliver`). */
  decidedBeat: number;
  deliverNow: boolean;
}

/** A deferred frame (`group`: it came through that group), or a channel event that arrived after one. */
type Deferred =
  | { readonly seq: number; readonly bytes: Uint8Array; readonly group: string | undefined }
  | { readonly seq: number; readonly run: (beat: number) => void };

/** The peer of a mount key (`peer/mode/mount`). */
function peerOf(stream: string): string {
  const slash = stream.indexOf('/');
  return slash < 0 ? stream : stream.slice(0, slash);
}
