import { isCepError, type ChannelEventV1, type ChannelV1 } from '@cep/provider-spec';

/** The code of the CepError `fn` throws (a note if it throws something else), or undefined if it returns. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isCepError(error) ? error.code : `non-CepError: ${String(error)}`;
  }
  return undefined;
}

/** Rejects after `ms` so no compliance test can hang on a provider that never answers. */
export function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it is true or `ms` pass. */
export async function until(ms: number, what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** A deterministic frame: bytes derived from `index` so the receiver can regenerate it. */
export function patterned(index: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let j = 0; j < size; j++) out[j] = (index * 131 + j * 7 + (j >> 8)) & 0xff;
  if (size >= 4) new DataView(out.buffer).setUint32(0, index);
  return out;
}

/** The index a patterned frame carries (frames of at least 4 bytes). */
export function indexOf(frame: Uint8Array): number {
  return new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0);
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Every event a channel emits, in order, from the moment of the call. */
export function record(channel: ChannelV1): ChannelEventV1[] {
  const events: ChannelEventV1[] = [];
  channel.onEvent((event) => events.push(event));
  return events;
}

/** One pull-based reader over a channel's single `frames()` iterator. */
export interface Reader {
  /** The next frame, or `undefined` when the channel ended; rejects after `ms`. */
  next(ms: number): Promise<Uint8Array | undefined>;
  /** Frames until `n` arrived or `ms` passed (for unreliable channels). */
  drain(n: number, ms: number): Promise<Uint8Array[]>;
}

export function reader(channel: ChannelV1): Reader {
  const iterator = channel.frames()[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<Uint8Array>> | undefined;
  const pull = (): Promise<IteratorResult<Uint8Array>> => {
    pending ??= iterator.next();
    return pending;
  };
  return {
    async next(ms) {
      const result = await within(ms, `a frame on ${channel.info.mount}`, pull());
      pending = undefined;
      return result.done === true ? undefined : result.value;
    },
    async drain(n, ms) {
      const out: Uint8Array[] = [];
      const deadline = Date.now() + ms;
      while (out.length < n) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        const timeout = sleep(left).then(() => 'timeout' as const);
        const result = await Promise.race([pull(), timeout]);
        if (result === 'timeout') break;
        pending = undefined;
        if (result.done === true) break;
        out.push(result.value);
      }
      return out;
    },
  };
}

/** Counts of active handles/requests by type, to compare before and after a test. */
export function resources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/** Resource types that grew between `before` and now (timers are the test runner's own). */
export function leaked(before: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [type, count] of resources()) {
    if (type === 'Timeout' || type === 'Immediate') continue;
    if (count > (before.get(type) ?? 0)) out.push(`${type} ×${count - (before.get(type) ?? 0)}`);
  }
  return out;
}

/**
 * Sends `frame` on `local` until `remote` yields a frame (once on a reliable channel; up to 10
 * times on an unreliable one, where loopback may still drop) and returns what arrived.
 */
export async function sendUntilSeen(reliable: boolean, ms: number, local: ChannelV1, remote: ChannelV1, frame: Uint8Array): Promise<Uint8Array> {
  const frames = reader(remote);
  if (reliable) {
    local.send(frame);
    return (await frames.next(ms))!;
  }
  for (let attempt = 0; attempt < 10; attempt++) {
    local.send(frame);
    const [got] = await frames.drain(1, 200);
    if (got !== undefined) return got;
  }
  throw new Error('no frame arrived in 10 attempts on loopback');
}
