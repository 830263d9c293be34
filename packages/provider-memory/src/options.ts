import { silentLogger, type ProviderLogger } from '@cep/provider-spec';
import type { MemoryNetwork } from './network.ts';
import { memoryError } from './errors.ts';
import { checkSchedule, type MemorySchedule } from './schedule.ts';

/** Capabilities of a memory provider in `reliable` mode. */
export const MEMORY_RELIABLE_CAPS = ['reliable', 'ordered', 'streaming', 'local_ipc', 'crc32c', 'deflate', 'aead'] as const;
/** Capabilities of a memory provider in `unreliable` mode. */
export const MEMORY_UNRELIABLE_CAPS = ['unreliable', 'datagram', 'local_ipc', 'crc32c', 'deflate', 'aead'] as const;

/**
 * What one queued frame costs against `highWaterBytes` and `hardLimitBytes`: its length
 * plus this much bookkeeping, so a flood of empty frames is bounded like any other.
 */
export const QUEUED_FRAME_OVERHEAD = 32;

/** Options of {@link memory}. */
export interface MemoryOptions {
  /** The network the provider lives in (from `memoryNetwork()`); only providers of the same network reach each other. */
  readonly network: MemoryNetwork;
  /** Catalog id (default `memory`): lowercase letters, digits and `_`, at most 11 characters. */
  readonly id?: string;
  /** This side's peer name: what a listener reports as the dialler's peer, and what a dialler must ask for to reach this side. */
  readonly peer: string;
  /** `reliable` delivers every frame in order; `unreliable` follows `schedule`. */
  readonly mode: 'reliable' | 'unreliable';
  /** Seed of the unreliable schedule (an unsigned 32-bit integer, default 1). */
  readonly seed?: number;
  /** Probabilities (0..1) of dropping, duplicating and reordering each frame; unreliable mode only. */
  readonly schedule?: MemorySchedule;
  /** Largest frame, in bytes (default 4 MiB). A channel carries the smaller of its two ends' limits. */
  readonly maxFrameBytes?: number;
  /** Unpulled bytes past which `send` answers `backpressure` (default 1 MiB); `ready` fires at half. */
  readonly highWaterBytes?: number;
  /** Unpulled bytes past which `send` throws `CHANNEL_OVERFLOW` (default max(16 MiB, highWaterBytes + 2 × maxFrameBytes)). */
  readonly hardLimitBytes?: number;
  /**
   * A test double with no remote side: `open` needs no listener, and every channel of this
   * provider captures its sends (read them with `memoryHooks(provider).takeOutbound`).
   */
  readonly capture?: boolean;
  /**
   * Optional pre-shared keys, one 32-byte key per remote peer, to rehearse authentication in
   * memory: a dialler and a listener reach each other only when each holds the same key for
   * the other (else `AUTH_FAILED`). A provider with no keys authenticates nobody and can only
   * reach, and be reached by, providers that have none either.
   */
  readonly keys?: Readonly<Record<string, Uint8Array>>;
  /** Where channel ends are logged (default: nowhere), through `logger.child({ provider, peer, mount })` per channel. */
  readonly logger?: ProviderLogger;
}

/** Options with every default filled in and checked. */
export interface ResolvedMemoryOptions {
  readonly id: string;
  readonly peer: string;
  readonly mode: 'reliable' | 'unreliable';
  readonly seed: number;
  readonly schedule: Required<MemorySchedule>;
  readonly maxFrameBytes: number;
  readonly highWaterBytes: number;
  readonly hardLimitBytes: number;
  readonly capture: boolean;
  /** Copies of the configured keys; `undefined` when none were given (no authentication). */
  readonly keys: ReadonlyMap<string, Uint8Array> | undefined;
  readonly logger: ProviderLogger;
}

/** Longest peer, mode or mount name, in UTF-8 bytes (the same bound the stream providers use). */
export const MAX_NAME_BYTES = 64;
const ID = /^[a-z0-9_]{1,11}$/;

