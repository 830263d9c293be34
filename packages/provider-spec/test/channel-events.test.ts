/** whenReady and whenClosed against a channel whose events the test emits by hand. */
import { describe, expect, it } from 'vitest';
import { isCepError, providerError, whenClosed, whenReady, type ChannelEventV1, type ChannelV1 } from '@cep/provider-spec';

/** A channel that only has events: `emit` plays the provider, `listeners` shows who still listens. */
function eventChannel() {
  const listeners = new Set<(event: ChannelEventV1) => void>();
  const channel: ChannelV1 = {
    info: { provider: 'test', peer: 'saturn', mode: 'link', mount: 'main', initiator: true, maxFrameBytes: 1024 },
    send: () => 'ready',
    frames: () => ({ [Symbol.asyncIterator]: () => ({ next: async () => ({ done: true, value: undefined }) }) }),
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: async () => {},
  };
  const emit = (event: ChannelEventV1): void => {
    for (const listener of [...listeners]) listener(event);
  };
  return { channel, emit, listeners };
}

/** Settles-or-not probe: whether `promise` has settled once pending callbacks ran. */
async function state(promise: Promise<unknown>): Promise<'pending' | 'resolved' | 'rejected'> {
  let seen: 'pending' | 'resolved' | 'rejected' = 'pending';
  promise.then(
    () => {
      seen = 'resolved';
    },
    () => {
      seen = 'rejected';
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  return seen;
}

describe('whenReady', () => {
  it('resolves at the next ready event, not before, and stops listening', async () => {
    const { channel, emit, listeners } = eventChannel();
    const ready = whenReady(channel);
    emit({ type: 'backpressure', bufferedBytes: 10 });
    emit({ type: 'reconnecting', attempt: 1, delayMs: 5, reason: 'test' });
    expect(await state(ready)).toBe('pending');
    emit({ type: 'ready' });
    await expect(ready).resolves.toBeUndefined();
    expect(listeners.size).toBe(0);
  });

  it('rejects with CHANNEL_CLOSED when the channel closes first', async () => {
    const { channel, emit, listeners } = eventChannel();
    const ready = whenReady(channel);
    emit({ type: 'closed', reason: 'remote said goodbye' });
    const error = await ready.catch((e: unknown) => e);
    expect(isCepError(error) && error.code).toBe('CHANNEL_CLOSED');
    expect(String((error as Error).message)).toContain('remote said goodbye');
    expect(listeners.size).toBe(0);
  });

  it('rejects with the fatal error when the channel fails', async () => {
    const { channel, emit } = eventChannel();
    const ready = whenReady(channel);
    const lost = providerError('CONNECTION_LOST', 'socket reset');
    emit({ type: 'fatal', error: lost });
    emit({ type: 'closed', reason: 'fatal' });
    await expect(ready).rejects.toBe(lost);
  });

  it('rejects with the signal reason on abort and removes both listeners', async () => {
    const { channel, emit, listeners } = eventChannel();
    const controller = new AbortController();
    const ready = whenReady(channel, controller.signal);
    const reason = new Error('caller gave up');
    controller.abort(reason);
    await expect(ready).rejects.toBe(reason);
    expect(listeners.size).toBe(0);
    emit({ type: 'ready' }); // too late: nothing listens, nothing throws
  });

  it('rejects at once for an already-aborted signal without subscribing', async () => {
    const { channel, listeners } = eventChannel();
    await expect(whenReady(channel, AbortSignal.abort())).rejects.toMatchObject({ name: 'AbortError' });
    expect(listeners.size).toBe(0);
  });
});

describe('whenClosed', () => {
  it('resolves with the reason at closed, not at ready or backpressure', async () => {
    const { channel, emit, listeners } = eventChannel();
    const closed = whenClosed(channel);
    emit({ type: 'ready' });
    emit({ type: 'backpressure', bufferedBytes: 1 });
    expect(await state(closed)).toBe('pending');
    emit({ type: 'closed', reason: 'local close' });
    await expect(closed).resolves.toEqual({ reason: 'local close' });
    expect(listeners.size).toBe(0);
  });

  it('carries the error of the fatal event before closed', async () => {
    const { channel, emit } = eventChannel();
    const closed = whenClosed(channel);
    const auth = providerError('AUTH_FAILED', 'wrong key');
    emit({ type: 'fatal', error: auth });
    emit({ type: 'closed', reason: 'fatal' });
    const result = await closed;
    expect(result.reason).toBe('fatal');
    expect(result.error).toBe(auth);
  });
});
