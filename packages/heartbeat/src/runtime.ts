/**
 * The runtime: one beat counter, one tree, queues, registries. No module state: two
 * runtimes in one process share nothing.
 *
 * Beat N:
 *  capture — pending registrations become active; inputs pushed since the last capture are
 *            admitted in (kind, stream, seq) order, logged and handed to their handlers
 *            (signals a handler enqueues without `atBeat` run in this beat);
 *  compute — organ work noticed before this compute; then the signals queued for N, FIFO, each
 *            running its matching enzymes in order; then due episode slices;
 *  commit  — onCommit hooks, then OPS watcher processing (continuations go to N+1).
 * Anything enqueued during compute or commit runs at N+1 at the earliest.
 */
import { createTree, formatPath, parsePath, text, type Name, type PathLike, type Tree } from '@cep/cells';
import { createCei } from './cei.ts';
import { createEpisodes, MEASURE_INPUT, type EpisodesInternal } from './episodes.ts';
import { hbError } from './errors.ts';
import { DEFAULT_INBOUND_LOG_BYTES, Inputs } from './inputs.ts';
import { createOps, type OpsInternal } from './ops.ts';
import { Organs } from './organs.ts';
import { Registry, type Entry } from './registry.ts';
import type {
  InboundLogStats,
  AgendaEntry,
  BeatReport,
  Cei,
  EnqueueOptions,
  ImpulseEntry,
  EnzymeContext,
  EnzymeDefinition,
  EnzymeResult,
  Episodes,
  Input,
  InputContext,
  LoggedInput,
  OrganDefinition,
  Phase,
  PipelineMeta,
  Qos,
  Runtime,
  RuntimeOptions,
  SignalTicket,
  PushInputOptions,
} from './types.ts';

interface Queued {
  readonly beat: number;
  readonly signal: readonly Name[];
  readonly target: readonly Name[] | undefined;
  readonly pipeline: PipelineMeta | undefined;
  readonly qos: Qos;
  readonly data: EnqueueOptions['data'];
  readonly attempt: number;
  state: 'queued' | 'cancelled' | 'done';
}

/**
 * The ticket of one enqueued impulse. A class, not an object literal with a `cancel` closure:
 * every remote call is an enqueue, and the closure made per call (named, under tsx) was a
 * measurable share of one.
 */
class Ticket implements SignalTicket {
  readonly beat: number;

  constructor(private readonly queued: Queued) {
    this.beat = queued.beat;
  }

  cancel(): boolean {
    if (this.queued.state !== 'queued') return false;
    this.queued.state = 'cancelled';
    return true;
  }
}

type PendingChange = { add: Entry } | { remove: string; def: EnzymeDefinition };

/** Creates a runtime (see the README for the beat rules). */
export function createRuntime(options: RuntimeOptions = {}): Runtime {
  return new HeartbeatRuntime(options);
}

class HeartbeatRuntime implements Runtime {
  readonly tree: Tree;
  beat: number;
  phase: Phase = 'idle';
  readonly cei: Cei;
  readonly ops: OpsInternal;
  readonly episodes: EpisodesInternal;
  private readonly registry = new Registry();
  private pendingRegistry: PendingChange[] = [];
  private readonly queues = new Map<number, Queued[]>();
  private readonly inputs: Inputs;
  private readonly organs: Organs;
  private readonly commitHooks: Array<(beat: number) => void> = [];
  private readonly committedListeners: Array<(beat: number, inputs: readonly LoggedInput[]) => void> = [];
  /** Told of every pushed input (see Runtime.onInput). */
  private inputListeners: ReadonlyArray<(kind: string) => void> = [];
  private readonly ledgerRetain: number | undefined;
  /** Signals enqueued by the enzyme running now (dropped if it throws). */
  private enqueuedByRun: Queued[] | undefined;

