/**
 * The calling side: a submission is checked, recorded, and queued on its mount; the queue leaves
 * as one frame per mount (a batch when it holds several calls) at the commit of the beat it was
 * submitted in, or — submitted between beats — right after the code that submitted it (a
 * microtask), so a burst of submissions shares a frame either way. Its outcome is recorded
 * exactly once — the reply (ok / reject), the deadline beat passing (timeout), or the mount
 * going away, its remote session changing, or this runtime's drain running out (cancelled). The
 * record lives under the request (`invokes/<id>/{state, signal, target, peer, sent_beat, deadline,
 * expires_at, op, result, note, code, done_beat}`) and
 * the OPS dossier `/rt/ops/<op>` tells its transitions (plan → await → ok | fail | cxl).
 */
import { beatValue, formatPath, name, text, u64, type Cell, type Name, type Tree, type Value } from '@cep/cells';
import type { PipelineMeta, Runtime } from '@cep/heartbeat';
import type { MountOrgan, MountRequestEntry } from '@cep/organ-link';
import { checkInvoke, invokeIdName, isInvokeId, newInvokeId, parsePipelineMeta, recordUsage } from '@cep/security';
import { TOPIC } from '@cep/transport';
import { OUTCOME_CODE, invokeError } from './errors.ts';
import type { RecordedClock } from './clock.ts';
import { SUBMIT_INPUT, derivedId, encodeSubmission, type RecordedSubmission, type SubmissionLog } from './submissions.ts';
import { BATCH_VALUE_BYTES, DEFAULT_FRAME_LIMITS, clip, packedBranch, valueBytes, type CallFrame, type FrameLimits, type ReplyFrame } from './frames.ts';
import { readRequestPipeline } from './request.ts';
import { readPath, type ReadPath } from './paths.ts';
import type { InvokeOutcome, InvokeStatus, Submission } from './types.ts';
import type { FinishedCall, FoundCall } from './resume.ts';

/** What the caller needs to know about this runtime. */
export interface CallerEnv {
  readonly enclave: string;
  readonly peerEnclave: (peer: string) => string | undefined;
  readonly limits: FrameLimits;
  readonly maxPending: number;
  readonly maxTimeoutBeats: number;
  readonly retainCompleted: number;
  readonly retainOutcomes: number;
  /** Most usage records the ledger keeps (recordUsage's bound). */
  readonly maxUsageRecords: number;
  /** The runtime's beat period in ms (calls carry an expiry only with it). */
  readonly beatMs: number | undefined;
  readonly clockSkewMs: number;
  /** Submissions are recorded inputs and ids derive from the log (see submissions.ts); else ids are random. */
  readonly recordSubmissions: boolean;
  /** Give up on a call when the recorded clock passes `expires_at + clockSkewMs` (see InvokeOptions.giveUpAtExpiry). */
  readonly giveUpAtExpiry: boolean;
}

interface Pending {
  readonly id: string;
  readonly request: string;
  readonly key: string;
  readonly peer: string;
  readonly record: readonly Name[];
  /**
   * The record's cell, kept from `start` so the `sent` and outcome writes need no walk from the
   * root (seven levels down) to find it again; {@link Caller.recordOf} checks it is still in the
   * tree. Absent for a call adopted from a restored tree.
   */
  readonly recordCell?: Cell;
  /** The OPS dossier's path, read once at `start` (the retention removes it without parsing the op id again). */
  readonly opPath?: readonly Name[];
  readonly deadline: number;
  /**
   * The recorded wall time (ms) after which the caller gives up even if its deadline beat has not
   * come: `clock + timeoutBeats × beatMs` at submit, i.e. `expires_at + clockSkewMs`. Undefined
   * when the call carries no expiry.
   */
  readonly giveUpAtMs?: number | undefined;
  readonly op: string;
  readonly pipeline: PipelineMeta | undefined;
  readonly onComplete: ((outcome: InvokeOutcome) => void) | undefined;
  /** The mount record it is sent on (its `session_seq` is watched). */
  readonly mountPath: readonly Name[];
  /** The remote session (`session_seq`) the call was sent to; set when it leaves. */
  sentSession?: bigint | undefined;
  sent?: boolean;
  /** Found in flight in a restored tree at this beat (see resume.ts): its sender is gone. */
  restartedAt?: number;
}

/** What the retention of finished records keeps of a call. */
type Finished = Pick<Pending, 'request' | 'record' | 'op' | 'opPath'>;

/** Calls of one mount waiting to leave. */
interface Outbox {
  readonly mount: MountRequestEntry['mount'];
  readonly calls: Array<{ pending: Pending; call: CallFrame }>;
}

