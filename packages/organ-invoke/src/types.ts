/** Public shapes of the invoke organ. */
import type { PathLike, Tree, Value } from '@cep/cells';
import type { UsageMeter } from './meter.ts';
import type { PipelineMeta, Runtime } from '@cep/heartbeat';
import type { RetryOptions } from '@cep/organ-link';

/** How an invoke ended, as the caller records it (exactly once). */
export type InvokeStatus = 'ok' | 'reject' | 'timeout' | 'cancelled';

/** The outcome of one invoke. */
export interface InvokeOutcome {
  /** The invoke id (`inv-` + 32 hex digits). */
  readonly id: string;
  /** The request it was submitted on. */
  readonly request: string;
  readonly status: InvokeStatus;
  /** What the remote handler returned (status `ok`, when it returned a value). */
  readonly result?: Value;
  /** Why it did not succeed (reject, timeout, cancelled). */
  readonly note?: string;
  /** Who refused it (status `reject`): this runtime before sending, or the remote one. */
  readonly refusedBy?: 'sender' | 'receiver';
  /**
   * A stable code for why it did not succeed, when there is one: `INVOKE_EXPIRED` and
   * `INVOKE_SHUTTING_DOWN` (refused by the receiver, nothing ran: safe to retry),
   * `INVOKE_SESSION_CHANGED` and `INVOKE_CALLER_SHUTDOWN` (cancelled; it may have run remotely).
   */
  readonly code?: string;
  /** The beat the outcome was recorded in. */
  readonly beat: number;
}

/** Pipeline metadata of a submission (validated with `parsePipelineMeta`). */
export interface PipelineInput {
  readonly pipelineId: string;
  readonly stageId: string;
  readonly dagRunId: bigint;
  readonly hopIndex: number;
}

/** What `submit` takes. */
export interface Submission {
  /** The invoke request (its name under `/net/organs/invoke/requests/`) whose mount carries the call. */
  readonly request: string;
  /** The signal to run on the remote runtime, e.g. `/sig/x`. */
  readonly signal: string;
  /** The target of that signal on the remote runtime, e.g. `/data/y`. */
  readonly target?: string;
  /** The impulse's data on the remote side. */
  readonly payload?: Value;
  /** Beats to wait for the reply; no reply by beat `submit beat + timeoutBeats` → `timeout`. */
  readonly timeoutBeats: number;
  /** Pipeline metadata (required across enclaves); default: the request's `pipeline/` fields. */
  readonly pipeline?: PipelineInput;
  /** Called once, when the outcome is recorded. */
  readonly onComplete?: (outcome: InvokeOutcome) => void;
}

/** What an exposed handler gets. It runs inside a beat (as an enzyme): synchronous, no clock. */
export interface InvokeCall {
  readonly invokeId: string;
  readonly beat: number;
  /** The peer that sent the call (from the authenticated channel, never from the frame). */
  readonly caller: string;
  readonly signal: string;
  readonly target?: string;
  readonly payload?: Value;
  readonly pipeline?: PipelineMeta;
  readonly tree: Tree;
  readonly runtime: Runtime;
}

/** What an exposed handler returns; nothing means `{ status: 'ok' }`. */
export type InvokeReply = { readonly status: 'ok'; readonly result?: Value } | { readonly status: 'reject'; readonly note: string };

/** A handler exposed with `expose(signal, handler)`. */
export type InvokeHandler = (call: InvokeCall) => InvokeReply | void;

/** Options of `expose`. */
export interface ExposeOptions {
  /** Enzyme name (default `invoke:<signal>`). */
  readonly name?: string;
  /** Enzymes on the same signal this handler runs before / after. */
  readonly before?: readonly string[];
  readonly after?: readonly string[];
}