  constructor(options: RuntimeOptions) {
    this.tree = options.tree ?? createTree(options.historyDepth === undefined ? {} : { historyDepth: options.historyDepth });
    this.beat = options.startBeat ?? this.tree.beat;
    const logBytes = options.inboundLogBytes ?? DEFAULT_INBOUND_LOG_BYTES;
    if (!Number.isSafeInteger(logBytes) || logBytes < 0)
      throw hbError('INPUT_INVALID', `inboundLogBytes must be a whole number ≥ 0, got ${String(options.inboundLogBytes)}`);
    this.inputs = new Inputs(logBytes);
    this.tree.setBeat(this.beat);
    const retain = options.ceiRetain ?? 1024;
    this.ledgerRetain = options.ledger?.retain;
    this.cei = createCei({
      tree: this.tree,
      beat: () => this.tree.beat,
      retain,
      closeOp: (id, summary) => {
        if (this.ops.state(id) !== undefined) this.ops.close(id, 'fail', summary);
      },
      signal: (signal, target) => void this.enqueue(signal, { target }),
    });
    this.ops = createOps({
      tree: this.tree,
      beat: () => this.tree.beat,
      enqueue: (signal, target) => void this.enqueue(signal, { target, qos: { control: true, retainOnPause: true } }),
      warn: (op, note) => void this.cei.emit({ topic: 'ops/watchers', severity: 'warn', note, origin: 'ops', op }),
      ...(options.opsHistoryRetain === undefined ? {} : { historyRetain: options.opsHistoryRetain }),
    });
    this.episodes = createEpisodes({
      tree: this.tree,
      ops: this.ops,
      runtime: () => this,
      beat: () => this.beat,
      phase: () => this.phase,
      emit: (fact) => void this.cei.emit(fact),
      cpuClock: options.cpuClock,
      measured: (id, slice, ns) => {
        const data = new Uint8Array(8);
        new DataView(data.buffer).setBigUint64(0, ns < 0n ? 0n : ns, true);
        this.inputs.push(MEASURE_INPUT, { stream: id, seq: slice, data }, true);
      },
    });
    this.organs = new Organs({ tree: this.tree, runtime: () => this, emit: (fact) => void this.cei.emit(fact) });
    this.inputs.define(MEASURE_INPUT, (input) => {
      if (input.data.length !== 8) return;
      this.episodes.chargeMeasured(input.stream, new DataView(input.data.buffer, input.data.byteOffset, 8).getBigUint64(0, true));
    });
    const targetId = (ctx: EnzymeContext): string | undefined => ctx.target?.at(-1)?.tag.text;
    this.registerEnzyme({
      name: 'ep:cont',
      signal: ['ep/cont'],
      run: (ctx) => {
        const id = targetId(ctx);
        if (id !== undefined) this.episodes.resume(id, ctx.beat);
      },
    });
    this.registerEnzyme({
      name: 'ep:tmo',
      signal: ['op/tmo'],
      run: (ctx) => {
        const id = targetId(ctx);
        if (id !== undefined) this.episodes.timedOut(id);
      },
    });
  }

  get inboundLog(): readonly LoggedInput[] {
    return this.inputs.log;
  }

  get inboundLogStats(): InboundLogStats {
    return { entries: this.inputs.log.length, bytes: this.inputs.bytes, trimmed: this.inputs.trimmed };
  }

  clearInboundLog(beforeBeat?: number): void {
    this.inputs.clear(beforeBeat);
  }

  // ---- signals ----

  enqueue(signal: PathLike, options: EnqueueOptions = {}): SignalTicket {
    let path: Name[];
    let target: Name[] | undefined;
    try {
      path = parsePath(signal);
      target = options.target === undefined ? undefined : parsePath(options.target);
    } catch (error) {
      throw hbError('SIGNAL_INVALID', `cannot enqueue: ${(error as Error).message}`);
    }
    if (path.length === 0) throw hbError('SIGNAL_INVALID', 'cannot enqueue an empty signal path; give at least one segment');
    const earliest = this.phase === 'idle' || this.phase === 'capture' ? this.beat : this.beat + 1;
    const beat = options.atBeat ?? earliest;
    if (!Number.isSafeInteger(beat) || beat < earliest) {
      throw hbError(
        'SIGNAL_TOO_EARLY',
        `signal ${formatPath(path)} cannot run at beat ${beat}: the earliest is ${earliest} (work of beat ${this.beat} is seen at ${this.beat + 1})`,
        { atBeat: beat, earliest },
      );
    }
    const queued: Queued = {
      beat,
      signal: path,
      target,
      pipeline: options.pipeline,
      qos: options.qos ?? { retainOnPause: true },
      data: options.data,
      attempt: 1,
      state: 'queued',
    };
    this.push(queued);
    return new Ticket(queued);
  }

  private push(queued: Queued): void {
    let queue = this.queues.get(queued.beat);
    if (queue === undefined) this.queues.set(queued.beat, (queue = []));
    queue.push(queued);
    this.enqueuedByRun?.push(queued);
  }

