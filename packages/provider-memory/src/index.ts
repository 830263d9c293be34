/** An in-process CEP transport provider, reliable or deliberately unreliable, with test hooks. */
export { memory } from './provider.ts';
export { memoryNetwork, type MemoryNetwork } from './network.ts';
export { memoryHooks, type MemoryHooks } from './hooks.ts';
export type { RaisableEvent } from './channel.ts';
export { MEMORY_RELIABLE_CAPS, MEMORY_UNRELIABLE_CAPS, MEMORY_KEY_BYTES, QUEUED_FRAME_OVERHEAD, type MemoryOptions } from './options.ts';
export type { MemorySchedule } from './schedule.ts';
export type { MemoryErrorCode } from './errors.ts';
