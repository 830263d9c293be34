/**
 * The receiving side. A call admitted at the capture of beat N is checked here — its id once
 * per runtime (`admitInvokeId`), the mount (reliable and ordered), the security decision on this
 * runtime's own policy — and then runs as a normal impulse in beat N
 * (`enqueue(signal, { target, data: payload, pipeline })`). At the commit of N the reply leaves:
 * the exposed handler's answer, or `ok` when only plain enzymes ran.
 *
 * Which impulse is which call: each call is enqueued with its own `qos` object, and the enzyme
 * that wraps an exposed handler finds its call by that object (the runtime hands enzymes the
 * very object that was enqueued). A local impulse on the same signal finds none and is left alone.
 */
import { formatPath, name, parsePath, type Name, type PathLike, type Value } from '@cep/cells';
import type { EnzymeContext, Qos, Runtime } from '@cep/heartbeat';
import { admitInvokeId, admitInvokeIdVerdict, checkInvoke, isInvokeId, recordUsage, type Decision, type Usage } from '@cep/security';
import { TOPIC, type Mount } from '@cep/transport';
import { OUTCOME_CODE, invokeError } from './errors.ts';
import type { RecordedClock } from './clock.ts';
import {
  BATCH_VALUE_BYTES,
  DEFAULT_FRAME_LIMITS,
  clip,
  packedBranch,
  valueBytes,
  type CallFrame,
  type FrameLimits,
  type FrameProblem,
  type ReplyFrame,
} from './frames.ts';
import { INVOKE_REQUIRED_CAPS } from './request.ts';
import { readPath, type ReadPath } from './paths.ts';
import type { ExposeOptions, InvokeHandler, InvokeReply } from './types.ts';
import { UNKNOWN_ENCLAVE } from './caller.ts';
import { USAGE_INPUT, decodeMeasured, encodeMeasured, metered, type UsageMeter } from './meter.ts';

/** What the receiving side needs to know about this runtime. */
export interface CalleeEnv {
  readonly enclave: string;
  readonly peerEnclave: (peer: string) => string | undefined;
  readonly limits: FrameLimits;
  readonly exposedOnly: boolean;
  /** Measures exposed handlers whose call has a `cpu_ns` or `wall_ms` budget; `false`: never (replay: the logged measurements are admitted instead). */
  readonly meter: UsageMeter | false;
  /** Most ids the replay guard remembers; beyond them calls are refused with `INVOKE_BUSY` (see admitInvokeIdVerdict). */
  readonly maxSeenIds: number;
  /** Most usage records the ledger keeps (recordUsage's bound). */
  readonly maxUsageRecords: number;
}

type Reply = { status: 'ok'; result?: Value } | { status: 'reject'; note: string; code?: string };

const TRANSPORT = name('transport');
const PROV_CAPS = name('prov_caps');
const CAP_NAMES = INVOKE_REQUIRED_CAPS.map((cap) => name(cap));

/** Per runtime, the callee that charges admitted `inv.usage` inputs (the kind outlives an uninstall). */
const usageSlots = new WeakMap<Runtime, { callee: Callee | undefined }>();

/** `T` with its fields writable (objects built field by field before they are handed on). */
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** What `runtime.enqueue` takes besides the signal. */
type ImpulseOptions = NonNullable<Parameters<Runtime['enqueue']>[1]>;

interface Running {
  readonly id: string;
  readonly mount: Mount;
  /** The call, when it was admitted to run (refusals have none). */
  readonly frame?: CallFrame;
  reply: Reply | undefined;
  /** A `cpu_ns` or `wall_ms` budget applies: an exposed handler's reply waits for its measured usage. */
  readonly metered?: boolean;
  /** The exposed handler ran (and returned): its measurement is on its way as an `inv.usage` input. */
  ran?: boolean;
  /** The usage recorded when the call was admitted (kept for the charge of a measured run: see charge()). */
  readonly usage?: Usage;
  /** The signal's and target's canonical texts, read once when the call was admitted (what the handler is told). */
  readonly signalText?: string;
  readonly targetText?: string;
}

export class Callee {
  private readonly exposed = new Map<string, InvokeHandler>();
  /**
   * The call of each impulse this side enqueued, until its reply leaves (flush deletes it; a call
   * that could not be enqueued never stays). A Map, not a WeakMap: every entry has a known end, and
   * a weak table costs the collector extra work per entry (one per call).
   */
  private readonly byQos = new Map<Qos, Running>();
  private readonly replies: Array<{ running: Running; qos: Qos | undefined }> = [];
  /** Replies waiting for their handler's measured usage, by invoke id. */
  private readonly awaitingUsage = new Map<string, Running>();
  private usageSeq = 0;
  private draining = false;