function size(name: string, value: number | undefined, fallback: number, min: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min) {
    throw memoryError('INVALID_OPTIONS', `${name} must be an integer of at least ${min}, got ${String(value)}`, { option: name });
  }
  return v;
}

/** Refuses a peer, mode or mount name that is empty or too long. */
export function checkName(kind: string, name: unknown): void {
  if (typeof name !== 'string' || name.length === 0 || Buffer.byteLength(name) > MAX_NAME_BYTES) {
    throw memoryError('INVALID_OPTIONS', `${kind} must be a string of 1..${MAX_NAME_BYTES} bytes, got ${JSON.stringify(name)}`, { kind, name });
  }
}

/** Fills defaults and refuses options that cannot work. */
export function resolveOptions(options: MemoryOptions): ResolvedMemoryOptions {
  const id = options.id ?? 'memory';
  if (!ID.test(id)) {
    throw memoryError('INVALID_OPTIONS', `id "${id}" must be 1..11 characters of a-z, 0-9 and _ (a catalog word)`, { option: 'id' });
  }
  checkName('peer', options.peer);
  if (options.mode !== 'reliable' && options.mode !== 'unreliable') {
    throw memoryError('INVALID_OPTIONS', `mode must be 'reliable' or 'unreliable', got ${JSON.stringify(options.mode)}`, { option: 'mode' });
  }
  const seed = options.seed ?? 1;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) {
    throw memoryError('INVALID_OPTIONS', `seed must be an unsigned 32-bit integer, got ${String(options.seed)}`, { option: 'seed' });
  }
  const schedule = checkSchedule(options.schedule ?? {});
  if (options.mode === 'reliable' && (schedule.drop > 0 || schedule.duplicate > 0 || schedule.reorder > 0)) {
    throw memoryError('INVALID_OPTIONS', 'a reliable memory provider cannot drop, duplicate or reorder; use mode "unreliable" for a schedule', {
      option: 'schedule',
    });
  }
  const maxFrameBytes = size('maxFrameBytes', options.maxFrameBytes, 4 << 20, 1);
  const highWaterBytes = size('highWaterBytes', options.highWaterBytes, 1 << 20, 1);
  const hardLimitBytes = size('hardLimitBytes', options.hardLimitBytes, Math.max(16 << 20, highWaterBytes + 2 * maxFrameBytes), 1);
  if (hardLimitBytes < highWaterBytes + maxFrameBytes + QUEUED_FRAME_OVERHEAD) {
    throw memoryError('INVALID_OPTIONS', 'hardLimitBytes must leave room for one largest frame above highWaterBytes', {
      hardLimitBytes,
      highWaterBytes,
      maxFrameBytes,
    });
  }
  return {
    id,
    peer: options.peer,
    mode: options.mode,
    seed,
    schedule,
    maxFrameBytes,
    highWaterBytes,
    hardLimitBytes,
    capture: options.capture === true,
    keys: resolveKeys(options.keys),
    logger: options.logger ?? silentLogger,
  };
}

/** Length of a memory pre-shared key, the same as the socket providers'. */
export const MEMORY_KEY_BYTES = 32;

function resolveKeys(keys: MemoryOptions['keys']): ReadonlyMap<string, Uint8Array> | undefined {
  if (keys === undefined) return undefined;
  if (typeof keys !== 'object' || keys === null)
    throw memoryError('INVALID_OPTIONS', 'keys must be an object of { [peer]: 32-byte Uint8Array }', { option: 'keys' });
  const out = new Map<string, Uint8Array>();
  for (const [peer, key] of Object.entries(keys)) {
    checkName('a keys entry', peer);
    if (!(key instanceof Uint8Array) || key.length !== MEMORY_KEY_BYTES) {
      throw memoryError('INVALID_OPTIONS', `the key for peer "${peer}" must be a ${MEMORY_KEY_BYTES}-byte Uint8Array`, { option: 'keys', peer });
    }
    // A copy: the caller zeroing or reusing its buffer must not change who is let in.
    out.set(peer, Uint8Array.from(key));
  }
  return out;
}
