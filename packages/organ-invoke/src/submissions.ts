/**
 * Submissions as recorded inputs, so a caller replays from its own log. A call submitted from
 * outside a beat (an HTTP request, a timer) enters as the input `inv.submit` and starts at the
 * capture that admits it; a call submitted inside a beat (by an enzyme) starts at once, as the
 * enzyme runs again in a replay. Either way the invoke id is derived from recorded inputs —
 * a per-runtime secret seed (input `inv.seed`, drawn once at install) and the submission's
 * input number, or the beat and the call's rank in it — never drawn at random when submitted:
 * a replay derives the same ids, and they stay unguessable to anyone without the seed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { name, type Value } from '@cep/cells';
import type { Runtime } from '@cep/heartbeat';
import type { Submission } from './types.ts';

/** Input kind of the per-runtime id seed (16 random bytes). */
export const SEED_INPUT = 'inv.seed';
/** Input kind of a submission made outside a beat. */
export const SUBMIT_INPUT = 'inv.submit';

/** What a recorded submission holds: the submission without its callback (that stays in memory: it is not data). */
export type RecordedSubmission = Omit<Submission, 'onComplete'>;

/** The per-runtime state of recorded submissions. */
export interface SubmissionLog {
  /** The seed once admitted (live: also as soon as drawn). */
  seed: Uint8Array | undefined;
  /** Hears admitted submissions (the caller installed last). */
  onSubmit: ((seq: number, submission: RecordedSubmission | undefined) => void) | undefined;
  /** Numbers submission inputs. */
  seq: number;
}

const logs = new WeakMap<Runtime, SubmissionLog>();
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The runtime's submission log (input kinds defined once per runtime). `draw`: push a fresh seed
 * (a live runtime's first install); a replay leaves it to the logged one.
 */
export function submissionLog(runtime: Runtime, draw: boolean): SubmissionLog {
  let log = logs.get(runtime);
  if (log === undefined) {
    const fresh: SubmissionLog = { seed: undefined, onSubmit: undefined, seq: 0 };
    runtime.defineInput(SEED_INPUT, (input) => {
      if (input.data.length >= 16) fresh.seed = new Uint8Array(input.data);
    });
    runtime.defineInput(SUBMIT_INPUT, (input) => fresh.onSubmit?.(input.seq, decodeSubmission(input.data)));
    logs.set(runtime, (log = fresh));
  }
  if (draw && log.seed === undefined) {
    const seed = new Uint8Array(randomBytes(16));
    log.seed = seed;
    // Owned: the log keeps this array (nothing writes to a seed), not a copy.
    runtime.pushInput(SEED_INPUT, { stream: 'caller', seq: 0, data: seed }, { owned: true });
  }
  return log;
}

/** An invoke id derived from the seed and `parts` (`inv-` + 32 hex digits, as `newInvokeId`). */
export function derivedId(seed: Uint8Array, ...parts: Array<string | number>): string {
  const hash = createHash('sha256').update(seed);
  for (const part of parts) hash.update(`\u0000${part}`);
  return `inv-${hash.digest('hex').slice(0, 32)}`;
}

type WireValue = { type: Value['type']; value: string; dataType?: string };

function valueToWire(value: Value): WireValue {
  switch (value.type) {
    case 'bytes':
      return { type: 'bytes', value: Buffer.from(value.value).toString('base64') };
    case 'raw':
      return { type: 'raw', value: Buffer.from(value.value).toString('base64'), dataType: value.dataType.tag.text };
    default:
      return { type: value.type, value: String(value.value) };
  }
}

function valueFromWire(wire: WireValue): Value | undefined {
  switch (wire.type) {
    case 'text':
      return { type: 'text', value: wire.value };
    case 'u64':
    case 'i64':
      return { type: wire.type, value: BigInt(wire.value) };
    case 'bool':
      return { type: 'bool', value: wire.value === 'true' };
    case 'bytes':
      return { type: 'bytes', value: new Uint8Array(Buffer.from(wire.value, 'base64')) };
    case 'raw':
      return { type: 'raw', dataType: name(String(wire.dataType)), value: new Uint8Array(Buffer.from(wire.value, 'base64')) };
    default:
      return undefined;
  }
}

/** The bytes of a submission input. */
export function encodeSubmission(sub: RecordedSubmission): Uint8Array {
  return encoder.encode(
    JSON.stringify({
      request: sub.request,
      signal: sub.signal,
      ...(sub.target !== undefined ? { target: sub.target } : {}),
      ...(sub.payload !== undefined ? { payload: valueToWire(sub.payload) } : {}),
      timeoutBeats: sub.timeoutBeats,
      ...(sub.pipeline !== undefined ? { pipeline: { ...sub.pipeline, dagRunId: String(sub.pipeline.dagRunId) } } : {}),
    }),
  );
}

/** A submission input read back; `undefined` when its bytes are not one (never throws). */
export function decodeSubmission(data: Uint8Array): RecordedSubmission | undefined {
  try {
    // JSON of unknown shape: every field is read as `unknown` and converted on purpose.
    const raw = JSON.parse(decoder.decode(data)) as Record<string, unknown>;
    const payload = raw['payload'] === undefined ? undefined : valueFromWire(raw['payload'] as WireValue);
    const p = raw['pipeline'] as Record<string, unknown> | undefined;
    return {
      request: String(raw['request']),
      signal: String(raw['signal']),
      ...(typeof raw['target'] === 'string' ? { target: raw['target'] } : {}),
      ...(payload !== undefined ? { payload } : {}),
      timeoutBeats: Number(raw['timeoutBeats']),
      ...(p !== undefined
        ? {
            pipeline: {
              pipelineId: String(p['pipelineId']),
              stageId: String(p['stageId']),
              dagRunId: BigInt(String(p['dagRunId'])),
              hopIndex: Number(p['hopIndex']),
            },
          }
        : {}),
    };
  } catch {
    return undefined;
  }
}