/** The enclave name used for a peer whose enclave is not known (never a valid word, so never declared). */
export const UNKNOWN_ENCLAVE = '(unknown)';

/** The dictionary of a request's invoke records. */
const INVOKES = name('invokes');

/** The invoke record's field names, made once (a record is written three times per call). */
const FIELD = {
  state: name('state'),
  signal: name('signal'),
  target: name('target'),
  peer: name('peer'),
  sentBeat: name('sent_beat'),
  deadline: name('deadline'),
  expiresAt: name('expires_at'),
  op: name('op'),
  result: name('result'),
  note: name('note'),
  code: name('code'),
  doneBeat: name('done_beat'),
} as const;

/**
 * The record's state values, shared and frozen: a cell's value is replaced, never edited, so one
 * object can stand in every record (three or four state writes per call made one each).
 */
const STATE = new Map<string, Value>(['plan', 'sent', 'ok', 'reject', 'timeout', 'cancelled'].map((s) => [s, Object.freeze(text(s))]));
const stateValue = (state: string): Value => STATE.get(state) ?? text(state);
const SENT = stateValue('sent');
const STATE_PLAN = stateValue('plan');

/** UTF-8 length without encoding the text (submit checks every signal and target). */
const utf8 = (s: string): number => Buffer.byteLength(s, 'utf8');

/**
 * A submitted signal or target, checked (a path text of at most `max` bytes, at least one segment)
 * and in its canonical form. A module function: made as a closure in every submit, it was a
 * measurable share of one.
 */
function checkedPath(field: 'signal' | 'target', value: unknown, max: number): string {
  if (typeof value !== 'string' || utf8(value) > max) {
    throw invokeError('INVOKE_INVALID', `${field}: expected a path text of at most ${max} bytes`, { field });
  }
  let path: ReadPath;
  try {
    path = readPath(value);
  } catch (error) {
    throw invokeError('INVOKE_INVALID', `${field}: ${JSON.stringify(value)} is not a valid path: ${(error as Error).message}`, { field });
  }
  if (path.names.length === 0) throw invokeError('INVOKE_INVALID', `${field}: the path is empty; name at least one segment`, { field });
  return path.text;
}

export class Caller {
  private readonly pending = new Map<string, Pending>();
  private readonly outcomes = new Map<string, InvokeOutcome>();
  /**
   * The ids in `outcomes`, oldest first, as a ring of `retainOutcomes` slots: the slot the next
   * outcome takes holds the one to forget. Forgetting through `outcomes.keys().next()` instead
   * walked over every deleted entry the map still kept at its front — at a few thousand calls per
   * second that was ~2% of a call's CPU.
   */
  private readonly outcomeRing: Array<string | undefined> = [];
  private outcomeSlot = 0;
  private readonly waiters = new Map<string, Array<(outcome: InvokeOutcome) => void>>();
  private readonly completedRecords = new Map<string, Finished[]>();
  /** Pending invokes per request (for `maxPending`, without a scan). */
  private readonly perRequest = new Map<string, number>();
  private readonly outboxes = new Map<string, Outbox>();
  private flushScheduled = false;
  private draining = false;
  private readonly tree: Tree;
  /** Submissions pushed as inputs and not admitted yet, by the id they will have. */
  private readonly queued = new Map<string, { request: string; onComplete: Submission['onComplete'] }>();
  /** Rank of in-beat submissions within their beat (for their derived ids). */
  private rank = { beat: -1, n: 0 };

  constructor(
    private readonly runtime: Runtime,
    private readonly organ: MountOrgan,
    private readonly env: CallerEnv,
    private readonly clock: RecordedClock,
    private readonly log: SubmissionLog,
  ) {
    this.tree = runtime.tree;
    if (env.recordSubmissions) log.onSubmit = (seq, recorded) => this.admitSubmission(seq, recorded);
  }

  /** From now on `submit` throws `INVOKE_DRAINING`; pending calls go on. */
  drain(): void {
    this.draining = true;
  }

  get pendingCount(): number {
    return this.pending.size + this.queued.size;
  }