  constructor(
    private readonly runtime: Runtime,
    private readonly env: CalleeEnv,
    private readonly clock: RecordedClock,
  ) {
    // An input kind is defined once per runtime; a reinstalled organ takes the existing one over.
    let slot = usageSlots.get(runtime);
    if (slot === undefined) {
      const fresh: { callee: Callee | undefined } = { callee: undefined };
      runtime.defineInput(USAGE_INPUT, (input) => fresh.callee?.charge(input.data));
      usageSlots.set(runtime, (slot = fresh));
    }
    slot.callee = this;
  }

  expose(signal: PathLike, handler: InvokeHandler, options: ExposeOptions = {}): () => void {
    if (typeof handler !== 'function') throw invokeError('INVOKE_OPTION_INVALID', 'expose needs a handler function', { field: 'handler' });
    let path: Name[];
    try {
      path = parsePath(signal);
    } catch (error) {
      throw invokeError('INVOKE_OPTION_INVALID', `signal ${JSON.stringify(signal)} is not a valid path: ${(error as Error).message}`, { field: 'signal' });
    }
    const key = formatPath(path);
    if (path.length === 0) throw invokeError('INVOKE_OPTION_INVALID', 'expose needs a non-empty signal path', { field: 'signal' });
    if (this.exposed.has(key))
      throw invokeError('INVOKE_OPTION_INVALID', `signal ${key} is exposed already; remove the first handler before exposing another`, { field: 'signal' });
    const unregister = this.runtime.registerEnzyme({
      name: options.name ?? `invoke:${key}`,
      signal: path,
      ...(options.before !== undefined ? { before: options.before } : {}),
      ...(options.after !== undefined ? { after: options.after } : {}),
      run: (ctx) => this.runHandler(ctx, handler),
    });
    this.exposed.set(key, handler);
    return () => {
      if (this.exposed.get(key) !== handler) return;
      this.exposed.delete(key);
      unregister();
    };
  }

  /** From now on calls that arrive are refused with `INVOKE_SHUTTING_DOWN`; admitted ones are answered. */
  drain(): void {
    this.draining = true;
  }

  /** No admitted call waits for its answer to leave (replies queued for the commit, or held for a measurement). */
  idle(): boolean {
    return this.replies.length === 0 && this.awaitingUsage.size === 0;
  }

  /**
   * The call's expiry has passed on this runtime's recorded clock (admitted with this beat, never
   * read here): the caller may have given up, so it must not run. No clock, or no expiry: not expired.
   */
  private expired(frame: CallFrame): boolean {
    const now = this.clock.now;
    return frame.expiresAt !== undefined && now !== undefined && now > frame.expiresAt;
  }

  /** The first cap invoke needs that `mount`'s provider lacks (`reliable`, `ordered`), if any. */
  missingCap(mount: Mount): string | undefined {
    // One walk to the caps' dictionary per frame, then its children (names made once).
    const caps = this.runtime.tree.get([...mount.path, TRANSPORT, PROV_CAPS]);
    for (let i = 0; i < INVOKE_REQUIRED_CAPS.length; i++) {
      const cell = caps === undefined || caps.isDeleted ? undefined : caps.child(CAP_NAMES[i]!);
      if (cell === undefined || cell.isDeleted || cell.value?.value !== true) return INVOKE_REQUIRED_CAPS[i];
    }
    return undefined;
  }

