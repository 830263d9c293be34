/**
 * The invoke frames, as small cell branches (the serializer frames them like any branch):
 *
 *   call:  kind="call",  id, signal, [target], [payload], timeout (u64 beats),
 *          [expires_at (u64, the caller's wall-clock deadline in ms since the epoch)],
 *          [pipeline/{pipeline_id, stage_id, dag_run_id (u64), hop_index (u64)}]
 *   reply: kind="reply", id, status ("ok" | "reject"), [result], [note], [code (text)]
 *   batch: kind="batch", items = a list of call and reply dictionaries (the fields above), in order
 *   packed: packed = bytes: the same calls and replies, field by field, in the packed layout
 *          (packed.ts); the frame's only value (no `kind`: one record and one AEAD seal fewer)
 *
 * What this runtime sends is packed: the calls (or replies) one mount sends in one beat, in one
 * value, so the frame is two cells and its framing, hashing and sealing are paid once per beat,
 * not once per field of every call. The cell forms are still read (tools, tests, older peers);
 * every form is checked by the same code, field by field and type by type.
 *
 * Paths travel as text (a reference name's number is local to a runtime). Every size a remote
 * peer controls is bounded here; a frame over a bound is refused, never truncated.
 */
import { createTree, name, text, u64, type Cell, type Name, type Value } from '@cep/cells';
import type { PipelineMeta } from '@cep/heartbeat';
import { parsePipelineMeta } from '@cep/security';
import type { StagedCell } from '@cep/serializer';
import { PackedWriter, readPacked } from './packed.ts';

/** Bounds on what a frame may carry. */
export interface FrameLimits {
  /** Most items in one batch frame (default 1024). */
  readonly maxBatchItems?: number;
  /** Longest signal or target path text, in UTF-8 bytes (default 1024). */
  readonly maxPathBytes: number;
  /** Largest payload or result value, in bytes (default 256 KiB). */
  readonly maxValueBytes: number;
  /** Longest note, in UTF-8 bytes (default 1024). */
  readonly maxNoteBytes: number;
}

export const DEFAULT_FRAME_LIMITS: FrameLimits = Object.freeze({ maxPathBytes: 1024, maxValueBytes: 256 * 1024, maxNoteBytes: 1024, maxBatchItems: 1024 });

/** Value bytes one batch frame carries at most before the sender starts another (keeps frames far below the 64 MiB limit). */
export const BATCH_VALUE_BYTES = 1 << 20;

/** A call: run `signal` on the receiving runtime. */
export interface CallFrame {
  readonly kind: 'call';
  readonly id: string;
  readonly signal: string;
  readonly target?: string;
  readonly payload?: Value;
  /** Beats the caller waits for the reply (the receiver charges it against the beat budget). */
  readonly timeout: number;
  /**
   * The caller's wall-clock deadline (ms since the epoch): the receiver refuses the call
   * (`INVOKE_EXPIRED`) when its recorded clock is past it on arrival or when the call would start.
   */
  readonly expiresAt?: number;
  readonly pipeline?: PipelineMeta;
}

/** A reply: how the call ended on the receiving runtime. */
export interface ReplyFrame {
  readonly kind: 'reply';
  readonly id: string;
  readonly status: 'ok' | 'reject';
  readonly result?: Value;
  readonly note?: string;
  /** Why a refusal happened, as a stable code (`INVOKE_EXPIRED`, `INVOKE_SHUTTING_DOWN`, …); absent for handler refusals. */
  readonly code?: string;
}

/** Longest reply code, in bytes. */
const MAX_CODE_BYTES = 64;

/** A batch frame, read: each item is a call, a reply, or a problem of its own. */
export interface BatchFrame {
  readonly kind: 'batch';
  readonly items: ReadonlyArray<CallFrame | ReplyFrame | FrameProblem>;
}

/** A frame that could not be read; `id` when the frame named one. */
export interface FrameProblem {
  readonly kind: 'problem';
  readonly id?: string;
  readonly note: string;
}

/** UTF-8 length without encoding the text (every value of every call is measured). */
const utf8 = (s: string): number => Buffer.byteLength(s, 'utf8');

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

type Builder = (tree: ReturnType<typeof createTree>, at: readonly Name[]) => void;

function branch(build: Builder): Cell {
  const tree = createTree();
  const root = [name('inv')];
  build(tree, root);
  return tree.get(root)!;
}