  submit(sub: Submission): string {
    if (this.draining)
      throw invokeError('INVOKE_DRAINING', 'this runtime is shutting down and takes no new calls; submit on another peer or after it restarts');
    const entry = this.entryFor(sub);
    const { signal, target, pipeline } = this.checkArgs(sub, entry);
    if ((this.perRequest.get(entry.id) ?? 0) >= this.env.maxPending) {
      throw invokeError('INVOKE_LIMIT', `request ${entry.id} has ${this.env.maxPending} invokes pending (maxPending); wait for some to complete`, {
        request: entry.id,
      });
    }
    let id: string;
    if (this.env.recordSubmissions && this.log.seed !== undefined) {
      if (this.runtime.phase === 'idle') {
        // Outside a beat: recorded, and started by the capture that admits it (replay does the same).
        const seq = ++this.log.seq;
        id = derivedId(this.log.seed, 'x', seq);
        const recorded: RecordedSubmission = {
          request: entry.id,
          signal,
          ...(target !== undefined ? { target } : {}),
          ...(sub.payload !== undefined ? { payload: sub.payload } : {}),
          timeoutBeats: sub.timeoutBeats,
          ...(sub.pipeline !== undefined ? { pipeline: sub.pipeline } : {}),
        };
        // Fresh bytes nobody else holds: the log keeps them as they are (owned), no copy.
        this.runtime.pushInput(SUBMIT_INPUT, { stream: 'caller', seq, data: encodeSubmission(recorded) }, { owned: true });
        this.queued.set(id, { request: entry.id, onComplete: sub.onComplete });
        this.perRequest.set(entry.id, (this.perRequest.get(entry.id) ?? 0) + 1);
        return id;
      }
      // Inside a beat (an enzyme): the enzyme runs again in a replay, and gets the same id.
      const beat = this.runtime.beat;
      if (this.rank.beat !== beat) this.rank = { beat, n: 0 };
      id = derivedId(this.log.seed, 'b', beat, ++this.rank.n);
    } else {
      id = newInvokeId();
      while (this.pending.has(id) || this.outcomes.has(id)) id = newInvokeId();
    }
    return this.start(sub, entry, { signal, target, pipeline }, id);
  }

  /** A recorded submission admitted at capture: it starts now, checked again on the tree of this beat. */
  private admitSubmission(seq: number, recorded: RecordedSubmission | undefined): void {
    if (this.log.seed === undefined) return;
    const id = derivedId(this.log.seed, 'x', seq);
    const queued = this.queued.get(id);
    if (queued !== undefined) {
      this.queued.delete(id);
      const left = (this.perRequest.get(queued.request) ?? 1) - 1;
      if (left > 0) this.perRequest.set(queued.request, left);
      else this.perRequest.delete(queued.request);
    }
    if (this.outcomes.has(id) || this.pending.has(id)) return; // given up while queued (cancelAll)
    const onComplete = queued?.onComplete;
    try {
      if (recorded === undefined) throw invokeError('INVOKE_INVALID', 'the recorded submission could not be read');
      const submission: Submission = { ...recorded, ...(onComplete !== undefined ? { onComplete } : {}) };
      const entry = this.entryFor(submission);
      this.start(submission, entry, this.checkArgs(submission, entry), id);
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'INVOKE_INVALID';
      this.settle(id, recorded?.request ?? '?', onComplete, {
        status: 'reject',
        note: `refused before sending: ${code}: ${(error as Error).message}`,
        refusedBy: 'sender',
        code,
      });
    }
  }

  /** Records an outcome for a call that never started (no record, no dossier): refused at admission, or given up while queued. */
  private settle(
    id: string,
    request: string,
    onComplete: Submission['onComplete'],
    detail: { status: InvokeStatus; note: string; refusedBy?: 'sender'; code?: string },
  ): void {
    const outcome: InvokeOutcome = {
      id,
      request,
      status: detail.status,
      note: clip(detail.note, this.env.limits.maxNoteBytes),
      ...(detail.refusedBy !== undefined ? { refusedBy: detail.refusedBy } : {}),
      ...(detail.code !== undefined ? { code: detail.code } : {}),
      beat: this.runtime.beat,
    };
    if (detail.status === 'reject')
      this.runtime.cei.emit({ topic: TOPIC.invokeReject, severity: 'error', note: `${id} on ${request}: ${outcome.note}`, origin: 'org:invoke' });
    this.remember(id, outcome);
    const waiters = this.waiters.get(id) ?? [];
    this.waiters.delete(id);
    try {
      onComplete?.(outcome);
    } catch (error) {
      this.runtime.cei.emit({
        topic: 'org:invoke',
        severity: 'error',
        note: `onComplete of ${id} threw: ${(error as Error)?.message ?? String(error)}`,
        origin: 'org:invoke',
      });
    }
    for (const resolve of waiters) resolve(outcome);
  }

