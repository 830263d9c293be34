/**
 * `installInvoke`: the invoke organ (SPEC §7–8). Requests under
 * `/net/organs/invoke/requests/<id>/` configure reliable, ordered `invoke` mounts (the shared
 * mount-request machinery of @cep/organ-link); `submit` sends calls on them; calls that arrive
 * on any invoke mount of this runtime are checked and run here, and answered.
 */
import { isWordText } from '@cep/cells';
import type { Runtime } from '@cep/heartbeat';
import { installMountOrgan, resolveRetry } from '@cep/organ-link';
import { DEFAULT_MAX_SEEN_IDS, DEFAULT_MAX_USAGE_RECORDS } from '@cep/security';
import { TOPIC, type Mount, type TransportManager } from '@cep/transport';
import { Callee } from './callee.ts';
import { Caller } from './caller.ts';
import { invokeError } from './errors.ts';
import { DEFAULT_FRAME_LIMITS, ioShares, parseFrame, type CallFrame, type FrameLimits, type FrameProblem, type ReplyFrame } from './frames.ts';
import { checkInvokeRequest, shapeInvokeSpec } from './request.ts';
import { processMeter } from './meter.ts';
import { recordedClock } from './clock.ts';
import { submissionLog } from './submissions.ts';
import { findCalls } from './resume.ts';
import type { InvokeOptions, InvokeOrgan } from './types.ts';

/**
 * Hands the items of one inbound frame to the caller or the callee. One object per organ, reset
 * per frame: a closure per frame (and the name a TypeScript loader stamps on each) was ~1% of a
 * one-at-a-time round trip's CPU. The mount's key text and its caps are made only when an item
 * needs them, once per frame.
 */
class FrameDelivery {
  private mount: Mount | undefined;
  private key: string | undefined;
  private capsRead = false;
  private missing: string | undefined;

  constructor(
    private readonly caller: Caller,
    private readonly callee: Callee,
  ) {}

  start(mount: Mount): void {
    this.mount = mount;
    this.key = undefined;
    this.capsRead = false;
    this.missing = undefined;
  }

  one(item: CallFrame | ReplyFrame | FrameProblem, ioBytes: number): void {
    const mount = this.mount!;
    if (item.kind === 'call') {
      if (!this.capsRead) {
        this.capsRead = true;
        this.missing = this.callee.missingCap(mount);
      }
      this.callee.call(item, mount, ioBytes, this.missing);
    } else if (item.kind === 'reply') this.caller.reply(item, (this.key ??= `${mount.peer}/${mount.mode}/${mount.mount}`));
    else this.callee.problem(item, mount);
  }
}

/** The invoke organ's kind and mount mode. */
export const INVOKE_KIND = 'invoke';

function count(option: string, value: number | undefined, fallback: number, min: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min)
    throw invokeError('INVOKE_OPTION_INVALID', `${option} must be a whole number ≥ ${min}, got ${String(value)}`, { field: option });
  return v;
}

/**
 * Installs the invoke organ on `runtime` over `manager` (one per runtime: it takes the `invoke`
 * organ kind and the `invoke` frame mode). Throws `INVOKE_OPTION_INVALID` for a bad option and
 * the heartbeat's `ORGAN_DUPLICATE` when installed twice.
 */
