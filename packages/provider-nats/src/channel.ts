import type { NatsConnection } from '@nats-io/transport-node';
import {
  createFrameQueue,
  type ProviderLogger,
  type CepError,
  type ChannelEventV1,
  type ChannelInfoV1,
  type ChannelV1,
  type GroupSubscriptionV1,
  type SendResultV1,
} from '@cep/provider-spec';
import { RECONNECT_WAIT_MS, type ConnectionChange } from './connection.ts';
import { TAG_BYTES, type SessionKeys } from './crypto.ts';
import { natsError } from './errors.ts';
import { NatsGroupSubscription, checkGroup, groupSubject } from './group.ts';
import type { Mailbox } from './mailbox.ts';
import type { ResolvedOptions } from './options.ts';
import {
  ACK,
  ACK_GAP,
  FRAME_COST,
  FRAMES,
  GOODBYE,
  HEADER_BYTES,
  MAX_GOODBYE_BYTES,
  PART,
  PART_END,
  ackBody,
  open,
  packFrames,
  readAck,
  seal,
  unpackFrames,
} from './records.ts';

/** Small frames are coalesced into one record (one tag, one NATS message) up to this size. */
const BATCH_BYTES = 64 * 1024;
/** Resend interval never grows past this, however often records are resent. */
const MAX_RESEND_MS = 2000;

interface OutRecord {
  readonly seq: number;
  readonly message: Buffer;
  /** Window position (cumulative cost) where the record starts and ends. */
  readonly start: number;
  readonly cost: number;
  /** A later piece of a split frame: sent regardless of the window, or the frame could never complete. */
  readonly continuation: boolean;
}

/** Everything a channel needs from its provider. */
export interface ChannelSetup {
  readonly info: ChannelInfoV1;
  readonly options: ResolvedOptions;
  readonly nc: NatsConnection;
  readonly keys: SessionKeys;
  readonly sendSubject: string;
  readonly inbox: Mailbox;
  /** The listener's subject prefix: group subjects live under it. */
  readonly prefix: string;
  /** Largest NATS message the server takes. */
  readonly maxPayload: number;
  readonly onFinished: (channel: NatsChannel) => void;
}

type State = 'open' | 'closing' | 'closed';

/**
 * One authenticated channel over two NATS subjects (one per direction).
 *
 * Outbound, `acked` delivery: frames queued in one tick are packed into records (small
 * frames batched, large ones split to fit the server's max_payload), each sealed with
 * a sequence number and tag and kept until the peer acknowledges it. Records go out
 * while they fit the peer's receive window; unacknowledged ones are resent after
 * `resendMs` without progress (doubling up to 2 s), or at once when the peer reports a
 * gap. `send` answers `backpressure` past `highWaterMark` buffered bytes and `ready`
 * once acknowledgements bring it back under.
 *
 * Inbound: only records with a valid tag count; a data record is taken only if it is
 * the next in sequence (duplicates and replays are dropped), and the receive window
 * moves only as `frames()` is pulled, so a consumer that stops pulling stops the sender.
 *
 * `at_most_once` delivery skips acknowledgement, window and resend: a record is
 * published once and the receiver takes any sequence number above the last.
 */
export class NatsChannel implements ChannelV1 {
  readonly info: ChannelInfoV1;
  private readonly options: ResolvedOptions;
  private readonly acked: boolean;
  private state: State = 'open';
  private readonly listeners = new Set<(event: ChannelEventV1) => void>();
  // outbound
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private packScheduled = false;
  private records: OutRecord[] = [];
  private transmitted = 0;
  private dataSeq = 0;
  private controlSeq = 0;
  private windowPos = 0;
  private peerWindowEnd: number;
  private buffered = 0;
  private backpressured = false;
  private resendAfter: number;
  private gapResent: number | undefined;
  private lastProgress = Date.now();
  private lastSent = Date.now();
  private drained: (() => void) | undefined;
  // inbound
  private expected = 1;
  private lastControl = 0;
  private part: Buffer[] = [];
  private partBytes = 0;
  /**
   * Frames waiting for `frames()`. Never paused by bytes: in `acked` delivery the window the
   * reader reopens as it pulls is what bounds it, so the byte mark is only required by the queue.
   */
  private readonly inbound = createFrameQueue({ highWaterMark: Number.MAX_SAFE_INTEGER });
  private consumed = 0;
  private advertised: number;
  private gapSeen = false;
  private ackScheduled = false;
  private lastHeard = Date.now();
  private readonly timer: NodeJS.Timeout;
  private closing: Promise<void> | undefined;
  private readonly chunkBytes: number;
  private reconnectAttempt = 0;
  private readonly groups = new Set<NatsGroupSubscription>();
  private readonly log: ProviderLogger;