  // ---- registration ----

  registerEnzyme(enzyme: EnzymeDefinition): () => void {
    const pendingDefs = this.pendingRegistry.flatMap((p) => ('add' in p ? [p.add.def] : []));
    const entry = this.registry.validate(enzyme, pendingDefs);
    if (this.phase === 'idle') this.registry.add(entry);
    else this.pendingRegistry.push({ add: entry });
    let registered = true;
    return () => {
      if (!registered) return;
      registered = false;
      if (this.phase === 'idle') this.registry.remove(enzyme.name, enzyme);
      else this.pendingRegistry.push({ remove: enzyme.name, def: enzyme });
    };
  }

  registerOrgan(organ: OrganDefinition): () => void {
    return this.organs.register(organ);
  }

  defineInput(kind: string, handler: (input: Input, ctx: InputContext) => void): void {
    this.inputs.define(kind, handler);
  }

  pushInput(kind: string, input: Input, options?: PushInputOptions): void {
    this.inputs.push(kind, input, options?.owned === true);
    // Told after the input is queued; nothing here writes to the tree (a push may come between beats).
    for (const listener of this.inputListeners) listener(kind);
  }

  onInput(listener: (kind: string) => void): () => void {
    const entry = (kind: string): void => listener(kind);
    this.inputListeners = [...this.inputListeners, entry]; // replaced, never edited: a listener may remove itself while told
    return () => {
      this.inputListeners = this.inputListeners.filter((other) => other !== entry);
    };
  }

  onCommit(hook: (beat: number) => void): () => void {
    const entry = (beat: number): void => hook(beat);
    this.commitHooks.push(entry);
    return () => {
      const at = this.commitHooks.indexOf(entry);
      if (at >= 0) this.commitHooks.splice(at, 1);
    };
  }

  onCommitted(listener: (beat: number, inputs: readonly LoggedInput[]) => void): () => void {
    const entry = (beat: number, inputs: readonly LoggedInput[]): void => listener(beat, inputs);
    this.committedListeners.push(entry);
    return () => {
      const at = this.committedListeners.indexOf(entry);
      if (at >= 0) this.committedListeners.splice(at, 1);
    };
  }

  // ---- the beat ----

  run(beats: number): void {
    for (let i = 0; i < beats; i++) this.step();
  }

  step(): BeatReport {
    if (this.phase !== 'idle')
      throw hbError('RUNTIME_REENTRANT', `step() called during the ${this.phase} of beat ${this.beat}; a beat cannot start inside another`);
    const beat = this.beat;
    this.tree.setBeat(beat);
    const agenda: AgendaEntry[] = [];
    const impulses: ImpulseEntry[] = [];
    let inputs = 0;
    const admitted: LoggedInput[] = [];
    let organRuns = 0;
    let slices = 0;
    let signals = 0;
    try {
      this.phase = 'capture';
      for (const change of this.pendingRegistry) {
        if ('add' in change) this.registry.add(change.add);
        else this.registry.remove(change.remove, change.def);
      }
      this.pendingRegistry = [];
      for (const logged of this.inputs.admit(beat)) {
        inputs++;
        admitted.push(logged);
        this.guardInput(logged, this.inputs.handlerOf(logged.kind), beat);
      }

      this.phase = 'compute';
      organRuns = this.organs.process(beat);
      const queue = this.queues.get(beat) ?? [];
      this.queues.delete(beat);
      for (const queued of queue) {
        if (queued.state !== 'queued') continue;
        queued.state = 'done';
        signals++;
        // Each path's text is made once, for the report and the agenda alike (a remote call is an impulse each).
        const signalText = formatPath(queued.signal);
        const targetText = queued.target === undefined ? undefined : formatPath(queued.target);
        impulses.push({ signal: signalText, target: targetText, attempt: queued.attempt });
        this.dispatch(queued, beat, agenda, signalText, targetText);
      }
      slices = this.episodes.runSlices(beat);

      this.phase = 'commit';
      for (const hook of [...this.commitHooks]) this.guard('commit hook', () => hook(beat));
      this.ops.processWatchers(beat);
      if (this.ledgerRetain !== undefined) this.writeLedger(beat, impulses, agenda);
      // Last: every write of the beat is done, so a durable store sees the whole beat.
      for (const listener of [...this.committedListeners]) this.guard('committed listener', () => listener(beat, admitted));
    } finally {
      this.phase = 'idle';
      this.beat = beat + 1;
      this.tree.setBeat(beat + 1);
    }
    return { beat, inputs, signals, impulses, agenda, organRuns, slices };
  }