function writeCall(call: Omit<CallFrame, 'kind'>): Builder {
  return (tree, root) => {
    tree.set([...root, name('kind')], text('call'));
    tree.set([...root, name('id')], text(call.id));
    tree.set([...root, name('signal')], text(call.signal));
    if (call.target !== undefined) tree.set([...root, name('target')], text(call.target));
    if (call.payload !== undefined) tree.set([...root, name('payload')], call.payload);
    tree.set([...root, name('timeout')], u64(BigInt(call.timeout)));
    if (call.expiresAt !== undefined) tree.set([...root, name('expires_at')], u64(BigInt(call.expiresAt)));
    if (call.pipeline !== undefined) {
      const p = [...root, name('pipeline')];
      tree.set([...p, name('pipeline_id')], text(call.pipeline.pipelineId));
      tree.set([...p, name('stage_id')], text(call.pipeline.stageId));
      tree.set([...p, name('dag_run_id')], u64(call.pipeline.dagRunId));
      tree.set([...p, name('hop_index')], u64(BigInt(call.pipeline.hopIndex)));
    }
  };
}

function writeReply(reply: Omit<ReplyFrame, 'kind'>): Builder {
  return (tree, root) => {
    tree.set([...root, name('kind')], text('reply'));
    tree.set([...root, name('id')], text(reply.id));
    tree.set([...root, name('status')], text(reply.status));
    if (reply.result !== undefined) tree.set([...root, name('result')], reply.result);
    if (reply.note !== undefined) tree.set([...root, name('note')], text(reply.note));
    if (reply.code !== undefined) tree.set([...root, name('code')], text(reply.code));
  };
}

/** The branch of a call frame (encode it with the mount: `mount.sendBranch`). */
export function callBranch(call: Omit<CallFrame, 'kind'>): Cell {
  return branch(writeCall(call));
}

/** The branch of a reply frame. */
export function replyBranch(reply: Omit<ReplyFrame, 'kind'>): Cell {
  return branch(writeReply(reply));
}

/** The branch of a batch frame: `items` in order (one item is sent as a plain call or reply frame instead). */
export function batchBranch(items: ReadonlyArray<CallFrame | ReplyFrame>): Cell {
  return branch((tree, root) => {
    tree.set([...root, name('kind')], text('batch'));
    const list = [...root, name('items')];
    tree.ensureList(list);
    for (const item of items) {
      const cell = tree.append(list, 'dictionary');
      (item.kind === 'call' ? writeCall(item) : writeReply(item))(tree, [...list, cell.name]);
    }
  });
}

/** Writes one call or reply into a packed value: the cell form's fields, with the same value types. */
function writeItem(w: PackedWriter, item: CallFrame | ReplyFrame): void {
  w.item();
  if (item.kind === 'call') {
    w.text('kind', 'call');
    w.text('id', item.id);
    w.text('signal', item.signal);
    if (item.target !== undefined) w.text('target', item.target);
    if (item.payload !== undefined) w.value('payload', item.payload);
    w.u64('timeout', BigInt(item.timeout));
    if (item.expiresAt !== undefined) w.u64('expires_at', BigInt(item.expiresAt));
    if (item.pipeline !== undefined) {
      w.text('pipeline_id', item.pipeline.pipelineId);
      w.text('stage_id', item.pipeline.stageId);
      w.u64('dag_run_id', item.pipeline.dagRunId);
      w.u64('hop_index', BigInt(item.pipeline.hopIndex));
    }
  } else {
    w.text('kind', 'reply');
    w.text('id', item.id);
    w.text('status', item.status);
    if (item.result !== undefined) w.value('result', item.result);
    if (item.note !== undefined) w.text('note', item.note);
    if (item.code !== undefined) w.text('code', item.code);
  }
  w.end();
}

/** The branch of a packed frame: `items` (one or more, in order) in one value (see packed.ts). What `installInvoke` sends. */
export function packedBranch(items: ReadonlyArray<CallFrame | ReplyFrame>): Cell {
  const w = new PackedWriter(items.length);
  for (const item of items) writeItem(w, item);
  const value: Value = { type: 'bytes', value: w.done() };
  return branch((tree, root) => void tree.set([...root, name('packed')], value));
}

/**
 * Splits a batch frame's `total` bytes over its items, each by the size of what it carries (a
 * fixed 64 for the frame's fields, plus its paths, payload, result and note), so the security
 * check charges every call about what it cost on the wire, and the shares add up to the frame.
 */
export function ioShares(items: ReadonlyArray<CallFrame | ReplyFrame | FrameProblem>, total: number): number[] {
  const weights = items.map((item) => {
    if (item.kind === 'call')
      return 64 + utf8(item.signal) + (item.target === undefined ? 0 : utf8(item.target)) + (item.payload === undefined ? 0 : valueBytes(item.payload));
    if (item.kind === 'reply') return 64 + (item.result === undefined ? 0 : valueBytes(item.result)) + (item.note === undefined ? 0 : utf8(item.note));
    return 64;
  });
  const sum = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => Math.ceil((total * w) / sum));
}