  constructor(private readonly setup: ChannelSetup) {
    this.info = setup.info;
    this.log = setup.options.logger.child({ provider: setup.info.provider, peer: setup.info.peer, mount: setup.info.mount });
    this.options = setup.options;
    this.acked = setup.options.delivery === 'acked';
    this.peerWindowEnd = setup.options.windowBytes;
    this.advertised = setup.options.windowBytes;
    this.resendAfter = setup.options.resendMs;
    this.chunkBytes = Math.max(1024, setup.maxPayload - HEADER_BYTES - TAG_BYTES - 64);
    const tick = Math.max(1, Math.min(this.options.resendMs, this.options.keepaliveMs));
    this.timer = setInterval(() => this.onTick(), tick);
    this.timer.unref();
    setup.inbox.take((data, subject) => this.onMessage(data, subject));
  }

  send(frame: Uint8Array): SendResultV1 {
    if (this.state !== 'open') throw natsError('CHANNEL_CLOSED', `channel ${this.info.mount} to ${this.info.peer} is closed`);
    if (frame.length > this.info.maxFrameBytes) {
      throw natsError('FRAME_TOO_LARGE', `a ${frame.length}-byte frame exceeds maxFrameBytes ${this.info.maxFrameBytes}`, {
        bytes: frame.length,
        max: this.info.maxFrameBytes,
      });
    }
    const cost = frame.length + FRAME_COST;
    if (this.buffered + cost > this.options.hardLimitBytes) {
      throw natsError('CHANNEL_OVERFLOW', `${this.buffered} bytes are buffered for ${this.info.peer}; send waits for a ready event after backpressure`, {
        bufferedBytes: this.buffered,
        hardLimitBytes: this.options.hardLimitBytes,
      });
    }
    this.pending.push(frame);
    this.pendingBytes += frame.length;
    this.buffered += cost;
    if (!this.packScheduled) {
      this.packScheduled = true;
      setImmediate(() => this.pack());
    }
    if (this.buffered > this.options.highWaterMark) {
      if (!this.backpressured) {
        this.backpressured = true;
        this.emit({ type: 'backpressure', bufferedBytes: this.buffered });
      }
      return 'backpressure';
    }
    return 'ready';
  }