  /** `/rt/beat/<N>/{impulses, agenda}` as text lines; older beats beyond `retain` are removed. */
  private writeLedger(beat: number, impulses: readonly ImpulseEntry[], agenda: readonly AgendaEntry[]): void {
    const at = ['rt', 'beat', String(beat)];
    this.tree.ensureList([...at, 'impulses']);
    this.tree.ensureList([...at, 'agenda']);
    for (const i of impulses) this.tree.append([...at, 'impulses'], text(`signal=${i.signal} target=${i.target ?? '-'}`));
    for (const a of agenda) this.tree.append([...at, 'agenda'], text(`enzyme=${a.enzyme} rc=${a.result} signal=${a.signal} target=${a.target ?? '-'}`));
    const old = beat - this.ledgerRetain!;
    if (old >= 0) this.tree.remove(['rt', 'beat', String(old)]);
  }

  private dispatch(queued: Queued, beat: number, agenda: AgendaEntry[], signalText: string, targetText: string | undefined): void {
    const entries = this.registry.resolve(queued.signal);
    if (entries.length === 0) return;
    const targetCell = queued.target === undefined ? undefined : this.tree.get(queued.target);
    let retried = false;
    for (const entry of entries) {
      const ctx: EnzymeContext = {
        runtime: this,
        beat,
        enzyme: entry.name,
        signal: queued.signal,
        target: queued.target,
        targetCell,
        pipeline: queued.pipeline,
        qos: queued.qos,
        data: queued.data,
        attempt: queued.attempt,
      };
      let result: EnzymeResult | 'threw';
      const outer = this.enqueuedByRun;
      const mine: Queued[] = [];
      this.enqueuedByRun = mine;
      try {
        const returned = this.tree.batch(() => entry.def.run(ctx));
        result = returned === 'retry' || returned === 'fatal' ? returned : 'ok';
      } catch (error) {
        for (const q of mine) q.state = 'cancelled';
        result = 'threw';
        this.cei.emit({
          topic: 'hb/enzyme',
          severity: 'error',
          note: `enzyme ${entry.name} threw on ${signalText}: ${(error as Error)?.message ?? String(error)}; its writes were undone`,
          origin: entry.name,
          ...(queued.pipeline === undefined ? {} : { pipeline: queued.pipeline }),
        });
      } finally {
        this.enqueuedByRun = outer;
      }
      agenda.push({ enzyme: entry.name, signal: signalText, target: targetText, result });
      if (result === 'retry' && !retried) {
        retried = true;
        this.push({ ...queued, beat: beat + 1, attempt: queued.attempt + 1, state: 'queued' });
      } else if (result === 'fatal') {
        this.cei.emit({
          topic: 'hb/fatal',
          severity: 'error',
          note: `enzyme ${entry.name} returned fatal on ${signalText}; the rest of this signal's enzymes were skipped`,
          origin: entry.name,
          ...(queued.pipeline === undefined ? {} : { pipeline: queued.pipeline }),
        });
        break;
      } else if (result === 'threw') {
        break;
      }
    }
  }

  /** Runs edge code (input handlers, commit hooks) so that a throw never breaks the beat. */
  /** {@link guard} for one admitted input (this runs per frame: its label is built only when it threw). */
  private guardInput(logged: LoggedInput, handler: (input: Input, ctx: InputContext) => void, beat: number): void {
    try {
      this.tree.batch(() => handler(logged, { runtime: this, beat, kind: logged.kind }));
    } catch (error) {
      this.reportThrow(`input ${logged.kind}`, error);
    }
  }

  private guard(what: string, fn: () => void): void {
    try {
      this.tree.batch(fn);
    } catch (error) {
      this.reportThrow(what, error);
    }
  }

  /** A handler threw: its writes were undone by the batch; told as CEI `hb/error`. */
  private reportThrow(what: string, error: unknown): void {
    this.cei.emit({
      topic: 'hb/error',
      severity: 'error',
      note: `${what} threw: ${(error as Error)?.message ?? String(error)}; its writes were undone`,
      origin: what,
    });
  }
}

/** The episodes API type, re-exported for index. */
export type { Episodes };
