/**
 * Public types of the runtime. Implementations live in their own modules; this file
 * only names shapes so that modules can refer to each other without cycles.
 */
import type { Cell, Name, PathLike, Tree, Value } from '@cep/cells';

/** What a beat is doing right now. */
export type Phase = 'idle' | 'capture' | 'compute' | 'commit';

/** Pipeline metadata that rides along with a signal (SPEC §7 invoke, §8 security). */
export interface PipelineMeta {
  readonly pipelineId: string;
  readonly stageId: string;
  readonly dagRunId: bigint;
  readonly hopIndex: number;
}

/** The seven CEI severities. */
export type Severity = 'debug' | 'info' | 'warn' | 'error' | 'crit' | 'usage' | 'fatal';

/** QoS bits of the reference, kept as flags (recorded and passed to enzymes; no pause gating yet). */
export interface Qos {
  readonly control?: boolean;
  readonly retainOnPause?: boolean;
  readonly discardOnRollback?: boolean;
}

/** Options of {@link Runtime.enqueue}. */
export interface EnqueueOptions {
  /** The cell the signal is about; enzymes get it resolved as `targetCell`. */
  readonly target?: PathLike;
  /**
   * Run at this beat instead of the earliest allowed one. It must not be earlier than
   * the earliest allowed beat (`SIGNAL_TOO_EARLY`).
   */
  readonly atBeat?: number;
  readonly pipeline?: PipelineMeta;
  readonly qos?: Qos;
  readonly data?: Value;
}

/** A queued signal; `cancel()` takes it off the queue if it has not run (false otherwise). */
export interface SignalTicket {
  /** The beat it is scheduled for. */
  readonly beat: number;
  cancel(): boolean;
}

/** What an enzyme returns. `void` counts as `'ok'`. */
export type EnzymeResult = 'ok' | 'retry' | 'fatal';

/** What an enzyme sees. */
export interface EnzymeContext {
  readonly runtime: Runtime;
  readonly beat: number;
  /** The enzyme's own name. */
  readonly enzyme: string;
  readonly signal: readonly Name[];
  readonly target: readonly Name[] | undefined;
  /** The live cell at `target` when the signal ran (`undefined` if none or deleted). */
  readonly targetCell: Cell | undefined;
  readonly pipeline: PipelineMeta | undefined;
  readonly qos: Qos;
  readonly data: Value | undefined;
  /** 1 on the first run, +1 for every `'retry'` that re-queued this signal. */
  readonly attempt: number;
}

/** An enzyme: a named callback registered on a signal path. */
export interface EnzymeDefinition {
  /** Unique per runtime (`ENZYME_DUPLICATE`); ties in ordering are broken by it. */
  readonly name: string;
  /** The query path (non-empty). */
  readonly signal: PathLike;
  /** `exact` (default): the whole signal path; `prefix`: the query is a prefix of the signal. */
  readonly match?: 'exact' | 'prefix';
  /** Names of enzymes this one must run before (when both match the same signal). */
  readonly before?: readonly string[];
  /** Names of enzymes this one must run after (when both match the same signal). */
  readonly after?: readonly string[];
  run(ctx: EnzymeContext): EnzymeResult | void;
}

/** One enzyme run, as the beat report lists it (the reference's agenda ledger). */
export interface AgendaEntry {
  readonly enzyme: string;
  readonly signal: string;
  readonly target: string | undefined;
  readonly result: EnzymeResult | 'threw';
}

/** A signal as it was dispatched in a beat. */
export interface ImpulseEntry {
  readonly signal: string;
  readonly target: string | undefined;
  readonly attempt: number;
}

/** What `step()` returns. */
export interface BeatReport {
  readonly beat: number;
  readonly inputs: number;
  /** How many signals were dispatched. */
  readonly signals: number;
  /** The dispatched signals in order (matched or not). */
  readonly impulses: readonly ImpulseEntry[];
  readonly agenda: readonly AgendaEntry[];
  readonly organRuns: number;
  readonly slices: number;
}

/** An external input (e.g. a frame) as pushed by the edge. */
export interface Input {
  readonly stream: string;
  readonly seq: number;
  readonly data: Uint8Array;
}

