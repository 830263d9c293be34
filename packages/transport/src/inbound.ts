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
  /** The beat whose capture admitted it. */
  readonly beat: number;
  /** Set when the frame came through a group the mount joined (opened with that group's key), not from the peer's channel. */
  readonly group?: string;
}

/** A handler of one mode's inbound frames; runs at capture, inside the beat's batch. */
export type FrameHandler = (frame: InboundFrame) => void;

export class Inbound {
  private readonly handlers = new Map<string, FrameHandler[]>();
  private readonly waiting = new Map<string, number>();
  /** Bytes pushed per stream and not yet admitted (all of them are admitted at the next capture). */
  private readonly waitingBytes = new Map<string, number>();
  /** Bytes pushed per peer (all its mounts) and not yet admitted. */
  private readonly peerBytes = new Map<string, number>();
  /** Pumps waiting for room, per peer (a credit on one mount may make room for another). */
  private readonly wakers = new Map<string, Array<() => void>>();
  /** Arrival numbers per stream: frames and channel events share one sequence, so admission can follow arrival. */
  private readonly seqs = new Map<string, number>();
  /** Per stream, the arrival number admitted last (frames and events alike). */
  private readonly admittedSeq = new Map<string, number>();
  /** Per stream, channel events waiting for frames that arrived before them (admitted later in the same capture). */
  private readonly held = new Map<string, Array<{ seq: number; run: () => void }>>();
  private released = false;

  constructor(
    private readonly runtime: Runtime,
    private readonly window: number,
    private readonly budget: number,
    private readonly peerCap: number,
    private readonly mountOf: (key: string) => MountImpl | undefined,
    private readonly aeadOptional: (peer: string) => boolean = () => false,
  ) {}

  on(mode: string, handler: FrameHandler): () => void {
    const list = this.handlers.get(mode) ?? [];
    list.push(handler);
    this.handlers.set(mode, list);
    return () => {
      const at = list.indexOf(handler);
      if (at >= 0) list.splice(at, 1);
    };
  }

  /** The next arrival number of `stream`: frames and channel events take theirs from this one sequence. */
  nextSeq(stream: string): number {
    const seq = (this.seqs.get(stream) ?? 0) + 1;
    this.seqs.set(stream, seq);
    return seq;
  }

  /**
   * Admits a channel event in arrival order. The heartbeat admits a capture's inputs by kind, and
   * events sort before frames; so an event that arrived after frames of its stream still waiting
   * in this capture is held, and runs right after the last of them (a close never overtakes the
   * reply it followed). The decision reads only logged arrival numbers, so replay holds the same.
   */
  event(stream: string, seq: number, run: () => void): void {
    const held = this.held.get(stream);
    const last = this.admittedSeq.get(stream);
    if (held === undefined && (last === undefined || seq <= last + 1)) {
      this.admittedSeq.set(stream, Math.max(seq, last ?? 0));
      run();
      return;
    }
    if (held === undefined) this.held.set(stream, [{ seq, run }]);
    else held.push({ seq, run });
  }

  /** Runs the held events whose earlier frames are all admitted (in arrival order). */
  private releaseHeld(stream: string): void {
    const held = this.held.get(stream);
    if (held === undefined) return;
    while (held.length > 0 && held[0]!.seq <= (this.admittedSeq.get(stream) ?? 0) + 1) {
      const next = held.shift()!;
      this.admittedSeq.set(stream, Math.max(next.seq, this.admittedSeq.get(stream) ?? 0));
      next.run();
    }
    if (held.length === 0) this.held.delete(stream);
  }

  /**
   * End of a capture's admissions: whatever is still held (only a log with gaps leaves any) runs
   * now, in arrival order, so no event is ever lost.
   */
  releaseAll(): void {
    for (const [stream, held] of [...this.held]) {
      this.held.delete(stream);
      for (const { seq, run } of held) {
        this.admittedSeq.set(stream, Math.max(seq, this.admittedSeq.get(stream) ?? 0));
        run();
      }
    }
  }

  /**
   * Reads `channel` until it ends, never more than `window` frames ahead of admission. Settles
   * once every frame the channel yielded has been pushed (the channel's end goes in after them).
   */
  pump(stream: string, channel: ChannelV1): Promise<void> {
    return this.pumpFrames(stream, () => channel.frames(), FRAME_INPUT, undefined);
  }

  /** Like {@link pump}, for a group subscription: its frames share the mount's window and arrival sequence. */
  pumpGroup(stream: string, subscription: GroupSubscriptionV1): Promise<void> {
    return this.pumpFrames(stream, () => subscription.frames(), GROUP_FRAME_INPUT, subscription.group);
  }