  frames(): AsyncIterable<Uint8Array> {
    const frames = this.inbound.frames()[Symbol.asyncIterator]();
    const next = async (): Promise<IteratorResult<Uint8Array>> => {
      const result = await frames.next();
      if (result.done === true) return result;
      this.consumed += result.value.length + FRAME_COST;
      // Reopen the window in steps of a quarter, so a steady reader costs few ACKs.
      if (this.acked && this.state !== 'closed' && this.consumed + this.options.windowBytes - this.advertised >= this.options.windowBytes / 4)
        this.scheduleAck();
      return result;
    };
    const iterator: AsyncIterableIterator<Uint8Array> = {
      next,
      // A reader that leaves is told to the queue, which drops what it buffered.
      return: async () => (await frames.return?.()) ?? { done: true, value: undefined },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /**
   * Publishes one frame on the group's subject under the listener's prefix: one NATS message
   * whoever and however many joined. Unsealed by this provider (see the interface); at most once.
   */
  publish(group: string, frame: Uint8Array): SendResultV1 {
    if (this.state !== 'open') throw natsError('CHANNEL_CLOSED', `channel ${this.info.mount} to ${this.info.peer} is closed`);
    if (this.info.initiator) throw natsError('INVALID_OPTIONS', 'a dialled channel cannot publish to a group; groups belong to the listening side');
    checkGroup(group);
    const max = Math.min(this.info.maxFrameBytes, this.setup.maxPayload);
    if (frame.length > max)
      throw natsError('FRAME_TOO_LARGE', `a ${frame.length}-byte group frame exceeds ${max} bytes (one NATS message)`, { bytes: frame.length, max });
    try {
      this.setup.nc.publish(groupSubject(this.setup.prefix, group), frame);
    } catch (error) {
      throw natsError('CONNECTION_LOST', `NATS refused a group publish: ${(error as Error).message}`);
    }
    return 'ready';
  }

  /** Subscribes to what the listening side publishes to `group`; ends with the channel. */
  join(group: string): GroupSubscriptionV1 {
    if (this.state !== 'open') throw natsError('CHANNEL_CLOSED', `channel ${this.info.mount} to ${this.info.peer} is closed`);
    checkGroup(group);
    const subscription = new NatsGroupSubscription(this.setup.nc, group, groupSubject(this.setup.prefix, group), this.options.windowBytes, (sub) =>
      this.groups.delete(sub),
    );
    this.groups.add(subscription);
    return subscription;
  }

  onEvent(listener: (event: ChannelEventV1) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(reason: string): Promise<void> {
    this.closing ??= this.closeNow(reason);
    return this.closing;
  }

  /** Ends the channel because its provider or listener is going away. */
  private async closeNow(reason: string): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closing';
    this.pack();
    if (this.acked && this.records.length > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.options.closeTimeoutMs);
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    // The peer may have said goodbye (or failed) while we waited.
    if ((this.state as State) === 'closed') return;
    this.sendControl(GOODBYE, Buffer.from(reason, 'utf8').subarray(0, MAX_GOODBYE_BYTES));
    await this.setup.nc.flush().catch(() => undefined);
    this.finish(reason);
  }

  /**
   * The NATS client lost its server (it retries on its own) or found one again. The
   * channel lives on across it: it says `reconnecting`, and once connected resends what
   * is unacknowledged at once, since whatever was in flight may have been lost.
   */
  connectionChanged(change: ConnectionChange): void {
    if (this.state === 'closed') return;
    if (change.type === 'disconnect') {
      this.reconnectAttempt++;
      this.log.info({ attempt: this.reconnectAttempt, server: change.server }, 'reconnecting');
      this.emit({ type: 'reconnecting', attempt: this.reconnectAttempt, delayMs: RECONNECT_WAIT_MS, reason: `lost NATS server ${change.server}` });
      return;
    }
    this.reconnectAttempt = 0;
    this.lastHeard = Date.now();
    if (this.acked && this.transmitted > 0) {
      this.transmitted = 0;
      this.pump();
    }
  }

  // ---- outbound ----

  private pack(): void {
    this.packScheduled = false;
    if (this.pending.length === 0) return;
    const frames = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    let batch: Uint8Array[] = [];
    let batchBytes = 0;
    const flushBatch = (): void => {
      if (batch.length === 0) return;
      this.queueRecord(FRAMES, packFrames(batch, batchBytes), batchBytes + batch.length * FRAME_COST);
      batch = [];
      batchBytes = 0;
    };
    const batchLimit = Math.min(BATCH_BYTES, this.chunkBytes);
    for (const frame of frames) {
      if (frame.length + 4 > this.chunkBytes) {
        flushBatch();
        for (let at = 0; at < frame.length; at += this.chunkBytes) {
          const last = at + this.chunkBytes >= frame.length;
          const piece = frame.subarray(at, Math.min(frame.length, at + this.chunkBytes));
          this.queueRecord(last ? PART_END : PART, piece, piece.length + (last ? FRAME_COST : 0), at > 0);
        }
        continue;
      }
      if (batchBytes + 4 * (batch.length + 1) + frame.length > batchLimit) flushBatch();
      batch.push(frame);
      batchBytes += frame.length;
    }
    flushBatch();
    this.pump();
  }

  private queueRecord(type: number, body: Uint8Array, cost: number, continuation = false): void {
    const seq = ++this.dataSeq;
    const message = seal(this.setup.keys.send, type, seq, body);
    if (!this.acked) {
      this.transmit(message);
      this.buffered -= cost;
      return;
    }
    this.records.push({ seq, message, start: this.windowPos, cost, continuation });
    this.windowPos += cost;
  }

  /** Sends the records that fit the peer's window. */
  private pump(): void {
    if (!this.acked) {
      this.maybeReady();
      return;
    }
    while (this.transmitted < this.records.length) {
      const record = this.records[this.transmitted]!;
      // A record may start anywhere inside the window and a split frame is always sent
      // whole, so the peer holds at most a window plus one frame it has not consumed.
      if (record.start >= this.peerWindowEnd && !record.continuation) break;
      this.transmit(record.message);
      this.transmitted++;
    }
  }

  private transmit(message: Uint8Array): void {
    try {
      if (this.options.dropPublish?.(message) !== true) this.setup.nc.publish(this.setup.sendSubject, message);
      this.lastSent = Date.now();
    } catch (error) {
      this.fail(natsError('CONNECTION_LOST', `NATS refused a publish: ${(error as Error).message}`));
    }
  }

  private sendControl(type: number, body: Uint8Array): void {
    this.transmit(seal(this.setup.keys.send, type, ++this.controlSeq, body));
  }

  private onAck(received: number, windowEnd: number, flags: number): void {
    let progressed = false;
    while (this.records.length > 0 && this.records[0]!.seq <= received) {
      const record = this.records.shift()!;
      this.buffered -= record.cost;
      if (this.transmitted > 0) this.transmitted--;
      progressed = true;
    }
    if (windowEnd > this.peerWindowEnd) {
      this.peerWindowEnd = windowEnd;
      progressed = true;
    }
    if (progressed) {
      this.lastProgress = Date.now();
      this.resendAfter = this.options.resendMs;
    }
    // The peer saw a record past a gap: resend from the first unacknowledged record now,
    // once per gap (every record behind the gap reports it again).
    const first = this.records[0]?.seq;
    if ((flags & ACK_GAP) !== 0 && this.transmitted > 0 && first !== this.gapResent) {
      this.gapResent = first;
      this.transmitted = 0;
    }
    this.pump();
    this.maybeReady();
    if (this.records.length === 0 && this.drained !== undefined) {
      const done = this.drained;
      this.drained = undefined;
      done();
    }
  }

  private maybeReady(): void {
    if (this.backpressured && this.buffered <= this.options.highWaterMark && this.state === 'open') {
      this.backpressured = false;
      this.emit({ type: 'ready' });
    }
  }

  private onTick(): void {
    if (this.state === 'closed') return;
    const now = Date.now();
    if (now - this.lastHeard > this.options.peerTimeoutMs) {
      this.fail(natsError('CONNECTION_LOST', `nothing heard from ${this.info.peer} for ${this.options.peerTimeoutMs} ms`, { peer: this.info.peer }));
      return;
    }
    if (this.acked && this.transmitted > 0 && now - this.lastProgress >= this.resendAfter) {
      this.transmitted = 0;
      this.lastProgress = now;
      this.resendAfter = Math.min(MAX_RESEND_MS, this.resendAfter * 2);
      this.pump();
    }
    if (now - this.lastSent >= this.options.keepaliveMs) this.sendAck();
  }

  // ---- inbound ----

  private onMessage(data: Uint8Array, subject: string): void {
    if (this.state === 'closed') return;
    const record = open(this.setup.keys.recv, data);
    if (!record.ok) {
      this.options.onReject({ code: 'AUTH_FAILED', message: `refused a message on ${subject}: ${record.why}`, claimedPeer: this.info.peer, subject });
      return;
    }
    this.lastHeard = Date.now();
    if (record.type === ACK || record.type === GOODBYE) {
      if (record.seq <= this.lastControl) {
        this.options.onReject({
          code: 'REPLAYED_FRAME',
          message: `refused a replayed control record ${record.seq} on ${subject}`,
          claimedPeer: this.info.peer,
          subject,
        });
        return;
      }
      this.lastControl = record.seq;
      if (record.type === GOODBYE) {
        this.finish(`closed by ${this.info.peer}: ${record.body.toString('utf8')}`);
        return;
      }
      const ack = readAck(record.body);
      if (ack === undefined) this.fail(natsError('PROTOCOL_ERROR', `peer ${this.info.peer} sent a malformed acknowledgement`));
      else if (this.acked) this.onAck(ack.received, ack.windowEnd, ack.flags);
      return;
    }
    if (this.acked ? record.seq !== this.expected : record.seq < this.expected) {
      // A resend of something already taken, a replay, or a record past a lost one.
      if (record.seq > this.expected) this.gapSeen = true;
      if (this.acked) this.scheduleAck();
      return;
    }
    if (!this.acked && record.seq > this.expected) {
      // Records were lost: a frame split across them cannot be completed.
      this.part = [];
      this.partBytes = 0;
    }
    this.expected = record.seq + 1;
    if (!this.take(record.type, record.body)) return;
    if (this.acked) this.scheduleAck();
  }

  /** Queues the frames of one data record; false if it broke the protocol (the channel failed). */
  private take(type: number, body: Buffer): boolean {
    if (type === FRAMES) {
      const frames = unpackFrames(body);
      if (frames === undefined || frames.some((f) => f.length > this.info.maxFrameBytes)) {
        this.fail(natsError('PROTOCOL_ERROR', `peer ${this.info.peer} sent a malformed batch`));
        return false;
      }
      for (const frame of frames) this.inbound.push(frame);
    } else {
      this.partBytes += body.length;
      if (this.partBytes > this.info.maxFrameBytes) {
        this.fail(natsError('FRAME_TOO_LARGE', `peer ${this.info.peer} sent a frame over maxFrameBytes ${this.info.maxFrameBytes}`));
        return false;
      }
      this.part.push(body);
      if (type === PART_END) {
        this.inbound.push(this.part.length === 1 ? this.part[0]! : Buffer.concat(this.part, this.partBytes));
        this.part = [];
        this.partBytes = 0;
      }
    }
    return true;
  }

  private scheduleAck(): void {
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => {
      this.ackScheduled = false;
      if (this.state !== 'closed') this.sendAck();
    });
  }

  /** Cumulative acknowledgement plus the window; also the keepalive of an idle channel. */
  private sendAck(): void {
    this.advertised = this.consumed + this.options.windowBytes;
    const flags = this.gapSeen ? ACK_GAP : 0;
    this.gapSeen = false;
    this.sendControl(ACK, ackBody(this.acked ? this.expected - 1 : 0, this.acked ? this.advertised : 0, flags));
  }

  // ---- lifecycle ----

  private fail(error: CepError): void {
    if (this.state === 'closed') return;
    this.log.warn({ code: error.code, reason: error.message }, 'channel failed');
    this.emit({ type: 'fatal', error });
    this.finish(error.message);
  }

  private finish(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.log.debug({ reason }, 'channel closed');
    clearInterval(this.timer);
    this.setup.inbox.subscription.unsubscribe();
    for (const group of [...this.groups]) group.leave();
    this.records = [];
    this.pending = [];
    const done = this.drained;
    this.drained = undefined;
    done?.();
    this.emit({ type: 'closed', reason });
    this.listeners.clear();
    // The reader gets the frames already taken in, then its loop ends.
    this.inbound.end();
    this.setup.onFinished(this);
  }

  private emit(event: ChannelEventV1): void {
    for (const listener of [...this.listeners]) listener(event);
  }
}
