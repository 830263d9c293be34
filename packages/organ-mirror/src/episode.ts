/**
 * Each mirror (a receiver request, or a source serving one subscriber) runs as an episode
 * whose OPS dossier is the mirror's record: `envelope/` (who, what, which parameters),
 * `bundles/<seq>/` (the latest bundles' envelopes: beats, ops, cells, parts, and when they were
 * sealed, sent, received, applied, acknowledged) and the heartbeat's own history and close
 * status. An idle mirror costs nothing per beat: its slice awaits a *gate* operation (verb
 * `mir/gate`), whose watcher is what the dossier shows while it sleeps; the organ opens the gate
 * when there is work (a change, a frame, an acknowledgement, a timer).
 */
import { text, u64, bool, type Name, type Value } from '@cep/cells';
import type { OpStatus, Runtime } from '@cep/heartbeat';

/** What a slice decides. */
export type SliceVerdict = 'idle' | 'again' | { readonly close: OpStatus; readonly summary: string };

/** Bundle envelopes kept in a dossier (older ones are removed). */
const KEEP_BUNDLES = 16;

/** A mirror's episode and gate. */
export class MirrorEpisode {
  readonly id: string;
  readonly gate: string;
  private closed = false;
  /** Seqs of the bundle envelopes in the dossier, ascending: the newest {@link KEEP_BUNDLES}. */
  private bundleSeqs: number[] = [];

  constructor(
    private readonly runtime: Runtime,
    verb: string,
    target: string,
    envelope: Record<string, Value>,
    slice: (beat: number) => SliceVerdict,
  ) {
    const ops = runtime.ops;
    this.gate = ops.start({ verb: 'mir/gate', target, state: 'yield' });
    this.id = runtime.episodes.start({
      verb,
      target,
      slice: (ctx) => {
        if (ops.state(this.gate) === 'run') ops.setState(this.gate, 'yield');
        const verdict = slice(ctx.beat);
        if (verdict === 'again') return ctx.yield('mirror-work');
        if (verdict === 'idle') return ctx.await(this.gate, 'run');
        this.finishGate(verdict.close);
        ctx.close(verdict.close, verdict.summary);
      },
    });
    this.write('envelope', { ...envelope, gate: text(this.gate), issued: u64(BigInt(runtime.beat)) });
  }

  /** Opens the gate: the slice runs in the next beat (or this one, before compute). */
  wake(): void {
    if (this.closed) return;
    const ops = this.runtime.ops;
    const state = ops.state(this.gate);
    if (state !== undefined && state !== 'run' && state !== 'ok' && state !== 'cxl' && state !== 'fail') ops.setState(this.gate, 'run');
  }

  /** Ends at once from outside a slice (the episode is idle or not started). */
  cancel(note: string): void {
    if (this.closed) return;
    this.runtime.episodes.cancel(this.id, note);
    this.finishGate('cxl');
  }

  /** Writes `field` values under the dossier (`envelope`, `mirror`, …). */
  write(section: string, fields: Record<string, Value | undefined>): void {
    const tree = this.runtime.tree;
    const base = [...this.runtime.ops.path(this.id), section];
    tree.batch(() => {
      for (const [key, value] of Object.entries(fields)) {
        if (value !== undefined) tree.set([...base, key], value);
      }
    });
  }

  /** Records (or updates) one bundle's envelope; keeps the newest {@link KEEP_BUNDLES}. */
  bundle(seq: number, fields: Record<string, Value | undefined>): void {
    const tree = this.runtime.tree;
    const list: (Name | string)[] = [...this.runtime.ops.path(this.id), 'bundles'];
    // The envelopes this dossier holds are known here (only this object writes them): listing the
    // dictionary's children instead walked every envelope ever removed too (removes are soft),
    // a cost that grew with each bundle of a long mirror, four times per bundle.
    const live = this.bundleSeqs.includes(seq) ? this.bundleSeqs : [...this.bundleSeqs, seq].sort((a, b) => a - b);
    const dropped = live.slice(0, Math.max(0, live.length - KEEP_BUNDLES));
    tree.batch(() => {
      tree.ensureDictionary(list);
      for (const [key, value] of Object.entries(fields)) if (value !== undefined) tree.set([...list, String(seq), key], value);
      for (const old of dropped) tree.remove([...list, String(old)]);
    });
    this.bundleSeqs = live.slice(dropped.length);
  }

  /** Forgets the bundle envelopes (a new epoch numbers bundles from 1 again). */
  clearBundles(): void {
    this.runtime.tree.remove([...this.runtime.ops.path(this.id), 'bundles']);
    this.bundleSeqs = [];
  }

  private finishGate(status: OpStatus): void {
    if (this.closed) return;
    this.closed = true;
    const ops = this.runtime.ops;
    const state = ops.state(this.gate);
    if (state === 'ok' || state === 'cxl' || state === 'fail') return;
    // Open it first so its watcher fires (and is removed) instead of lingering on a closed op.
    if (state !== 'run') ops.setState(this.gate, 'run');
    ops.close(this.gate, status === 'ok' ? 'ok' : 'cxl');
  }
}

/** Value helpers for dossier fields. */
export const v = {
  text: (s: string): Value => text(s),
  n: (n: number): Value => u64(BigInt(n)),
  flag: (b: boolean): Value => bool(b),
};

/** Beat timers fired from a commit hook (decisions by beats only, so a replay fires the same ones). */
export class Timers {
  private readonly list: Array<{ beat: number; fn: () => void; live: boolean }> = [];

  /** Runs `fn` in the commit of `beat` (or the next commit, if that has passed). Returns the canceller. */
  at(beat: number, fn: () => void): () => void {
    const timer = { beat, fn, live: true };
    let i = this.list.length;
    while (i > 0 && this.list[i - 1]!.beat > beat) i--;
    this.list.splice(i, 0, timer);
    return () => {
      timer.live = false;
    };
  }

  /** Fires every timer due at `beat`. */
  fire(beat: number): void {
    while (this.list.length > 0 && this.list[0]!.beat <= beat) {
      const timer = this.list.shift()!;
      if (timer.live) timer.fn();
    }
  }

  clear(): void {
    this.list.length = 0;
  }
}