  private pumpFrames(stream: string, frames: () => AsyncIterable<Uint8Array>, kind: string, group: string | undefined): Promise<void> {
    return (async () => {
      try {
        for await (const frame of frames()) {
          while (!this.released && this.mustWait(stream, frame.length)) {
            await new Promise<void>((wake) => {
              const list = this.wakers.get(peerOf(stream));
              if (list === undefined) this.wakers.set(peerOf(stream), [wake]);
              else list.push(wake);
            });
          }
          if (this.released) return;
          const seq = this.nextSeq(stream);
          this.waiting.set(stream, (this.waiting.get(stream) ?? 0) + 1);
          this.waitingBytes.set(stream, (this.waitingBytes.get(stream) ?? 0) + frame.length);
          this.peerBytes.set(peerOf(stream), (this.peerBytes.get(peerOf(stream)) ?? 0) + frame.length);
          this.runtime.pushInput(kind, { stream, seq, data: group === undefined ? frame : encodeGroupFrame(group, frame) });
        }
      } catch {
        // A broken iteration is reported by the channel's own fatal/closed event.
      }
    })();
  }

  /** Admits one frame (arrival number `seq`) at capture, then the events that arrived right after it. */
  admit(stream: string, seq: number, bytes: Uint8Array, beat: number, group?: string): void {
    try {
      if (group === undefined) this.deliver(stream, bytes, beat);
      else this.deliverGroup(stream, group, bytes, beat);
    } finally {
      this.admittedSeq.set(stream, Math.max(seq, this.admittedSeq.get(stream) ?? 0));
      this.releaseHeld(stream);
    }
  }

  /** Decodes one frame with the mount's policy, then hands it to the mode's handlers. */
  private deliver(stream: string, bytes: Uint8Array, beat: number): void {
    this.credit(stream, bytes.length);
    const mount = this.mountOf(stream);
    if (mount === undefined) return; // the mount was removed; its frames go with it
    mount.admittedBeat = beat;
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
    const handlers = this.handlers.get(mount.mode) ?? [];
    if (handlers.length === 0) {
      mount.emit(TOPIC.schema, 'warn', `no handler for mode ${mount.mode}; frame dropped`);
      return;
    }
    for (const handler of [...handlers]) handler({ mount, branch, bytes, beat });
  }

  /**
   * A group frame: opened with the group's key (AEAD required: a plaintext or forged frame is
   * refused, told as a `frame_refused` event); a group the mount left (or never joined) drops it.
   */
  private deliverGroup(stream: string, group: string, bytes: Uint8Array, beat: number): void {
    this.credit(stream, bytes.length);
    const mount = this.mountOf(stream);
    const key = mount?.groupKeys.get(group);
    if (mount === undefined || key === undefined) return;
    mount.admittedBeat = beat;
    let branch: DecodedBranch;
    try {
      branch = decodeBranch(bytes, mount.groupPolicy(key));
    } catch (error) {
      const code = error instanceof CepError ? error.code : 'DECODE_FAILED';
      mount.telemetry.event('frame_refused', beat);
      mount.emit(TOPIC.schema, 'warn', `group ${group} frame refused (${code}): ${(error as Error).message}`);
      return;
    }
    for (const handler of [...(this.handlers.get(mount.mode) ?? [])]) handler({ mount, branch, bytes, beat, group });
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
    for (const wakers of this.wakers.values()) for (const wake of wakers) wake();
    this.wakers.clear();
  }

  /**
   * Over the frame window, or the frame would take this beat's bytes past the mount's budget or
   * the peer's queued bytes past its cap (a first frame of the mount, or of the peer, always goes).
   */
  private mustWait(stream: string, size: number): boolean {
    if ((this.waiting.get(stream) ?? 0) >= this.window) return true;
    const bytes = this.waitingBytes.get(stream) ?? 0;
    if (bytes > 0 && bytes + size > this.budget) return true;
    const peer = this.peerBytes.get(peerOf(stream)) ?? 0;
    return peer > 0 && peer + size > this.peerCap;
  }

  private credit(stream: string, size: number): void {
    const left = (this.waiting.get(stream) ?? 1) - 1;
    this.waiting.set(stream, Math.max(0, left));
    this.waitingBytes.set(stream, Math.max(0, (this.waitingBytes.get(stream) ?? size) - size));
    const peer = peerOf(stream);
    this.peerBytes.set(peer, Math.max(0, (this.peerBytes.get(peer) ?? size) - size));
    // Woken pumps run after this capture and look again; what they push goes to a later beat.
    const wakers = this.wakers.get(peer);
    if (wakers !== undefined) {
      this.wakers.delete(peer);
      for (const wake of wakers) wake();
    }
  }
}

/** The peer of a mount key (`peer/mode/mount`). */
function peerOf(stream: string): string {
  const slash = stream.indexOf('/');
  return slash < 0 ? stream : stream.slice(0, slash);
}