/** Options of {@link Runtime.pushInput}. */
export interface PushInputOptions {
  /**
   * The caller hands `data` over: neither it nor anyone else writes those bytes again (a buffer
   * made for this input, or a received frame the provider never reuses). The inbound log then
   * keeps this very array instead of a copy. Default false: the log keeps a copy, so a caller
   * may reuse its buffer at once. Passing true for bytes that change later breaks replay.
   */
  readonly owned?: boolean;
}

/** An admitted input, as the inbound log records it. */
export interface LoggedInput extends Input {
  readonly beat: number;
  readonly kind: string;
}

/** What an input handler sees. Signals it enqueues without `atBeat` run in this same beat. */
export interface InputContext {
  readonly runtime: Runtime;
  readonly beat: number;
  readonly kind: string;
}

/** Why an organ handler runs. */
export type OrganReason = 'create' | 'change' | 'remove';

/** What an organ handler sees. */
export interface OrganContext {
  readonly runtime: Runtime;
  readonly beat: number;
  readonly kind: string;
  /** The organ root (the dictionary with store type `organ/<kind>`). */
  readonly root: Cell;
  /** The request: the child of the organ root that changed. Deleted or detached when `reason` is `remove`. */
  readonly request: Cell;
  readonly requestPath: readonly Name[];
  readonly reason: OrganReason;
}

/** A validator's verdict: nothing (valid) or an error. */
export type OrganVerdict = void | undefined | { readonly error: string; readonly topic?: string };

/** An organ: handlers bound to the store type `organ/<kind>`. */
export interface OrganDefinition {
  /** `organ/<kind>` must be a valid name; kinds are unique per runtime. */
  readonly kind: string;
  /** Runs for every created or changed request (a throw counts as an error). */
  validator(ctx: OrganContext): OrganVerdict;
  /**
   * Runs once per request, after its first successful validation. (Named `construct`, not
   * `constructor`: every object already has a `constructor`, so an optional property of that
   * name would refuse every organ without one. An own `constructor` method is honoured too.)
   */
  construct?(ctx: OrganContext): void;
  /** Runs when a constructed request is deleted or removed. */
  destructor?(ctx: OrganContext): void;
  /**
   * Request fields the organ writes itself: changes to them do not re-run the validator.
   * Default `['state', 'error_note']`.
   */
  readonly outputs?: readonly string[];
  /** CEI topic for validation failures (default `organ/<kind>`). */
  readonly errorTopic?: string;
}

/** A CEI fact. */
export interface Fact {
  readonly topic: string;
  readonly severity: Severity;
  readonly note: string;
  /** Who raised it (an enzyme, organ or component name). */
  readonly origin: string;
  readonly pipeline?: PipelineMeta;
  /** Also mirror it, latest per topic, under `/net/peers/<peer>/ceh/<topic>`. */
  readonly peer?: string;
  /** Close this OPS dossier with `fail` when the severity is usage, crit or fatal. */
  readonly op?: string;
  /** Enqueue `sig_cei/<severity>` (targeting the fact) for the next beat. */
  readonly signal?: boolean;
}

/** A recorded CEI fact, as listeners get it. */
export interface EmittedFact extends Fact {
  readonly id: string;
  readonly beat: number;
}

/** The Common Error Interface of a runtime. */
export interface Cei {
  /** Records a fact under the mailbox (`/data/mailbox/diag/msgs/<id>`) and returns its id (`msg-<n>`). */
  emit(fact: Fact): string;
  /** Hears every fact after it is recorded (for loggers). Returns the unsubscribe function. */
  onFact(listener: (fact: EmittedFact) => void): () => void;
}

/** OPS dossier states. `ok`, `cxl` and `fail` are terminal (set by `close`). */
export type OpState = 'plan' | 'run' | 'yield' | 'await' | 'ok' | 'cxl' | 'fail';
/** Non-terminal states. */
export type OpOpenState = 'plan' | 'run' | 'yield' | 'await';
/** How an operation ended. */
export type OpStatus = 'ok' | 'cxl' | 'fail';

/** Options of {@link Ops.start}. */
export interface OpStartOptions {
  readonly verb: string;
  readonly target?: string;
  readonly state?: OpOpenState;
  readonly pipeline?: PipelineMeta;
}

