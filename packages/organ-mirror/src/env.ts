/**
 * What the receiver and source halves share: the runtime, the manager, options, timers and
 * the CEI helper, plus the observer events the organ reports.
 */
import type { Cell, Name } from '@cep/cells';
import type { Runtime, Severity } from '@cep/heartbeat';
import type { TransportManager } from '@cep/transport';
import type { Timers } from './episode.ts';

/** A bundle was applied on the receiver (exactly once per epoch and seq). */
export interface ApplyEvent {
  /** The request id (its name under `requests/`). */
  readonly id: string;
  readonly epoch: string;
  readonly seq: number;
  /** The beat whose boundary it was applied at. */
  readonly beat: number;
  readonly cells: number;
  /**
   * Seconds this runtime spent applying the bundle at the commit (writing its cells into the
   * copy), when the organ was given an `observeClock`; otherwise undefined. For observers only.
   */
  readonly seconds?: number | undefined;
}

/** A bundle was sealed on the source (for a fan-out group: `peer` is empty and `mount` is the group's id). */
export interface SealEvent {
  readonly peer: string;
  readonly mount: string;
  readonly epoch: string;
  readonly seq: number;
  readonly beat: number;
  /** One frozen message per part, as they go to `mount.sendBranch`. */
  readonly parts: readonly Cell[];
  readonly ops: number;
  readonly cells: number;
}

/** A bundle part left the source: published once to a fan-out group, or sent over one receiver's mount. */
export interface SendEvent {
  readonly via: 'multicast' | 'unicast';
  /** The fan-out group (absent for a receiver's own publication). */
  readonly group?: string;
  /** The receiver, for a unicast send. */
  readonly peer?: string;
  readonly mount?: string;
  readonly epoch: string;
  readonly seq: number;
  readonly part: number;
  /** Frame bytes. */
  readonly bytes: number;
}

/** Options of `installMirror`, with defaults filled in. */
export interface ResolvedOptions {
  readonly kind: string;
  readonly mode: string;
  readonly localNode: string | undefined;
  readonly partBytes: number;
  readonly packedContent: boolean;
  readonly beatBytes: number;
  readonly busyBeatBytes: number;
  readonly maxInflight: number;
  readonly maxBeatWindow: number;
  readonly retainBeats: number;
  readonly retry: { readonly first: number; readonly max: number; readonly authMax: number };
  readonly canPublish: (peer: string, path: string) => boolean;
  readonly canReceive: (path: string) => boolean;
  readonly onApply: ((event: ApplyEvent) => void) | undefined;
  readonly observeClock: (() => number) | undefined;
  readonly onSeal: ((event: SealEvent) => void) | undefined;
  readonly onSend: ((event: SendEvent) => void) | undefined;
  readonly fanout: boolean;
}

/** The shared context. */
export interface Env {
  readonly runtime: Runtime;
  readonly manager: TransportManager;
  readonly options: ResolvedOptions;
  readonly timers: Timers;
  /** `/net/organs/<kind>/serving`. */
  readonly servingRoot: readonly Name[];
  /** The same as text. */
  readonly servingText: string;
  /** Emits a CEI fact from the organ (mirrored to the peer when given). */
  emit(topic: string, severity: Severity, note: string, peer?: string): void;
}