  /**
   * A call frame admitted at capture of `beat` on `mount`, `bytes` long on the wire.
   * `unreliable`: {@link missingCap} of the mount, read once per frame by the caller (every call
   * of a batch came on the same mount in the same capture). Required, not defaulted: a default
   * would read the mount's caps again for every call of a reliable mount, whose answer is
   * `undefined`.
   */
  call(frame: CallFrame, mount: Mount, bytes: number, unreliable: string | undefined): void {
    const peer = mount.peer;
    const verdict = admitInvokeIdVerdict(this.runtime.tree, frame.id, undefined, this.env.maxSeenIds);
    if (verdict === 'full') {
      // Not remembered, so it must not run: a later copy of this id is judged afresh (see the README, Replay guard).
      this.report(frame.id, peer, `the replay guard holds its ${this.env.maxSeenIds} ids, all inside its window`);
      return this.queue(mount, frame.id, `${OUTCOME_CODE.busy}: the receiver's replay guard is full; nothing ran`, OUTCOME_CODE.busy);
    }
    if (verdict !== 'fresh') {
      this.report(frame.id, peer, verdict === 'seen' ? 'its id was seen before (a replayed frame)' : 'its id is not an unguessable invoke id');
      if (verdict === 'malformed') this.queue(mount, frame.id, `id ${JSON.stringify(frame.id)} is not an unguessable invoke id`);
      return;
    }
    // Refusals that say nothing ran, with a code the caller can act on (both are safe to retry).
    if (this.draining) {
      this.report(frame.id, peer, 'this runtime is shutting down');
      return this.queue(mount, frame.id, `${OUTCOME_CODE.shuttingDown}: the receiver is shutting down; nothing ran`, OUTCOME_CODE.shuttingDown);
    }
    if (this.expired(frame)) {
      this.report(frame.id, peer, `it expired at ${frame.expiresAt} ms, this runtime's recorded clock reads ${this.clock.now} ms`);
      return this.queue(
        mount,
        frame.id,
        `${OUTCOME_CODE.expired}: the call arrived after its expiry (${this.clock.now! - frame.expiresAt!} ms late on the receiver's clock); nothing ran`,
        OUTCOME_CODE.expired,
      );
    }
    if (unreliable !== undefined)
      return this.queue(mount, frame.id, `mount ${mount.peer}/${mount.mode}/${mount.mount} is not ${unreliable}; invoke needs a reliable, ordered mount`);
    let signalPath: ReadPath;
    let targetPath: ReadPath | undefined;
    try {
      signalPath = readPath(frame.signal);
      targetPath = frame.target === undefined ? undefined : readPath(frame.target);
      if (signalPath.names.length === 0) throw new Error('empty path');
    } catch (error) {
      return this.queue(mount, frame.id, `signal or target is not a valid path: ${(error as Error).message}`);
    }
    const signal = signalPath.names;
    const target = targetPath?.names;
    const signalText = signalPath.text;
    if (this.env.exposedOnly && !this.exposed.has(signalText)) return this.queue(mount, frame.id, `signal ${signalText} is not exposed on this runtime`);
    // The receiver's check, on its own policy: the frame's size and the beats the caller says it waits.
    const usage = recordUsage(this.runtime.tree, frame.id, { ioBytes: bytes, beats: frame.timeout }, this.env.maxUsageRecords);
    const decision = this.receiverCheck(peer, frame, usage);
    if (!decision.allowed) return this.queue(mount, frame.id, decision.note);
    const qos: Qos = { retainOnPause: true };
    const isMetered = metered(decision.budgets);
    // Built field by field: one object each, not one per optional part (this runs once per call).
    const running: Mutable<Running> = { id: frame.id, mount, frame, reply: undefined, metered: isMetered, signalText };
    if (targetPath !== undefined) running.targetText = targetPath.text;
    if (isMetered) running.usage = usage;
    this.byQos.set(qos, running);
    const options: Mutable<ImpulseOptions> = {};
    if (target !== undefined) options.target = target;
    if (frame.payload !== undefined) options.data = frame.payload;
    if (frame.pipeline !== undefined) options.pipeline = frame.pipeline;
    options.qos = qos;
    try {
      this.runtime.enqueue(signal, options);
    } catch (error) {
      this.byQos.delete(qos);
      return this.queue(mount, frame.id, `could not enqueue ${signalText}: ${(error as Error).message}`);
    }
    this.replies.push({ running, qos });
  }

  /** A frame that could not be read: reported, and answered when it names a fresh, well-formed id. */
  problem(problem: FrameProblem, mount: Mount): void {
    this.report(problem.id ?? '?', mount.peer, `malformed frame: ${problem.note}`);
    if (problem.id !== undefined && isInvokeId(problem.id) && admitInvokeId(this.runtime.tree, problem.id, undefined, this.env.maxSeenIds)) {
      this.queue(mount, problem.id, `malformed call: ${problem.note}`);
    }
  }