export function installInvoke(runtime: Runtime, manager: TransportManager, options: InvokeOptions = {}): InvokeOrgan {
  const enclave = options.enclave ?? 'local';
  if (!isWordText(enclave)) throw invokeError('INVOKE_OPTION_INVALID', `enclave ${JSON.stringify(enclave)} must be a CEP word`, { field: 'enclave' });
  const peerEnclave = options.peerEnclave ?? (() => enclave);
  if (typeof peerEnclave !== 'function')
    throw invokeError('INVOKE_OPTION_INVALID', 'peerEnclave must be a function (peer) => enclave', { field: 'peerEnclave' });
  const limits: FrameLimits = {
    maxPathBytes: count('maxPathBytes', options.maxPathBytes, DEFAULT_FRAME_LIMITS.maxPathBytes, 1),
    maxValueBytes: count('maxValueBytes', options.maxValueBytes, DEFAULT_FRAME_LIMITS.maxValueBytes, 1),
    maxNoteBytes: DEFAULT_FRAME_LIMITS.maxNoteBytes,
    maxBatchItems: count('maxBatchItems', options.maxBatchItems, DEFAULT_FRAME_LIMITS.maxBatchItems!, 1),
  };
  const env = {
    enclave,
    peerEnclave,
    limits,
    maxPending: count('maxPending', options.maxPending, 1024, 1),
    maxTimeoutBeats: count('maxTimeoutBeats', options.maxTimeoutBeats, 1_000_000, 1),
    retainCompleted: count('retainCompleted', options.retainCompleted, 64, 0),
    retainOutcomes: count('retainOutcomes', options.retainOutcomes, 4096, 1),
    maxSeenIds: count('maxSeenIds', options.maxSeenIds, DEFAULT_MAX_SEEN_IDS, 1),
    maxUsageRecords: count('maxUsageRecords', options.maxUsageRecords, DEFAULT_MAX_USAGE_RECORDS, 1),
    exposedOnly: options.exposedOnly === true,
    meter: options.meter ?? processMeter,
    beatMs: options.beatMs === undefined ? undefined : count('beatMs', options.beatMs, 1, 1),
    clockSkewMs: count('clockSkewMs', options.clockSkewMs, 250, 0),
    recordSubmissions: options.recordSubmissions === true,
    giveUpAtExpiry: options.giveUpAtExpiry === true,
  };
  if (env.meter !== false && typeof env.meter?.start !== 'function')
    throw invokeError('INVOKE_OPTION_INVALID', 'meter must be { start() } or false', { field: 'meter' });
  try {
    resolveRetry(options.retry);
  } catch (error) {
    throw invokeError('INVOKE_OPTION_INVALID', (error as Error).message, { field: 'retry' });
  }

  // The organ and the caller need each other: the organ tells the caller when a mount goes away.
  let caller: Caller | undefined;
  const organ = installMountOrgan(runtime, manager, {
    kind: INVOKE_KIND,
    fixedMode: INVOKE_KIND,
    topics: { schema: TOPIC.invokeReject, conflict: TOPIC.mountConflict, deadline: TOPIC.invokeTimeout },
    outputs: ['invokes'],
    ...(options.retry !== undefined ? { retry: options.retry } : {}),
    check: checkInvokeRequest,
    shape: shapeInvokeSpec,
    onConfigured: (entry, changed, previous) => {
      if (previous !== undefined && changed) caller?.cancel(entry.id, `cancelled: request ${entry.id} was reconfigured`);
    },
    onReleased: (entry, reason) => caller?.cancel(entry.id, `cancelled: the mount of request ${entry.id} was released (${reason})`),
    onMountEvent: (entry, event) => {
      if (event.type === 'closed' || event.type === 'error' || event.type === 'fatal') {
        caller?.cancel(entry.id, `cancelled: mount ${entry.key} ${event.type === 'closed' ? 'closed' : 'failed'} (${event.note ?? 'no reason given'})`);
      }
    },
  });
  const clock = recordedClock(runtime);
  caller = new Caller(runtime, organ, env, clock, submissionLog(runtime, env.recordSubmissions && options.replay !== true));
  // A tree restored from a store may hold this runtime's calls in flight when it stopped.
  const restored = findCalls(runtime.tree, organ.root);
  caller.adoptRestored(restored.inFlight, restored.finished);
  const callee = new Callee(runtime, env, clock);
  const deliver = new FrameDelivery(caller, callee);
  const offFrame = manager.onFrame(INVOKE_KIND, ({ mount, branch, bytes }) => {
    const frame = parseFrame(branch.root, limits);
    deliver.start(mount);
    if (frame.kind !== 'batch') return deliver.one(frame, bytes.length);
    // Each call of a batch is charged its share of the frame's bytes, by the size of what it carries.
    const shares = ioShares(frame.items, bytes.length);
    const items = frame.items;
    for (let i = 0; i < items.length; i++) deliver.one(items[i]!, shares[i]!);
  });
  const offCommit = runtime.onCommit((beat) => {
    callee.flush();
    caller!.flush();
    caller!.expire(beat);
    caller!.checkSessions();
  });
  const api = caller;
  return {
    kind: INVOKE_KIND,
    submit: (submission) => api.submit(submission),
    result: (id) => api.result(id),
    outcome: (id) => api.outcome(id),
    pending: () => api.pendingCount,
    expose: (signal, handler, exposeOptions) => callee.expose(signal, handler, exposeOptions),
    clock: (wallMs) => clock.push(wallMs),
    drain() {
      api.drain();
      callee.drain();
    },
    idle: () => api.pendingCount === 0 && callee.idle(),
    cancelAll: (note, code) => api.cancelAll(note, code),
    uninstall() {
      offCommit();
      offFrame();
      organ.uninstall();
    },
  };
}
