/**
 * The two invoke frames, as small cell branches (the serializer frames them like any branch):
 *
 *   call:  kind="call",  id, signal, [target], [payload], timeout (u64 beats),
 *          [pipeline/{pipeline_id, stage_id, dag_run_id (u64), hop_index (u64)}]
 *   reply: kind="reply", id, status ("ok" | "reject"), [result], [note]
 *
 * Paths travel as text (a reference name's number is local to a runtime). Every size a remote
 * peer controls is bounded here; a frame over a bound is refused, never truncated.
 */
import { createTree, text, u64, type Cell, type Value } from '@cep/cells';
import type { PipelineMeta } from '@cep/heartbeat';
import { parsePipelineMeta } from '@cep/security';
import type { StagedCell } from '@cep/serializer';

/** Bounds on what a frame may carry. */
export interface FrameLimits {
  /** Longest signal or target path text, in UTF-8 bytes (default 1024). */
  readonly maxPathBytes: number;
  /** Largest payload or result value, in bytes (default 256 KiB). */
  readonly maxValueBytes: number;
  /** Longest note, in UTF-8 bytes (default 1024). */
  readonly maxNoteBytes: number;
}

export const DEFAULT_FRAME_LIMITS: FrameLimits = Object.freeze({ maxPathBytes: 1024, maxValueBytes: 256 * 1024, maxNoteBytes: 1024 });

/** A call: run `signal` on the receiving runtime. */
export interface CallFrame {
  readonly kind: 'call';
  readonly id: string;
  readonly signal: string;
  readonly target?: string;
  readonly payload?: Value;
  /** Beats the caller waits for the reply (the receiver charges it against the beat budget). */
  readonly timeout: number;
  readonly pipeline?: PipelineMeta;
}

/** A reply: how the call ended on the receiving runtime. */
export interface ReplyFrame {
  readonly kind: 'reply';
  readonly id: string;
  readonly status: 'ok' | 'reject';
  readonly result?: Value;
  readonly note?: string;
}

/** A frame that could not be read; `id` when the frame named one. */
export interface FrameProblem {
  readonly kind: 'problem';
  readonly id?: string;
  readonly note: string;
}

const encoder = new TextEncoder();
const utf8 = (s: string): number => encoder.encode(s).length;

/** The size a value occupies on the wire (bytes of text, bytes and raw; 8 for numbers). */
export function valueBytes(value: Value): number {
  switch (value.type) {
    case 'text':
      return utf8(value.value);
    case 'bytes':
    case 'raw':
      return value.value.length;
    default:
      return 8;
  }
}

function branch(build: (root: readonly string[], tree: ReturnType<typeof createTree>) => void): Cell {
  const tree = createTree();
  const root = ['inv'];
  build(root, tree);
  return tree.get(root)!;
}

/** The branch of a call frame (encode it with the mount: `mount.sendBranch`). */
export function callBranch(call: Omit<CallFrame, 'kind'>): Cell {
  return branch((root, tree) => {
    tree.set([...root, 'kind'], text('call'));
    tree.set([...root, 'id'], text(call.id));
    tree.set([...root, 'signal'], text(call.signal));
    if (call.target !== undefined) tree.set([...root, 'target'], text(call.target));
    if (call.payload !== undefined) tree.set([...root, 'payload'], call.payload);
    tree.set([...root, 'timeout'], u64(BigInt(call.timeout)));
    if (call.pipeline !== undefined) {
      const p = [...root, 'pipeline'];
      tree.set([...p, 'pipeline_id'], text(call.pipeline.pipelineId));
      tree.set([...p, 'stage_id'], text(call.pipeline.stageId));
      tree.set([...p, 'dag_run_id'], u64(call.pipeline.dagRunId));
      tree.set([...p, 'hop_index'], u64(BigInt(call.pipeline.hopIndex)));
    }
  });
}

/** The branch of a reply frame. */
export function replyBranch(reply: Omit<ReplyFrame, 'kind'>): Cell {
  return branch((root, tree) => {
    tree.set([...root, 'kind'], text('reply'));
    tree.set([...root, 'id'], text(reply.id));
    tree.set([...root, 'status'], text(reply.status));
    if (reply.result !== undefined) tree.set([...root, 'result'], reply.result);
    if (reply.note !== undefined) tree.set([...root, 'note'], text(reply.note));
  });
}

/** Cuts a note to `max` UTF-8 bytes (for notes this side writes; received ones over the bound are refused). */
export function clip(note: string, max: number): string {
  if (utf8(note) <= max) return note;
  let out = note.slice(0, max);
  while (utf8(out) > max - 3) out = out.slice(0, -1);
  return `${out}...`;
}

