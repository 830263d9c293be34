/**
 * External inputs (frames, measurements): pushed at any time, admitted at the next capture
 * in a deterministic order — by kind, then stream, then sequence — and logged.
 *
 * The log is bounded in bytes: when the data of the logged inputs passes the cap, the oldest
 * entries go (a durable store has had them through `onCommitted` at their own beat already).
 */
import { hbError } from './errors.ts';
import type { Input, InputContext, LoggedInput } from './types.ts';

type Handler = (input: Input, ctx: InputContext) => void;

/**
 * The sequence numbers pending for one (kind, stream). Pushes of a stream nearly always come in
 * rising order, so the common case keeps only the highest (no key string, no set entry per
 * input); the first push out of order builds the set from the pending batch (rare).
 */
interface StreamPending {
  last: number;
  seqs: Set<number> | undefined;
}

/** A pushed input: the very record the log keeps once admission stamps its beat and freezes it. */
interface Pending {
  beat: number;
  readonly kind: string;
  readonly stream: string;
  readonly seq: number;
  readonly data: Uint8Array;
}

/** The default of `RuntimeOptions.inboundLogBytes`: 16 MiB of input data kept in the inbound log. */
export const DEFAULT_INBOUND_LOG_BYTES = 16 * 1024 * 1024;

export class Inputs {
  private readonly handlers = new Map<string, Handler>();
  private pending: Pending[] = [];
  /** Pending sequence numbers by kind, then stream (for the duplicate check). */
  private readonly pendingSeqs = new Map<string, Map<string, StreamPending>>();
  private entries: LoggedInput[] = [];
  /** Index of the oldest live entry in `entries` (trimmed entries before it are compacted lazily). */
  private head = 0;
  /** Data bytes of the live entries. */
  bytes = 0;
  /** Entries dropped because the log passed its byte cap (since creation). */
  trimmed = 0;

  constructor(private readonly maxBytes: number = DEFAULT_INBOUND_LOG_BYTES) {}

  /** The live entries, oldest first. */
  get log(): LoggedInput[] {
    if (this.head > 0) this.compact();
    return this.entries;
  }

  clear(beforeBeat: number | undefined): void {
    const kept = beforeBeat === undefined ? [] : this.log.filter((entry) => entry.beat >= beforeBeat);
    this.entries = kept;
    this.head = 0;
    this.bytes = kept.reduce((sum, entry) => sum + entry.data.length, 0);
  }

  define(kind: string, handler: Handler): void {
    if (typeof kind !== 'string' || kind === '') throw hbError('INPUT_INVALID', 'an input kind must be a non-empty string');
    if (typeof handler !== 'function') throw hbError('INPUT_INVALID', `input kind ${kind} needs a handler function`);
    if (this.handlers.has(kind)) throw hbError('INPUT_DUPLICATE', `input kind ${kind} is defined already`, { kind });
    this.handlers.set(kind, handler);
  }

  /**
   * Queues `input` for the next capture. The log keeps a copy of `data` unless `owned` says the
   * caller hands the bytes over (nobody writes them again), when it keeps that very array: a
   * caller that reuses its buffer must not pass `owned`, or replay would see the later bytes.
   */
  push(kind: string, input: Input, owned = false): void {
    if (!this.handlers.has(kind)) {
      throw hbError('INPUT_UNKNOWN_KIND', `no input kind ${kind} is defined; call defineInput('${kind}', handler) first`, { kind });
    }
    if (typeof input?.stream !== 'string' || !Number.isSafeInteger(input.seq) || input.seq < 0 || !(input.data instanceof Uint8Array)) {
      throw hbError('INPUT_INVALID', `an input needs { stream: string, seq: integer ≥ 0, data: Uint8Array }`, { kind });
    }
    const { stream, seq } = input;
    if (!this.claim(kind, stream, seq)) {
      throw hbError('INPUT_DUPLICATE', `input ${kind}/${stream}#${seq} is pending already; sequence numbers are unique per stream`, {
        kind,
        stream,
        seq,
      });
    }
    this.pending.push({ beat: -1, kind, stream, seq, data: owned ? input.data : new Uint8Array(input.data) });
  }

  /** Records `seq` as pending for (kind, stream); false when it is pending already. */
  private claim(kind: string, stream: string, seq: number): boolean {
    let streams = this.pendingSeqs.get(kind);
    if (streams === undefined) this.pendingSeqs.set(kind, (streams = new Map()));
    const state = streams.get(stream);
    if (state === undefined) {
      streams.set(stream, { last: seq, seqs: undefined });
      return true;
    }
    if (state.seqs === undefined) {
      if (seq > state.last) {
        state.last = seq;
        return true;
      }
      // Out of order: from now on this stream keeps every pending number (taken from the batch).
      state.seqs = new Set();
      for (const p of this.pending) if (p.kind === kind && p.stream === stream) state.seqs.add(p.seq);
    }
    if (state.seqs.has(seq)) return false;
    state.seqs.add(seq);
    if (seq > state.last) state.last = seq;
    return true;
  }

  /**
   * Takes the pending inputs in admission order, logs them as admitted at `beat` and returns
   * them (each pushed record becomes its log entry: no second object per input).
   */
  admit(beat: number): readonly LoggedInput[] {
    const batch = this.pending;
    this.pending = [];
    this.pendingSeqs.clear();
    batch.sort(byAdmission);
    for (const entry of batch) {
      entry.beat = beat;
      Object.freeze(entry);
      this.entries.push(entry);
      this.bytes += entry.data.length;
    }
    this.trim();
    return batch;
  }

  /** The handler of a defined kind (every admitted input's kind is defined: push checks). */
  handlerOf(kind: string): Handler {
    return this.handlers.get(kind)!;
  }

  /** Drops the oldest entries until the live data fits the cap (the newest entries are kept). */
  private trim(): void {
    while (this.bytes > this.maxBytes && this.head < this.entries.length) {
      this.bytes -= this.entries[this.head]!.data.length;
      this.head++;
      this.trimmed++;
    }
    // Compact once the dropped prefix is as long as what is kept, so trimming stays O(1) amortized.
    if (this.head > 0 && this.head >= this.entries.length - this.head) this.compact();
  }

  private compact(): void {
    this.entries = this.entries.slice(this.head);
    this.head = 0;
  }
}

function byAdmission(a: Pending, b: Pending): number {
  return cmp(a.kind, b.kind) || cmp(a.stream, b.stream) || a.seq - b.seq;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