  /** Records and queues a checked call under `id`. */
  private start(
    sub: Submission,
    entry: MountRequestEntry,
    args: { signal: string; target: string | undefined; pipeline: PipelineMeta | undefined },
    id: string,
  ): string {
    const { signal, target, pipeline } = args;
    const beat = this.runtime.beat;
    const record = [...entry.path, INVOKES, invokeIdName(id)];
    const peer = entry.spec.peer;
    const deadline = beat + sub.timeoutBeats;
    // The latest recorded wall time (never a clock read here), so a replay computes the same expiry.
    const now = this.clock.now;
    const giveUpAtMs = this.env.beatMs === undefined || now === undefined ? undefined : now + sub.timeoutBeats * this.env.beatMs;
    const expiresAt = giveUpAtMs === undefined ? undefined : Math.max(0, giveUpAtMs - this.env.clockSkewMs);
    // The dossier, the record and the sender's ledger entry are written in one batch: all or
    // nothing, and one undo log (and one snapshot of their shared ancestors) instead of three when
    // the call is submitted between beats.
    const { op, usage, cell } = this.tree.batch(() => {
      const op = this.runtime.ops.start({
        verb: 'op/invoke',
        target: this.recordText(entry.path, id, record),
        state: 'plan',
        ...(pipeline !== undefined ? { pipeline } : {}),
      });
      // The record's fields are written from its cell in one pass (setChildren): one walk from the
      // root, and the new cells made, stamped and told together rather than one write per field.
      const cell = this.tree.ensureDictionary(record);
      const names: Name[] = [FIELD.state, FIELD.signal];
      const values: Value[] = [STATE_PLAN, this.shared(signal)];
      if (target !== undefined) {
        names.push(FIELD.target);
        values.push(text(target));
      }
      names.push(FIELD.peer, FIELD.sentBeat, FIELD.deadline);
      values.push(this.shared(peer), beatValue(beat), u64(BigInt(deadline)));
      if (expiresAt !== undefined) {
        names.push(FIELD.expiresAt);
        values.push(u64(BigInt(expiresAt)));
      }
      names.push(FIELD.op);
      values.push(text(op));
      this.tree.setChildren(cell, names, values);
      // The sender's check charges the beats this invoke may wait against the beat budget.
      // recordUsage returns the totals it wrote: the same as reading them back with usageOf.
      return { op, cell, usage: recordUsage(this.tree, id, { beats: sub.timeoutBeats }, this.env.maxUsageRecords) };
    });
    const pending: Pending = {
      id,
      request: entry.id,
      key: entry.key,
      peer,
      record,
      recordCell: cell,
      // Right after ops.start named it, so the op id is not parsed again.
      opPath: this.runtime.ops.path(op),
      deadline,
      giveUpAtMs,
      op,
      pipeline,
      onComplete: sub.onComplete,
      mountPath: entry.mount.path,
    };
    this.pending.set(id, pending);
    this.perRequest.set(entry.id, (this.perRequest.get(entry.id) ?? 0) + 1);

    const decision = checkInvoke(this.tree, {
      fromEnclave: this.env.enclave,
      toEnclave: this.env.peerEnclave(peer) ?? UNKNOWN_ENCLAVE,
      ...(pipeline !== undefined ? { pipeline } : {}),
      usage,
      side: 'send',
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
      this.complete(id, 'reject', { note: `refused before sending: ${decision.note}`, refusedBy: 'sender' });
      return id;
    }
    // Field by field, one object (see complete()); the packed writer reads the fields by name.
    const call: { -readonly [K in keyof CallFrame]: CallFrame[K] } = { kind: 'call', id, signal } as CallFrame;
    if (target !== undefined) call.target = target;
    if (sub.payload !== undefined) call.payload = sub.payload;
    call.timeout = sub.timeoutBeats;
    if (expiresAt !== undefined) call.expiresAt = expiresAt;
    if (pipeline !== undefined) call.pipeline = pipeline;
    let outbox = this.outboxes.get(entry.key);
    if (outbox === undefined || outbox.mount !== entry.mount) {
      if (outbox !== undefined) this.send(outbox); // the request's mount changed: what was queued goes on the old one first
      outbox = { mount: entry.mount, calls: [] };
      this.outboxes.set(entry.key, outbox);
    }
    outbox.calls.push({ pending, call });
    if (this.runtime.phase === 'commit') {
      // Submitted by a commit hook, after this organ's own flush: it leaves now, inside the beat
      // (so a replay, which runs beat after beat with no pause between, sends it at the same point).
      this.flush();
    } else if (this.runtime.phase === 'idle' && !this.flushScheduled) {
      // Between beats nobody else will flush: do it once the submitting code is done. Inside a
      // beat the commit flushes first and this finds nothing left.
      this.flushScheduled = true;
      queueMicrotask(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
    return id;
  }

  /** Sends every queued call: one frame per mount (a batch when several), in submission order. */
  flush(): void {
    if (this.outboxes.size === 0) return;
    const outboxes = [...this.outboxes.values()];
    this.outboxes.clear();
    for (const outbox of outboxes) this.send(outbox);
  }

  private send(outbox: Outbox): void {
    // Calls completed while queued (deadline, cancel) are gone from `pending`: they never leave.
    const live = outbox.calls.filter(({ pending }) => this.pending.get(pending.id) === pending);
    const most = this.env.limits.maxBatchItems ?? DEFAULT_FRAME_LIMITS.maxBatchItems!;
    for (let from = 0; from < live.length; ) {
      // A frame holds at most `maxBatchItems` calls and about BATCH_VALUE_BYTES of payload (at least one call).
      let to = from + 1;
      let bytes = live[from]!.call.payload === undefined ? 0 : valueBytes(live[from]!.call.payload!);
      while (to < live.length && to - from < most) {
        const next = live[to]!.call.payload;
        const size = next === undefined ? 0 : valueBytes(next);
        if (bytes + size > BATCH_VALUE_BYTES) break;
        bytes += size;
        to++;
      }
      const group = live.slice(from, to);
      from = to;
      try {
        outbox.mount.sendBranch(packedBranch(group.map(({ call }) => call)));
      } catch (error) {
        for (const { pending } of group) this.complete(pending.id, 'reject', { note: `could not send: ${(error as Error).message}`, refusedBy: 'sender' });
        continue;
      }
      // One mount per outbox, so one session number for the whole group.
      const session = this.sessionSeq(outbox.mount.path);
      // The group's records and dossiers in one batch: one undo log and one round of change events
      // for the frame, not two per call (between beats, each write was a batch of its own).
      this.tree.batch(() => {
        for (const { pending } of group) {
          pending.sent = true;
          pending.sentSession = session;
          const cell = this.recordOf(pending);
          if (cell !== undefined) this.tree.setChild(cell, FIELD.state, SENT);
          // No note: the dossier's target is this record, which names the peer and the deadline beat
          // (a note repeating them was two cells and a string per call).
          this.runtime.ops.setState(pending.op, 'await');
        }
      });
    }
  }

  /** A reply admitted at capture on mount `key`. Unknown, finished or misrouted replies change nothing. */
  reply(frame: ReplyFrame, key: string): void {
    const pending = this.pending.get(frame.id);
    // A call from before a restart is matched on its id and peer: its mount's key is not known yet.
    if (pending === undefined || (pending.key !== key && !(pending.restartedAt !== undefined && key.startsWith(`${pending.peer}/`)))) return;
    if (frame.status === 'ok') this.complete(frame.id, 'ok', frame.result !== undefined ? { result: frame.result } : {});
    else
      this.complete(frame.id, 'reject', {
        note: `refused by ${pending.peer}: ${frame.note ?? 'no reason given'}`,
        refusedBy: 'receiver',
        ...(frame.code !== undefined ? { code: frame.code } : {}),
      });
  }

  /**
   * The record's path text (the dossier's target): the request's `…/invokes` text, rendered once
   * per request path, then the id — a well-formed invoke id renders as itself. Anything else is
   * rendered whole, as before.
   */
  private recordText(requestPath: readonly Name[], id: string, record: readonly Name[]): string {
    if (!isInvokeId(id)) return formatPath(record);
    let prefix = this.invokesText.get(requestPath);
    if (prefix === undefined) this.invokesText.set(requestPath, (prefix = formatPath([...requestPath, INVOKES])));
    return `${prefix}/${id}`;
  }
  /** `…/invokes` path texts by request path array (an entry keeps its array while it lives; a WeakMap forgets the rest). */
  private readonly invokesText = new WeakMap<readonly Name[], string>();

  /**
   * The call's record cell while it is in the tree (what `tree.get(record)` finds): the cell kept
   * from `start`, checked by walking up to the root (parent links, no name lookups), since the
   * request, and its records with it, may have been removed or deleted since.
   */
  private recordOf(pending: Pending): Cell | undefined {
    const cell = pending.recordCell;
    if (cell === undefined) return this.tree.get(pending.record);
    if (cell.isDeleted) return undefined;
    let top: Cell = cell;
    while (top.parent !== undefined) top = top.parent;
    return top === this.tree.root ? cell : undefined;
  }

  /** The remote session number of the mount at `path` (`session_seq`), when the transport has recorded one. */
  private sessionSeq(path: readonly Name[]): bigint | undefined {
    const value = this.tree.getValue([...path, name('session_seq')]);
    return value?.type === 'u64' ? value.value : undefined;
  }

  /**
   * Commit: a call sent to a remote session that has since been replaced (its `session_seq`
   * changed: the peer restarted) will never be answered by it; it is cancelled with
   * `INVOKE_SESSION_CHANGED`. It may have run before the restart, so it is not resent: a retry
   * is the caller's call (see the README on retrying safely). Calls not sent yet leave on the
   * new session as usual.
   */
  checkSessions(): void {
    if (this.pending.size === 0) return;
    // By the mount path's array (one per mount, shared by its calls): no path text per pending call and commit.
    const current = new Map<readonly Name[], bigint | undefined>();
    for (const pending of [...this.pending.values()]) {
      if (pending.sent !== true || pending.sentSession === undefined) continue;
      const key = pending.mountPath;
      if (!current.has(key)) current.set(key, this.sessionSeq(key));
      const now = current.get(key);
      if (now === undefined || now === pending.sentSession) continue;
      this.complete(pending.id, 'cancelled', {
        note: `cancelled: ${pending.peer} started a new session (session_seq ${pending.sentSession} → ${now}) after the call was sent; it may have run before the restart`,
        code: OUTCOME_CODE.sessionChanged,
      });
    }
  }

  /** Cancels every pending call (the drain ran out of beats, or the organ is going away); submissions not admitted yet never start. */
  cancelAll(note: string, code?: string): void {
    for (const pending of [...this.pending.values()]) this.complete(pending.id, 'cancelled', { note, ...(code !== undefined ? { code } : {}) });
    for (const [id, queued] of [...this.queued]) {
      this.queued.delete(id);
      this.settle(id, queued.request, queued.onComplete, { status: 'cancelled', note, ...(code !== undefined ? { code } : {}) });
    }
  }

  /**
   * Commit of `beat`: every invoke whose deadline beat has ended without a reply times out, and
   * (with `giveUpAtExpiry`) so does one whose give-up time (`expires_at + clockSkewMs`) is behind
   * this beat's recorded clock.
   * Beats stretch under load, so `timeoutBeats` beats can last far longer than `timeoutBeats ×
   * beatMs`; by then the callee refuses the call as expired, and waiting on for its reply was
   * waiting for a refusal. The clock is the one admitted for this beat (never read here), so a
   * replay gives up at the same beat.
   */
  expire(beat: number): void {
    const now = this.clock.now;
    for (const pending of [...this.pending.values()]) {
      if (pending.restartedAt !== undefined && (pending.sent !== true || pending.deadline <= beat)) {
        this.complete(pending.id, 'cancelled', {
          note:
            pending.sent === true
              ? `no reply by deadline beat ${pending.deadline} after this peer restarted (beat ${pending.restartedAt}); the call may have run on ${pending.peer || 'the callee'}`
              : `never sent: this peer restarted (beat ${pending.restartedAt}) before the call left; nothing ran`,
          code: OUTCOME_CODE.callerRestarted,
        });
      } else if (pending.deadline <= beat) this.complete(pending.id, 'timeout', { note: `no reply by deadline beat ${pending.deadline}` });
      else if (this.env.giveUpAtExpiry && pending.giveUpAtMs !== undefined && now !== undefined && now > pending.giveUpAtMs)
        this.complete(pending.id, 'timeout', {
          note: `no reply by ${pending.giveUpAtMs} ms on the recorded clock (${now} ms at beat ${beat}, before deadline beat ${pending.deadline}): the callee refuses it as expired from then on`,
        });
    }
  }

  /**
   * Takes over the calls a restored tree holds in flight (see resume.ts): a sent one waits for its
   * reply until its deadline, one never sent is given up at the next commit — each gets exactly
   * one outcome, recorded in its record. Finished records join the retention count.
   */
  adoptRestored(inFlight: readonly FoundCall[], finished: readonly FinishedCall[]): void {
    for (const call of finished) this.retain({ request: call.request, record: call.record, op: call.op ?? '' });
    for (const call of inFlight) {
      if (this.pending.has(call.id) || call.op === undefined) continue;
      const pending: Pending = {
        id: call.id,
        request: call.request,
        key: '',
        peer: call.peer,
        record: call.record,
        deadline: call.deadline,
        op: call.op,
        pipeline: undefined,
        onComplete: undefined,
        mountPath: [],
        sent: call.state === 'sent',
        restartedAt: this.runtime.beat,
      };
      this.pending.set(call.id, pending);
      this.perRequest.set(call.request, (this.perRequest.get(call.request) ?? 0) + 1);
    }
  }

  /** Cancels every pending invoke of `request` (its mount was reconfigured, closed or released). */
  cancel(request: string, note: string): void {
    // A call from before a restart was on a connection long gone; its deadline decides it.
    for (const pending of [...this.pending.values()])
      if (pending.request === request && pending.restartedAt === undefined) this.complete(pending.id, 'cancelled', { note });
  }

  outcome(id: string): InvokeOutcome | undefined {
    return this.outcomes.get(id);
  }

  result(id: string): Promise<InvokeOutcome> {
    const done = this.outcomes.get(id);
    if (done !== undefined) return Promise.resolve(done);
    if (!this.pending.has(id) && !this.queued.has(id))
      return Promise.reject(
        invokeError('INVOKE_UNKNOWN', `no invoke ${JSON.stringify(id)} was submitted here (or its outcome was forgotten: see retainOutcomes)`, { id }),
      );
    return new Promise((resolve) => {
      const list = this.waiters.get(id);
      if (list === undefined) this.waiters.set(id, [resolve]);
      else list.push(resolve);
    });
  }

  private entryFor(sub: Submission): MountRequestEntry {
    if (typeof sub?.request !== 'string') throw invokeError('INVOKE_INVALID', 'request: expected the name of an invoke request', { field: 'request' });
    const entry = this.organ.request(sub.request);
    if (entry === undefined) {
      const state = this.tree.getValue([...this.organ.root, name(sub.request), name('state')]);
      throw invokeError(
        'INVOKE_UNKNOWN_REQUEST',
        `invoke request ${JSON.stringify(sub.request)} holds no mount${state?.type === 'text' ? ` (state ${state.value})` : ' (is it under /net/organs/invoke/requests, and has a beat validated it?)'}`,
        { request: sub.request },
      );
    }
    if (entry.state === 'error') {
      const note = this.tree.getValue([...entry.path, name('error_note')]);
      const why = note?.type === 'text' ? `: ${note.value}` : '';
      // The note already says what comes next (a redial at a beat, or that nothing will); say plainly what to do.
      const then =
        entry.retryBeat !== undefined
          ? `; nothing is sent while it waits: submit again once the request is active (redial ${entry.retries + 1} at beat ${entry.retryBeat})`
          : why.includes('change the request')
            ? ''
            : '; change the request to reopen its mount';
      throw invokeError('INVOKE_NOT_READY', `invoke request ${entry.id} is in error${why}${then}`, {
        request: entry.id,
        ...(entry.retryBeat !== undefined ? { retryBeat: entry.retryBeat } : {}),
      });
    }
    return entry;
  }

  private checkArgs(sub: Submission, entry: MountRequestEntry): { signal: string; target: string | undefined; pipeline: PipelineMeta | undefined } {
    const max = this.env.limits.maxPathBytes;
    const signal = checkedPath('signal', sub.signal, max);
    const target = sub.target === undefined ? undefined : checkedPath('target', sub.target, max);
    if (!Number.isSafeInteger(sub.timeoutBeats) || sub.timeoutBeats < 1 || sub.timeoutBeats > this.env.maxTimeoutBeats) {
      throw invokeError('INVOKE_INVALID', `timeoutBeats: expected a whole number of beats in 1..${this.env.maxTimeoutBeats}, got ${String(sub.timeoutBeats)}`, {
        field: 'timeoutBeats',
      });
    }
    if (sub.payload !== undefined && valueBytes(sub.payload) > this.env.limits.maxValueBytes) {
      throw invokeError('INVOKE_INVALID', `payload: ${valueBytes(sub.payload)} bytes is over the ${this.env.limits.maxValueBytes}-byte limit`, {
        field: 'payload',
      });
    }
    let pipeline: PipelineMeta | undefined;
    if (sub.pipeline !== undefined) pipeline = parsePipelineMeta(sub.pipeline);
    else {
      const cell = this.tree.get(entry.path);
      const fromRequest = cell === undefined ? undefined : readRequestPipeline(cell);
      if (fromRequest !== undefined && !('field' in fromRequest)) pipeline = fromRequest;
    }
    return { signal, target, pipeline };
  }

  private complete(
    id: string,
    status: InvokeStatus,
    detail: { result?: InvokeOutcome['result']; note?: string; refusedBy?: 'sender' | 'receiver'; code?: string },
  ): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return; // exactly once
    this.pending.delete(id);
    const left = (this.perRequest.get(pending.request) ?? 1) - 1;
    if (left > 0) this.perRequest.set(pending.request, left);
    else this.perRequest.delete(pending.request);
    const beat = this.runtime.beat;
    const note = detail.note === undefined ? undefined : clip(detail.note, this.env.limits.maxNoteBytes);
    // Built field by field (the same keys, in the same order, as spreads of optional parts would
    // give): one object per call, not one per optional part.
    const outcome: { -readonly [K in keyof InvokeOutcome]: InvokeOutcome[K] } = { id, request: pending.request, status } as InvokeOutcome;
    if (detail.result !== undefined) outcome.result = detail.result;
    if (note !== undefined) outcome.note = note;
    if (detail.refusedBy !== undefined) outcome.refusedBy = detail.refusedBy;
    if (detail.code !== undefined) outcome.code = detail.code;
    outcome.beat = beat;
    // A request deleted meanwhile took its records with it: write nothing that would revive it.
    const cell = this.recordOf(pending);
    const recorded = cell !== undefined;
    if (recorded) {
      this.tree.batch(() => {
        this.tree.setChild(cell, FIELD.state, stateValue(status));
        // The outcome's new fields in one pass (setChildren writes them one by one, in this
        // batch, should one be there already, e.g. in a record restored from a store).
        const names: Name[] = [];
        const values: Value[] = [];
        if (detail.result !== undefined) {
          names.push(FIELD.result);
          values.push(detail.result);
        }
        if (note !== undefined) {
          names.push(FIELD.note);
          values.push(text(note));
        }
        if (detail.code !== undefined) {
          names.push(FIELD.code);
          values.push(text(detail.code));
        }
        names.push(FIELD.doneBeat);
        values.push(beatValue(beat));
        this.tree.setChildren(cell, names, values);
      });
    }
    this.runtime.ops.close(pending.op, status === 'ok' ? 'ok' : status === 'cancelled' ? 'cxl' : 'fail', note);
    if (recorded) this.retain(pending);
    // The record's path text only for the facts that name it (an ok call emits none).
    const where = status === 'reject' || status === 'timeout' ? formatPath(pending.record) : '';
    if (status === 'reject') {
      this.runtime.cei.emit({
        topic: TOPIC.invokeReject,
        severity: 'error',
        note: `${where}: ${note}`,
        origin: 'org:invoke',
        peer: pending.peer,
        ...(pending.pipeline !== undefined ? { pipeline: pending.pipeline } : {}),
      });
    } else if (status === 'timeout') {
      this.runtime.cei.emit({
        topic: TOPIC.invokeTimeout,
        severity: 'error',
        note: `${where}: ${note}`,
        origin: 'org:invoke',
        peer: pending.peer,
        ...(pending.pipeline !== undefined ? { pipeline: pending.pipeline } : {}),
      });
    }
    this.remember(id, outcome);
    const waiters = this.waiters.get(id);
    if (waiters !== undefined) this.waiters.delete(id);
    try {
      pending.onComplete?.(outcome);
    } catch (error) {
      // A caller's callback must not undo the record or stop the beat; it is reported instead.
      this.runtime.cei.emit({
        topic: 'org:invoke',
        severity: 'error',
        note: `onComplete of ${id} threw: ${(error as Error)?.message ?? String(error)}`,
        origin: 'org:invoke',
      });
    }
    if (waiters !== undefined) for (const resolve of waiters) resolve(outcome);
  }

  /** A text value shared with the last record that wrote the same text (a burst of calls names one signal, one peer). */
  private shared(value: string): Value {
    let found = this.sharedTexts.get(value);
    if (found === undefined) {
      if (this.sharedTexts.size >= 64) this.sharedTexts.clear();
      this.sharedTexts.set(value, (found = Object.freeze(text(value))));
    }
    return found;
  }
  private readonly sharedTexts = new Map<string, Value>();

  /** Keeps `outcome` for `result(id)`, forgetting the oldest past `retainOutcomes` (ids are unique, so each takes one slot). */
  private remember(id: string, outcome: InvokeOutcome): void {
    if (!this.outcomes.has(id)) {
      const oldest = this.outcomeRing[this.outcomeSlot];
      if (oldest !== undefined) this.outcomes.delete(oldest);
      this.outcomeRing[this.outcomeSlot] = id;
      this.outcomeSlot = (this.outcomeSlot + 1) % this.env.retainOutcomes;
    }
    this.outcomes.set(id, outcome);
  }

  /** Keeps the newest `retainCompleted` finished records under each request, and their closed OPS dossiers. */
  private retain(pending: Finished): void {
    const list = this.completedRecords.get(pending.request) ?? [];
    list.push(pending);
    this.completedRecords.set(pending.request, list);
    while (list.length > this.env.retainCompleted) {
      const old = list.shift()!;
      // Discarded, not only removed: nothing reads them again, and a record or dossier that grew
      // old in flight kept every cell written to it later alive, and copied, for seconds (see
      // Tree.discard); in row c that was about half of what a call promoted.
      this.tree.discard(old.record);
      if (old.op !== '') this.tree.discard(old.opPath ?? this.runtime.ops.path(old.op));
    }
  }
}