/** Reads a received frame. Never throws: a malformed frame is a {@link FrameProblem}. */
export function parseFrame(root: StagedCell, limits: FrameLimits = DEFAULT_FRAME_LIMITS): CallFrame | ReplyFrame | FrameProblem {
  if (root.kind !== 'dictionary') return { kind: 'problem', note: `an invoke frame is a dictionary, not a ${root.kind}` };
  const fields = new Map<string, StagedCell>();
  for (const child of root.children) if (!child.deleted) fields.set(child.name.tag.text, child);
  const value = (field: string): Value | undefined => {
    const cell = fields.get(field);
    return cell?.kind === 'value' ? cell.value : undefined;
  };
  const textOf = (field: string): string | undefined => {
    const v = value(field);
    return v?.type === 'text' ? v.value : undefined;
  };
  const idText = textOf('id');
  const id = idText !== undefined && utf8(idText) <= 64 ? idText : undefined;
  const problem = (note: string): FrameProblem => ({ kind: 'problem', ...(id !== undefined ? { id } : {}), note });
  if (id === undefined) return problem('id: missing, not text, or over 64 bytes');
  const kind = textOf('kind');
  if (kind === 'reply') {
    const status = textOf('status');
    if (status !== 'ok' && status !== 'reject') return problem(`status: expected "ok" or "reject", found ${JSON.stringify(status ?? null)}`);
    const result = value('result');
    if (fields.has('result') && result === undefined) return problem('result: expected a value');
    if (result !== undefined && valueBytes(result) > limits.maxValueBytes) return problem(`result: ${valueBytes(result)} bytes is over the ${limits.maxValueBytes}-byte limit`);
    const note = textOf('note');
    if (note !== undefined && utf8(note) > limits.maxNoteBytes) return problem(`note: over the ${limits.maxNoteBytes}-byte limit`);
    return { kind: 'reply', id, status, ...(result !== undefined ? { result } : {}), ...(note !== undefined ? { note } : {}) };
  }
  if (kind !== 'call') return problem(`kind: expected "call" or "reply", found ${JSON.stringify(kind ?? null)}`);
  const signal = textOf('signal');
  if (signal === undefined || signal === '' || utf8(signal) > limits.maxPathBytes) return problem(`signal: missing, not text, or over ${limits.maxPathBytes} bytes`);
  const target = textOf('target');
  if (fields.has('target') && (target === undefined || utf8(target) > limits.maxPathBytes)) return problem(`target: not text, or over ${limits.maxPathBytes} bytes`);
  const payload = value('payload');
  if (fields.has('payload') && payload === undefined) return problem('payload: expected a value');
  if (payload !== undefined && valueBytes(payload) > limits.maxValueBytes) return problem(`payload: ${valueBytes(payload)} bytes is over the ${limits.maxValueBytes}-byte limit`);
  const timeout = value('timeout');
  if (timeout?.type !== 'u64' || timeout.value < 1n || timeout.value > BigInt(Number.MAX_SAFE_INTEGER)) return problem('timeout: expected a u64 of at least 1');
  let pipeline: PipelineMeta | undefined;
  const p = fields.get('pipeline');
  if (p !== undefined) {
    if (p.kind !== 'dictionary') return problem('pipeline: expected a dictionary');
    const at = (field: string): Value | undefined => {
      const cell = p.children.find((c) => c.name.tag.text === field && !c.deleted);
      return cell?.kind === 'value' ? cell.value : undefined;
    };
    const hop = at('hop_index');
    try {
      pipeline = parsePipelineMeta({
        pipelineId: at('pipeline_id')?.type === 'text' ? at('pipeline_id')!.value : undefined,
        stageId: at('stage_id')?.type === 'text' ? at('stage_id')!.value : undefined,
        dagRunId: at('dag_run_id')?.type === 'u64' ? at('dag_run_id')!.value : undefined,
        hopIndex: hop?.type === 'u64' && hop.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(hop.value) : undefined,
      });
    } catch (error) {
      return problem(`pipeline: ${(error as { code?: string }).code ?? 'invalid'}: ${(error as Error).message}`);
    }
  }
  return {
    kind: 'call',
    id,
    signal,
    ...(target !== undefined ? { target } : {}),
    ...(payload !== undefined ? { payload } : {}),
    timeout: Number(timeout.value),
    ...(pipeline !== undefined ? { pipeline } : {}),
  };
}
