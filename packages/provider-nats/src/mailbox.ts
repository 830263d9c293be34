import type { NatsConnection, Subscription } from '@nats-io/transport-node';

/** A subscription whose messages wait until a channel takes them (the dialler subscribes before the handshake). */
export interface Mailbox {
  readonly subscription: Subscription;
  take(handler: (data: Uint8Array, subject: string) => void): void;
}

export function mailbox(nc: NatsConnection, subject: string): Mailbox {
  let handler: ((data: Uint8Array, subject: string) => void) | undefined;
  const early: { data: Uint8Array; subject: string }[] = [];
  const subscription = nc.subscribe(subject, {
    callback: (error, msg) => {
      if (error !== null) return;
      if (handler !== undefined) handler(msg.data, msg.subject);
      // Bounded: only records the peer sent during the last handshake round trip wait here.
      else if (early.length < 1024) early.push({ data: msg.data, subject: msg.subject });
    },
  });
  return {
    subscription,
    take(h) {
      handler = h;
      for (const m of early.splice(0)) h(m.data, m.subject);
    },
  };
}
