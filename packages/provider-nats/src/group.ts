import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { createFrameQueue, type GroupSubscriptionV1 } from '@cep/provider-spec';
import { natsError } from './errors.ts';
import { token } from './subjects.ts';

/** Where a listener's channels publish group `group`: one subject per group, under the listener's prefix. */
export function groupSubject(prefix: string, group: string): string {
  return `${prefix}.grp.${token(group)}`;
}

/** Checks a group name: 1..64 characters, so the subject stays short. */
export function checkGroup(group: string): void {
  if (typeof group !== 'string' || group.length === 0 || group.length > 64) {
    throw natsError('INVALID_OPTIONS', `group ${JSON.stringify(group)} must be 1 to 64 characters`, { group });
  }
}

/**
 * A subscription to one group subject. Messages are queued until `frames()` pulls them, up to
 * `capBytes`: past it a message is dropped (group delivery is at most once, and a publisher
 * cannot be slowed by one slow member; the layer above repairs the gap).
 */
export class NatsGroupSubscription implements GroupSubscriptionV1 {
  private readonly subscription: Subscription;
  /** The cap is checked here before a push (a full queue drops the newest), so the byte mark is unused. */
  private readonly queue = createFrameQueue({ highWaterMark: Number.MAX_SAFE_INTEGER });
  private ended = false;
  /** Messages dropped because the queue was full (for tests and logs). */
  dropped = 0;

  constructor(
    nc: NatsConnection,
    readonly group: string,
    subject: string,
    private readonly capBytes: number,
    private readonly onLeave: (subscription: NatsGroupSubscription) => void,
  ) {
    // `subscribe` writes SUB into the connection's buffer now, before anything the channel
    // publishes later: the server registers it first (the ordering promise of `join`).
    this.subscription = nc.subscribe(subject, {
      callback: (error, msg) => {
        if (error !== null || this.ended) return;
        const queued = this.queue.bufferedBytes;
        if (queued > 0 && queued + msg.data.length > this.capBytes) {
          this.dropped++;
          return;
        }
        this.queue.push(msg.data);
      },
    });
  }

  frames(): AsyncIterable<Uint8Array> {
    return this.queue.frames();
  }

  leave(): void {
    if (this.ended) return;
    this.ended = true;
    this.subscription.unsubscribe();
    this.onLeave(this);
    this.queue.end();
  }
}
