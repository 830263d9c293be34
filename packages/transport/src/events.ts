/**
 * Provider events as runtime inputs. Each is logged by the heartbeat and admitted at a
 * capture, so `replay` sees exactly what the live peer saw.
 */

import type { IdentityEvent } from './identity.ts';

/** Input kind of channel events (sorted before frames, so `accepted` precedes its frames). */
export const EVENT_INPUT = 'tp.event';
/** Input kind of inbound frames. */
export const FRAME_INPUT = 'tp.frame';
/** Input kind of frames that arrived through a group (multicast) subscription: data is `[group length][group][frame]`. */
export const GROUP_FRAME_INPUT = 'tp.gframe';

/** One edge event (`ch` is the manager's channel id, `d<n>` dialled, `a<n>` accepted). */
export type EdgeEvent =
  | { readonly t: 'opened'; readonly ch: string }
  | { readonly t: 'open_failed'; readonly ch: string; readonly code: string; readonly note: string }
  /** `scope`: the channel's group scope when it can publish to groups (recorded, so replay groups alike). */
  | { readonly t: 'accepted'; readonly ch: string; readonly provider: string; readonly scope?: string }
  | { readonly t: 'ready'; readonly ch: string }
  | { readonly t: 'backpressure'; readonly ch: string; readonly bytes: number }
  | { readonly t: 'reconnecting'; readonly ch: string; readonly note: string }
  | { readonly t: 'fatal'; readonly ch: string; readonly code: string; readonly note: string }
  | { readonly t: 'closed'; readonly ch: string; readonly note: string }
  /** The remote peer's session id, as a handshake on channel `ch` told it (first open, accept, or a reconnect). */
  | { readonly t: 'session'; readonly ch: string; readonly id: string }
  /** The public-key identity the remote peer proved on channel `ch` (see identity.ts). */
  | IdentityEvent
  /** `n`: how many refusals this event stands for (coalesced at the edge per beat; absent means 1); the rest is the last one's. */
  | {
      readonly t: 'rejected';
      readonly provider: string;
      readonly code: string;
      readonly note: string;
      readonly claimed: string | undefined;
      readonly n?: number;
    };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeEvent(event: EdgeEvent): Uint8Array {
  return encoder.encode(JSON.stringify(event));
}

export function decodeEvent(data: Uint8Array): EdgeEvent {
  return JSON.parse(decoder.decode(data)) as EdgeEvent;
}

/** Packs a group frame's input data: the group's name travels with the frame, so a replay decodes it with the same key. */
export function encodeGroupFrame(group: string, frame: Uint8Array): Uint8Array {
  const name = encoder.encode(group);
  const out = new Uint8Array(1 + name.length + frame.length);
  out[0] = name.length;
  out.set(name, 1);
  out.set(frame, 1 + name.length);
  return out;
}

/** The inverse of {@link encodeGroupFrame}. */
export function decodeGroupFrame(data: Uint8Array): { group: string; frame: Uint8Array } {
  const n = data[0] ?? 0;
  return { group: decoder.decode(data.subarray(1, 1 + n)), frame: data.subarray(1 + n) };
}