/** Cuts a note to `max` UTF-8 bytes (for notes this side writes; received ones over the bound are refused). */
export function clip(note: string, max: number): string {
  if (utf8(note) <= max) return note;
  let out = note.slice(0, max);
  while (utf8(out) > max - 3) out = out.slice(0, -1);
  return `${out}...`;
}

/** Reads a received frame. Never throws: a malformed frame (or batch item) is a {@link FrameProblem}. */
export function parseFrame(root: StagedCell, limits: FrameLimits = DEFAULT_FRAME_LIMITS): CallFrame | ReplyFrame | BatchFrame | FrameProblem {
  if (root.kind === 'dictionary') {
    const packed = root.children.find((c) => !c.deleted && c.name.tag.text === 'packed');
    if (packed !== undefined) return parsePacked(packed, limits);
    const kind = root.children.find((c) => !c.deleted && c.name.tag.text === 'kind');
    if (kind?.kind === 'value' && kind.value?.type === 'text' && kind.value.value === 'batch') return parseBatch(root, limits);
  }
  return parseItem(root, limits);
}

/** A packed frame: one item reads as a lone call or reply (as a lone cell frame does), several as a batch. */
function parsePacked(cell: StagedCell, limits: FrameLimits): CallFrame | ReplyFrame | BatchFrame | FrameProblem {
  if (cell.kind !== 'value' || cell.value?.type !== 'bytes') return { kind: 'problem', note: 'packed: a packed frame carries its items as one bytes value' };
  const read = readPacked(cell.value.value, limits.maxBatchItems ?? DEFAULT_FRAME_LIMITS.maxBatchItems!);
  if ('problem' in read) return { kind: 'problem', note: read.problem };
  const items: Array<CallFrame | ReplyFrame | FrameProblem> = new Array(read.items.length);
  for (let i = 0; i < items.length; i++) {
    const item = read.items[i]!;
    items[i] =
      'problem' in item
        ? { kind: 'problem', ...(item.id !== undefined ? { id: item.id } : {}), note: item.problem }
        : checkItem(item.fields, item.pipeline, limits);
  }
  return items.length === 1 ? items[0]! : { kind: 'batch', items };
}

/**
 * A call's or reply's fields, however they travelled (cells, or the packed layout): each field's
 * value, or `null` when the field is there but is not a value cell.
 */
type Fields = ReadonlyMap<string, Value | null>;

function parseBatch(root: StagedCell, limits: FrameLimits): BatchFrame | FrameProblem {
  const items = root.children.find((c) => !c.deleted && c.name.tag.text === 'items');
  if (items?.kind !== 'list') return { kind: 'problem', note: 'items: a batch frame carries a list of calls or replies' };
  const live = items.children.filter((c) => !c.deleted);
  const most = limits.maxBatchItems ?? DEFAULT_FRAME_LIMITS.maxBatchItems!;
  if (live.length === 0 || live.length > most) return { kind: 'problem', note: `items: a batch carries 1..${most} items, found ${live.length}` };
  return { kind: 'batch', items: live.map((item) => parseItem(item, limits)) };
}

/** The live children of a dictionary cell as fields. */
function fieldsOfCell(cell: StagedCell): Map<string, Value | null> {
  const fields = new Map<string, Value | null>();
  for (const child of cell.children) if (!child.deleted) fields.set(child.name.tag.text, child.kind === 'value' ? (child.value ?? null) : null);
  return fields;
}

function parseItem(root: StagedCell, limits: FrameLimits): CallFrame | ReplyFrame | FrameProblem {
  if (root.kind !== 'dictionary') return { kind: 'problem', note: `an invoke frame is a dictionary, not a ${root.kind}` };
  const p = root.children.find((c) => !c.deleted && c.name.tag.text === 'pipeline');
  return checkItem(fieldsOfCell(root), p === undefined ? undefined : p.kind === 'dictionary' ? fieldsOfCell(p) : null, limits);
}

const valueIn = (fields: Fields, field: string): Value | undefined => fields.get(field) ?? undefined;
const textIn = (fields: Fields, field: string): string | undefined => {
  const v = fields.get(field);
  return v?.type === 'text' ? v.value : undefined;
};

/** A call or reply that names `id` and could not be read. */
const problemFor = (id: string, note: string): FrameProblem => ({ kind: 'problem', id, note });

/**
 * Every check of a call's or reply's fields and their types: the same for every form a frame
 * takes. `pipeline`: the pipeline dictionary's fields; `undefined` when absent, `null` when
 * present but not a dictionary.
 */