/** Options of {@link Ops.await}. */
export interface OpAwaitOptions {
  /** The state (or terminal status) to wait for. */
  readonly want: OpState;
  /** Signal enqueued (at the next beat) when `want` is reached. */
  readonly signal: PathLike;
  /** Target of both signals (default `/rt/ops/<id>`). */
  readonly target?: PathLike;
  /** Beats to wait; 0 or absent = no deadline. */
  readonly ttl?: number;
  /** Signal enqueued when the deadline passes (default `op/tmo`). */
  readonly timeoutSignal?: PathLike;
}

/** OPS dossiers under `/rt/ops/<id>`. */
export interface Ops {
  /** Opens a dossier (state `run` unless given) and returns its id. */
  start(options: OpStartOptions): string;
  /** Moves an open operation to another non-terminal state (`OP_CLOSED` after close). */
  setState(id: string, state: OpOpenState, detail?: { code?: number; note?: string }): void;
  /** Closes it. Closing again with the same status is a no-op (true); with another, false. */
  close(id: string, status: OpStatus, summary?: string): boolean;
  /** Installs a watcher; returns its id. Watchers fire exactly once, in commit. */
  await(id: string, options: OpAwaitOptions): string;
  /**
   * Removes dossiers closed before `beforeBeat` (their watchers have fired); returns how many.
   * A long-running runtime calls it now and then so `/rt/ops` stays bounded. Beat-stamped, so
   * a replay prunes the same dossiers.
   */
  prune(beforeBeat: number): number;
  /** The current state, or `undefined` if there is no such dossier. */
  state(id: string): OpState | undefined;
  /** The path of a dossier. */
  path(id: string): Name[];
}

/** Per-slice budgets of an episode. */
export interface EpisodeBudget {
  /** CPU nanoseconds per slice; measured at the edge (the runtime's `cpuClock`) and logged. */
  readonly cpuNs?: bigint;
  /** IO bytes per slice, charged by the slice with `ctx.charge('io', n)`. */
  readonly ioBytes?: bigint;
}

/** What a slice sees. */
export interface SliceContext {
  readonly runtime: Runtime;
  readonly beat: number;
  readonly id: string;
  /** 1 for the first slice. */
  readonly slice: number;
  /** True once someone asked to cancel: return soon. */
  readonly cancelled: boolean;
  /** Run another slice next beat. */
  yield(note?: string): void;
  /** Sleep until operation `op` reaches `want` (or `ttl` beats pass: the episode is cancelled). */
  await(op: string, want: OpState, ttl?: number): void;
  /** End the episode now. */
  close(status?: OpStatus, summary?: string): void;
  /** Charges measured usage to this slice (recorded in the tree). */
  charge(kind: 'cpu' | 'io', amount: bigint): void;
}

/** Options of {@link Episodes.start}. */
export interface EpisodeOptions {
  readonly verb?: string;
  readonly target?: string;
  /** Called once per slice; return without yield/await/close → closed `ok`. */
  slice(ctx: SliceContext): void;
  /** The last beat a slice may run in; past it the episode is cancelled (`deadline`). */
  readonly deadline?: number;
  /** At most this many slices; then the episode is cancelled (`max beats`). */
  readonly maxBeats?: number;
  readonly budget?: EpisodeBudget;
  readonly pipeline?: PipelineMeta;
}

/** Episodes (the reference's E3): long work in slices, one slice per beat at most. */
export interface Episodes {
  /** Starts an episode (an OPS dossier with verb `op/ep`); the first slice runs next beat. Returns its id. */
  start(options: EpisodeOptions): string;
  /** Same as `ctx.yield(note)` from inside episode `id`'s own slice (`EPISODE_OUTSIDE_SLICE` elsewhere). */
  yield(id: string, note?: string): void;
  /** Cooperative cancel: a running slice sees `cancelled`; otherwise it ends now with `cxl`. */
  cancel(id: string, note?: string): boolean;
  /** True while the episode has not ended. */
  isActive(id: string): boolean;
}

