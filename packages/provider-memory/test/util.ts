import { afterEach } from 'vitest';
import type { ChannelEventV1, ChannelV1, ProviderV1 } from '@cep/provider-spec';
import { memory, memoryNetwork, type MemoryNetwork, type MemoryOptions } from '@cep/provider-memory';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** A provider closed after the test, whatever happens. */
export function provider(options: MemoryOptions): ProviderV1 {
  const p = memory(options);
  cleanups.push(() => p.close());
  return p;
}

export type Extra = Partial<Omit<MemoryOptions, 'network' | 'peer'>>;

/** earth dials saturn on a fresh network (or `network`); both sides share `extra`. */
export async function pair(extra: Extra = {}, network: MemoryNetwork = memoryNetwork(), mount = 'main') {
  const opts = { mode: 'reliable' as const, ...extra };
  const saturn = provider({ network, peer: 'saturn', ...opts });
  const earth = provider({ network, peer: 'earth', ...opts });
  const accepted: ChannelV1[] = [];
  await saturn.listen!({ address: 'saturn' }, (ch) => accepted.push(ch));
  const local = await earth.open({ peer: 'saturn', mode: 'link', mount, localNode: 'earth', address: 'saturn' });
  return { network, earth, saturn, local, remote: accepted.at(-1)!, accepted };
}

export function events(channel: ChannelV1): ChannelEventV1[] {
  const out: ChannelEventV1[] = [];
  channel.onEvent((e) => out.push(e));
  return out;
}

/** A frame that carries its index in its first 4 bytes. */
export function numbered(i: number, size = 4): Uint8Array {
  const out = new Uint8Array(size);
  new DataView(out.buffer).setUint32(0, i);
  return out;
}

export function indexOf(frame: Uint8Array): number {
  return new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0);
}

/** A pull-at-will reader over a channel's frames(). */
export function puller(channel: ChannelV1) {
  const it = channel.frames()[Symbol.asyncIterator]();
  return {
    async next(): Promise<Uint8Array | undefined> {
      const r = await it.next();
      return r.done === true ? undefined : r.value;
    },
    /** Every frame until the iteration ends (call after the channel closed). */
    async rest(): Promise<Uint8Array[]> {
      const out: Uint8Array[] = [];
      for (let r = await it.next(); r.done !== true; r = await it.next()) out.push(r.value);
      return out;
    },
  };
}

export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
  return undefined;
}