function checkItem(fields: Fields, at: Fields | null | undefined, limits: FrameLimits): CallFrame | ReplyFrame | FrameProblem {
  const idText = textIn(fields, 'id');
  const id = idText !== undefined && utf8(idText) <= 64 ? idText : undefined;
  if (id === undefined) return { kind: 'problem', note: 'id: missing, not text, or over 64 bytes' };
  const kind = textIn(fields, 'kind');
  if (kind === 'reply') {
    const status = textIn(fields, 'status');
    if (status !== 'ok' && status !== 'reject') return problemFor(id, `status: expected "ok" or "reject", found ${JSON.stringify(status ?? null)}`);
    const result = valueIn(fields, 'result');
    if (fields.has('result') && result === undefined) return problemFor(id, 'result: expected a value');
    if (result !== undefined && valueBytes(result) > limits.maxValueBytes)
      return problemFor(id, `result: ${valueBytes(result)} bytes is over the ${limits.maxValueBytes}-byte limit`);
    const note = textIn(fields, 'note');
    if (note !== undefined && utf8(note) > limits.maxNoteBytes) return problemFor(id, `note: over the ${limits.maxNoteBytes}-byte limit`);
    const code = textIn(fields, 'code');
    if (fields.has('code') && (code === undefined || code === '' || utf8(code) > MAX_CODE_BYTES))
      return problemFor(id, `code: expected text of 1..${MAX_CODE_BYTES} bytes`);
    // Field by field: one object per item read, not one per optional part.
    const reply: Mutable<ReplyFrame> = { kind: 'reply', id, status };
    if (result !== undefined) reply.result = result;
    if (note !== undefined) reply.note = note;
    if (code !== undefined) reply.code = code;
    return reply;
  }
  if (kind !== 'call') return problemFor(id, `kind: expected "call" or "reply", found ${JSON.stringify(kind ?? null)}`);
  const signal = textIn(fields, 'signal');
  if (signal === undefined || signal === '' || utf8(signal) > limits.maxPathBytes)
    return problemFor(id, `signal: missing, not text, or over ${limits.maxPathBytes} bytes`);
  const target = textIn(fields, 'target');
  if (fields.has('target') && (target === undefined || utf8(target) > limits.maxPathBytes))
    return problemFor(id, `target: not text, or over ${limits.maxPathBytes} bytes`);
  const payload = valueIn(fields, 'payload');
  if (fields.has('payload') && payload === undefined) return problemFor(id, 'payload: expected a value');
  if (payload !== undefined && valueBytes(payload) > limits.maxValueBytes)
    return problemFor(id, `payload: ${valueBytes(payload)} bytes is over the ${limits.maxValueBytes}-byte limit`);
  const timeout = valueIn(fields, 'timeout');
  if (timeout?.type !== 'u64' || timeout.value < 1n || timeout.value > BigInt(Number.MAX_SAFE_INTEGER))
    return problemFor(id, 'timeout: expected a u64 of at least 1');
  const expires = valueIn(fields, 'expires_at');
  if (fields.has('expires_at') && (expires?.type !== 'u64' || expires.value > BigInt(Number.MAX_SAFE_INTEGER)))
    return problemFor(id, 'expires_at: expected a u64 of ms since the epoch');
  let pipeline: PipelineMeta | undefined;
  if (at === null) return problemFor(id, 'pipeline: expected a dictionary');
  if (at !== undefined) {
    const hop = valueIn(at, 'hop_index');
    const pid = valueIn(at, 'pipeline_id');
    const stage = valueIn(at, 'stage_id');
    const dag = valueIn(at, 'dag_run_id');
    try {
      pipeline = parsePipelineMeta({
        pipelineId: pid?.type === 'text' ? pid.value : undefined,
        stageId: stage?.type === 'text' ? stage.value : undefined,
        dagRunId: dag?.type === 'u64' ? dag.value : undefined,
        hopIndex: hop?.type === 'u64' && hop.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(hop.value) : undefined,
      });
    } catch (error) {
      return problemFor(id, `pipeline: ${(error as { code?: string }).code ?? 'invalid'}: ${(error as Error).message}`);
    }
  }
  const call: Mutable<CallFrame> = { kind: 'call', id, signal } as CallFrame;
  if (target !== undefined) call.target = target;
  if (payload !== undefined) call.payload = payload;
  call.timeout = Number(timeout.value);
  if (expires?.type === 'u64') call.expiresAt = Number(expires.value);
  if (pipeline !== undefined) call.pipeline = pipeline;
  return call;
}

/** `T` with its fields writable (a frame built field by field). */
type Mutable<T> = { -readonly [K in keyof T]: T[K] };