/** Options of `createRuntime`. */
export interface RuntimeOptions {
  /** The tree to run on (default: a new one). */
  readonly tree?: Tree;
  /** The first beat (default: the tree's beat). */
  readonly startBeat?: number;
  /** History depth of a tree created here. */
  readonly historyDepth?: number;
  /** CEI messages kept in the mailbox (older ones are removed; default 1024). */
  readonly ceiRetain?: number;
  /**
   * History entries kept per OPS dossier (default `DEFAULT_OPS_HISTORY_RETAIN`, 64): past it the
   * oldest entry is removed and the dossier's `history_dropped` counts it, so a dossier that moves
   * every beat (a mirror's) stays the same size however long it runs. Part of the digest, so a
   * replay must use the same value.
   */
  readonly opsHistoryRetain?: number;
  /**
   * Keep a beat ledger in the tree: `/rt/beat/<N>/{impulses, agenda}` (lists of text lines,
   * like the reference's), for the last `retain` beats. Off by default; it is part of the
   * digest when on.
   */
  readonly ledger?: { readonly retain: number };
  /**
   * Measures CPU time for episode budgets (e.g. `process.hrtime.bigint`). Only read at the
   * edge: each measurement is logged as an input and charged at the next capture.
   */
  readonly cpuClock?: () => bigint;
  /**
   * Bytes of input data the inbound log keeps (default `DEFAULT_INBOUND_LOG_BYTES`, 16 MiB):
   * past it the oldest entries are dropped, so big frames cannot grow memory without bound.
   * A durable store gets every input through `onCommitted` before any is dropped.
   */
  readonly inboundLogBytes?: number;
}

/** What the inbound log holds now, and how many entries its byte cap has dropped. */
export interface InboundLogStats {
  readonly entries: number;
  /** Data bytes of the entries kept. */
  readonly bytes: number;
  /** Entries dropped (oldest first) because the log passed `inboundLogBytes`. */
  readonly trimmed: number;
}

/** A heartbeat runtime. Two runtimes share nothing. */
export interface Runtime {
  readonly tree: Tree;
  /** The beat the next `step()` runs (during a step: the beat running). */
  readonly beat: number;
  readonly phase: Phase;
  /** Runs one whole beat: capture → compute → commit, then moves to the next beat. */
  step(): BeatReport;
  /** Runs `beats` beats. */
  run(beats: number): void;
  /** Queues a signal (see the README for which beat it runs in). */
  enqueue(signal: PathLike, options?: EnqueueOptions): SignalTicket;
  /** Registers an enzyme; returns the function that unregisters it. */
  registerEnzyme(enzyme: EnzymeDefinition): () => void;
  /** Registers an organ (handlers bound to the store type `organ/<kind>`). */
  registerOrgan(organ: OrganDefinition): () => void;
  /** Declares an input kind and the handler that admits its inputs at capture. */
  defineInput(kind: string, handler: (input: Input, ctx: InputContext) => void): void;
  /**
   * Hands an external input to the runtime; it is admitted (and logged) at the next capture.
   * The log keeps a copy of `input.data`, or the array itself with `options.owned`.
   */
  pushInput(kind: string, input: Input, options?: PushInputOptions): void;
  /** The admitted inputs, in admission order, since the last `clearInboundLog` and within `inboundLogBytes`. */
  readonly inboundLog: readonly LoggedInput[];
  /** Size of the inbound log and the entries its byte cap dropped (for telemetry). */
  readonly inboundLogStats: InboundLogStats;
  /**
   * Drops logged inputs admitted before `beforeBeat` (all when omitted) — a long-running peer
   * persists the log elsewhere (or snapshots the tree) and trims it.
   */
  clearInboundLog(beforeBeat?: number): void;
  /** Runs `hook` in every commit (after the beat's compute); returns the remover. */
  onCommit(hook: (beat: number) => void): () => void;
  /**
   * Tells `listener` that an input was pushed (its kind), right inside `pushInput`; returns the
   * remover. For an embedder that starts a beat when input arrives instead of waiting for its
   * next tick: schedule a `step()` (a microtask, say) — never call it from the listener, which may
   * run during a beat (`RUNTIME_REENTRANT`). When a beat runs changes nothing a beat decides: the
   * input is admitted and logged at the next capture either way, so a replay of the log decides
   * the same. It must not throw: what it throws, `pushInput` throws (the input is queued already).
   */
  onInput(listener: (kind: string) => void): () => void;
  /**
   * Runs `listener` at the very end of every beat's commit — after the commit hooks, OPS
   * watchers and the beat ledger, when nothing of the beat is left to write — with the beat
   * and the inputs it admitted (in admission order). A durable store appends the beat here.
   * The listener must not write to the tree. Returns the remover.
   */
  onCommitted(listener: (beat: number, inputs: readonly LoggedInput[]) => void): () => void;
  readonly cei: Cei;
  readonly ops: Ops;
  readonly episodes: Episodes;
}