  /** Commit: every reply of this beat leaves, in admission order: one frame per mount (a batch when several). */
  flush(): void {
    if (this.replies.length === 0) return;
    const byMount = new Map<Mount, ReplyFrame[]>();
    for (const { running, qos } of this.replies.splice(0)) {
      if (qos !== undefined) this.byQos.delete(qos);
      if (running.ran === true && running.reply?.status === 'ok') {
        // Answered once its measured usage is charged (the next capture): see charge().
        running.ran = false;
        this.awaitingUsage.set(running.id, running);
        continue;
      }
      let reply = running.reply ?? { status: 'ok' as const };
      if (reply.status === 'ok' && reply.result !== undefined && valueBytes(reply.result) > this.env.limits.maxValueBytes) {
        reply = { status: 'reject', note: `the result is ${valueBytes(reply.result)} bytes, over the ${this.env.limits.maxValueBytes}-byte limit` };
      }
      // Field by field, as the reply's own fields come (one object per reply).
      const frame: Mutable<ReplyFrame> = { kind: 'reply', id: running.id, status: reply.status };
      if (reply.status === 'ok') {
        if (reply.result !== undefined) frame.result = reply.result;
      } else {
        frame.note = clip(reply.note, this.env.limits.maxNoteBytes);
        if (reply.code !== undefined) frame.code = reply.code;
      }
      const list = byMount.get(running.mount);
      if (list === undefined) byMount.set(running.mount, [frame]);
      else list.push(frame);
    }
    const most = this.env.limits.maxBatchItems ?? DEFAULT_FRAME_LIMITS.maxBatchItems!;
    for (const [mount, replies] of byMount) {
      for (let from = 0; from < replies.length; ) {
        // At most `maxBatchItems` replies and about BATCH_VALUE_BYTES of results per frame (at least one reply).
        let to = from + 1;
        let bytes = resultBytes(replies[from]!);
        while (to < replies.length && to - from < most && bytes + resultBytes(replies[to]!) <= BATCH_VALUE_BYTES) bytes += resultBytes(replies[to++]!);
        const group = replies.slice(from, to);
        from = to;
        try {
          mount.sendBranch(packedBranch(group));
        } catch (error) {
          for (const reply of group) {
            this.runtime.cei.emit({
              topic: TOPIC.invokeReject,
              severity: 'warn',
              note: `reply to ${reply.id} could not be sent: ${(error as Error).message}`,
              origin: 'org:invoke',
              peer: mount.peer,
            });
          }
        }
      }
    }
  }

  private runHandler(ctx: EnzymeContext, handler: InvokeHandler): void {
    const running = this.byQos.get(ctx.qos);
    const frame = running?.frame;
    if (running === undefined || frame === undefined) return; // a local impulse of the same signal: not a remote call
    if (this.expired(frame)) {
      // Admitted in time, but it would start after its expiry (a beat later, a pause): it does not run.
      this.report(frame.id, running.mount.peer, `it would start after its expiry (${frame.expiresAt} ms; recorded clock ${this.clock.now} ms)`);
      running.reply = {
        status: 'reject',
        note: `${OUTCOME_CODE.expired}: the call would have started after its expiry; nothing ran`,
        code: OUTCOME_CODE.expired,
      };
      return;
    }
    let answer: InvokeReply | void;
    const stop = running.metered === true && this.env.meter !== false ? this.env.meter.start() : undefined;
    try {
      answer = handler({
        invokeId: running.id,
        beat: ctx.beat,
        caller: running.mount.peer,
        // The texts of the very paths this impulse was enqueued with (read once, at admission).
        signal: running.signalText ?? formatPath(ctx.signal),
        ...(ctx.target !== undefined ? { target: running.targetText ?? formatPath(ctx.target) } : {}),
        ...(frame.payload !== undefined ? { payload: frame.payload } : {}),
        ...(ctx.pipeline !== undefined ? { pipeline: ctx.pipeline } : {}),
        tree: this.runtime.tree,
        runtime: this.runtime,
      });
    } catch (error) {
      running.reply = { status: 'reject', note: `handler threw: ${(error as Error)?.message ?? String(error)}` };
      throw error; // the heartbeat undoes the handler's writes and records the fact
    }
    running.reply = normalise(answer);
    if (running.metered === true) {
      running.ran = true;
      if (stop !== undefined)
        this.runtime.pushInput(USAGE_INPUT, { stream: 'callee', seq: ++this.usageSeq, data: encodeMeasured({ id: running.id, ...stop() }) }, { owned: true }); // fresh bytes: the log keeps them, no copy
    }
  }

