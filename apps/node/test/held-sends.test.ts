import { describe, expect, it } from 'vitest';
import type { ChannelEventV1, ChannelV1, ProviderV1, SendResultV1 } from '@cep/transport/provider';
import { createSendGate, HELD_BYTES_HIGH_WATER } from '../src/wiring/held-sends.ts';

/** A channel that records what reaches it and answers `backpressure` while `blocked`. */
function fakeChannel() {
  const sent: number[] = [];
  const listeners = new Set<(event: ChannelEventV1) => void>();
  let closed = false;
  const channel = {
    blocked: false,
    info: { provider: 'fake', peer: 'saturn', mode: 'link', mount: 'main', initiator: true, maxFrameBytes: 64 * 1024 * 1024 },
    send(frame: Uint8Array): SendResultV1 {
      if (closed) throw Object.assign(new Error('closed'), { code: 'CHANNEL_CLOSED' });
      sent.push(frame[0]!);
      return channel.blocked ? 'backpressure' : 'ready';
    },
    frames: () => ({ [Symbol.asyncIterator]: () => ({ next: async () => ({ done: true as const, value: undefined }) }) }),
    onEvent(listener: (event: ChannelEventV1) => void) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    async close() {
      closed = true;
    },
    emit(event: ChannelEventV1) {
      for (const l of listeners) l(event);
    },
  };
  return { channel, sent };
}

function gateOver(channel: ChannelV1) {
  const clock = { beat: 5, durable: 4 as number | undefined };
  const gate = createSendGate({ beatOfSend: () => clock.beat, durableBeat: () => clock.durable });
  const provider: ProviderV1 = {
    specificationVersion: 'cep-provider-v1',
    id: 'fake',
    caps: ['reliable'],
    open: async () => channel,
    close: async () => undefined,
  };
  return { clock, gate, provider: gate.wrap(provider) };
}

const frame = (tag: number, bytes = 1): Uint8Array => {
  const out = new Uint8Array(bytes);
  out[0] = tag;
  return out;
};

describe('held sends: a frame leaves only once its beat is durable', () => {
  it('holds frames of beat N until N is durable, then sends them in order', async () => {
    const { channel, sent } = fakeChannel();
    const { clock, gate, provider } = gateOver(channel);
    const wrapped = await provider.open({ peer: 'saturn', mode: 'link', mount: 'main', localNode: 'earth', address: 'x' });
    expect(wrapped.send(frame(1))).toBe('ready');
    expect(wrapped.send(frame(2))).toBe('ready');
    clock.beat = 6;
    expect(wrapped.send(frame(3))).toBe('ready');
    gate.release();
    expect(sent).toEqual([]);
    expect(gate.heldFrames).toBe(3);
    clock.durable = 5;
    gate.release();
    expect(sent).toEqual([1, 2]);
    clock.durable = 6;
    gate.release();
    expect(sent).toEqual([1, 2, 3]);
    expect(gate.heldFrames).toBe(0);
  });

  it('passes the inner backpressure on and says ready once the held frames have drained', async () => {
    const { channel, sent } = fakeChannel();
    const { clock, gate, provider } = gateOver(channel);
    const wrapped = await provider.open({ peer: 'saturn', mode: 'link', mount: 'main', localNode: 'earth', address: 'x' });
    const events: string[] = [];
    wrapped.onEvent((e) => events.push(e.type));
    channel.blocked = true;
    wrapped.send(frame(1));
    wrapped.send(frame(2));
    clock.durable = 5;
    gate.release();
    // The inner channel took frame 1 and said backpressure: frame 2 waits, new sends hear it.
    expect(sent).toEqual([1]);
    expect(wrapped.send(frame(3))).toBe('backpressure');
    channel.blocked = false;
    channel.emit({ type: 'ready' });
    expect(sent).toEqual([1, 2, 3]);
    expect(events).toEqual(['ready']);
  });

  it('answers backpressure past the high-water mark of held bytes', async () => {
    const { channel } = fakeChannel();
    const { clock, gate, provider } = gateOver(channel);
    const wrapped = await provider.open({ peer: 'saturn', mode: 'link', mount: 'main', localNode: 'earth', address: 'x' });
    const events: string[] = [];
    wrapped.onEvent((e) => events.push(e.type));
    expect(wrapped.send(frame(1, HELD_BYTES_HIGH_WATER))).toBe('ready');
    expect(wrapped.send(frame(2, 16))).toBe('backpressure');
    clock.durable = 5;
    gate.release();
    expect(events).toEqual(['ready']);
  });

  it('close sends what is durable and drops the frames of beats that never became durable', async () => {
    const { channel, sent } = fakeChannel();
    const { clock, provider } = gateOver(channel);
    const wrapped = await provider.open({ peer: 'saturn', mode: 'link', mount: 'main', localNode: 'earth', address: 'x' });
    wrapped.send(frame(1));
    clock.beat = 6;
    wrapped.send(frame(2));
    clock.durable = 5;
    await wrapped.close('bye');
    expect(sent).toEqual([1]);
  });
});
