/**
 * External inputs (frames, measurements): pushed at any time, admitted at the next capture
 * in a deterministic order — by kind, then stream, then sequence — and logged.
 */
import { hbError } from './errors.ts';
import type { Input, InputContext, LoggedInput } from './types.ts';

type Handler = (input: Input, ctx: InputContext) => void;

export class Inputs {
  private readonly handlers = new Map<string, Handler>();
  private pending: Array<{ kind: string; input: Input }> = [];
  private readonly pendingKeys = new Set<string>();
  log: LoggedInput[] = [];

  clear(beforeBeat: number | undefined): void {
    this.log = beforeBeat === undefined ? [] : this.log.filter((entry) => entry.beat >= beforeBeat);
  }

  define(kind: string, handler: Handler): void {
    if (typeof kind !== 'string' || kind === '') throw hbError('INPUT_INVALID', 'an input kind must be a non-empty string');
    if (typeof handler !== 'function') throw hbError('INPUT_INVALID', `input kind ${kind} needs a handler function`);
    if (this.handlers.has(kind)) throw hbError('INPUT_DUPLICATE', `input kind ${kind} is defined already`, { kind });
    this.handlers.set(kind, handler);
  }

  push(kind: string, input: Input): void {
    if (!this.handlers.has(kind)) {
      throw hbError('INPUT_UNKNOWN_KIND', `no input kind ${kind} is defined; call defineInput('${kind}', handler) first`, { kind });
    }
    if (typeof input?.stream !== 'string' || !Number.isSafeInteger(input.seq) || input.seq < 0 || !(input.data instanceof Uint8Array)) {
      throw hbError('INPUT_INVALID', `an input needs { stream: string, seq: integer ≥ 0, data: Uint8Array }`, { kind });
    }
    const key = `${kind}\u0000${input.stream}\u0000${input.seq}`;
    if (this.pendingKeys.has(key)) {
      throw hbError('INPUT_DUPLICATE', `input ${kind}/${input.stream}#${input.seq} is pending already; sequence numbers are unique per stream`, { kind, stream: input.stream, seq: input.seq });
    }
    this.pendingKeys.add(key);
    this.pending.push({ kind, input: { stream: input.stream, seq: input.seq, data: new Uint8Array(input.data) } });
  }

  /** Takes the pending inputs in admission order, logs them as admitted at `beat`. */
  admit(beat: number): Array<{ logged: LoggedInput; handler: Handler }> {
    const batch = this.pending;
    this.pending = [];
    this.pendingKeys.clear();
    batch.sort((a, b) => cmp(a.kind, b.kind) || cmp(a.input.stream, b.input.stream) || a.input.seq - b.input.seq);
    return batch.map(({ kind, input }) => {
      const logged: LoggedInput = Object.freeze({ beat, kind, stream: input.stream, seq: input.seq, data: input.data });
      this.log.push(logged);
      return { logged, handler: this.handlers.get(kind)! };
    });
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