  /**
   * A measured usage admitted at capture: `cpu_ns` and `wall_ms` are charged to the call's
   * ledger, the call is decided again on everything recorded, and its held reply leaves at this
   * beat's commit — or a refusal (`sec.limit.hit`) when the run went over a budget. The
   * handler's writes stay: they were committed with its beat.
   */
  charge(data: Uint8Array): void {
    const measured = decodeMeasured(data);
    if (measured === undefined) {
      this.runtime.cei.emit({ topic: TOPIC.invokeReject, severity: 'warn', note: 'a measured usage input could not be read; ignored', origin: 'sec/receive' });
      return;
    }
    const recorded = recordUsage(this.runtime.tree, measured.id, { cpuNs: measured.cpuNs, wallMs: measured.wallMs }, this.env.maxUsageRecords);
    const running = this.awaitingUsage.get(measured.id);
    if (running === undefined || running.frame === undefined) return;
    // The ledger is bounded in records (recordUsage): were this call's record evicted in between,
    // the totals would lack what its admission charged. What was charged then still counts.
    const usage = atLeast(recorded, running.usage);
    this.awaitingUsage.delete(measured.id);
    const peer = running.mount.peer;
    const frame = running.frame;
    const decision = this.receiverCheck(peer, frame, usage);
    if (!decision.allowed) {
      running.reply = { status: 'reject', note: `${decision.note} (measured after the run; its writes stay)` };
    }
    this.replies.push({ running, qos: undefined });
  }

  /**
   * The receiver's security check of a call, on its own policy and the usage recorded so far
   * (`usage`: the totals recordUsage just returned); a denial is a CEI fact.
   */
  private receiverCheck(peer: string, frame: CallFrame, usage: Usage): Decision {
    const decision = checkInvoke(this.runtime.tree, {
      fromEnclave: this.env.peerEnclave(peer) ?? UNKNOWN_ENCLAVE,
      toEnclave: this.env.enclave,
      ...(frame.pipeline !== undefined ? { pipeline: frame.pipeline } : {}),
      usage,
      side: 'receive',
    });
    if (!decision.allowed) {
      this.runtime.cei.emit({
        topic: decision.topic!,
        severity: decision.severity,
        note: decision.note,
        origin: decision.origin,
        peer,
        ...(decision.pipeline !== undefined ? { pipeline: decision.pipeline } : {}),
      });
    }
    return decision;
  }

  private queue(mount: Mount, id: string, note: string, code?: string): void {
    this.replies.push({ running: { id, mount, reply: { status: 'reject', note, ...(code !== undefined ? { code } : {}) } }, qos: undefined });
  }

  private report(id: string, peer: string, why: string): void {
    this.runtime.cei.emit({
      topic: TOPIC.invokeReject,
      severity: 'warn',
      note: `call ${id} from ${peer} refused, nothing ran: ${why}`,
      origin: 'sec/receive',
      peer,
    });
  }
}

/** `usage`, each field at least what `floor` holds. */
function atLeast(usage: Usage, floor: Usage | undefined): Usage {
  if (floor === undefined) return usage;
  const out: Record<string, number> = { ...usage };
  for (const [key, value] of Object.entries(floor)) if (value !== undefined && value > (out[key] ?? 0)) out[key] = value;
  return out;
}

function resultBytes(reply: ReplyFrame): number {
  return reply.result === undefined ? 0 : valueBytes(reply.result);
}

function normalise(answer: unknown): Reply {
  if (answer === undefined) return { status: 'ok' };
  const a = answer as { status?: unknown; result?: unknown; note?: unknown };
  if (a.status === 'ok') {
    if (a.result === undefined) return { status: 'ok' };
    if (isValue(a.result)) return { status: 'ok', result: a.result };
    return { status: 'reject', note: 'the handler returned a result that is not a cell Value' };
  }
  if (a.status === 'reject') return { status: 'reject', note: typeof a.note === 'string' && a.note !== '' ? a.note : 'rejected by the handler' };
  return { status: 'reject', note: "the handler's answer is not { status: 'ok' | 'reject' }" };
}

function isValue(v: unknown): v is Value {
  if (typeof v !== 'object' || v === null) return false;
  const { type, value } = v as { type?: unknown; value?: unknown };
  switch (type) {
    case 'text':
      return typeof value === 'string';
    case 'u64':
    case 'i64':
      return typeof value === 'bigint';
    case 'bool':
      return typeof value === 'boolean';
    case 'bytes':
    case 'raw':
      return value instanceof Uint8Array;
    default:
      return false;
  }
}