/** Options of `installInvoke`. */
export interface InvokeOptions {
  /** This runtime's enclave (default `local`). */
  readonly enclave?: string;
  /** The enclave of a peer (default: every peer is in this runtime's enclave). `undefined` = unknown: cross-enclave checks deny it. */
  readonly peerEnclave?: (peer: string) => string | undefined;
  /** Only run signals exposed with `expose` (others are refused); default false: plain enzymes run too. */
  readonly exposedOnly?: boolean;
  /** Invokes pending per request (default 1024). */
  readonly maxPending?: number;
  /** Completed invoke records kept under each request (default 64; older ones are removed). */
  readonly retainCompleted?: number;
  /** Outcomes `result(id)` can still answer for (default 4096). */
  readonly retainOutcomes?: number;
  /**
   * Most invoke ids the receiving side's replay guard remembers (default `DEFAULT_MAX_SEEN_IDS` of
   * @cep/security, 524,288). When it holds that many ids of its window, further calls are refused
   * with `INVOKE_BUSY` (nothing ran) until the window moves on: ids are never forgotten early.
   */
  readonly maxSeenIds?: number;
  /**
   * Most usage records (`/journal/decisions/sec/<id>`) this runtime keeps (default
   * `DEFAULT_MAX_USAGE_RECORDS` of @cep/security, 524,288); past it, the oldest beats' go.
   */
  readonly maxUsageRecords?: number;
  /** Longest signal or target path, in bytes (default 1024). */
  readonly maxPathBytes?: number;
  /** Largest payload or result value, in bytes (default 256 KiB). */
  readonly maxValueBytes?: number;
  /**
   * Most calls (or replies) one batch frame carries, sent and accepted (default 1024). The calls
   * a mount sends in one beat share frames; a received batch with more items is refused whole.
   */
  readonly maxBatchItems?: number;
  /**
   * Measures an exposed handler's run when a `cpu_ns` or `wall_ms` budget applies to its call
   * (default: CPU and wall time of the process while it runs). The measurement enters as a
   * recorded input (`inv.usage`) and is charged at the next capture; the reply waits for it, so
   * it leaves one beat later, or as `sec.limit.hit` when over a budget. `false`: measure nothing
   * — for `replay`, where the logged measurements are admitted instead.
   */
  readonly meter?: UsageMeter | false;
  /** Longest timeout a submission may ask for, in beats (default 1,000,000). */
  readonly maxTimeoutBeats?: number;
  /**
   * The shortest wall-clock time a beat of this runtime takes, in ms (its beat period). With it,
   * and a clock recorded with `clock()`, every call carries an expiry: `expires_at = clock +
   * timeoutBeats × beatMs − clockSkewMs`, before the caller can have given up (its beats are never
   * shorter). Without it calls carry none, and only the caller's beats bound a call.
   */
  readonly beatMs?: number;
  /** How far the two peers' wall clocks may disagree, in ms (default 250): the expiry is that much earlier. */
  readonly clockSkewMs?: number;
  /**
   * Also give up on a call (`timeout`) at the first commit whose recorded clock is past
   * `expires_at + clockSkewMs` (= the clock at submit + `timeoutBeats × beatMs`), when that comes
   * before its deadline beat (default false: the deadline beat alone). Beats stretch under load, so
   * `timeoutBeats` beats can outlast the expiry by far, and the caller then waits for a reply the
   * callee refuses (`INVOKE_EXPIRED`). Needs `beatMs` and a recorded clock; a replay gives up at
   * the same beat (the clock is a recorded input).
   */
  readonly giveUpAtExpiry?: boolean;
  /**
   * Make the calling side replayable from this runtime's own log (default false): a submission
   * made outside a beat enters as an input (`inv.submit`) and starts at the capture that admits
   * it (its record appears, and it leaves, in that beat); invoke ids derive from a per-runtime
   * secret seed (input `inv.seed`) and the recorded inputs, never drawn at submit time. See the
   * README, "Replaying a caller".
   */
  readonly recordSubmissions?: boolean;
  /** This runtime replays a log: it records no seed of its own (the logged one is admitted). */
  readonly replay?: boolean;
  /**
   * Redial a request's mount when it breaks (dial failed, fatal, closed): after `first` beats,
   * doubling up to `max`, at most `limit` times (defaults 8, 512, no limit; see @cep/organ-link).
   * `false`: a broken request stays in `error` until it changes.
   */
  readonly retry?: RetryOptions | false;
}

/** An installed invoke organ. */
export interface InvokeOrgan {
  readonly kind: 'invoke';
  /**
   * Queues a call on the request's mount and returns its id (see the README for refusals). The
   * calls of a mount leave together: at the commit of the beat they were submitted in, or right
   * after the submitting code when submitted between beats.
   */
  submit(submission: Submission): string;
  /** The outcome of invoke `id`, once it is recorded. */
  result(id: string): Promise<InvokeOutcome>;
  /** The outcome of invoke `id` if recorded, else `undefined` (also for unknown ids). */
  outcome(id: string): InvokeOutcome | undefined;
  /** Invokes still waiting for a reply. */
  pending(): number;
  /** Runs `handler` for remote calls of `signal` on this runtime; its reply is the call's result. Returns the remover. */
  expose(signal: PathLike, handler: InvokeHandler, options?: ExposeOptions): () => void;
  /**
   * Records this runtime's wall-clock time (ms since the epoch) for the next beat: call it right
   * before each `step()`. It enters as an input (`inv.clock`), so replay decides the same; calls
   * are checked against their `expires_at` on the latest recorded time, never on a clock read
   * inside the beat. A runtime that never records one runs calls whatever their expiry.
   */
  clock(wallMs: number): void;
  /**
   * Starts a graceful stop: `submit` throws `INVOKE_DRAINING`, calls that arrive from now on are
   * refused with `INVOKE_SHUTTING_DOWN` (nothing runs; the caller may retry elsewhere), and what
   * is in flight goes on: pending calls wait for their replies, admitted calls are answered.
   */
  drain(): void;
  /** Nothing in flight: no call of this runtime waits for a reply, and no admitted call waits for its answer to leave. */
  idle(): boolean;
  /** Cancels every pending call (`cancelled`, with `code`), e.g. when a drain runs out of beats. */
  cancelAll(note: string, code?: string): void;
  /** Unregisters the organ, the frame handler and hooks. */
  uninstall(): void;
}
